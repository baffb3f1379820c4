import http from 'node:http';
import https from 'node:https';
import { randomBytes, randomUUID } from 'node:crypto';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket, type RawData } from 'ws';
import { systemClock, type Clock, type TimerHandle } from '../core/clock.js';
import { InvalidArgumentError, SubrunError } from '../core/errors.js';
import { Authenticator, isLoopback, sha256, type Role } from './auth.js';
import { toWireError, poolError } from './errors.js';
import { createHttpHandler } from './http-api.js';
import { LIMITS, encodeGranted, encodeGrantedShort, parseClientMessage, type ClientMessage } from './messages.js';
import { PoolState } from './pool-state.js';
import { runReleaseHook, type ReleaseHook } from './release-hooks.js';
import { PoolStore } from './store.js';
import type { LeaseView, PoolEvent, ResourceSpec } from './types.js';

/**
 * The pool server (SPEC §12): one port for HTTP and WebSocket. It owns the I/O around
 * the pure PoolState: each event is appended to the store first, then sent to peers.
 */

export interface PoolServerOptions {
  /** @default '127.0.0.1' */
  host?: string;
  /** 0 picks a free port. @default 8000 */
  port?: number;
  /** SQLite file (created if missing); ':memory:' for a throwaway pool. */
  dbPath: string;
  /** fsync every commit (SQLite synchronous=FULL): grants survive a power cut too (SPEC §12.8.3). @default false */
  fsync?: boolean;
  /** Resources to ensure exist at start (config file, `--resource`). */
  resources?: ResourceSpec[];
  clientTokens?: string[];
  adminTokens?: string[];
  /** Allow calls without a token; refused unless `host` is loopback. @default false */
  insecureLocal?: boolean;
  trustedProxies?: string[];
  /** A holder that answers no ping for this long is dead. @default 10000 */
  pingTimeoutMs?: number;
  /** Time holders restored after a restart have to reconnect. @default pingTimeoutMs */
  restartGraceMs?: number;
  /** Largest grace period a client may ask for. @default 60000 */
  maxGraceMs?: number;
  hooks?: Record<string, ReleaseHook>;
  /** Serve https/wss with this certificate. */
  tls?: { cert: string | Buffer; key: string | Buffer };
  clock?: Clock;
  /** Environment for release hooks. @default {} */
  hookEnv?: Record<string, string | undefined>;
  version?: string;
  /** Diagnostic lines (connections, errors). */
  log?: (line: string) => void;
}

interface Conn {
  ws: WebSocket;
  role: Role;
  remote: string;
  session: string | null;
  lastSeen: number;
  badMessages: number;
  pingTimedOut: boolean;
  /** The client said protocol 2 or more in `hello`: it gets the short `granted` (SPEC §12.4.6). */
  short: boolean;
}

export interface PoolServer {
  /** `http://host:port` (or https). */
  readonly url: string;
  /** `ws://host:port/v1/ws` (or wss). */
  readonly wsUrl: string;
  readonly port: number;
  readonly state: PoolState;
  readonly store: PoolStore;
  /** Stop accepting, close every connection cleanly (leases stay in the store), close the DB. */
  close(): Promise<void>;
  /** Same, without waiting for peers. */
  destroy(): Promise<void>;
}

const MAX_BAD_MESSAGES = 20;
/** Protocol 2 adds the release carried by an acquire (SPEC §12.4.5). */
export const POOL_PROTOCOL = 2;

