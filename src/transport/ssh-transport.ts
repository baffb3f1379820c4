import { withTimeout } from '../core/abort.js';
import { SubrunError } from '../core/errors.js';
import { spawnTransport, type ChildTransport, type SpawnOptions } from './child-transport.js';
import type { TransportAddress } from './transport-url.js';
import { formatTransportUrl } from './transport-url.js';

/** SPEC §9.9: extra ssh client arguments, whitespace-separated, no quoting. */
export const SSH_ARGS_ENV = 'SUBRUN_SSH_ARGS';

/** ssh's own failures (cannot connect, authentication, host key) exit with 255. */
const SSH_FAILED = 255;

// With LogLevel=VERBOSE the client says this once the session is authenticated (OpenSSH >= 7).
const AUTHENTICATED = /^Authenticated to /m;

/** Split SUBRUN_SSH_ARGS (SPEC §9.9); paths with spaces belong in an ssh config file given with -F. */
export function sshArgsFromEnv(env: Readonly<Record<string, string | undefined>>): string[] {
  const text = env[SSH_ARGS_ENV];
  return text === undefined ? [] : text.split(/\s+/).filter((a) => a !== '');
}

export interface SshDialOptions extends SpawnOptions {
  /** Extra ssh client arguments (`-i key`, `-F config`, `-o UserKnownHostsFile=...`), before SUBRUN_SSH_ARGS's. */
  sshArgs?: readonly string[];
  /** The ssh client to run. @default 'ssh' */
  sshPath?: string;
}

/** The argv that runs `address.command` on the remote host (SPEC §9.9). */
export function sshArgv(address: Extract<TransportAddress, { kind: 'ssh' }>, options: SshDialOptions): string[] {
  const extra = [...(options.sshArgs ?? []), ...(options.env === undefined ? [] : sshArgsFromEnv(options.env))];
  return [
    options.sshPath ?? 'ssh',
    // First -o wins in ssh: these cannot be overridden by extra arguments.
    '-o', 'BatchMode=yes',
    '-o', 'LogLevel=VERBOSE',
    '-T',
    '-e', 'none',
    ...extra,
    ...(address.port === undefined ? [] : ['-p', String(address.port)]),
    ...(address.user === undefined ? [] : ['-l', address.user]),
    // `--` ends the options: a host can never be read as one (the parser also forbids a leading -).
    '--',
    address.host,
    address.command,
  ];
}

/**
 * Run the server command on a remote host through the system ssh client (SPEC §9.9).
 * Resolves once ssh reports the session authenticated; rejects with ERR_TRANSPORT_SSH
 * (and ssh's stderr) if ssh gives up first, or ERR_TRANSPORT_TIMEOUT.
 */
export async function dialSsh(address: Extract<TransportAddress, { kind: 'ssh' }>, options: SshDialOptions): Promise<ChildTransport> {
  const url = formatTransportUrl(address);
  let onStderrText: ((text: string) => void) | undefined;
  let seen = '';
  let authenticated = false;
  const transport = await spawnTransport(sshArgv(address, options), {
    ...options,
    shell: false,
    protocolFd: false,
    url,
    onStderr: (chunk) => {
      if (onStderrText !== undefined) {
        seen = (seen + chunk.toString('utf8')).slice(-16 * 1024);
        onStderrText(seen);
      }
      options.onStderr?.(chunk);
    },
    describeExit: (exitCode, _signal, stderrTail) => {
      if (exitCode !== SSH_FAILED) return undefined;
      const said = stderrTail.trim().split('\n').filter((l) => !/^(Authenticated to|Transferred:|Bytes per second:)/.test(l)).slice(-3).join(' | ');
      // SPEC §9.9.4: before authentication 255 is ssh failing; after it, the remote command
      // died by a signal or the connection was lost, which ssh reports the same way.
      return authenticated
        ? new SubrunError('ERR_TRANSPORT_BROKEN', `the ssh session to ${url} ended abnormally (exit 255: remote command killed by a signal, or the connection was lost)${said === '' ? '' : `: ${said}`}`, { details: { exitCode, stderrTail } })
        : new SubrunError('ERR_TRANSPORT_SSH', `ssh to ${url} failed (exit 255): ${said || 'no message from ssh'}`, { details: { exitCode, stderrTail } });
    },
  });
  const ready = new Promise<void>((resolve, reject) => {
    onStderrText = (text) => {
      if (AUTHENTICATED.test(text)) {
        authenticated = true;
        onStderrText = undefined;
        resolve();
      }
    };
    void transport.closed.then((info) => {
      reject(info.error ?? new SubrunError('ERR_TRANSPORT_SSH', `ssh to ${url} ended before the session was authenticated`, { details: { exitCode: info.exitCode, stderrTail: info.stderrTail } }));
    });
  });
  // A catch handler so that a later rejection (closed after readiness) is not unhandled.
  ready.catch(() => {});
  try {
    await withTimeout(ready, { timeoutMs: options.timeoutMs, signal: options.signal, clock: options.clock, timeoutCode: 'ERR_TRANSPORT_TIMEOUT', what: `ssh to ${transport.url}` });
  } catch (error) {
    transport.destroy();
    throw error;
  }
  return transport;
}
