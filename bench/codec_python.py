#!/usr/bin/python3
"""The anchor of bench/codec.js: python-subunit encoding and decoding the same
stream, one run per command, so that bench/codec.js can interleave its rounds
with ours. Usage: /usr/bin/python3 bench/codec_python.py TESTS STREAM_FILE
Builds the same events as bench/codec.js and reads STREAM_FILE (our encoder's
output). Then, for each line on stdin: `encode` times StreamResultToBytes writing
the events into a BytesIO and checks that its bytes equal the file's; `decode`
times ByteStreamToStreamResult reading the file from memory into a counting
StreamResult and checks the count. Each prints one JSON line: wall time
(perf_counter) and this process's CPU time (process_time), in seconds."""

import datetime
import io
import json
import sys
import time

from subunit import iso8601
from subunit.v2 import ByteStreamToStreamResult, StreamResultToBytes
from testtools import StreamResult

UTC = iso8601.Utc()
EPOCH = datetime.datetime(1970, 1, 1, tzinfo=UTC)


def events(tests):
    out = []
    for i in range(tests):
        test_id = 'pkg.module_%03d.TestCase.test_method_%05d' % (i % 100, i)
        start = EPOCH + datetime.timedelta(seconds=1700000000 + i, microseconds=(i * 37) % 1000000)
        end = EPOCH + datetime.timedelta(seconds=1700000000 + i, microseconds=(i * 37 + 500) % 1000000)
        out.append(dict(test_id=test_id, test_status='inprogress', timestamp=start))
        out.append(dict(test_id=test_id, test_status='success', timestamp=end))
    return out


class Count(StreamResult):
    def __init__(self):
        super().__init__()
        self.n = 0

    def status(self, **kwargs):
        self.n += 1


def encode(evs, ours):
    out = io.BytesIO()
    w = StreamResultToBytes(out)
    t0, c0 = time.perf_counter(), time.process_time()
    for e in evs:
        w.status(**e)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    return {'wall': wall, 'cpu': cpu, 'same_bytes': out.getvalue() == ours}


def decode(evs, ours):
    c = Count()
    t0, c0 = time.perf_counter(), time.process_time()
    ByteStreamToStreamResult(io.BytesIO(ours), non_subunit_name='stdout').run(c)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    if c.n != len(evs):
        raise SystemExit('python-subunit decoded %d events, expected %d' % (c.n, len(evs)))
    return {'wall': wall, 'cpu': cpu}


def main():
    tests, path = int(sys.argv[1]), sys.argv[2]
    evs = events(tests)
    with open(path, 'rb') as f:
        ours = f.read()
    for line in sys.stdin:
        command = line.strip()
        if command == 'encode':
            result = encode(evs, ours)
        elif command == 'decode':
            result = decode(evs, ours)
        else:
            raise SystemExit('unknown command %r' % command)
        print(json.dumps(result), flush=True)


if __name__ == '__main__':
    main()
