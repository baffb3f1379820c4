#!/usr/bin/python3
"""Generates the golden subunit v2 vectors in protocol/vectors/ with the reference
implementation, python-subunit (Debian's python3-subunit).

Run with Debian's interpreter, which can import subunit:

    /usr/bin/python3 scripts/gen-vectors.py

Each case NAME writes NAME.bin (or NAME.bin.gz above 64 KiB: the bytes python-subunit's StreamResultToBytes
writes for the calls) and NAME.json: a description, the calls, and the events
python-subunit's ByteStreamToStreamResult reads back, in subrun's JSON event form
(SPEC §3), except that tags are sorted (python-subunit parses them into a set).
The output is deterministic: running it twice gives the same files.
"""

import base64
import datetime
import gzip
import hashlib
import io
import json
import os
import sys

import subunit
from subunit import iso8601
from subunit.v2 import ByteStreamToStreamResult, StreamResultToBytes

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from subunit_json import Collect, iso, json_event  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'protocol', 'vectors')
UTC = iso8601.Utc()
STATUSES = ['exists', 'inprogress', 'success', 'uxsuccess', 'skip', 'fail', 'xfail']


def ts(micro, seconds=1700000000):
    return datetime.datetime.fromtimestamp(seconds, UTC) + datetime.timedelta(microseconds=micro)


def call_json(kw):
    c = dict(kw)
    if 'timestamp' in c:
        c['timestamp'] = iso(c['timestamp'])
    if 'file_bytes' in c:
        content = c['file_bytes']
        c['file_bytes'] = {'base64': base64.b64encode(content).decode('ascii')} if len(content) <= INLINE \
            else {'length': len(content), 'sha256': hashlib.sha256(content).hexdigest()}
    return c


CASES = []
# File contents above INLINE bytes are described by digest, and vectors above BIG
# bytes are stored gzip-compressed (NAME.bin.gz), to keep the package small.
INLINE = 4096
BIG = 65536


def case(name, description, *calls):
    CASES.append((name, description, list(calls)))


def sized(target, **kw):
    """The call whose packet is exactly `target` bytes long, by sizing its file content."""
    n = max(0, target - 64)
    while True:
        out = io.BytesIO()
        StreamResultToBytes(out).status(file_name='f', file_bytes=b'x' * n, **kw)
        size = len(out.getvalue())
        if size == target:
            return dict(file_name='f', file_bytes=b'x' * n, **kw)
        if size > target:
            raise SystemExit('cannot size a packet to %d bytes' % target)
        n += 1


