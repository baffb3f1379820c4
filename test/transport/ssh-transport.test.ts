import t from 'tap';
import { createServer, type Socket } from 'node:net';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { ManualClock } from '../../src/core/clock.js';
import type { ChildTransport } from '../../src/transport/child-transport.js';
import { dial } from '../../src/transport/dial.js';
import { startSshd, sshdUnavailable, type Sshd } from '../helpers/sshd.js';
import { readAll, within } from './contract.js';
import { ECHO } from './echo-peer.js';

const why = sshdUnavailable();
if (why !== undefined && process.env.CI !== 'true') {
  t.test('ssh transport', { skip: why }, () => {});
} else {
  let sshd: Sshd;
  t.before(async () => {
    sshd = await startSshd();
  });
  t.teardown(async () => {
    await sshd?.stop();
  });

  t.test('the url is canonical, the remote stderr tail is captured, and the remote exit code comes back', async (t) => {
    const command = `${process.execPath} ${ECHO} --stderr-bytes 10000 --exit 4`;
    const tr = (await dial(sshd.url(command), { sshArgs: sshd.sshArgs, timeoutMs: 20_000 })) as ChildTransport;
    t.equal(tr.url, sshd.url(command));
    const got = readAll(tr);
    tr.stream.end('over ssh');
    t.equal((await within(got, 20_000, 'echo')).toString(), 'over ssh');
    const info = await within(tr.closed, 20_000, 'closed');
    t.equal(info.exitCode, 4);
    t.equal(info.error?.code, 'ERR_TRANSPORT_EXIT');
    t.match(info.stderrTail, /END-OF-STDERR\n/);
  });

  t.test('SUBRUN_SSH_ARGS in the given env supplies the client arguments (SPEC §9.9)', async (t) => {
    // No spaces in the fixture's paths, so they survive the whitespace split.
    const tr = await dial(sshd.url('cat'), { env: { ...process.env, SUBRUN_SSH_ARGS: sshd.sshArgs.join(' ') }, timeoutMs: 20_000 });
    const got = readAll(tr);
    tr.stream.end('via env');
    t.equal((await within(got, 20_000, 'echo')).toString(), 'via env');
  });

  t.test('a key the server does not accept: ERR_TRANSPORT_SSH with ssh\'s own message', async (t) => {
    const otherKey = path.join(sshd.dir, 'other_key');
    spawnSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', otherKey]);
    const args = sshd.sshArgs.map((a) => (a === sshd.identityFile ? otherKey : a));
    const err = await dial(sshd.url('cat'), { sshArgs: args, timeoutMs: 20_000 }).catch((e: unknown) => e);
    t.match(err, { code: 'ERR_TRANSPORT_SSH', details: { exitCode: 255 } });
    t.match((err as Error).message, /Permission denied/);
  });

  t.test('an unknown host key is refused (BatchMode, StrictHostKeyChecking): ERR_TRANSPORT_SSH', async (t) => {
    const empty = path.join(sshd.dir, 'empty_known_hosts');
    writeFileSync(empty, '');
    const args = sshd.sshArgs.map((a) => (a === `UserKnownHostsFile=${sshd.knownHostsFile}` ? `UserKnownHostsFile=${empty}` : a));
    const err = await dial(sshd.url('cat'), { sshArgs: args, timeoutMs: 20_000 }).catch((e: unknown) => e);
    t.match(err, { code: 'ERR_TRANSPORT_SSH' });
    t.match((err as Error).message, /Host key verification failed/);
  });

  t.test('a closed port: ERR_TRANSPORT_SSH naming the refusal', async (t) => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    const err = await dial(`ssh://127.0.0.1:${port}/cat`, { sshArgs: sshd.sshArgs, timeoutMs: 20_000 }).catch((e: unknown) => e);
    t.match(err, { code: 'ERR_TRANSPORT_SSH' });
    t.match((err as Error).message, /Connection refused/);
  });

  t.test('a server that never speaks SSH: ERR_TRANSPORT_TIMEOUT, and the ssh client is stopped', async (t) => {
    const sockets: Socket[] = [];
    const server = createServer((s) => {
      sockets.push(s);
      s.on("error", () => {});
      s.resume();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    t.teardown(() => {
      for (const s of sockets) s.destroy();
      server.close();
    });
    const port = (server.address() as { port: number }).port;
    const clock = new ManualClock();
    const dialling = dial(`ssh://127.0.0.1:${port}/cat`, { sshArgs: sshd.sshArgs, timeoutMs: 5000, clock });
    for (let i = 0; i < 1000 && sockets.length === 0; i++) await new Promise((resolve) => setTimeout(resolve, 10));
    t.equal(sockets.length, 1, 'ssh connected and is waiting for a banner');
    // The readiness timer is armed once ssh is running.
    for (let i = 0; i < 200 && clock.pendingTimers === 0; i++) await new Promise((resolve) => setTimeout(resolve, 5));
    clock.advance(5000);
    await t.rejects(dialling, { code: 'ERR_TRANSPORT_TIMEOUT' });
    await within(new Promise<void>((resolve) => (sockets[0]!.destroyed ? resolve() : sockets[0]!.once('close', () => resolve()))), 10_000, 'the ssh client hanging up');
  });

  t.test('a remote command that does not exist: dial succeeds, closed reports exit 127 and the shell\'s message', async (t) => {
    const tr = await dial(sshd.url('no-such-subrun-server --serve'), { sshArgs: sshd.sshArgs, timeoutMs: 20_000 });
    readAll(tr).catch(() => {});
    const info = await within(tr.closed, 20_000, 'closed');
    t.equal(info.exitCode, 127);
    t.equal(info.error?.code, 'ERR_TRANSPORT_EXIT');
    t.match(info.stderrTail, /not found/);
  });

  t.test('the remote command killed by a signal after authentication: ERR_TRANSPORT_BROKEN, not an ssh failure', async (t) => {
    const tr = (await dial(sshd.url('echo pid=$$ >&2; exec sleep 30'), { sshArgs: sshd.sshArgs, timeoutMs: 20_000 })) as ChildTransport;
    t.teardown(() => tr.destroy());
    readAll(tr).catch(() => {});
    for (let i = 0; i < 200 && !/pid=\d+/.test(tr.stderrTail()); i++) await new Promise((resolve) => setTimeout(resolve, 50));
    const pid = Number(/pid=(\d+)/.exec(tr.stderrTail())?.[1]);
    t.ok(pid > 1, `the remote shell said its pid (${pid})`);
    // sshd runs as root on this machine, so the remote process is ours to kill, by pid.
    process.kill(pid, 'SIGKILL');
    const info = await within(tr.closed, 20_000, 'closed');
    t.equal(info.exitCode, 255);
    t.equal(info.error?.code, 'ERR_TRANSPORT_BROKEN');
  });
}
