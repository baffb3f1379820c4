import t from 'tap';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { encodePacket } from '../../src/subunit/encoder.js';
import { runSubrun } from '../helpers/cli.js';
import { rawPacket } from '../helpers/raw-packet.js';
import { loadVectors } from '../helpers/vectors.js';
import { ROOT } from '../helpers/paths.js';

// SPEC §3: `stream decode` then `stream encode` gives back every byte of any stream.
async function roundTrip(bytes: Uint8Array): Promise<{ lines: Record<string, unknown>[]; again: Buffer; decodeCode: number }> {
  const decoded = await runSubrun(['stream', 'decode'], { stdin: bytes });
  const encoded = await runSubrun(['stream', 'encode'], { stdin: decoded.stdout });
  if (encoded.code !== 0) throw new Error(`encode failed: ${encoded.stderr}`);
  const lines = decoded.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
  return { lines, again: encoded.stdoutBytes, decodeCode: decoded.code };
}

t.test('decode → encode round-trips every vector byte for byte', async (t) => {
  for (const v of loadVectors()) {
    const { lines, again, decodeCode } = await roundTrip(v.bytes);
    t.equal(decodeCode, 0, v.name);
    t.notOk(lines.some((l) => 'raw' in l), `${v.name}: canonical packets need no raw`);
    t.ok(again.equals(v.bytes), `${v.name}: identical bytes`);
  }
});

t.test('decode → encode round-trips corrupt, mixed and non-canonical streams', async (t) => {
  const good = Buffer.from(encodePacket({ testId: 'a', status: 'success', timestamp: { seconds: 5, nanos: 1 } }));
  const badCrc = Buffer.from(good);
  badCrc[badCrc.length - 1]! ^= 1;
  // A valid packet python-subunit accepts but would not write: a 2-byte number for a 1-byte value, and a wide length.
  const wide = rawPacket(0x2800, [0x40, 0x01, 0x62], 2);
  const reserved = rawPacket(0x2808, [1, 0x62]);
  // Nanoseconds of 10^9 and more are valid on the wire (SPEC §2.5): 1 s and 1,000,000,005 ns.
  const carry = rawPacket(0x2b03, [0, 0, 0, 1, 0xfb, 0x9a, 0xca, 0x05, 1, 0x64]);
  const input = Buffer.concat([Buffer.from('stray \xb3\x00 text\n', 'latin1'), good, badCrc, wide, reserved, carry, good.subarray(0, 9)]);
  const { lines, again, decodeCode } = await roundTrip(input);
  t.ok(again.equals(input), 'identical bytes');
  t.equal(decodeCode, 1, 'exit 1: the stream held corrupt packets');
  t.same(
    lines.filter((l) => 'error' in l).map((l) => (l['error'] as { code: string }).code),
    ['ERR_SUBUNIT_VERSION', 'ERR_SUBUNIT_CRC', 'ERR_SUBUNIT_TRUNCATED'],
  );
  t.equal(lines.filter((l) => 'raw' in l).length, 3, 'non-canonical packets carry raw');
  const first = lines.find((l) => l['testId'] === 'a')!;
  t.equal(first['timestamp'], '1970-01-01T00:00:05.000000001Z', 'nanoseconds that are not whole microseconds keep 9 digits');
  const carried = lines.find((l) => l['testId'] === 'd')!;
  t.equal(carried['timestamp'], '1970-01-01T00:00:02.000000005Z', 'nanoseconds of 10^9 and more carry into the seconds (SPEC §3.2)');
  // Without its raw, the line is valid input for encode: the carried time, in the canonical packet.
  const { raw: _raw, ...fields } = carried;
  const canonical = await runSubrun(['stream', 'encode'], { stdin: JSON.stringify(fields) + '\n' });
  t.equal(canonical.code, 0, canonical.stderr);
  t.ok(canonical.stdoutBytes.equals(Buffer.from(encodePacket({ testId: 'd', status: 'success', timestamp: { seconds: 2, nanos: 5 } }))));
});

