// Transport micro-benchmark (BENCHMARKS.md "Transports"): round-trip latency of a 64-byte
// ping through an echo peer, and echo throughput of 32 MiB, for each subrun transport,
// beside the same measurement on the bare Node primitive it wraps (the anchor), in the same
// run. Medians over repeated trials. Usage: node bench/transport.js [--quick]
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import WebSocket, { WebSocketServer } from 'ws';
import { dial, listen, memoryPair, spawnTransport } from '../dist/src/index.js';

const quick = process.argv.includes('--quick');
const ROUND_TRIPS = quick ? 500 : 3000;
const TRIALS = quick ? 3 : 5;
const BULK = (quick ? 8 : 32) * 1024 * 1024;
const ECHO = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'test', 'transport', 'fixtures', 'echo.js');
const RAW_ECHO = 'process.stdin.pipe(process.stdout)';
const dir = mkdtempSync(path.join(tmpdir(), 'subrun-bench-'));
let socketSeq = 0;

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
};
const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(s.length * p))];
};

/** Ping-pong over {stream} (a Duplex whose peer echoes); returns per-round-trip µs. */
async function pingPong(stream) {
  const msg = Buffer.alloc(64, 1);
  const times = [];
  let want = msg.length;
  let resolveOne;
  stream.on('data', (c) => {
    want -= c.length;
    if (want <= 0) resolveOne();
  });
  for (let i = 0; i < ROUND_TRIPS + 200; i++) {
    want = msg.length;
    const done = new Promise((r) => (resolveOne = r));
    const t0 = process.hrtime.bigint();
    stream.write(msg);
    await done;
    if (i >= 200) times.push(Number(process.hrtime.bigint() - t0) / 1000);
  }
  stream.removeAllListeners('data');
  return times;
}

/** Echo BULK bytes through and back; returns MiB/s. */
async function bulk(stream) {
  const data = randomBytes(1024 * 1024);
  let got = 0;
  const done = new Promise((resolve) => {
    stream.on('data', (c) => {
      got += c.length;
      if (got >= BULK) resolve();
    });
  });
  const t0 = process.hrtime.bigint();
  for (let sent = 0; sent < BULK; sent += 64 * 1024) {
    if (!stream.write(data.subarray(sent % data.length, (sent % data.length) + 64 * 1024))) await new Promise((r) => stream.once('drain', r));
  }
  await done;
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  stream.removeAllListeners('data');
  return BULK / (1024 * 1024) / s;
}

// Each subject opens a fresh channel to an echo peer and returns { stream, close }.
const subjects = {
  'memory (subrun)': async () => {
    const [a, b] = memoryPair();
    b.stream.pipe(b.stream);
    return { stream: a.stream, close: async () => { a.destroy(); b.destroy(); } };
  },
  'unix (subrun)': async () => {
    const url = `unix:${path.join(dir, `s${socketSeq++}.sock`)}`;
    const servers = [];
    const l = await listen(url, (t) => { servers.push(t); t.stream.pipe(t.stream); });
    const c = await dial(l.url);
    return { stream: c.stream, close: async () => { c.destroy(); servers.forEach((s) => s.destroy()); await l.close(); } };
  },
  'unix (raw net anchor)': async () => rawSocket({ path: path.join(dir, `r${socketSeq++}.sock`) }),
  'tcp (subrun)': async () => {
    const servers = [];
    const l = await listen('tcp://127.0.0.1:0', (t) => { servers.push(t); t.stream.pipe(t.stream); });
    const c = await dial(l.url);
    return { stream: c.stream, close: async () => { c.destroy(); servers.forEach((s) => s.destroy()); await l.close(); } };
  },
  'tcp (raw net anchor)': async () => rawSocket({ port: 0, host: '127.0.0.1' }),
  'ws (subrun)': async () => {
    const servers = [];
    const l = await listen('ws://127.0.0.1:0/b', (t) => { servers.push(t); t.stream.pipe(t.stream); });
    const c = await dial(l.url);
    return { stream: c.stream, close: async () => { c.destroy(); servers.forEach((s) => s.destroy()); await l.close(); } };
  },
  'ws (raw ws library anchor)': rawWebSocket,
  'stdio child (subrun)': async () => {
    const c = await spawnTransport([process.execPath, ECHO]);
    return { stream: c.stream, close: async () => c.destroy() };
  },
  'stdio child, protocol fd (subrun)': async () => {
    const c = await spawnTransport([process.execPath, ECHO], { protocolFd: true });
    return { stream: c.stream, close: async () => c.destroy() };
  },
  'stdio child (raw pipes anchor)': async () => {
    const child = spawn(process.execPath, ['-e', RAW_ECHO], { stdio: ['pipe', 'pipe', 'inherit'] });
    await new Promise((r) => child.once('spawn', r));
    const stream = { write: (b) => child.stdin.write(b), on: (e, f) => child.stdout.on(e, f), once: (e, f) => (e === 'drain' ? child.stdin.once(e, f) : child.stdout.once(e, f)), removeAllListeners: (e) => child.stdout.removeAllListeners(e) };
    return { stream, close: async () => child.kill('SIGKILL') };
  },
};

