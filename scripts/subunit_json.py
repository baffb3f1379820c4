#!/usr/bin/python3
"""Reads a subunit v2 stream on stdin with python-subunit (the reference) and prints
each event in subrun's JSON event form (SPEC §3), one per line, tags sorted. Bytes
that are not subunit come out as python-subunit reports them: file events named
"stdout" with no test id. Used by the interop tests:

    /usr/bin/python3 scripts/subunit_json.py < stream.bin
"""

import base64
import json
import sys

from subunit import iso8601
from subunit.v2 import ByteStreamToStreamResult
from testtools import StreamResult

UTC = iso8601.Utc()


def iso(t):
    t = t.astimezone(UTC)
    return t.strftime('%Y-%m-%dT%H:%M:%S') + '.%06dZ' % t.microsecond


def json_event(kw, inline=None):
    """SPEC §3: the JSON event form, keys in its fixed order. File contents longer
    than `inline` bytes are described by length and SHA-256 instead."""
    e = {}
    if kw.get('test_id') is not None:
        e['testId'] = kw['test_id']
    if kw.get('test_status') is not None:
        e['status'] = kw['test_status']
    if kw.get('test_tags') is not None:
        e['tags'] = sorted(kw['test_tags'])
    if kw.get('timestamp') is not None:
        e['timestamp'] = iso(kw['timestamp'])
    if kw.get('route_code') is not None:
        e['routeCode'] = kw['route_code']
    e['runnable'] = bool(kw.get('runnable', True))
    if kw.get('mime_type') is not None:
        e['mimeType'] = kw['mime_type']
    if kw.get('file_name') is not None:
        e['fileName'] = kw['file_name']
        content = bytes(kw['file_bytes'])
        if inline is None or len(content) <= inline:
            e['fileBytes'] = base64.b64encode(content).decode('ascii')
        else:
            import hashlib
            e['fileBytesSha256'] = hashlib.sha256(content).hexdigest()
            e['fileBytesLength'] = len(content)
    if kw.get('eof'):
        e['eof'] = True
    return e


class Collect(StreamResult):
    def __init__(self, on_event):
        super().__init__()
        self.on_event = on_event

    def status(self, test_id=None, test_status=None, test_tags=None, runnable=True,
               file_name=None, file_bytes=None, eof=False, mime_type=None,
               route_code=None, timestamp=None):
        self.on_event(dict(
            test_id=test_id, test_status=test_status, test_tags=test_tags,
            runnable=runnable, file_name=file_name, file_bytes=file_bytes, eof=eof,
            mime_type=mime_type, route_code=route_code, timestamp=timestamp))


def main():
    out = sys.stdout
    result = Collect(lambda kw: out.write(json.dumps(json_event(kw), ensure_ascii=False) + '\n'))
    ByteStreamToStreamResult(sys.stdin.buffer, non_subunit_name='stdout').run(result)


if __name__ == '__main__':
    main()