def build():
    case('minimal', 'No fields at all: runnable=False, no status: the smallest packet (8 bytes).', dict(runnable=False))
    case('runnable-only', 'Only the runnable flag (python-subunit sets it by default).', dict())
    case('status-undefined', 'A test id with no status (status bits 0).', dict(test_id='t'))
    for s in STATUSES:
        case('status-' + s, 'Status %s.' % s, dict(test_id='pkg.Test.test_' + s, test_status=s))
    case('flag-test-id', 'Only the test id flag.', dict(test_id='a.b.c', runnable=False))
    case('flag-route-code', 'Only the route code flag.', dict(route_code='0/3', runnable=False))
    case('flag-timestamp', 'Only the timestamp flag.', dict(timestamp=ts(123456), runnable=False))
    case('flag-tags', 'Only the tags flag, one tag.', dict(test_tags=['worker-0'], runnable=False))
    case('flag-mime-type', 'Only the mime type flag.', dict(mime_type='text/plain;charset=utf8', runnable=False))
    case('flag-file-content', 'Only the file content flag.', dict(file_name='log', file_bytes=b'hello\n', runnable=False))
    case('flag-eof', 'Only the EOF flag.', dict(eof=True, runnable=False))
    case('file-empty', 'File content of zero bytes.', dict(test_id='t', file_name='empty', file_bytes=b''))
    case('file-binary', 'File content with every byte value, NUL included.', dict(file_name='bin', file_bytes=bytes(range(256)), mime_type='application/octet-stream'))
    case('all-flags', 'Every flag at once, with a status.',
         dict(test_id='pkg.mod.Class.test_all', test_status='fail', test_tags=['slow'], runnable=True,
              file_name='traceback', file_bytes=b'Traceback (most recent call last):\n', eof=True,
              mime_type='text/x-traceback;charset=utf8', route_code='1', timestamp=ts(999999)))
    case('unicode', 'Non-ASCII strings in every string field.',
         dict(test_id='tést.ünïcode.测试', test_status='success', test_tags=['тег'], route_code='路由',
              mime_type='text/plain;charset=utf8', file_name='fïle', file_bytes='ok ✓'.encode('utf8')))
    case('empty-strings', 'Empty test id, file name and route code (python-subunit omits an empty mime type).',
         dict(test_id='', file_name='', file_bytes=b'', route_code=''))
    case('tags-many', '64 tags: a 2-byte tag count.', dict(test_id='t', test_tags=['tag%02d' % i for i in range(64)]))
    case('tags-63', '63 tags: the largest 1-byte tag count.', dict(test_id='t', test_tags=['%02d' % i for i in range(63)]))
    # SPEC §2.4: every width boundary of the number encoding.
    for n in (0, 63, 64, 16383, 16384):
        case('string-%d' % n, 'A test id of %d bytes: its length at a number width boundary.' % n, dict(test_id='i' * n, runnable=False))
    for n in (16383, 16384):
        case('file-%d' % n, 'File content of %d bytes.' % n, dict(file_name='f', file_bytes=b'\xb3' * n, runnable=False))
    for micro in (0, 1, 16, 17, 4194, 4195, 999999):
        case('nanos-%d' % (micro * 1000), 'Timestamp with %d nanoseconds (a number width boundary).' % (micro * 1000),
             dict(timestamp=ts(micro), runnable=False))
    case('seconds-zero', 'The epoch.', dict(timestamp=ts(0, seconds=0), runnable=False))
    case('seconds-max', 'The largest 32-bit seconds value.', dict(timestamp=ts(999999, seconds=4294967295), runnable=False))
    for total in (62, 63, 65, 16383, 16385, 4194303):
        case('length-%d' % total, 'A packet of exactly %d bytes: a length-field width boundary.' % total, sized(total))
    case('stream-test-run', 'A small run: inprogress then success/fail with timestamps, attachments split with EOF on the last.',
         dict(test_id='a.test_one', test_status='inprogress', timestamp=ts(1)),
         dict(test_id='a.test_one', test_status='success', timestamp=ts(2)),
         dict(test_id='a.test_two', test_status='inprogress', timestamp=ts(3), route_code='0'),
         dict(test_id='a.test_two', file_name='traceback', file_bytes=b'part 1 ', mime_type='text/plain;charset=utf8', route_code='0'),
         dict(test_id='a.test_two', file_name='traceback', file_bytes=b'part 2\n', mime_type='text/plain;charset=utf8', eof=True, route_code='0'),
         dict(test_id='a.test_two', test_status='fail', timestamp=ts(4), test_tags=['worker-0'], route_code='0'))


def main():
    os.makedirs(OUT, exist_ok=True)
    build()
    index = []
    for name, description, calls in CASES:
        out = io.BytesIO()
        writer = StreamResultToBytes(out)
        for kw in calls:
            writer.status(**kw)
        data = out.getvalue()
        events = []
        ByteStreamToStreamResult(io.BytesIO(data), non_subunit_name='stdout').run(
            Collect(lambda kw: events.append(json_event(kw, inline=INLINE))))
        if len(events) != len(calls):
            raise SystemExit('%s: python-subunit read %d events back, wrote %d' % (name, len(events), len(calls)))
        for old in (name + '.bin', name + '.bin.gz'):
            if os.path.exists(os.path.join(OUT, old)):
                os.remove(os.path.join(OUT, old))
        if len(data) <= BIG:
            with open(os.path.join(OUT, name + '.bin'), 'wb') as f:
                f.write(data)
        else:
            with open(os.path.join(OUT, name + '.bin.gz'), 'wb') as f:
                f.write(gzip.compress(data, mtime=0))
        doc = {
            'name': name,
            'description': description,
            'generator': 'python-subunit %s StreamResultToBytes' % '.'.join(map(str, subunit.__version__[:3])),
            'bytes': len(data),
            'calls': [call_json(kw) for kw in calls],
            'events': events,
        }
        with open(os.path.join(OUT, name + '.json'), 'w') as f:
            json.dump(doc, f, indent=1, ensure_ascii=False)
            f.write('\n')
        index.append(name)
    with open(os.path.join(OUT, 'index.json'), 'w') as f:
        json.dump(index, f, indent=1)
        f.write('\n')
    print('wrote %d vectors to %s' % (len(index), os.path.normpath(OUT)), file=sys.stderr)


if __name__ == '__main__':
    main()