t.test('encode reads a FILE argument, and refuses bad lines with their line number', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'subrun-stream-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'in.jsonl');
  writeFileSync(file, '{"testId":"x","status":"success"}\n\n{"testId":"y","status":"bogus"}\n');
  const r = await runSubrun(['stream', 'encode', file]);
  t.equal(r.code, 2);
  t.match(r.stderr, /line 3: .*`status` must be one of/);
  t.match(r.stderr, /ERR_SUBUNIT_JSON/);
  t.ok(r.stdoutBytes.equals(Buffer.from(encodePacket({ testId: 'x', status: 'success' }))), 'lines before the bad one are written');
  for (const [line, pattern] of [
    ['not json', /not JSON/],
    ['[1]', /JSON object/],
    ['{"testId":"x","bogus":1}', /unknown key `bogus`/],
    ['{"fileName":"f","fileBytes":"***"}', /base64/],
    ['{"timestamp":"yesterday"}', /ISO-8601/],
    // SPEC §3.2: a date-time must exist (no rolling forward to 2027-02-14), the zone be within ±23:59.
    ['{"timestamp":"2026-13-45T00:00:00Z"}', /`timestamp` "2026-13-45T00:00:00Z" has month 13/],
    ['{"timestamp":"2026-02-29T00:00:00Z"}', /has day 29 \(2026-02 has 01-28\)/],
    ['{"timestamp":"2026-01-01T23:59:60Z"}', /has second 60/],
    ['{"timestamp":"2026-01-01T00:00:00+25:00"}', /zone offset \+25:00/],
    ['{"timestamp":"1969-12-31T23:59:59Z"}', /outside 1970-01-01T00:00:00.000000Z\.\.2106-02-07T06:28:15.999999999Z/],
    ['{"timestamp":"2106-02-07T06:28:16Z"}', /outside/],
    // Every line kind refuses keys it does not have (SPEC §3.4).
    ['{"nonSubunit":true,"fileBytes":"","testId":"x"}', /unknown key `testId` on a nonSubunit line/],
    ['{"error":{"code":"E","message":"m","offset":0},"extra":1}', /unknown key `extra` on an error line/],
    ['{"error":{"code":"E","message":"m","offset":0,"x":1}}', /unknown key `error.x`/],
    ['{"error":"corrupt"}', /`error` must be an object/],
    ['{"error":{"code":"E","message":"m","offset":-1}}', /`error.offset` must be a non-negative integer/],
    ['{"testId":"a\\u0000b"}', /NUL/],
  ] as const) {
    const bad = await runSubrun(['stream', 'encode'], { stdin: line + '\n' });
    t.equal(bad.code, 2, line);
    t.match(bad.stderr, pattern, line);
    t.match(bad.stderr, /^subrun: stdin: line 1: .*\[ERR_SUBUNIT_(JSON|ENCODE)\]\n$/, `${line}: coded, with its line number`);
    t.equal(bad.stdoutBytes.length, 0, `${line}: nothing written`);
  }
  const edges = await runSubrun(['stream', 'encode'], {
    stdin: ['1970-01-01T00:00:00Z', '2106-02-07T06:28:15.999999999Z', '2024-02-29T23:59:59+23:59'].map((ts) => JSON.stringify({ timestamp: ts })).join('\n'),
  });
  t.equal(edges.code, 0, `the first and last encodable instants, a leap day and the widest zone: ${edges.stderr}`);
  const missing = await runSubrun(['stream', 'decode', path.join(dir, 'nope.bin')]);
  t.equal(missing.code, 3);
  t.match(missing.stderr, /cannot read .*nope\.bin.*\[ERR_IO\]/);
});

t.test('the README demo: encode the demo stream, then stats', async (t) => {
  const demo = readFileSync(path.join(ROOT, 'examples', 'demo-stream.jsonl'));
  const enc = await runSubrun(['stream', 'encode', path.join(ROOT, 'examples', 'demo-stream.jsonl')]);
  t.equal(enc.code, 0);
  const stats = await runSubrun(['stream', 'stats'], { stdin: enc.stdoutBytes });
  t.equal(stats.code, 0);
  t.match(stats.stdout, /Total tests: +6\nPassed tests: +5\nFailed tests: +0\nSkipped tests: +1\nSeen tags: worker-0, worker-1\n/);
  const back = await runSubrun(['stream', 'decode'], { stdin: enc.stdoutBytes });
  t.equal(back.stdout, demo.toString(), 'the demo file is in the canonical JSON form');
});

