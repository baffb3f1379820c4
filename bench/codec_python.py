#!/usr/bin/python3
"""The anchor of bench/codec.js: python-subunit encoding and decoding the same
stream. Usage: /usr/bin/python3 bench/codec_python.py TESTS RUNS STREAM_FILE
Builds the same events as bench/codec.js, times StreamResultToBytes writing them
and ByteStreamToStreamResult reading STREAM_FILE (our encoder's output), checks
that python-subunit's bytes equal the file's, and prints JSON timings: wall
(perf_counter) and this process's CPU time (process_time)."""

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


def main():
    tests, runs, path = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    evs = events(tests)
    with open(path, 'rb') as f:
        ours = f.read()
    enc, dec, enc_cpu, dec_cpu = [], [], [], []
    for _ in range(runs):
        out = io.BytesIO()
        w = StreamResultToBytes(out)
        t0, c0 = time.perf_counter(), time.process_time()
        for e in evs:
            w.status(**e)
        enc.append(time.perf_counter() - t0)
        enc_cpu.append(time.process_time() - c0)
        same = out.getvalue() == ours
        c = Count()
        t0, c0 = time.perf_counter(), time.process_time()
        ByteStreamToStreamResult(io.BytesIO(ours), non_subunit_name='stdout').run(c)
        dec.append(time.perf_counter() - t0)
        dec_cpu.append(time.process_time() - c0)
        if c.n != len(evs):
            raise SystemExit('python-subunit decoded %d events, expected %d' % (c.n, len(evs)))
    print(json.dumps({'encode_s': enc, 'decode_s': dec, 'encode_cpu_s': enc_cpu, 'decode_cpu_s': dec_cpu, 'same_bytes': same}))


if __name__ == '__main__':
    main()
