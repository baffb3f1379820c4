import { SubrunError } from '../../core/errors.js';
import type { Clock } from '../../core/clock.js';
import { ClientConnection } from '../../rpc/client.js';
import { dial, spawnTransport, formatTransportUrl, type Transport, type TransportClosed } from '../../transport/index.js';
import { shellQuote } from '../../core/shell.js';
import type { RunnerConfig, ServerEntry } from '../config/runner-config.js';

/** How to reach and talk to the servers of a run. */
export interface ServerStartOptions {
  cwd: string;
  env?: Record<string, string | undefined>;
  /** Extra ssh client arguments for ssh:// entries (keys, known_hosts). */
  sshArgs?: readonly string[];
  signal?: AbortSignal;
  clock?: Clock;
  /** Heartbeat interval asked of the server (SPEC §7.7). @default 1000 */
  heartbeatMs?: number;
  /** A server's stderr as it arrives, with its slot. */
  onStderr?: (chunk: Buffer, slot: number) => void;
  /** Bytes a server wrote that were not protocol, with its slot. */
  onOutput?: (bytes: Uint8Array, slot: number) => void;
}

/**
 * One live test server (SPEC §14.6): its transport, the handshaken connection, and
 * the tests it has started since it came up (for --analyze-isolation).
 */
export interface TestServerProcess {
  readonly slot: number;
  readonly entry: ServerEntry;
  /** Where it runs: the transport's URL. */
  readonly url: string;
  /** The local process id (the server itself, or the ssh client for ssh:// entries). */
  readonly pid: number | undefined;
  readonly transport: Transport;
  readonly connection: ClientConnection;
  /** Tests started on this process, in order. */
  readonly started: string[];
}

/**
 * Start (or dial) the server of `entry` and finish the handshake within the configured
 * timeout. A local entry spawns `test_server_command` through /bin/sh with the protocol
 * fd offered (SPEC §9.5); an ssh:// entry runs `cd PATH && test_server_command` on the host
 * through the system ssh client (SPEC §9.9); tcp/unix/ws entries dial a running server.
 */
export async function startTestServer(config: RunnerConfig, entry: ServerEntry, slot: number, options: ServerStartOptions): Promise<TestServerProcess> {
  const transport = await openTransport(config, entry, slot, options);
  try {
    const connection = await ClientConnection.connect(transport.stream, {
      handshakeTimeoutMs: config.timeouts.handshakeMs,
      heartbeatMs: options.heartbeatMs ?? 1000,
      hangTimeoutMs: config.timeouts.hangMs,
      ...(options.clock === undefined ? {} : { clock: options.clock }),
      ...(options.signal === undefined ? {} : { signal: options.signal }),
      ...(options.onOutput === undefined ? {} : { onOutput: (bytes: Uint8Array) => options.onOutput!(bytes, slot) }),
    });
    const pid = 'pid' in transport && typeof transport.pid === 'number' ? transport.pid : undefined;
    return { slot, entry, url: transport.url, pid, transport, connection, started: [] };
  } catch (error) {
    transport.destroy();
    const closed = await transport.closed;
    throw startError(entry, error, closed);
  }
}

async function openTransport(config: RunnerConfig, entry: ServerEntry, slot: number, options: ServerStartOptions): Promise<Transport> {
  const onStderr = options.onStderr === undefined ? undefined : (chunk: Buffer) => options.onStderr!(chunk, slot);
  const common = {
    timeoutMs: config.timeouts.handshakeMs,
    ...(options.signal === undefined ? {} : { signal: options.signal }),
    ...(options.clock === undefined ? {} : { clock: options.clock }),
    ...(onStderr === undefined ? {} : { onStderr }),
  };
  try {
    switch (entry.kind) {
      case 'local':
        return await spawnTransport(execPrefixed(serverCommand(config, entry)), { ...common, shell: true, protocolFd: true, cwd: options.cwd, ...(options.env === undefined ? {} : { env: options.env }) });
      case 'ssh': {
        const command = `cd ${shellQuote(entry.path)} && ${execPrefixed(serverCommand(config, entry))}`;
        const url = formatTransportUrl({ kind: 'ssh', user: entry.user, host: entry.host, port: entry.port, command });
        return await dial(url, { ...common, sshArgs: options.sshArgs ?? [], ...(options.env === undefined ? {} : { env: options.env }) });
      }
      default:
        return await dial(entry.url, common);
    }
  } catch (error) {
    throw startError(entry, error, undefined);
  }
}

function serverCommand(config: RunnerConfig, entry: ServerEntry): string {
  if (config.testServerCommand === undefined) {
    throw new SubrunError('ERR_CONFIG', `${config.file}: the server entry ${entry.url} needs test_server_command (testServerCommand)`, {
      details: { file: config.file, key: 'test_server_command' },
    });
  }
  return config.testServerCommand;
}

/**
 * `exec CMD` for a simple command, so that the server is the process we spawned and a
 * kill by pid (a hung server) reaches it rather than only the shell that started it.
 * A compound command (`a && b`, pipes, subshells) is left as written.
 */
export function execPrefixed(command: string): string {
  if (/^\s*exec\s/.test(command) || /[;&|\n()`]|\$\(/.test(command)) return command;
  return `exec ${command}`;
}

/** ERR_SERVER_START: names the entry and keeps what the server said on its way down. */
function startError(entry: ServerEntry, error: unknown, closed: TransportClosed | undefined): SubrunError {
  if (error instanceof SubrunError && (error.code === 'ERR_CONFIG' || error.code === 'ERR_ABORTED')) return error;
  const reason = error instanceof Error ? error.message : String(error);
  const tail = closed?.stderrTail?.trim();
  const exit = closed === undefined ? '' : closed.exitCode != null ? ` (exit ${closed.exitCode})` : closed.signal != null ? ` (${closed.signal})` : '';
  return new SubrunError('ERR_SERVER_START', `the test server ${entry.url} did not start${exit}: ${reason}${tail ? `\n${tail.split('\n').slice(-10).join('\n')}` : ''}`, {
    cause: error,
    details: { url: entry.url, exitCode: closed?.exitCode, signal: closed?.signal, stderrTail: closed?.stderrTail },
  });
}
