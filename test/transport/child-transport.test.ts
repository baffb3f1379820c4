import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ManualClock } from '../../src/core/clock.js';
import { spawnTransport } from '../../src/transport/child-transport.js';
import { PROTOCOL_FD_PREAMBLE } from '../../src/transport/protocol-fd.js';
import { TAIL_BYTES } from '../../src/transport/transport.js';
import { readAll, within } from './contract.js';
import { ECHO } from './echo-peer.js';

const node = process.execPath;

t.test('a command that cannot start is ERR_TRANSPORT_SPAWN; bad arguments throw naming the argument', async (t) => {
  await t.rejects(spawnTransport(['/nonexistent/server']), { code: 'ERR_TRANSPORT_SPAWN', details: { errno: 'ENOENT' } });
  await t.rejects(spawnTransport([]), { code: 'ERR_INVALID_ARGUMENT', message: /`command`/ });
  await t.rejects(spawnTransport('  '), { code: 'ERR_INVALID_ARGUMENT' });
  await t.rejects(spawnTransport('cat', { shell: false }), { code: 'ERR_INVALID_ARGUMENT', message: /options\.shell/ });
  await t.rejects(spawnTransport([node, ECHO], { signal: AbortSignal.abort() }), { code: 'ERR_ABORTED' });
});

t.test('the shell form honours cwd and env; the url names the pid', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'subrun-child-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const tr = await spawnTransport('printf "%s|%s|" "$GREETING" "$(pwd)"; exec cat', { cwd: dir, env: { PATH: '/usr/bin:/bin', GREETING: 'hi' } });
  t.equal(tr.url, `stdio:pid/${tr.pid}`);
  const got = readAll(tr);
  tr.stream.end('echoed');
  t.equal((await within(got, 10_000, 'output')).toString(), `hi|${dir}|echoed`);
  t.equal((await tr.closed).exitCode, 0);
});

t.test('the last 8 KiB of stderr are kept and reported in closed', async (t) => {
  const tr = await spawnTransport([node, ECHO, '--stderr-bytes', '20000', '--exit', '3']);
  readAll(tr).catch(() => {});
  tr.stream.end();
  const info = await within(tr.closed, 10_000, 'closed');
  t.equal(info.exitCode, 3);
  t.equal(info.error?.code, 'ERR_TRANSPORT_EXIT', 'a non-zero exit we did not cause is an error');
  t.equal(Buffer.byteLength(info.stderrTail ?? ''), TAIL_BYTES, 'exactly the tail');
  t.ok(info.stderrTail?.endsWith('END-OF-STDERR\n'), 'ending with the last bytes written');
  t.match(info.error?.message, /END-OF-STDERR/, 'the error message quotes the stderr tail');
});

t.test('protocol fd taken: stdout is test output, captured apart from the protocol (SPEC §9.5)', async (t) => {
  const output: Buffer[] = [];
  const tr = await spawnTransport([node, ECHO, '--noise'], { protocolFd: true, onOutput: (c) => output.push(c) });
  t.teardown(() => tr.destroy());
  const got = readAll(tr);
  tr.stream.end('protocol bytes');
  t.equal((await within(got, 10_000, 'echo')).toString(), 'protocol bytes', 'no test output in the protocol stream');
  t.equal(await tr.mode, 'fd');
  const info = await within(tr.closed, 10_000, 'closed');
  t.equal(Buffer.concat(output).toString(), 'test output on stdout, not protocol\n');
  t.equal(info.stdoutTail, 'test output on stdout, not protocol\n');
});

t.test('protocol fd offered to a server that does not know it: stdio is used', async (t) => {
  const tr = await spawnTransport([node, ECHO, '--unaware'], { protocolFd: true });
  const got = readAll(tr);
  tr.stream.end('hello');
  t.equal((await within(got, 10_000, 'echo')).toString(), 'hello');
  t.equal(await tr.mode, 'stdio');
  t.equal((await tr.closed).stdoutTail, undefined, 'no separate test output in stdio mode');
});

t.test('a server that banners on stdout before the echo, not knowing the fd, is stdio mode with the banner in the stream', async (t) => {
  const tr = await spawnTransport([node, '-e', 'process.stdout.write("banner\\n"); process.stdin.pipe(process.stdout)'], { protocolFd: true });
  const got = readAll(tr);
  tr.stream.end('x');
  t.equal((await within(got, 10_000, 'echo')).toString(), 'banner\nx');
  t.equal(await tr.mode, 'stdio');
});

