// bench/pool.js: the resource pool under load, beside the bare WebSocket floor.
//
//   npm run build && node bench/pool.js [--clients 1000] [--resources 100] [--seconds 5] [--kills 10]
//
// Profile the pool server: BENCH_POOL_NODE_FLAGS='--cpu-prof --cpu-prof-dir=/tmp/prof' node --cpu-prof bench/pool.js
//
// The pool server and a bare `ws` echo server (the anchor) each run in their own child
// process; the clients run here. Printed: grants/s with N clients cycling acquire/release
// on R resources, two ways (plain: acquire, then `await lease.release()`; swap: the release
// carried by the next acquire, SPEC §12.4.5), with the server's and the clients' CPU per
// grant cycle, vs bare echo round trips/s with the same N clients; p50/p99 grant latency
// of one client when a resource is free vs p50/p99 bare echo round trip; SIGKILL of a
// holder to the next grant vs the bare round trip. Medians; ratios ours/anchor.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import WebSocket from 'ws';
import { PoolClient } from '../dist/src/pool/client.js';

const ROOT = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const args = Object.fromEntries(process.argv.slice(2).reduce((acc, a, i, all) => (a.startsWith('--') ? [...acc, [a.slice(2), all[i + 1]]] : acc), []));
const CLIENTS = Number(args.clients ?? 1000);
const RESOURCES = Number(args.resources ?? 100);
const SECONDS = Number(args.seconds ?? 5);
const KILLS = Number(args.kills ?? 10);
const TOKEN = 'bench-token';

const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};
// CPU time (user+system, ms) a child has used so far, from /proc (Linux): a figure that a
// loaded machine disturbs far less than wall-clock rates.
const cpuMs = (pid) => {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return ((Number(f[11]) + Number(f[12])) * 1000) / 100;
  } catch {
    return NaN;
  }
};
const fmt = (x) => (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(3));

function child(argv, readyRe) {
  const p = spawn(process.execPath, argv, { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    createInterface({ input: p.stdout }).on('line', (line) => {
      const m = readyRe.exec(line);
      if (m) resolve({ proc: p, port: Number(m[1]) });
    });
    p.once('exit', (code) => reject(new Error(`child exited ${code}`)));
  });
}

const ANCHOR = `
import { WebSocketServer } from 'ws';
const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
wss.on('connection', (ws) => ws.on('message', (d) => ws.send(d)));
wss.on('listening', () => console.log('anchor on ' + wss.address().port));
`;

async function anchorClients(url, n) {
  return Promise.all(Array.from({ length: n }, () => new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  })));
}

function echo(ws, msg) {
  return new Promise((resolve) => {
    ws.once('message', resolve);
    ws.send(msg);
  });
}