export async function createPoolServer(options: PoolServerOptions): Promise<PoolServer> {
  const host = options.host ?? '127.0.0.1';
  const port = options.port ?? 8000;
  const clock = options.clock ?? systemClock;
  const pingTimeoutMs = options.pingTimeoutMs ?? 10_000;
  const maxGraceMs = options.maxGraceMs ?? 60_000;
  const clientTokens = options.clientTokens ?? [];
  const adminTokens = options.adminTokens ?? [];
  const log = options.log ?? (() => {});
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new InvalidArgumentError('port', 'an integer in [0, 65535]', port);
  if (!(pingTimeoutMs > 0)) throw new InvalidArgumentError('pingTimeoutMs', 'a positive number of milliseconds', pingTimeoutMs);
  if (options.insecureLocal === true && !isLoopback(host)) {
    throw new SubrunError('ERR_CONFIG', `--insecure-local is only allowed when bound to loopback, not ${host}`);
  }
  if (options.insecureLocal !== true && clientTokens.length + adminTokens.length === 0) {
    throw new SubrunError('ERR_CONFIG', 'the pool needs a client and an admin token (or --insecure-local on loopback)');
  }
  const auth = new Authenticator({ clientTokens, adminTokens, insecureLocal: options.insecureLocal === true, trustedProxies: options.trustedProxies ?? [] });
  const hooks = options.hooks ?? {};
  const store = new PoolStore(options.dbPath, { fsync: options.fsync === true });
  const conns = new Set<Conn>();
  const bySession = new Map<string, Conn>();
  const remotes = new Map<string, string>();
  const clientOf = new Map<string, string>();
  let started = false;

  // Group commit (SPEC §12.8): events of one turn are staged, committed in one
  // transaction, and only then are the replies of that turn sent.
  let outbox: Array<[Conn, string]> = [];
  /** True while a quiet `acquire` is handled (SPEC §12.4.4). */
  let quietRequest = false;
  /** The lease an `acquire` releases while it is handled: its answer confirms it (SPEC §12.4.5). */
  let carriedRelease: string | null = null;
  let flushScheduled = false;
  const flush = (): void => {
    flushScheduled = false;
    try {
      store.commit();
    } catch (error) {
      // Nothing of this turn may be told to anyone: it is not durable. Drop every
      // connection so holders resume against whatever a restarted pool finds on disk.
      outbox = [];
      log(`pool: cannot write the state database, stopping: ${(error as Error).message}`);
      void shutdown(false);
      return;
    }
    const batch = outbox;
    outbox = [];
    for (const [conn, text] of batch) if (conn.ws.readyState === conn.ws.OPEN) conn.ws.send(text);
  };
  const send = (conn: Conn | undefined, msg: object): void => {
    if (conn === undefined || conn.ws.readyState !== conn.ws.OPEN) return;
    sendText(conn, JSON.stringify(msg));
  };
  const sendText = (conn: Conn | undefined, text: string): void => {
    if (conn === undefined || conn.ws.readyState !== conn.ws.OPEN) return;
    outbox.push([conn, text]);
    if (!flushScheduled) {
      flushScheduled = true;
      setImmediate(flush);
    }
  };

  const sendGranted = (conn: Conn | undefined, id: string, lease: LeaseView): void => {
    if (conn === undefined) return;
    sendText(conn, conn.short ? encodeGrantedShort(id, lease) : encodeGranted(id, lease));
  };

  const onEvent = (e: PoolEvent): void => {
    const actor = 'actor' in e ? e.actor : e.kind === 'session-opened' ? e.client : 'session' in e ? (clientOf.get(e.session) ?? e.session) : 'pool';
    // Write-ahead: the event is durable before any peer hears of it (SPEC §12.8).
    store.stage(e, actor);
    if (!flushScheduled) {
      flushScheduled = true;
      setImmediate(flush);
    }
    if (e.kind === 'session-opened') clientOf.set(e.session, e.client);
    if (e.kind === 'session-closed') {
      clientOf.delete(e.session);
      remotes.delete(e.session);
    }
    if (!started) return;
    switch (e.kind) {
      case 'granted':
        sendGranted(bySession.get(e.session), e.requestId, e.lease);
        break;
      case 'queued':
        if (!quietRequest) send(bySession.get(e.session), { op: 'queued', id: e.requestId, position: e.position });
        break;
      case 'refused':
        send(bySession.get(e.session), { op: 'error', id: e.requestId, status: 422, code: e.code, message: e.message });
        break;
      case 'released':
        if (e.lease !== carriedRelease) send(bySession.get(e.session), { op: 'released', lease: e.lease, reason: e.reason });
        break;
      case 'reset-started':
        startHook(e.resource);
        break;
      default:
        break;
    }
  };

  const startHook = (id: string): void => {
    const resource = state.resources().find((r) => r.id === id);
    const hook = resource === undefined ? undefined : hooks[resource.type];
    if (resource === undefined || hook === undefined) {
      queueMicrotask(() => state.resetFinished(id, true, 'no hook'));
      return;
    }
    runReleaseHook(hook, resource, options.hookEnv ?? {}).then(
      (r) => state.resetFinished(id, r.ok, r.detail),
      (error: unknown) => state.resetFinished(id, false, String(error)),
    );
  };

  const snapshot = store.load();
  for (const s of snapshot.sessions) clientOf.set(s.id, s.client);
  const state = new PoolState({
    clock,
    emit: onEvent,
    snapshot,
    restartGraceMs: options.restartGraceMs ?? pingTimeoutMs,
    hasReleaseHook: (type) => hooks[type] !== undefined,
  });
  const existing = new Set(snapshot.resources.map((r) => r.id));
  for (const spec of options.resources ?? []) {
    if (!existing.has(`${spec.type}:${spec.value}`)) state.addResource(spec, 'config');
  }
  started = true;
  for (const r of state.resettingResources()) startHook(r.id);

  const startedAt = clock.now();
  store.commit();
  const handler = createHttpHandler({ state, store, auth, commit: flush, now: () => clock.now(), startedAt, version: options.version ?? '0', remoteOf: (s) => remotes.get(s) });
  const server = options.tls === undefined ? http.createServer(handler) : https.createServer({ cert: options.tls.cert, key: options.tls.key }, handler);
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  const wss = new WebSocketServer({ noServer: true, maxPayload: LIMITS.maxMessageBytes });

  server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => {});
    let role: Role;
    try {
      if (new URL(req.url ?? '/', 'http://pool.invalid').pathname !== '/v1/ws') throw poolError('ERR_POOL_NOT_FOUND', 'the WebSocket endpoint is /v1/ws');
      role = auth.authenticate(req);
    } catch (error) {
      const wire = toWireError(error);
      const body = JSON.stringify(wire);
      socket.end(`HTTP/1.1 ${wire.status} ${http.STATUS_CODES[wire.status] ?? ''}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
      return;
    }
    const remote = auth.remoteAddress(req);
    wss.handleUpgrade(req, socket, head, (ws) => onConnection(ws, role, remote));
  });

  const onConnection = (ws: WebSocket, role: Role, remote: string): void => {
    const conn: Conn = { ws, role, remote, session: null, lastSeen: clock.monotonic(), badMessages: 0, pingTimedOut: false, short: false };
    conns.add(conn);
    ws.on('pong', () => {
      conn.lastSeen = clock.monotonic();
    });
    ws.on('message', (data: RawData, isBinary: boolean) => {
      conn.lastSeen = clock.monotonic();
      try {
        if (isBinary) throw poolError('ERR_POOL_BAD_REQUEST', 'messages are JSON text frames');
        onMessage(conn, parseClientMessage(rawText(data)));
      } catch (error) {
        const wire = toWireError(error);
        if (wire.status === 500) log(`pool: internal error handling a message: ${String(error)}`);
        send(conn, { op: 'error', ...refOf(data), ...wire });
        if (wire.status === 400 && ++conn.badMessages > MAX_BAD_MESSAGES) ws.close(1008, 'too many bad messages');
      }
    });
    ws.on('error', (error) => log(`pool: connection error from ${remote}: ${error.message}`));
    ws.on('close', (code: number) => {
      conns.delete(conn);
      const id = conn.session;
      if (id === null || bySession.get(id) !== conn) return;
      bySession.delete(id);
      if (closing) return;
      // A close frame from the holder is a clean end; silence or a dropped TCP connection is not (SPEC §12.5).
      state.disconnect(id, conn.pingTimedOut ? 'ping-timeout' : code === 1000 || code === 1001 ? 'clean' : 'abnormal');
    });
  };

  const onMessage = (conn: Conn, msg: ClientMessage): void => {
    if (msg.op === 'ping') {
      send(conn, { op: 'pong' });
      return;
    }
    if (msg.op === 'hello') {
      if (conn.session !== null) throw poolError('ERR_POOL_CONFLICT', 'hello was already sent on this connection');
      conn.short = msg.protocol >= 2;
      if (msg.resume !== null) {
        const view = state.resumeSession(msg.resume.session, sha256(msg.resume.token), conn.remote);
        const previous = bySession.get(view.id);
        if (previous !== undefined) {
          // A half-open older connection of the same holder: retire it silently.
          previous.session = null;
          previous.ws.terminate();
        }
        attach(conn, view.id, msg.resume.token, true);
        return;
      }
      const id = randomUUID();
      const token = randomBytes(24).toString('base64url');
      state.openSession(id, { client: msg.client, tokenHash: sha256(token), graceMs: Math.min(msg.graceMs, maxGraceMs), remote: conn.remote });
      attach(conn, id, token, false);
      return;
    }
    const session = conn.session;
    if (session === null) throw poolError('ERR_POOL_BAD_REQUEST', 'the first message must be hello');
    switch (msg.op) {
      case 'acquire': {
        if (msg.release !== null && state.holds(session, msg.release)) {
          carriedRelease = msg.release;
          try {
            state.release(session, msg.release);
          } finally {
            carriedRelease = null;
          }
        }
        // A request queues only inside request(), so the flag covers exactly its `queued` event (SPEC §12.4.4).
        quietRequest = msg.quiet;
        let outcome;
        try {
          outcome = state.request(session, msg.id, msg.needs);
        } finally {
          quietRequest = false;
        }
        if (!outcome.replay) return;
        if (outcome.status === 'granted') sendGranted(conn, msg.id, outcome.lease);
        else if (!msg.quiet) send(conn, { op: 'queued', id: msg.id, position: outcome.position });
        return;
      }
      case 'cancel':
        state.cancel(session, msg.id);
        send(conn, { op: 'cancelled', id: msg.id });
        return;
      case 'release':
        state.release(session, msg.lease);
        return;
      case 'verify': {
        const lease = state.leases().find((l) => l.id === msg.lease);
        const resources = lease?.resources.map((r) => r.id) ?? msg.resources;
        send(conn, { op: 'verified', lease: msg.lease, fence: msg.fence, ...state.verify(msg.lease, msg.fence, resources) });
        return;
      }
    }
  };

  const attach = (conn: Conn, id: string, token: string, resumed: boolean): void => {
    conn.session = id;
    bySession.set(id, conn);
    remotes.set(id, conn.remote);
    const view = state.session(id)!;
    const leases = state.leases().filter((l) => l.session === id);
    const queue = state.queue().filter((w) => w.session === id).map((w) => ({ id: w.requestId, position: w.position }));
    send(conn, { op: 'welcome', protocol: POOL_PROTOCOL, session: id, token, resumed, graceMs: view.graceMs, pingTimeoutMs, leases, queued: queue });
  };

  // Liveness: ping every quarter of the timeout; terminate whoever stayed silent (SPEC §12.5).
  let pingTimer: TimerHandle | null = null;
  let closing = false;
  const pingTick = (): void => {
    const now = clock.monotonic();
    for (const conn of conns) {
      if (now - conn.lastSeen > pingTimeoutMs) {
        conn.pingTimedOut = true;
        conn.ws.terminate();
      } else if (conn.ws.readyState === conn.ws.OPEN) {
        conn.ws.ping();
      }
    }
    if (!closing) pingTimer = clock.setTimeout(pingTick, Math.max(10, pingTimeoutMs / 4));
  };
  pingTimer = clock.setTimeout(pingTick, Math.max(10, pingTimeoutMs / 4));

  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) => {
      pingTimer?.cancel();
      state.dispose();
      store.close();
      reject(new SubrunError('ERR_POOL_LISTEN', `cannot listen on ${host}:${port}: ${error.message}`, { cause: error }));
    });
    server.listen(port, host, () => resolve());
  });
  server.on('error', (error) => log(`pool: server error: ${error.message}`));
  const address = server.address();
  const actualPort = typeof address === 'object' && address !== null ? address.port : port;
  const hostInUrl = host.includes(':') ? `[${host}]` : host;
  const scheme = options.tls === undefined ? 'http' : 'https';

  let closed: Promise<void> | null = null;
  const shutdown = (graceful: boolean): Promise<void> => {
    if (closed !== null) return closed;
    closing = true;
    pingTimer?.cancel();
    state.dispose();
    closed = new Promise<void>((resolve) => {
      // Holders keep their leases across our restart: close with 1012 "service restart" (SPEC §12.6).
      for (const conn of conns) {
        if (graceful) conn.ws.close(1012, 'pool server restarting');
        else conn.ws.terminate();
      }
      wss.close();
      server.close(() => {
        store.close();
        resolve();
      });
      server.closeAllConnections();
      if (!graceful) for (const conn of conns) conn.ws.terminate();
    });
    return closed;
  };

  return {
    url: `${scheme}://${hostInUrl}:${actualPort}`,
    wsUrl: `${scheme === 'https' ? 'wss' : 'ws'}://${hostInUrl}:${actualPort}/v1/ws`,
    port: actualPort,
    state,
    store,
    close: () => shutdown(true),
    destroy: () => shutdown(false),
  };
}

function rawText(data: RawData): string {
  if (Buffer.isBuffer(data)) return data.toString('utf8');
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  return Buffer.from(data).toString('utf8');
}

/** Best-effort request id (or lease id) of a message that failed, so the client can match the error. */
function refOf(data: RawData): { id?: string; lease?: string } {
  try {
    const v = JSON.parse(rawText(data)) as { id?: unknown; lease?: unknown };
    const ok = (x: unknown): x is string => typeof x === 'string' && x.length <= LIMITS.maxRequestId;
    return { ...(ok(v.id) ? { id: v.id } : {}), ...(ok(v.lease) ? { lease: v.lease } : {}) };
  } catch {
    return {};
  }
}