t.test('a preamble split across writes, followed at once by protocol bytes, is recognised', async (t) => {
  const script = `
    const fs = require('node:fs');
    const pre = Buffer.from(${JSON.stringify(PROTOCOL_FD_PREAMBLE.toString('latin1'))}, 'latin1');
    fs.writeSync(3, pre.subarray(0, 3));
    setTimeout(() => { fs.writeSync(3, Buffer.concat([pre.subarray(3), Buffer.from('after')])); fs.writeSync(1, 'out'); }, 50);
    setTimeout(() => process.exit(0), 150);`;
  const output: Buffer[] = [];
  const tr = await spawnTransport([node, '-e', script], { protocolFd: true, onOutput: (c) => output.push(c) });
  const got = readAll(tr);
  t.equal((await within(got, 10_000, 'protocol bytes')).toString(), 'after');
  t.equal(await tr.mode, 'fd');
  await tr.closed;
  t.equal(Buffer.concat(output).toString(), 'out');
});

t.test('garbage instead of the preamble is ERR_TRANSPORT_PROTOCOL_FD and ends the child', async (t) => {
  const tr = await spawnTransport([node, '-e', 'require("node:fs").writeSync(3, "HELLO?"); setInterval(() => {}, 1000)'], { protocolFd: true });
  readAll(tr).catch(() => {});
  const info = await within(tr.closed, 10_000, 'closed');
  t.equal(info.error?.code, 'ERR_TRANSPORT_PROTOCOL_FD');
  t.match(info.error?.message, /HELLO/);
});

t.test('a child that dies before choosing leaves mode stdio and reports its exit', async (t) => {
  const tr = await spawnTransport([node, '-e', 'process.stderr.write("boom"); process.exit(9)'], { protocolFd: true });
  readAll(tr).catch(() => {});
  const info = await within(tr.closed, 10_000, 'closed');
  t.equal(await tr.mode, 'stdio');
  t.equal(info.exitCode, 9);
  t.equal(info.stderrTail, 'boom');
  t.equal(tr.stderrTail(), 'boom');
});

t.test('close() escalates: EOF, then SIGTERM, then SIGKILL, each after the timeout (manual clock)', async (t) => {
  const clock = new ManualClock();
  const tr = await spawnTransport([node, ECHO, '--ignore-eof', '--ignore-term'], { clock, closeTimeoutMs: 2000 });
  t.teardown(() => tr.destroy());
  readAll(tr).catch(() => {});
  tr.stream.write('x');
  await within(new Promise((resolve) => tr.stream.once('data', resolve)), 10_000, 'echo');
  let done = false;
  const closing = tr.close().then(() => (done = true));
  clock.advance(2000); // SIGTERM, which this child ignores
  await new Promise((resolve) => setTimeout(resolve, 200));
  t.equal(done, false, 'still alive after SIGTERM');
  clock.advance(2000); // SIGKILL
  await within(closing, 10_000, 'close()');
  const info = await tr.closed;
  t.equal(info.signal, 'SIGKILL');
  t.equal(info.error, undefined, 'a stop we forced is not a failure');
});

t.test('writes to a child that closed its stdin are dropped, not thrown', async (t) => {
  const tr = await spawnTransport([node, '-e', 'process.stdin.destroy(); setTimeout(() => {}, 300)']);
  readAll(tr).catch(() => {});
  const big = Buffer.alloc(1024 * 1024);
  for (let i = 0; i < 4; i++) tr.stream.write(big);
  const info = await within(tr.closed, 10_000, 'closed');
  t.equal(info.exitCode, 0);
});

t.test('SUBRUN_PROTOCOL_FD reaches the child exactly when the fd is offered', async (t) => {
  const show = [node, '-e', 'process.stdout.write(String(process.env.SUBRUN_PROTOCOL_FD))'];
  const plain = await spawnTransport(show, { env: { SUBRUN_PROTOCOL_FD: '3' } });
  t.equal((await within(readAll(plain), 10_000, 'output')).toString(), 'undefined', 'an inherited offer is removed');
  const offered = await spawnTransport([node, '-e', 'require("node:fs").writeSync(1, String(process.env.SUBRUN_PROTOCOL_FD))'], { protocolFd: true });
  t.equal((await within(readAll(offered), 10_000, 'output')).toString(), '3', 'seen as stdio-mode bytes: this child never sent the preamble');
});