async function main() {
  const dir = mkdtempSync(path.join(tmpdir(), 'subrun-bench-pool-'));
  const children = [];
  try {
    const resources = [...Array.from({ length: RESOURCES }, (_, i) => `--resource=port=${20000 + i}`), '--resource=solo=1', '--resource=kill=1'];
    const flags = (process.env.BENCH_POOL_NODE_FLAGS ?? '').split(' ').filter(Boolean);
    const pool = await child([...flags, path.join(ROOT, 'bin', 'subrun.js'), 'pool', 'serve', '--port', '0', '--db', path.join(dir, 'pool.sqlite'), '--token', TOKEN, '--ping-timeout', '30s', ...resources], /listening on http:\/\/127\.0\.0\.1:(\d+)/);
    children.push(pool.proc);
    const anchor = await child(['--input-type=module', '-e', ANCHOR], /anchor on (\d+)/);
    children.push(anchor.proc);
    const poolUrl = `ws://127.0.0.1:${pool.port}/v1/ws`;
    const anchorUrl = `ws://127.0.0.1:${anchor.port}`;
    console.log(`bench/pool: ${CLIENTS} clients, ${RESOURCES} resources, ${SECONDS} s per throughput run, node ${process.version}`);

    // 1. Latency of one client when a resource is free, beside the bare echo round trip.
    const one = await PoolClient.connect(poolUrl, { token: TOKEN, name: 'latency' });
    const [aws] = await anchorClients(anchorUrl, 1);
    const grantMs = [];
    const rttMs = [];
    const msg = JSON.stringify({ op: 'acquire', id: 'r1', needs: [{ type: 'solo', count: 1, attrs: {} }] });
    for (let i = 0; i < 3000; i++) {
      let t0 = performance.now();
      const lease = await one.acquire({ solo: 1 });
      grantMs.push(performance.now() - t0);
      await lease.release();
      t0 = performance.now();
      await echo(aws, msg);
      rttMs.push(performance.now() - t0);
    }
    grantMs.splice(0, 300);
    rttMs.splice(0, 300);
    console.log(`grant latency, free resource:  p50 ${fmt(pct(grantMs, 50))} ms  p99 ${fmt(pct(grantMs, 99))} ms`);
    console.log(`bare ws round trip (anchor):   p50 ${fmt(pct(rttMs, 50))} ms  p99 ${fmt(pct(rttMs, 99))} ms`);
    console.log(`ratio p50 ${fmt(pct(grantMs, 50) / pct(rttMs, 50))}x, p99 ${fmt(pct(grantMs, 99) / pct(rttMs, 99))}x`);
    aws.close();

    // 2. Throughput: N clients cycling acquire/release on R resources vs N clients echoing.
    const clients = [];
    for (let i = 0; i < CLIENTS; i += 100) {
      clients.push(...(await Promise.all(Array.from({ length: Math.min(100, CLIENTS - i) }, (_, j) => PoolClient.connect(poolUrl, { token: TOKEN, name: `b${i + j}`, connectTimeoutMs: 30_000 })))));
    }
    // Each loop: 3 runs of SECONDS; grants/s per run, and CPU per grant cycle over all runs.
    const cycles = async (loop) => {
      const runs = [];
      let total = 0;
      const poolCpu0 = cpuMs(pool.proc.pid);
      const clientCpu0 = process.cpuUsage();
      for (let r = 0; r < 3; r++) {
        const run = { grants: 0, stop: false };
        const t0 = performance.now();
        setTimeout(() => (run.stop = true), SECONDS * 1000);
        await Promise.all(clients.map((c) => loop(c, run)));
        runs.push(run.grants / ((performance.now() - t0) / 1000));
        total += run.grants;
      }
      const clientCpu = process.cpuUsage(clientCpu0);
      return { runs, server: ((cpuMs(pool.proc.pid) - poolCpu0) * 1000) / total, client: (clientCpu.user + clientCpu.system) / total };
    };
    // Plain: acquire, then release and wait for the pool's confirmation (two round trips).
    const plain = await cycles(async (c, run) => {
      while (!run.stop) {
        const lease = await c.acquire({ port: 1 });
        run.grants++;
        await lease.release();
      }
    });
    // Swap: the release travels in the next acquire (SPEC §12.4.5): one message each way.
    const swap = await cycles(async (c, run) => {
      let lease = await c.acquire({ port: 1 });
      run.grants++;
      while (!run.stop) {
        lease = await c.acquire({ port: 1 }, { release: lease });
        run.grants++;
      }
      await lease.release();
    });
    const anchorWs = [];
    for (let i = 0; i < CLIENTS; i += 100) anchorWs.push(...(await anchorClients(anchorUrl, Math.min(100, CLIENTS - i))));
    let totalTrips = 0;
    const echoRuns = async (sockets) => {
      const out = [];
      for (let r = 0; r < 3; r++) {
        let trips = 0;
        let stop = false;
        const t0 = performance.now();
        setTimeout(() => (stop = true), SECONDS * 1000);
        await Promise.all(sockets.map(async (ws) => {
          while (!stop) {
            await echo(ws, msg);
            trips++;
          }
        }));
        out.push(trips / ((performance.now() - t0) / 1000));
        totalTrips += trips;
      }
      return out;
    };
    const anchorCpu0 = cpuMs(anchor.proc.pid);
    const anchorClientCpu0 = process.cpuUsage();
    const anchorRuns = await echoRuns(anchorWs);
    // Only R leases circulate, and each grant waits for its holder's release to cross the
    // network and come back: R round trips in flight is the floor this workload can reach.
    const anchorRunsR = await echoRuns(anchorWs.slice(0, RESOURCES));
    const anchorCpuPerTrip = ((cpuMs(anchor.proc.pid) - anchorCpu0) * 1000) / totalTrips;
    const anchorClientCpu = process.cpuUsage(anchorClientCpu0);
    const anchorClientCpuPerTrip = (anchorClientCpu.user + anchorClientCpu.system) / totalTrips;
    const a = pct(anchorRuns, 50);
    const aR = pct(anchorRunsR, 50);
    console.log(`bare ws round trips/s (anchor, ${CLIENTS} clients in flight):             median ${fmt(a)}  runs ${anchorRuns.map(fmt).join(' ')}`);
    console.log(`bare ws round trips/s (anchor, ${RESOURCES} clients in flight):              median ${fmt(aR)}  runs ${anchorRunsR.map(fmt).join(' ')}`);
    console.log(`anchor CPU per round trip: server ${fmt(anchorCpuPerTrip)} µs, clients ${fmt(anchorClientCpuPerTrip)} µs`);
    for (const [name, m] of [['plain: acquire; await release()', plain], ['swap: acquire({release})', swap]]) {
      const g = pct(m.runs, 50);
      console.log(`grants/s, ${name} (${CLIENTS} clients, ${RESOURCES} resources): median ${fmt(g)}  runs ${m.runs.map(fmt).join(' ')}`);
      console.log(`  ratio ${fmt(g / a)}x of ${CLIENTS} in flight, ${fmt(g / aR)}x of ${RESOURCES} in flight`);
      console.log(`  server CPU per grant cycle ${fmt(m.server)} µs, ${fmt(m.server / anchorCpuPerTrip)}x the anchor's per round trip; client CPU ${fmt(m.client)} µs (${CLIENTS} PoolClients in this process), ${fmt(m.client / anchorClientCpuPerTrip)}x`);
    }
    for (const ws of anchorWs) ws.terminate();
    await Promise.all(clients.map((c) => c.close()));

    // 3. SIGKILL of a holder process to the next grant.
    const holderSrc = `
      import { PoolClient } from ${JSON.stringify(path.join(ROOT, 'dist', 'src', 'pool', 'client.js'))};
      const c = await PoolClient.connect(${JSON.stringify(poolUrl)}, { token: ${JSON.stringify(TOKEN)}, name: 'victim' });
      await c.acquire({ kill: 1 });
      console.log('held');
      setInterval(() => {}, 1000);
    `;
    const waiter = await PoolClient.connect(poolUrl, { token: TOKEN, name: 'waiter' });
    const killMs = [];
    for (let k = 0; k < KILLS; k++) {
      const holder = await child(['--input-type=module', '-e', holderSrc], /(held)/).catch((e) => { throw e; });
      const next = waiter.acquire({ kill: 1 }, { onQueued: () => {} });
      await new Promise((r) => setTimeout(r, 50));
      const t0 = performance.now();
      holder.proc.kill('SIGKILL');
      const lease = await next;
      killMs.push(performance.now() - t0);
      await lease.release();
    }
    console.log(`SIGKILL of holder to next grant: median ${fmt(pct(killMs, 50))} ms  max ${fmt(Math.max(...killMs))} ms  (${KILLS} kills; anchor: bare round trip p50 ${fmt(pct(rttMs, 50))} ms)`);
    await waiter.close();
    await one.close();
  } finally {
    // SIGTERM first so a profiled pool writes its profile on the way out.
    await Promise.all(children.map((c) => new Promise((resolve) => {
      if (c.exitCode !== null || c.signalCode !== null) return resolve();
      const timer = setTimeout(() => c.kill('SIGKILL'), 10_000);
      c.once('exit', () => { clearTimeout(timer); resolve(); });
      c.kill('SIGTERM');
    })));
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
