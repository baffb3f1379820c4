import { connect, type Socket } from 'node:net';
import WebSocket from 'ws';
import { abortError, withTimeout } from '../core/abort.js';
import type { Clock } from '../core/clock.js';
import { SubrunError } from '../core/errors.js';
import type { CloseOptions } from './graceful-close.js';
import { SocketTransport } from './socket-transport.js';
import { dialSsh, type SshDialOptions } from './ssh-transport.js';
import { formatTransportUrl, parseTransportUrl } from './transport-url.js';
import type { Transport } from './transport.js';
import { WS_MAX_MESSAGE_BYTES, WebSocketTransport } from './ws-transport.js';

export { spawnTransport, type SpawnOptions, type ChildTransport } from './child-transport.js';

export interface DialOptions extends CloseOptions {
  /** Bound on connecting (for ssh: until the session is authenticated). */
  timeoutMs?: number;
  signal?: AbortSignal;
  clock?: Clock;
  /** ssh:// only: extra ssh client arguments (SPEC §9.9). */
  sshArgs?: readonly string[];
  /** ssh:// only: the ssh client binary. @default 'ssh' */
  sshPath?: string;
  /** ssh:// only: the ssh client's environment; SUBRUN_SSH_ARGS is read from it (SPEC §9.9). */
  env?: Readonly<Record<string, string | undefined>>;
  /** ssh:// only: called with ssh's stderr (the remote command's stderr comes this way too). */
  onStderr?: (chunk: Buffer) => void;
  /** ws:// only: the largest message accepted from the peer. @default 1 MiB (SPEC §9.6) */
  maxPayload?: number;
}

/**
 * Connect to a test server by URL (SPEC §9.2): `tcp://host:port`, `unix:/path`,
 * `ws://host:port/path`, `wss://...`, `ssh://[user@]host[:port]/command`.
 * Rejects with ERR_TRANSPORT_URL, ERR_TRANSPORT_CONNECT, ERR_TRANSPORT_TIMEOUT,
 * ERR_TRANSPORT_SSH or ERR_ABORTED.
 */
export async function dial(url: string, options: DialOptions = {}): Promise<Transport> {
  const address = parseTransportUrl(url);
  if (options.signal?.aborted) throw abortError(options.signal, `dialling ${url}`);
  switch (address.kind) {
    case 'tcp':
      return dialSocket(formatTransportUrl(address), { host: address.host, port: address.port }, options);
    case 'unix':
      return dialSocket(formatTransportUrl(address), { path: address.path }, options);
    case 'ws':
      return dialWebSocket(address.href, formatTransportUrl(address), options);
    case 'ssh': {
      const sshOptions: SshDialOptions = { ...options };
      return dialSsh(address, sshOptions);
    }
  }
}

/** Race an attempt against the timeout and signal; on losing, `cancel` tears the attempt down. */
async function attempt<T>(promise: Promise<T>, cancel: () => void, what: string, options: DialOptions): Promise<T> {
  try {
    return await withTimeout(promise, { timeoutMs: options.timeoutMs, signal: options.signal, clock: options.clock, timeoutCode: 'ERR_TRANSPORT_TIMEOUT', what });
  } catch (error) {
    cancel();
    throw error;
  }
}

async function dialSocket(url: string, target: { host: string; port: number } | { path: string }, options: DialOptions): Promise<Transport> {
  const socket: Socket = connect({ ...target, allowHalfOpen: true });
  const connected = new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', (error: NodeJS.ErrnoException) =>
      reject(new SubrunError('ERR_TRANSPORT_CONNECT', `Could not connect to ${url}: ${error.message}`, { cause: error, details: { errno: error.code } })),
    );
  });
  connected.catch(() => {});
  await attempt(connected, () => socket.destroy(), `connecting to ${url}`, options);
  // Protocol messages are small and latency-bound.
  if ('host' in target) socket.setNoDelay(true);
  return new SocketTransport(socket, url, options);
}

async function dialWebSocket(href: string, url: string, options: DialOptions): Promise<Transport> {
  const ws = new WebSocket(href, { maxPayload: options.maxPayload ?? WS_MAX_MESSAGE_BYTES, perMessageDeflate: false, followRedirects: false });
  const opened = new Promise<void>((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('unexpected-response', (request, response) => {
      reject(new SubrunError('ERR_TRANSPORT_CONNECT', `Could not open a WebSocket to ${url}: HTTP ${response.statusCode} ${response.statusMessage ?? ''}`.trimEnd(), { details: { status: response.statusCode } }));
      request.destroy();
    });
    ws.once('error', (error: NodeJS.ErrnoException) =>
      reject(new SubrunError('ERR_TRANSPORT_CONNECT', `Could not open a WebSocket to ${url}: ${error.message}`, { cause: error, details: { errno: error.code } })),
    );
  });
  opened.catch(() => {});
  // A failed attempt may still emit 'error' later (e.g. after terminate); keep it from crashing us.
  ws.on('error', () => {});
  // The transport listens from the start: the first message can arrive in the same read as
  // the handshake response, before any continuation of `await opened` runs.
  const transport = new WebSocketTransport(ws, url, options);
  await attempt(opened, () => ws.terminate(), `connecting to ${url}`, options);
  return transport;
}
