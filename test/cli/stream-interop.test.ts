import t, { type Test } from 'tap';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { encodePacket } from '../../src/subunit/encoder.js';
import { runSubrun } from '../helpers/cli.js';
import { ROOT } from '../helpers/paths.js';
import { PYTHON, requirePythonSubunit, runTool } from '../helpers/python.js';
import { loadVectors } from '../helpers/vectors.js';

// The stream tools against the real python-subunit tools (never skipped: a missing
// tool fails). SPEC §3.5: `stream stats` prints what subunit-stats prints.
requirePythonSubunit();
const SUBUNIT_STATS = '/usr/bin/subunit-stats';

// Real processes on a shared 2-core machine: allow more than tap's default.
t.setTimeout(300_000);

let run: Buffer | undefined;
/** A real run: python-subunit's own runner over a real test module (made once). */
function pythonRun(): Buffer {
  if (run !== undefined) return run;
  const r = spawnSync(PYTHON, ['-B', '-m', 'subunit.run', 'sample_tests'], { cwd: path.join(ROOT, 'test', 'cli', 'fixtures') });
  if (r.error || r.stdout.length === 0) throw new Error(`subunit.run failed: ${r.stderr?.toString() ?? r.error}`);
  run = r.stdout;
  return run;
}

/** python-subunit writing the tricky cases of test-record gathering. */
function pythonTricky(): Buffer {
  const script = `
import sys
from subunit.v2 import StreamResultToBytes
r = StreamResultToBytes(sys.stdout.buffer)
for i, s in enumerate(['success', 'fail', 'skip', 'xfail', 'uxsuccess', 'exists', 'inprogress']):
    r.status(test_id='t%d' % i, test_status='inprogress', test_tags=['a%d' % i])
    if s != 'inprogress':
        r.status(test_id='t%d' % i, test_status=s, test_tags=['b%d' % i] if i % 2 else None)
r.status(test_id='fileonly', file_name='x', file_bytes=b'abc')
r.status(test_id='emptyfile', file_name='x', file_bytes=b'')
r.status(test_id='t0', test_status='success', route_code='1')
r.status(test_id='t0', test_status='fail')
r.status(test_id='listed', test_status='exists')
r.status(file_name='stdout', file_bytes=b'loose text\\n')
sys.stdout.buffer.write(b'stray bytes\\n')
`;
  const r = spawnSync(PYTHON, ['-B', '-c', script]);
  if (r.status !== 0) throw new Error(r.stderr.toString());
  return r.stdout;
}

async function sameStats(t: Test, name: string, bytes: Uint8Array): Promise<void> {
  const theirs = runTool(SUBUNIT_STATS, [], bytes);
  if (theirs.status === null || theirs.status > 1) throw new Error(`subunit-stats failed on ${name}: ${theirs.stderr}`);
  const ours = await runSubrun(['stream', 'stats'], { stdin: bytes });
  // Compared as a boolean first: passthrough output can be megabytes, too big for a readable diff.
  const same = ours.stdout === theirs.stdout;
  t.ok(same, `${name}: same output as subunit-stats`);
  if (!same) t.equal(ours.stdout.slice(-400), theirs.stdout.slice(-400), `${name}: the end of the output`);
  t.equal(ours.code, theirs.status, `${name}: same exit code`);
}

t.test('stream stats agrees with subunit-stats', async (t) => {
  await sameStats(t, 'a python unittest run (subunit.run)', pythonRun());
  await sameStats(t, 'record-gathering corner cases', pythonTricky());
  const vectors = loadVectors();
  await sameStats(t, 'all vectors as one stream', Buffer.concat(vectors.filter((v) => v.bytes.length < 100_000).map((v) => v.bytes)));
  const ours = Buffer.concat([
    encodePacket({ testId: 'x', status: 'inprogress', tags: ['p', 'q'], timestamp: { seconds: 1, nanos: 0 }, routeCode: '0' }),
    encodePacket({ testId: 'x', status: 'xfail', routeCode: '0' }),
    encodePacket({ testId: 'y', status: 'uxsuccess', tags: [] }),
    encodePacket({ testId: 'z', fileName: 'log', fileBytes: new Uint8Array([1]) }),
  ]);
  await sameStats(t, 'a stream our encoder wrote', ours);
});

t.test('decode → encode round-trips a stream from python-subunit’s runner', async (t) => {
  const stream = pythonRun();
  const decoded = await runSubrun(['stream', 'decode'], { stdin: stream });
  t.equal(decoded.code, 0, 'no corrupt packets');
  t.ok(decoded.stdout.includes('"nonSubunit":true'), 'the test’s raw print shows as non-subunit bytes');
  t.notOk(decoded.stdout.includes('"error"'), 'UTF-8 text holding 0xB3 is not reported as corrupt');
  const again = await runSubrun(['stream', 'encode'], { stdin: decoded.stdout });
  t.ok(again.stdoutBytes.equals(stream), 'identical bytes');
});

t.test('stream junit writes XML a real parser accepts, with the right counts and escaped text', async (t) => {
  const junit = await runSubrun(['stream', 'junit'], { stdin: pythonRun() });
  t.equal(junit.code, 1, 'the run has failures');
  const check = `
import sys, xml.etree.ElementTree as ET
root = ET.fromstring(sys.stdin.buffer.read())
s = root.find('testsuite')
cases = s.findall('testcase')
fails = [c.get('name') for c in cases if c.find('failure') is not None]
skips = [c.get('name') for c in cases if c.find('skipped') is not None]
msg = [c.find('failure').text for c in cases if c.get('name') == 'test_fail'][0]
print(root.tag, s.get('tests'), s.get('failures'), s.get('errors'), s.get('skipped'), len(cases))
print(','.join(sorted(fails)), ','.join(skips))
print(repr('\\x1b' in msg), repr('\\\\u001B[31m' in msg), repr('<xml> & "quotes"' in msg))
`;
  const r = spawnSync(PYTHON, ['-B', '-c', check], { input: junit.stdoutBytes, encoding: 'utf8' });
  t.equal(r.status, 0, `python's XML parser accepts it: ${r.stderr}`);
  t.equal(
    r.stdout,
    'testsuites 9 3 0 1 9\n' + 'test_error,test_fail,test_uxsuccess test_skip\n' + 'False True True\n',
    'counts, outcomes, and control characters escaped visibly while text survives',
  );
});