/** The ws library with the same flow control as ours (one send in flight), echoing per message. */
async function rawWebSocket() {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
  await new Promise((r) => wss.once('listening', r));
  wss.on('connection', (ws) => ws.on('message', (d) => ws.send(d)));
  const ws = new WebSocket(`ws://127.0.0.1:${wss.address().port}/`, { perMessageDeflate: false });
  await new Promise((r) => ws.once('open', r));
  const listeners = new Map();
  const stream = {
    write: (b) => {
      const done = new Promise((r) => ws.send(b, r));
      stream.pending = done;
      return false;
    },
    on: (e, f) => {
      const g = (d) => f(d);
      listeners.set(f, g);
      ws.on('message', g);
    },
    once: (_e, f) => stream.pending.then(f),
    removeAllListeners: () => ws.removeAllListeners('message'),
  };
  return { stream, close: async () => { ws.terminate(); wss.close(); } };
}

async function rawSocket(where) {
  const server = createServer({ allowHalfOpen: true }, (s) => s.pipe(s));
  await new Promise((r) => (where.path ? server.listen(where.path, r) : server.listen(0, '127.0.0.1', r)));
  const addr = server.address();
  const socket = createConnection(where.path ? { path: where.path } : { port: addr.port, host: '127.0.0.1' });
  if (!where.path) socket.setNoDelay(true);
  await new Promise((r) => socket.once('connect', r));
  return { stream: socket, close: async () => { socket.destroy(); server.close(); } };
}

const results = {};
for (const [name, open] of Object.entries(subjects)) {
  const p50s = [];
  const p99s = [];
  const rates = [];
  for (let trial = 0; trial < TRIALS; trial++) {
    const ch = await open();
    const times = await pingPong(ch.stream);
    p50s.push(median(times));
    p99s.push(pct(times, 0.99));
    rates.push(await bulk(ch.stream));
    await ch.close();
  }
  results[name] = { p50: median(p50s), p99: median(p99s), mibs: median(rates) };
  const r = results[name];
  console.log(`${name.padEnd(36)} round trip p50 ${r.p50.toFixed(1).padStart(7)} µs  p99 ${r.p99.toFixed(1).padStart(7)} µs  echo ${r.mibs.toFixed(0).padStart(5)} MiB/s`);
}
console.log('\nratios, subrun / anchor (round-trip p50: lower is better; throughput: higher is better)');
for (const [ours, anchor] of [
  ['unix (subrun)', 'unix (raw net anchor)'],
  ['tcp (subrun)', 'tcp (raw net anchor)'],
  ['stdio child (subrun)', 'stdio child (raw pipes anchor)'],
  ['stdio child, protocol fd (subrun)', 'stdio child (raw pipes anchor)'],
  ['ws (subrun)', 'ws (raw ws library anchor)'],
  ['memory (subrun)', 'unix (raw net anchor)'],
]) {
  const a = results[ours];
  const b = results[anchor];
  console.log(`${ours.padEnd(36)} vs ${anchor.padEnd(32)} p50 x${(a.p50 / b.p50).toFixed(2)}  throughput x${(a.mibs / b.mibs).toFixed(2)}`);
}
rmSync(dir, { recursive: true, force: true });
