import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Command, Option } from 'commander';
import { parseDuration } from '../core/abort.js';
import { SubrunError } from '../core/errors.js';
import { PoolClient } from '../pool/client.js';
import { checkEventLog } from '../pool/invariants.js';
import { parseNeedText, parseResourceSpec, parseResourceText } from '../pool/messages.js';
import { createPoolServer } from '../pool/server.js';
import { PoolStore } from '../pool/store.js';
import type { ReleaseHook } from '../pool/release-hooks.js';
import type { ResourceSpec, ResourceView } from '../pool/types.js';
import { ExitCode, type CliContext } from './context.js';
import { VERSION } from './version.js';

/** `subrun pool ...` (SPEC §12, README "Resource pool"). */

const DEFAULT_URL = 'http://127.0.0.1:8000';

const collect = (value: string, previous: string[]): string[] => [...previous, value];

function defaultDbPath(ctx: CliContext): string {
  if (ctx.env.SUBRUN_POOL_DB) return ctx.env.SUBRUN_POOL_DB;
  const state = ctx.env.XDG_STATE_HOME || path.join(ctx.env.HOME || os.homedir(), '.local', 'state');
  return path.join(state, 'subrun', 'pool.sqlite');
}

/** Accept http(s):// or ws(s):// and give both forms. */
function poolUrls(raw: string): { http: string; ws: string } {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new SubrunError('ERR_USAGE', `--url must be a URL like ${DEFAULT_URL}, got ${JSON.stringify(raw)}`);
  }
  const secure = u.protocol === 'https:' || u.protocol === 'wss:';
  if (!['http:', 'https:', 'ws:', 'wss:'].includes(u.protocol)) throw new SubrunError('ERR_USAGE', `--url must be http(s):// or ws(s)://, got ${JSON.stringify(raw)}`);
  const base = `${u.hostname.includes(':') ? `[${u.hostname}]` : u.hostname}:${u.port || (secure ? 443 : 80)}`;
  return { http: `${secure ? 'https' : 'http'}://${base}`, ws: `${secure ? 'wss' : 'ws'}://${base}/v1/ws` };
}

interface ClientOpts {
  url?: string;
  token?: string;
}

function clientOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option('--url <url>', `pool server URL, http(s):// or ws(s):// (env: SUBRUN_POOL_URL) (default: "${DEFAULT_URL}")`))
    .addOption(new Option('--token <token>', 'bearer token (env: SUBRUN_POOL_TOKEN; admin commands prefer SUBRUN_POOL_ADMIN_TOKEN)'));
}

/** Flags win over the environment; the environment is ctx.env (STYLE §7), never process.env. */
function fromEnv(ctx: CliContext, opts: ClientOpts, admin: boolean): { url: string; token: string | undefined } {
  const url = opts.url ?? ctx.env.SUBRUN_POOL_URL ?? DEFAULT_URL;
  const token = opts.token ?? (admin ? ctx.env.SUBRUN_POOL_ADMIN_TOKEN : undefined) ?? ctx.env.SUBRUN_POOL_TOKEN;
  return { url, token };
}

async function call(ctx: CliContext, opts: ClientOpts, method: string, p: string, admin = false, body?: unknown): Promise<any> {
  const { url, token } = fromEnv(ctx, opts, admin);
  const headers: Record<string, string> = {};
  if (token) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const base = poolUrls(url).http;
  let res: Response;
  try {
    res = await fetch(base + p, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal: AbortSignal.timeout(10_000) });
  } catch (error) {
    throw new SubrunError('ERR_POOL_CONNECT', `cannot reach the pool at ${url}: ${(error as Error).cause instanceof Error ? ((error as Error).cause as Error).message : (error as Error).message}`);
  }
  const text = await res.text();
  let parsed: any;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new SubrunError('ERR_POOL_CONNECT', `the pool at ${url} answered HTTP ${res.status} with a non-JSON body`);
  }
  if (!res.ok) throw new SubrunError(String(parsed.code ?? 'ERR_POOL_INTERNAL'), String(parsed.message ?? `HTTP ${res.status}`));
  return parsed;
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')).join('\n') + '\n';
}

function resourceRows(resources: ResourceView[]): string {
  return table([['ID', 'STATE', 'LEASE', 'FENCE', 'ATTRIBUTES'], ...resources.map((r) => [r.id, r.state, r.lease ?? '-', String(r.fence), Object.entries(r.attrs).map(([k, v]) => `${k}=${v}`).join(',') || '-'])]);
}

