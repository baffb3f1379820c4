import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { createServer, connect, type Socket } from 'node:net';
import { ClientConnection } from '../../src/rpc/client.js';
import { dial, spawnTransport, type Transport } from '../../src/transport/index.js';
import type { SubunitEvent } from '../../src/subunit/event.js';
import { BIN, ROOT } from '../helpers/paths.js';
import { startSshd, sshdUnavailable, type Sshd } from '../helpers/sshd.js';

// `subrun serve` end to end: a real server process driven by the runner-side Connection.
const dir = mkdtempSync(path.join(tmpdir(), 'subrun-serve-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const TEST_API = JSON.stringify(path.join(ROOT, 'dist', 'src', 'testing', 'index.js'));

writeFileSync(
  path.join(dir, 'math.test.js'),
  `import { test, describe } from ${TEST_API};
import assert from 'node:assert/strict';
test('adds', () => { assert.equal(1 + 1, 2); });
test('fails', () => { assert.equal(1 + 1, 3); });
test('skips', { skip: 'not today' }, () => {});
describe('io', () => {
  test('prints', () => { console.log('to stdout'); process.stderr.write('to stderr\\n'); });
});
test('version', () => { assert.equal(globalThis.VERSION_SEEN ?? 1, 1); });
`,
);
writeFileSync(
  path.join(dir, 'hazard.test.js'),
  `import { test } from ${TEST_API};
test('spins forever', { timeout: 300 }, () => { for (;;) {} });
test('exits the process', () => { process.exit(3); });
test('still alive', () => {});
`,
);

type Opened = { transport: Transport; client: ClientConnection };

async function startStdio(files: string[], extra: string[] = [], protocolFd = true): Promise<Opened> {
  const transport = await spawnTransport([process.execPath, BIN, 'serve', '--root', dir, ...extra, ...files], { protocolFd });
  const client = await ClientConnection.connect(transport.stream, { handshakeTimeoutMs: 30_000 });
  return { transport, client };
}

function collect(events: SubunitEvent[]) {
  return (e: SubunitEvent) => events.push(e);
}

const finals = (events: SubunitEvent[]): string[] =>
  events.filter((e) => e.status !== undefined && e.status !== 'inprogress').map((e) => `${e.testId}:${e.status}`);

/** What the tests printed to stdout, from their attachments. */
const stdoutOf = (events: SubunitEvent[]): string =>
  events.filter((e) => e.fileName === 'stdout').map((e) => Buffer.from(e.fileBytes!).toString('utf8')).join('');

/** `subrun serve ARGS` as a plain process that should refuse to start: its exit code and stderr. */
async function serveFails(args: string[]): Promise<{ code: unknown; stderr: string }> {
  const child = spawn(process.execPath, [BIN, 'serve', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const code = await new Promise((r) => child.once('exit', r));
  return { code, stderr };
}

t.test('list, run a subset, failures, skips and captured output over stdio', async (t) => {
  const { transport, client } = await startStdio(['math.test.js']);
  const listed = await client.list();
  t.same(listed.tests, ['math.test.js > adds', 'math.test.js > fails', 'math.test.js > skips', 'math.test.js > io > prints', 'math.test.js > version']);
  const events: SubunitEvent[] = [];
  const done = await client.run({ tests: ['math.test.js > fails', 'math.test.js > io > prints', 'math.test.js > skips'], onResult: collect(events) }).done;
  t.equal(done.ran, 3);
  t.same(finals(events).sort(), ['math.test.js > fails:fail', 'math.test.js > io > prints:success', 'math.test.js > skips:skip']);
  const attachment = (id: string, name: string) =>
    Buffer.concat(events.filter((e) => e.testId === id && e.fileName === name).map((e) => e.fileBytes!)).toString();
  t.match(attachment('math.test.js > io > prints', 'stdout'), /to stdout/);
  t.match(attachment('math.test.js > io > prints', 'stderr'), /to stderr/);
  t.match(attachment('math.test.js > fails', 'traceback'), /3/);
  t.ok(events.every((e) => e.status === undefined || e.timestamp !== undefined), 'every status packet has a timestamp');
  await t.rejects(client.run({ tests: ['math.test.js > nope'] }).done, { code: 'ERR_UNKNOWN_TEST' });
  await client.goodbye();
  t.equal((await transport.closed).exitCode, 0, 'Goodbye ends the server with status 0');
});

t.test('a busy loop is stopped by replacing the worker while the server keeps answering', async (t) => {
  const { transport, client } = await startStdio(['hazard.test.js']);
  const events: SubunitEvent[] = [];
  const run = client.run({ onResult: collect(events) });
  // While the test spins, pings are answered by the main thread.
  await new Promise((r) => setTimeout(r, 100));
  const rtts: number[] = [];
  for (let i = 0; i < 3; i++) rtts.push(await client.ping({ timeoutMs: 2000 }));
  t.ok(Math.max(...rtts) < 100, `pings answered within 100 ms during the busy loop (${rtts.map((x) => x.toFixed(1)).join(', ')} ms)`);
  await run.done;
  const results = finals(events);
  t.ok(results.includes('hazard.test.js > spins forever:fail'), 'the busy loop is reported failed');
  t.ok(results.includes('hazard.test.js > exits the process:fail'), 'process.exit is charged to its test');
  t.ok(results.includes('hazard.test.js > still alive:success'), 'the batch goes on in a new worker');
  await client.goodbye();
  t.equal((await transport.closed).exitCode, 0);
});

t.test('changed code is seen by the next Run (no stale module cache)', async (t) => {
  const file = path.join(dir, 'fresh.test.js');
  writeFileSync(file, `import { test } from ${TEST_API};\ntest('answer', () => { if (42 !== 41) throw new Error('old code'); });\n`);
  const { client } = await startStdio(['fresh.test.js']);
  const before: SubunitEvent[] = [];
  await client.run({ onResult: collect(before) }).done;
  t.same(finals(before), ['fresh.test.js > answer:fail']);
  writeFileSync(file, `import { test } from ${TEST_API};\ntest('answer', () => { if (42 !== 42) throw new Error('old code'); });\n`);
  const later = new Date(Date.now() + 2000);
  utimesSync(file, later, later);
  const after: SubunitEvent[] = [];
  await client.run({ onResult: collect(after) }).done;
  t.same(finals(after), ['fresh.test.js > answer:success']);
  await client.goodbye();
});

t.test('over a Unix socket with --listen, several clients in turn', async (t) => {
  const sock = path.join(dir, 'serve.sock');
  const child = spawn(process.execPath, [BIN, 'serve', '--root', dir, '--listen', `unix:${sock}`, 'math.test.js'], { stdio: ['pipe', 'pipe', 'pipe'] });
  t.teardown(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout.once('data', (d: Buffer) => resolve(d.toString().trim()));
    child.once('exit', (code) => reject(new Error(`serve exited ${code}`)));
  });
  t.equal(url, `unix:${sock}`);
  for (let i = 0; i < 2; i++) {
    const transport = await dial(url);
    const client = await ClientConnection.connect(transport.stream);
    const events: SubunitEvent[] = [];
    await client.run({ tests: ['math.test.js > adds'], onResult: collect(events) }).done;
    t.same(finals(events), ['math.test.js > adds:success']);
    await client.goodbye();
    await transport.close();
  }
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  child.kill('SIGTERM');
  t.equal(await exited, 0, 'SIGTERM stops a listening server cleanly');
});

t.test('EOF on the input ends the server; --idle-exit ends an unused one', async (t) => {
  const a = await startStdio(['math.test.js'], [], false);
  a.transport.stream.end();
  t.equal((await a.transport.closed).exitCode, 0, 'EOF ends it with status 0');
  const b = await startStdio(['math.test.js'], ['--idle-exit', '2s']);
  await b.client.run({ tests: ['math.test.js > adds'] }).done;
  const closed = await b.transport.closed;
  t.equal(closed.exitCode, 0, 'idle exit is a clean exit');
});

t.test('SIGTERM during a Run lets the running test finish, then stops', async (t) => {
  const slow = path.join(dir, 'slow.test.js');
  writeFileSync(slow, `import { test } from ${TEST_API};\ntest('one', async () => { await new Promise((r) => setTimeout(r, 400)); });\ntest('two', () => {});\n`);
  const { transport, client } = await startStdio(['slow.test.js']);
  const events: SubunitEvent[] = [];
  let started!: () => void;
  const oneStarted = new Promise<void>((r) => (started = r));
  const run = client.run({
    onResult: (e) => {
      events.push(e);
      if (e.status === 'inprogress') started();
    },
  });
  await oneStarted;
  process.kill((transport as unknown as { pid: number }).pid, 'SIGTERM');
  const done = await run.done;
  t.equal(done.cancelled, true);
  t.same(finals(events), ['slow.test.js > one:success'], 'the running test finished; the next did not start');
  t.equal((await transport.closed).exitCode, 0);
});

t.test('a client that vanishes while a test never yields: the server still exits after the Goodbye grace', async (t) => {
  writeFileSync(path.join(dir, 'spin.test.js'), `import { test } from ${TEST_API};\ntest('spins, no timeout', () => { for (;;) {} });\n`);
  for (const extra of [[], ['--no-server-thread']]) {
    const { transport, client } = await startStdio(['spin.test.js'], extra);
    let started!: () => void;
    const spinning = new Promise<void>((r) => (started = r));
    client.run({ onResult: (e) => e.status === 'inprogress' && started() }).done.catch(() => {});
    await spinning;
    transport.stream.destroy();
    // SPEC §6.1: the running test may go on for goodbyeGraceMs (5 s), then the server exits anyway.
    const closed = await Promise.race([transport.closed, new Promise<'hung'>((r) => setTimeout(() => r('hung'), 30_000))]);
    if (closed === 'hung') transport.destroy();
    t.not(closed, 'hung', `${extra.join(' ') || 'server thread'}: the server exited`);
    if (closed !== 'hung') t.equal(closed.exitCode, 0);
  }
});

t.test('stdin and stdout on a TCP connection that the client resets: the server ends cleanly, in both thread modes', async (t) => {
  for (const extra of [[], ['--no-server-thread']]) {
    const listener = createServer();
    await new Promise<void>((r) => listener.listen(0, '127.0.0.1', r));
    const accepted = new Promise<Socket>((r) => listener.once('connection', r));
    const client = connect((listener.address() as { port: number }).port, '127.0.0.1');
    const serverSide = await accepted;
    listener.close();
    // The server's stdin and stdout are the accepted socket, as under inetd or a socket-activating supervisor.
    const child = spawn(process.execPath, [BIN, 'serve', '--root', dir, ...extra, 'math.test.js'], { stdio: [serverSide, serverSide, 'pipe'] });
    serverSide.destroy();
    let err = '';
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    const exited = new Promise<number | null>((r) => child.once('exit', r));
    t.teardown(() => child.kill('SIGKILL'));
    const connection = await ClientConnection.connect(client, { handshakeTimeoutMs: 30_000 });
    const listed = await connection.list();
    t.equal(listed.tests.length, 5, `${extra.join(' ') || 'server thread'}: served over the socket`);
    client.resetAndDestroy();
    t.equal(await exited, 0, 'a reset is the end of the input: exit 0');
    t.notMatch(err, /internal error|ECONNRESET/, 'no crash');
  }
});

t.test('usage errors: no files, a missing file', async (t) => {
  const missing = await serveFails(['--root', dir, 'no-such.test.js']);
  t.equal(missing.code, 2);
  t.match(missing.stderr, /no such test file: no-such\.test\.js/);
});

t.test('--worker-young-gen sets the worker\'s young generation; a bad value is a usage error', async (t) => {
  const fixture = path.join(ROOT, 'test', 'server', 'fixtures');
  const transport = await spawnTransport([process.execPath, BIN, 'serve', '--root', fixture, '--worker-young-gen', '24', 'young-generation.test.js'], { protocolFd: true });
  t.teardown(() => transport.destroy());
  const client = await ClientConnection.connect(transport.stream, { handshakeTimeoutMs: 30_000 });
  const events: SubunitEvent[] = [];
  await client.run({ onResult: collect(events) }).done;
  t.equal(JSON.parse(stdoutOf(events)).limitMb, 24);
  await client.goodbye();

  const bad = await serveFails(['--root', fixture, '--worker-young-gen', '0', 'young-generation.test.js']);
  t.equal(bad.code, 2);
  t.match(bad.stderr, /--worker-young-gen expects a positive integer, got "0"/);
});

t.test('the server runs in a server thread; --no-server-thread serves from the main thread', async (t) => {
  const fixture = path.join(ROOT, 'test', 'server', 'fixtures');
  // Thread ids count up as threads start: with a server thread (and its loader), the test worker's is higher.
  const threadOfWorker = async (extra: string[], protocolFd: boolean): Promise<string> => {
    const transport = await spawnTransport([process.execPath, BIN, 'serve', '--root', fixture, ...extra, 'worker-identity.test.js'], { protocolFd });
    t.teardown(() => transport.destroy());
    const client = await ClientConnection.connect(transport.stream, { handshakeTimeoutMs: 30_000 });
    const events: SubunitEvent[] = [];
    const done = await client.run({ tests: ['worker-identity.test.js > prints its thread'], onResult: collect(events) }).done;
    t.equal(done.ran, 1);
    await client.goodbye();
    t.equal((await transport.closed).exitCode, 0, `${extra.join(' ') || 'default'}: Goodbye ends it with status 0`);
    return stdoutOf(events).trim();
  };
  const inThread = await threadOfWorker([], true);
  const onMain = await threadOfWorker(['--no-server-thread'], true);
  t.match(onMain, /^thread=\d+$/);
  t.ok(Number(inThread.slice(7)) > Number(onMain.slice(7)), `default: threads started before the test worker (${inThread}, ${onMain} without the server thread)`);
  t.equal(await threadOfWorker(['--server-young-gen', '24'], false), inThread, 'plain stdio, relayed through the main thread');
  t.equal(await threadOfWorker(['--no-server-thread'], false), onMain);

  const bad = await serveFails(['--root', fixture, '--server-young-gen', '-3', 'worker-identity.test.js']);
  t.equal(bad.code, 2);
  t.match(bad.stderr, /--server-young-gen expects a positive integer, got "-3"/);
});

t.test('SIGTERM stops a --no-server-thread server too', async (t) => {
  const { transport, client } = await startStdio(['math.test.js'], ['--no-server-thread']);
  await client.run({ tests: ['math.test.js > adds'] }).done;
  process.kill((transport as unknown as { pid: number }).pid, 'SIGTERM');
  t.equal((await transport.closed).exitCode, 0);
});

t.test('over ssh, through a real sshd', async (t) => {
  const why = sshdUnavailable();
  if (why !== undefined) throw new Error(`ssh test cannot run: ${why}`);
  const sshd: Sshd = await startSshd();
  t.teardown(() => sshd.stop());
  const command = `${process.execPath} ${BIN} serve --root ${dir} math.test.js`;
  const transport = await dial(sshd.url(command), { sshArgs: sshd.sshArgs, timeoutMs: 30_000 });
  const client = await ClientConnection.connect(transport.stream, { handshakeTimeoutMs: 30_000 });
  t.equal((await client.list()).tests.length, 5);
  const events: SubunitEvent[] = [];
  await client.run({ tests: ['math.test.js > adds', 'math.test.js > fails'], onResult: collect(events) }).done;
  t.same(finals(events), ['math.test.js > adds:success', 'math.test.js > fails:fail']);
  await client.goodbye();
  t.equal((await transport.closed).exitCode, 0);
});
