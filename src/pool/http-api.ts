import type { IncomingMessage, ServerResponse } from 'node:http';
import { poolError, toWireError } from './errors.js';
import { LIMITS, parseResourceSpec } from './messages.js';
import { DASHBOARD_HTML } from './dashboard.js';
import type { Authenticator, Role } from './auth.js';
import type { PoolState } from './pool-state.js';
import type { PoolStore } from './store.js';

/**
 * The HTTP half of the pool server (SPEC §12.11). Every answer is JSON; every error is
 * `{status, code, message}` with the matching HTTP status.
 */

export interface HttpApiContext {
  state: PoolState;
  store: PoolStore;
  auth: Authenticator;
  now: () => number;
  startedAt: number;
  version: string;
  remoteOf: (session: string) => string | undefined;
  /** Commit staged events (write-ahead) before a reply reports a change. */
  commit: () => void;
}

export function createHttpHandler(ctx: HttpApiContext): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    handle(ctx, req, res).catch((error: unknown) => sendError(res, error));
  };
}

function send(res: ServerResponse, status: number, body: unknown, commit?: () => void): void {
  if (res.headersSent) return;
  commit?.();
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function sendError(res: ServerResponse, error: unknown): void {
  const wire = toWireError(error);
  if (wire.status === 401) res.setHeader('www-authenticate', 'Bearer realm="subrun-pool"');
  send(res, wire.status, wire);
}

async function readBody(req: IncomingMessage): Promise<unknown> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > LIMITS.maxMessageBytes) throw poolError('ERR_POOL_TOO_LARGE', `body larger than ${LIMITS.maxMessageBytes} bytes`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > LIMITS.maxMessageBytes) {
      req.destroy();
      throw poolError('ERR_POOL_TOO_LARGE', `body larger than ${LIMITS.maxMessageBytes} bytes`);
    }
    chunks.push(chunk);
  }
  if (size === 0) return {};
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
  } catch {
    throw poolError('ERR_POOL_BAD_REQUEST', 'body is not valid JSON');
  }
}

async function handle(ctx: HttpApiContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://pool.invalid');
  const method = req.method ?? 'GET';
  const parts = url.pathname.split('/').filter((p) => p !== '').map((p) => decodeURIComponent(p));
  if (method === 'GET' && url.pathname === '/') {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store', 'x-frame-options': 'DENY', 'content-security-policy': "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'" });
    res.end(DASHBOARD_HTML);
    return;
  }
  // Liveness: no token, no dependencies (SPEC §12.11).
  if (method === 'GET' && url.pathname === '/v1/status') {
    send(res, 200, { status: 'up', version: ctx.version, uptimeMs: ctx.now() - ctx.startedAt });
    return;
  }
  if (parts[0] !== 'v1') throw poolError('ERR_POOL_NOT_FOUND', `no route ${method} ${url.pathname}`);
  const role: Role = ctx.auth.authenticate(req);
  const actor = `${role}@${ctx.auth.remoteAddress(req)}`;
  const { state } = ctx;
  const route = `${method} /${parts.slice(1, 2).join('/')}${parts.length > 2 ? '/:id' : ''}${parts.length > 3 ? '/' + parts[3] : ''}`;
  switch (route) {
    case 'GET /resources':
      return send(res, 200, { resources: state.resources() });
    case 'GET /resources/:id':
      return send(res, 200, { resource: state.resource(parts[2]!) });
    case 'GET /leases':
      return send(res, 200, { leases: state.leases().map((l) => ({ ...l, remote: ctx.remoteOf(l.session) ?? null })) });
    case 'GET /queues':
      return send(res, 200, { queue: state.queue().map((w) => ({ ...w, waitingMs: ctx.now() - w.since })) });
    case 'GET /sessions':
      return send(res, 200, { sessions: state.sessions().map((s) => ({ ...s, remote: ctx.remoteOf(s.id) ?? null })) });
    case 'GET /summary':
      return send(res, 200, summary(ctx));
    case 'GET /history': {
      const limit = intParam(url, 'limit');
      const after = intParam(url, 'after');
      const kind = url.searchParams.get('kind') ?? undefined;
      const resource = url.searchParams.get('resource') ?? undefined;
      return send(res, 200, { events: ctx.store.history({ limit, after, kind, resource }) });
    }
    case 'POST /resources': {
      ctx.auth.requireAdmin(role);
      const spec = parseResourceSpec(await readBody(req));
      return send(res, 201, { resource: state.addResource(spec, actor) }, ctx.commit);
    }
    case 'DELETE /resources/:id':
      ctx.auth.requireAdmin(role);
      state.removeResource(parts[2]!, actor);
      return send(res, 200, { removed: parts[2] }, ctx.commit);
    case 'POST /resources/:id/disable': {
      ctx.auth.requireAdmin(role);
      const body = await readBody(req);
      const note = typeof (body as { note?: unknown }).note === 'string' ? ((body as { note: string }).note).slice(0, LIMITS.maxValue) : null;
      return send(res, 200, { resource: state.disable(parts[2]!, actor, note) }, ctx.commit);
    }
    case 'POST /resources/:id/enable':
      ctx.auth.requireAdmin(role);
      return send(res, 200, { resource: state.enable(parts[2]!, actor) }, ctx.commit);
    default:
      throw poolError('ERR_POOL_NOT_FOUND', `no route ${method} ${url.pathname}`);
  }
}

function intParam(url: URL, name: string): number | undefined {
  const v = url.searchParams.get(name);
  if (v === null) return undefined;
  if (!/^\d{1,15}$/.test(v)) throw poolError('ERR_POOL_BAD_REQUEST', `\`${name}\` must be a non-negative integer`);
  return Number(v);
}

/** Everything the dashboard shows, in one call. */
function summary(ctx: HttpApiContext) {
  const now = ctx.now();
  const resources = ctx.state.resources();
  const leases = new Map(ctx.state.leases().map((l) => [l.id, l]));
  const queue = ctx.state.queue().map((w) => ({ ...w, waitingMs: now - w.since }));
  const pools = new Map<string, { type: string; total: number; free: number; held: number; outOfService: number; waiting: number; longestWaitMs: number }>();
  for (const r of resources) {
    let p = pools.get(r.type);
    if (p === undefined) pools.set(r.type, (p = { type: r.type, total: 0, free: 0, held: 0, outOfService: 0, waiting: 0, longestWaitMs: 0 }));
    p.total++;
    if (r.state === 'free') p.free++;
    else if (r.state === 'held') p.held++;
    else p.outOfService++;
  }
  for (const w of queue) {
    for (const type of new Set(w.needs.map((n) => n.type))) {
      const p = pools.get(type);
      if (p === undefined) continue;
      p.waiting++;
      p.longestWaitMs = Math.max(p.longestWaitMs, w.waitingMs);
    }
  }
  return {
    now,
    pools: [...pools.values()],
    resources: resources.map((r) => {
      const l = r.lease === null ? undefined : leases.get(r.lease);
      return { ...r, holder: l === undefined ? null : { lease: l.id, client: l.client, heldMs: now - l.grantedAt } };
    }),
    queue,
  };
}