interface PoolConfigFile {
  resources?: unknown[];
  hooks?: Record<string, ReleaseHook>;
  tokens?: { client?: string[]; admin?: string[] };
  trustedProxies?: string[];
}

function readConfig(file: string, cwd: string): PoolConfigFile {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path.resolve(cwd, file), 'utf8'));
  } catch (error) {
    throw new SubrunError('ERR_CONFIG', `cannot read the pool config ${file}: ${(error as Error).message}`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new SubrunError('ERR_CONFIG', `${file}: expected a JSON object`);
  return raw as PoolConfigFile;
}

export function registerPoolCommands(program: Command, ctx: CliContext): void {
  const pool = program.command('pool').description('a resource pool whose reservations cannot leak (README "Resource pool", SPEC §12)');

  pool
    .command('serve')
    .description('run the pool server: HTTP API, WebSocket leases and the dashboard on one port')
    .option('--config <file>', 'JSON config: {resources, hooks, tokens, trustedProxies}')
    .option('--resource <TYPE=VALUE[,ATTR=VALUE...]>', 'a resource (repeatable)', collect, [])
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--port <port>', 'port to listen on (0 picks one)', '8000')
    .option('--db <path>', 'SQLite state file (default $SUBRUN_POOL_DB or ~/.local/state/subrun/pool.sqlite)')
    .option('--token <token>', 'a client token (repeatable; also SUBRUN_POOL_TOKEN)', collect, [])
    .option('--admin-token <token>', 'an admin token (repeatable; also SUBRUN_POOL_ADMIN_TOKEN)', collect, [])
    .option('--insecure-local', 'no tokens needed (only when bound to loopback)')
    .option('--trusted-proxy <addr>', 'believe X-Forwarded-For from this address (repeatable)', collect, [])
    .option('--ping-timeout <duration>', 'declare a silent holder dead after this long', '10s')
    .option('--restart-grace <duration>', 'how long holders have to reconnect after a restart (default: the ping timeout)')
    .option('--max-grace <duration>', 'largest reconnect grace a client may ask for', '60s')
    .option('--fsync', 'fsync every commit (SQLite synchronous=FULL): no grant a holder heard of is lost even by a power cut, at one fsync per event-loop turn (SPEC §12.8.3)')
    .option('--cert <file>', 'TLS certificate (PEM): serve https/wss')
    .option('--key <file>', 'TLS private key (PEM)')
    .addHelpText('after', '\nExample:\n  subrun pool serve --insecure-local --resource port=7000 --resource port=7001 --resource compute=h1,os=ubuntu\n')
    .action(async (o) => {
      const config = o.config === undefined ? {} : readConfig(o.config, ctx.cwd);
      const resources: ResourceSpec[] = [];
      try {
        for (const r of config.resources ?? []) resources.push(parseResourceSpec(r));
        for (const r of o.resource as string[]) resources.push(parseResourceText(r));
      } catch (error) {
        throw new SubrunError('ERR_CONFIG', (error as Error).message);
      }
      const envList = (v: string | undefined) => (v ? v.split(',').filter(Boolean) : []);
      const tls = o.cert === undefined ? undefined : { cert: readFileSync(path.resolve(ctx.cwd, o.cert)), key: readFileSync(path.resolve(ctx.cwd, o.key ?? o.cert)) };
      const port = Number(o.port);
      const pingTimeoutMs = parseDuration(o.pingTimeout);
      const server = await createPoolServer({
        host: o.host,
        port,
        dbPath: o.db === undefined ? defaultDbPath(ctx) : path.resolve(ctx.cwd, o.db),
        fsync: o.fsync === true,
        resources,
        clientTokens: [...(o.token as string[]), ...envList(ctx.env.SUBRUN_POOL_TOKEN), ...(config.tokens?.client ?? [])],
        adminTokens: [...(o.adminToken as string[]), ...envList(ctx.env.SUBRUN_POOL_ADMIN_TOKEN), ...(config.tokens?.admin ?? [])],
        insecureLocal: o.insecureLocal === true,
        trustedProxies: [...(o.trustedProxy as string[]), ...(config.trustedProxies ?? [])],
        pingTimeoutMs,
        restartGraceMs: o.restartGrace === undefined ? undefined : parseDuration(o.restartGrace),
        maxGraceMs: parseDuration(o.maxGrace),
        hooks: config.hooks,
        hookEnv: ctx.env,
        tls,
        version: VERSION,
        log: (line) => ctx.stderr.write(line + '\n'),
      });
      ctx.stdout.write(`subrun pool: listening on ${server.url} (WebSocket ${server.wsUrl}, dashboard ${server.url}/), state in ${server.store.path}\n`);
      await new Promise<void>((resolve) => {
        const stop = () => {
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
          server.close().then(resolve, resolve);
        };
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);
      });
    });

  clientOptions(pool.command('status').description('is the pool up; pools, holders and queue lengths'))
    .option('--json', 'print JSON')
    .action(async (o) => {
      const status = await call(ctx, o, 'GET', '/v1/status');
      const summary = await call(ctx, o, 'GET', '/v1/summary');
      if (o.json) {
        ctx.stdout.write(JSON.stringify({ ...status, ...summary }, null, 2) + '\n');
        return;
      }
      ctx.stdout.write(`pool ${status.status} (version ${status.version}, up ${Math.round(status.uptimeMs / 1000)} s), ${summary.queue.length} waiting\n`);
      ctx.stdout.write(table([['TYPE', 'TOTAL', 'FREE', 'HELD', 'OUT', 'WAITING'], ...summary.pools.map((p: any) => [p.type, p.total, p.free, p.held, p.outOfService, p.waiting].map(String))]));
    });

  clientOptions(pool.command('list').description('list resources and their state'))
    .option('--json', 'print JSON')
    .action(async (o) => {
      const { resources } = await call(ctx, o, 'GET', '/v1/resources');
      ctx.stdout.write(o.json ? JSON.stringify(resources, null, 2) + '\n' : resourceRows(resources));
    });

  for (const verb of ['disable', 'enable'] as const) {
    const cmd = clientOptions(pool.command(`${verb} <id>`).description(verb === 'disable' ? 'take a resource out of service (a held one finishes its lease first)' : 'put a resource back in service (also lifts a quarantine)'));
    if (verb === 'disable') cmd.option('--note <text>', 'why (shown on the dashboard)');
    cmd.action(async (id: string, o) => {
      const { resource } = await call(ctx, o, 'POST', `/v1/resources/${encodeURIComponent(id)}/${verb}`, true, verb === 'disable' && o.note ? { note: o.note } : undefined);
      ctx.stdout.write(`${resource.id}: ${resource.state}\n`);
    });
  }

  clientOptions(pool.command('add <resource>').description('add a resource: TYPE=VALUE[,ATTR=VALUE...]')).action(async (text: string, o) => {
    const { resource } = await call(ctx, o, 'POST', '/v1/resources', true, parseResourceText(text));
    ctx.stdout.write(`added ${resource.id}\n`);
  });

  clientOptions(pool.command('remove <id>').description('remove a resource that is not held')).action(async (id: string, o) => {
    await call(ctx, o, 'DELETE', `/v1/resources/${encodeURIComponent(id)}`, true);
    ctx.stdout.write(`removed ${id}\n`);
  });

  clientOptions(pool.command('history').description('the event log: grants, releases, expiries, admin actions (who, what, when)'))
    .option('--limit <n>', 'newest N events', '50')
    .option('--kind <kind>', 'only this event kind')
    .option('--resource <id>', 'only events about this resource')
    .option('--db <path>', 'read a pool database file directly instead of asking the server')
    .option('--check', 'replay the whole log (--db) against the pool invariants; exit 1 if any is broken')
    .option('--json', 'print JSON lines')
    .action(async (o) => {
      let rows: Array<{ seq: number; at: number; kind: string; actor: string; event: any }>;
      if (o.db !== undefined) {
        const store = new PoolStore(path.resolve(ctx.cwd, o.db));
        try {
          if (o.check) {
            const violations = checkEventLog(store.events());
            for (const v of violations) ctx.stdout.write(`violation ${v}\n`);
            ctx.stdout.write(violations.length === 0 ? 'event log OK: every invariant holds\n' : `${violations.length} violation(s)\n`);
            if (violations.length) ctx.fail(ExitCode.FAILURES);
            return;
          }
          rows = store.history({ limit: Number(o.limit), kind: o.kind, resource: o.resource });
        } finally {
          store.close();
        }
      } else {
        if (o.check) throw new SubrunError('ERR_USAGE', '--check needs --db');
        const q = new URLSearchParams({ limit: String(o.limit) });
        if (o.kind) q.set('kind', o.kind);
        if (o.resource) q.set('resource', o.resource);
        rows = (await call(ctx, o, 'GET', `/v1/history?${q}`)).events;
      }
      for (const r of rows) {
        if (o.json) ctx.stdout.write(JSON.stringify(r) + '\n');
        else ctx.stdout.write(`${new Date(r.at).toISOString()}  ${r.kind.padEnd(19)} ${r.actor.padEnd(22)} ${describeEvent(r.event)}\n`);
      }
    });

  clientOptions(pool.command('run').description('hold resources while CMD runs; their values are in SUBRUN_POOL_<TYPE> variables'))
    .requiredOption('--need <need>', 'TYPE[=COUNT][:ATTR=VALUE,...] (repeatable)', collect, [])
    .option('--timeout <duration>', 'give up waiting for the grant after this long')
    .option('--name <name>', 'client name on the dashboard', 'subrun pool run')
    .argument('<cmd...>', 'the command (after --)')
    .addHelpText('after', '\nExample:\n  subrun pool run --need port=2 --need compute:os=ubuntu -- sh -c \'echo $SUBRUN_POOL_PORT_0 $SUBRUN_POOL_COMPUTE\'\n\nExit status: the command\'s, or 3 if the pool fails.\n')
    .action(async (cmd: string[], o) => {
      const { url, token } = fromEnv(ctx, o, false);
      const needs = (o.need as string[]).map((n) => {
        try {
          return parseNeedText(n);
        } catch (error) {
          throw new SubrunError('ERR_USAGE', `--need: ${(error as Error).message}`);
        }
      });
      if (needs.length === 0) throw new SubrunError('ERR_USAGE', 'at least one --need is required');
      const client = await PoolClient.connect(poolUrls(url).ws, { token, name: o.name });
      try {
        const lease = await client.acquire(needs, {
          timeoutMs: o.timeout === undefined ? undefined : parseDuration(o.timeout),
          onQueued: (p) => ctx.stderr.write(`subrun pool: waiting, position ${p} in the queue\n`),
        });
        ctx.stderr.write(`subrun pool: granted ${lease.resources.map((r) => r.id).join(', ')} (lease ${lease.id}, fence ${lease.fence})\n`);
        const child = spawn(cmd[0]!, cmd.slice(1), { stdio: ['inherit', 'pipe', 'pipe'], env: { ...ctx.env, ...lease.env() }, cwd: ctx.cwd });
        child.stdout.pipe(ctx.stdout, { end: false });
        child.stderr.pipe(ctx.stderr, { end: false });
        let lostError: Error | null = null;
        client.on('lost', (_l, error: Error) => {
          lostError = error;
          ctx.stderr.write(`subrun pool: ${error.message}; stopping the command\n`);
          child.kill('SIGTERM');
        });
        const code = await new Promise<number>((resolve) => {
          child.on('error', (error) => {
            ctx.stderr.write(`subrun pool: cannot run ${cmd[0]}: ${error.message}\n`);
            resolve(127);
          });
          child.on('close', (c, signal) => resolve(c ?? (signal === null ? 1 : 128 + (os.constants.signals[signal] ?? 0))));
        });
        ctx.fail(lostError !== null ? ExitCode.ERROR : code);
      } finally {
        await client.close();
      }
    });
}

function describeEvent(e: any): string {
  switch (e.kind) {
    case 'granted':
      return `${e.lease.id} fence ${e.lease.fence} to ${e.lease.client}: ${e.lease.resources.map((r: any) => r.id).join(', ')} (waited ${e.waitedMs} ms)`;
    case 'released':
      return `${e.lease} (${e.reason}): ${e.resources.join(', ')}`;
    case 'queued':
      return `${e.session.slice(0, 8)} request ${e.requestId} at position ${e.position}`;
    case 'resource-added':
      return e.resource.id;
    case 'resource-disabled':
      return `${e.resource}${e.note ? ` (${e.note})` : ''}`;
    case 'reset-finished':
      return `${e.resource}: ${e.ok ? 'ok' : e.detail}`;
    case 'session-opened':
      return `${e.client} from ${e.remote} (session ${e.session.slice(0, 8)})`;
    default:
      return 'resource' in e ? String(e.resource) : 'session' in e ? `session ${String(e.session).slice(0, 8)}` : '';
  }
}