function stream(...events: Parameters<typeof encodePacket>[0][]): Buffer {
  return Buffer.concat(events.map((e) => encodePacket(e)));
}

const RUN = stream(
  { testId: 'a.t1', status: 'inprogress', tags: ['w0'], timestamp: { seconds: 10, nanos: 0 } },
  { testId: 'a.t1', status: 'success', timestamp: { seconds: 11, nanos: 500_000_000 } },
  { testId: 'b.t2', status: 'inprogress', tags: ['w1'] },
  { testId: 'b.t2', fileName: 'traceback', fileBytes: new TextEncoder().encode('AssertionError: no\n'), eof: true },
  { testId: 'b.t2', status: 'fail' },
  { testId: 'c.t3', status: 'skip', tags: ['w1', 'slow'] },
  { testId: 'd.t4', status: 'inprogress' },
);

t.test('stats exits 1 when tests failed, and counts unfinished tests as failed', async (t) => {
  const r = await runSubrun(['stream', 'stats'], { stdin: RUN });
  t.equal(r.code, 1);
  t.equal(r.stdout, 'Total tests:       4\nPassed tests:      1\nFailed tests:      2\nSkipped tests:     1\nSeen tags: slow, w0, w1\n');
});

t.test('ls lists ids, with status and times', async (t) => {
  const r = await runSubrun(['stream', 'ls', '--status', '--times'], { stdin: RUN });
  t.equal(r.code, 0);
  t.equal(r.stdout, 'a.t1 success 1.500\nb.t2 fail -\nc.t3 skip -\nd.t4 incomplete -\n');
});

t.test('ls passes through attachments of no test, whatever their status', async (t) => {
  const text = (s: string) => new TextEncoder().encode(s);
  const input = Buffer.concat([
    encodePacket({ status: 'exists', fileName: 'stdout', fileBytes: text('listing output\n') }),
    encodePacket({ testId: 'x.listed', status: 'exists', fileName: 'stdout', fileBytes: text('of a test\n') }),
    encodePacket({ fileName: 'stdout', fileBytes: text('plain output\n') }),
    encodePacket({ testId: 'x.run', status: 'success' }),
  ]);
  const ls = await runSubrun(['stream', 'ls'], { stdin: input });
  t.equal(ls.stdout, 'listing output\nplain output\nx.run\n');
  const stats = await runSubrun(['stream', 'stats'], { stdin: input });
  t.match(stats.stdout, /^listing output\nplain output\n/, 'the same bytes stats passes through');
  t.equal((await runSubrun(['stream', 'ls', '--exists'], { stdin: input })).stdout, 'listing output\nx.listed\nplain output\nx.run\n');
  t.equal((await runSubrun(['stream', 'ls', '--no-passthrough'], { stdin: input })).stdout, 'x.run\n');
});

t.test('filter keeps whole tests by status, id and tag, byte for byte', async (t) => {
  const ids = async (args: string[]) => {
    const f = await runSubrun(['stream', 'filter', ...args], { stdin: RUN });
    t.equal(f.code, 0);
    return (await runSubrun(['stream', 'ls'], { stdin: f.stdoutBytes })).stdout.split('\n').filter(Boolean);
  };
  t.same(await ids(['-s', 'fail,incomplete']), ['b.t2', 'd.t4']);
  // A test is never finished as inprogress: asking for it means the tests the stream ended inside (SPEC §3.7).
  t.same(await ids(['-s', 'inprogress']), ['d.t4']);
  t.same(await ids(['--status', 'skip', '--status', 'inprogress']), ['c.t3', 'd.t4']);
  t.same(await ids(['--id', '^[ab]\\.']), ['a.t1', 'b.t2']);
  t.same(await ids(['--exclude-id', 't1$']), ['b.t2', 'c.t3', 'd.t4']);
  t.same(await ids(['--tag', 'slow', '--tag', 'w0']), ['a.t1', 'c.t3']);
  t.same(await ids(['--exclude-tag', 'w1']), ['a.t1', 'd.t4']);
  const all = await runSubrun(['stream', 'filter'], { stdin: RUN });
  t.equal(all.stdoutBytes.length, RUN.length, 'no filter keeps every byte');
  const bad = await runSubrun(['stream', 'filter', '-s', 'passed'], { stdin: RUN });
  t.equal(bad.code, 2);
  t.match(bad.stderr, /--status/);
  const badRe = await runSubrun(['stream', 'filter', '--id', '('], { stdin: RUN });
  t.equal(badRe.code, 2);
});

