import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import path from 'node:path';

/**
 * A real OpenSSH server on 127.0.0.1 with throwaway keys, for tests that go over ssh.
 * Start it with startSshd(), stop it with stop() (by pid; also registered with t.teardown
 * by the caller). Requires root (sshd's privilege separation) and Debian's openssh-server.
 */
export interface Sshd {
  host: string;
  port: number;
  user: string;
  /** The client's private key. */
  identityFile: string;
  /** A known_hosts file holding this server's host key. */
  knownHostsFile: string;
  /** What the ssh client needs to reach this server without prompts: pass as extra ssh args. */
  sshArgs: string[];
  /** `ssh://user@127.0.0.1:port/` + the percent-encoded command. */
  url(command: string): string;
  pid: number;
  dir: string;
  /** What sshd wrote to stderr so far (its log, with -e). */
  log(): string;
  stop(): Promise<void>;
}

export const SSHD_PATH = '/usr/sbin/sshd';
export const SSH_KEYGEN_PATH = '/usr/bin/ssh-keygen';

/** Why sshd cannot run here, or undefined if it can. Tests fail on this in CI rather than skip. */
export function sshdUnavailable(): string | undefined {
  if (!existsSync(SSHD_PATH)) return `${SSHD_PATH} is missing (install openssh-server; scripts/setup.sh does)`;
  if (!existsSync(SSH_KEYGEN_PATH)) return `${SSH_KEYGEN_PATH} is missing (install openssh-client)`;
  if (spawnSync('ssh', ['-V']).error !== undefined) return 'the ssh client is missing (install openssh-client)';
  if (process.getuid?.() !== 0) return 'sshd needs to run as root for this fixture';
  return undefined;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

function keygen(file: string, comment: string): void {
  const r = spawnSync(SSH_KEYGEN_PATH, ['-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', file], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`ssh-keygen failed: ${r.stderr}`);
}

export async function startSshd(options: { timeoutMs?: number } = {}): Promise<Sshd> {
  const why = sshdUnavailable();
  if (why !== undefined) throw new Error(why);
  // Privilege separation needs this directory; systemd normally creates it.
  mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
  const dir = mkdtempSync(path.join(tmpdir(), 'subrun-sshd-'));
  const user = userInfo().username;
  const hostKey = path.join(dir, 'host_ed25519');
  const identityFile = path.join(dir, 'client_ed25519');
  const knownHostsFile = path.join(dir, 'known_hosts');
  const authorizedKeys = path.join(dir, 'authorized_keys');
  const config = path.join(dir, 'sshd_config');
  keygen(hostKey, 'subrun-test-host');
  keygen(identityFile, 'subrun-test-client');
  writeFileSync(authorizedKeys, readFileSync(`${identityFile}.pub`), { mode: 0o600 });
  const host = '127.0.0.1';
  let lastError: Error | undefined;
  // A port found free can be taken before sshd binds it; try a few.
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    writeFileSync(
      config,
      [
        `Port ${port}`,
        `ListenAddress ${host}`,
        `HostKey ${hostKey}`,
        `PidFile ${path.join(dir, 'sshd.pid')}`,
        `AuthorizedKeysFile ${authorizedKeys}`,
        'UsePAM no',
        'StrictModes no',
        'PubkeyAuthentication yes',
        'PasswordAuthentication no',
        'KbdInteractiveAuthentication no',
        'PermitRootLogin prohibit-password',
        `AllowUsers ${user}`,
        'PrintMotd no',
        'X11Forwarding no',
        'AllowTcpForwarding no',
        'LogLevel VERBOSE',
        '',
      ].join('\n'),
    );
    writeFileSync(knownHostsFile, `[${host}]:${port} ${readFileSync(`${hostKey}.pub`, 'utf8').split(' ').slice(0, 2).join(' ')}\n`);
    const child = spawn(SSHD_PATH, ['-D', '-e', '-f', config], { stdio: ['ignore', 'ignore', 'pipe'] });
    let log = '';
    child.stderr!.on('data', (c: Buffer) => {
      log += c.toString('utf8');
      if (log.length > 1_000_000) log = log.slice(-500_000);
    });
    try {
      await waitListening(child, () => log, options.timeoutMs ?? 10_000);
    } catch (e) {
      lastError = e as Error;
      if (child.exitCode === null) child.kill('SIGKILL');
      continue;
    }
    const sshArgs = [
      '-F', '/dev/null',
      '-i', identityFile,
      '-o', 'IdentitiesOnly=yes',
      '-o', `UserKnownHostsFile=${knownHostsFile}`,
      '-o', 'GlobalKnownHostsFile=/dev/null',
      '-o', 'StrictHostKeyChecking=yes',
    ];
    let stopped: Promise<void> | undefined;
    return {
      host,
      port,
      user,
      identityFile,
      knownHostsFile,
      sshArgs,
      url: (command) => `ssh://${user}@${host}:${port}/${encodeURIComponent(command)}`,
      pid: child.pid!,
      dir,
      log: () => log,
      stop: () => {
        stopped ??= (async () => {
          if (child.exitCode === null && child.signalCode === null) {
            const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
            child.kill('SIGTERM');
            const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
            await exited;
            clearTimeout(timer);
          }
          rmSync(dir, { recursive: true, force: true });
        })();
        return stopped;
      },
    };
  }
  rmSync(dir, { recursive: true, force: true });
  throw lastError ?? new Error('sshd did not start');
}

function waitListening(child: ChildProcess, log: () => string, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => finish(new Error(`sshd did not start within ${timeoutMs} ms: ${log()}`)), timeoutMs);
    const poll = setInterval(() => {
      if (/Server listening on/.test(log())) finish();
    }, 20);
    const onExit = () => finish(new Error(`sshd exited: ${log()}`));
    child.once('exit', onExit);
    function finish(error?: Error) {
      clearTimeout(timer);
      clearInterval(poll);
      child.off('exit', onExit);
      if (error === undefined) resolve();
      else reject(error);
    }
  });
}