t.test('filter reports corrupt packets on stderr, as ls does', async (t) => {
  const corrupt = Buffer.from(encodePacket({ testId: 'e.t5', status: 'fail' }));
  corrupt[corrupt.length - 1]! ^= 1;
  const input = Buffer.concat([RUN, corrupt]);
  const ls = await runSubrun(['stream', 'ls', '--no-passthrough'], { stdin: input });
  for (const args of [['--no-passthrough'], ['--no-passthrough', '-s', 'fail'], []]) {
    const f = await runSubrun(['stream', 'filter', ...args], { stdin: input });
    t.equal(f.code, ls.code, `${args.join(' ')}: the exit code ls gives`);
    t.equal(f.code, 0);
    t.equal(f.stderr, ls.stderr, `${args.join(' ')}: the message ls gives`);
    t.match(f.stderr, /^subrun: .*\[ERR_SUBUNIT_CRC\]\n$/);
  }
  const all = await runSubrun(['stream', 'filter'], { stdin: input });
  // (d.t4 never finishes, so its packets go out at the end, after the corrupt bytes.)
  t.equal(all.stdoutBytes.length, input.length, 'with pass-through, every byte still goes out');
  t.ok(all.stdoutBytes.includes(corrupt), 'the corrupt packet’s bytes among them');
});

t.test('junit writes to a file with -o and exits 1 on failures', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'subrun-junit-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const r = await runSubrun(['stream', 'junit', '-o', 'out.xml', '--suite-name', 'mine'], { stdin: RUN, cwd: dir });
  t.equal(r.code, 1);
  const xml = readFileSync(path.join(dir, 'out.xml'), 'utf8');
  t.match(xml, /<testsuite name="mine" tests="4" failures="1" errors="1" skipped="1"/);
  t.match(xml, /<testcase classname="b" name="t2" time="0.000"><failure type="fail" message="AssertionError: no">AssertionError: no\n<\/failure>/);
});

t.test('the stream commands write as they read: output of a live pipe is not held back', async (t) => {
  const { spawn } = await import('node:child_process');
  const first = Buffer.concat([
    encodePacket({ testId: 'live.one', status: 'inprogress' }),
    encodePacket({ testId: 'live.one', status: 'success' }),
  ]);
  const rest = Buffer.from(encodePacket({ testId: 'live.two', status: 'success' }));
  const firstJson = `${JSON.stringify({ testId: 'live.one', status: 'success' })}\n`;
  const cases: [string[], Buffer | string, (out: string) => boolean][] = [
    [['stream', 'decode'], first, (out) => out.includes('live.one')],
    [['stream', 'ls'], first, (out) => out.includes('live.one')],
    [['stream', 'filter', '--status', 'success'], first, (out) => out.includes('live.one')],
    [['stream', 'encode'], firstJson, (out) => out.includes('live.one')],
  ];
  for (const [args, head, seen] of cases) {
    const child = spawn(process.execPath, [path.join(ROOT, 'bin', 'subrun.js'), ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.setEncoding('latin1');
    const early = new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), 15_000);
      child.stdout.on('data', (c: string) => {
        out += c;
        if (seen(out)) {
          clearTimeout(timer);
          resolve(true);
        }
      });
    });
    child.stdin.write(head);
    // The input stays open: what was written must come out before any more arrives.
    t.ok(await early, `${args.join(' ')}: the first test is out while the input is still open`);
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    child.stdin.end(args[1] === 'encode' ? '' : rest);
    await exited;
  }
});
