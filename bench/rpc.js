// bench/rpc: round-trip of a Run of one no-op test to its Done over each transport
// (p50/p99 over N round-trips) and pipelined throughput, beside the process-per-batch
// cost the warm server replaces (`node -e 0`, `python3 -m subunit.run` with an empty
// load list), measured in the same run.
//
//   node bench/rpc.js [--n 10000] [--spawns 20]
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ClientConnection } from '../dist/src/rpc/client.js';
import { ServerConnection } from '../dist/src/rpc/server.js';
import { dial, spawnTransport, memoryPair } from '../dist/src/transport/index.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const server = path.join(here, 'fixtures', 'noop-server.js');
const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 ? fallback : Number(process.argv[i + 1]);
};
const N = arg('n', 10_000);
const SPAWNS = arg('spawns', 20);
const PIPELINE = 20_000;

const quantile = (sorted, q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
const median = (xs) => quantile([...xs].sort((a, b) => a - b), 0.5);

async function measure(client) {
  for (let i = 0; i < 500; i++) await client.run({ tests: ['noop'] }).done; // warm up
  const rtt = new Float64Array(N);
  for (let i = 0; i < N; i++) {
    const t0 = process.hrtime.bigint();
    await client.run({ tests: ['noop'] }).done;
    rtt[i] = Number(process.hrtime.bigint() - t0) / 1000;
  }
  rtt.sort();
  const t0 = process.hrtime.bigint();
  const all = [];
  for (let i = 0; i < PIPELINE; i++) all.push(client.run({ tests: ['noop'] }).done);
  await Promise.all(all);
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  return { p50: quantile(rtt, 0.5), p99: quantile(rtt, 0.99), perSecond: PIPELINE / seconds };
}

const noopHandler = {
  async list(_r, ctx) {
    ctx.emit({ testId: 'noop', status: 'exists', runnable: true });
    return {};
  },
  async run(_r, ctx) {
    const ts = { seconds: 1_700_000_000, nanos: 0 };
    ctx.emit({ testId: 'noop', status: 'inprogress', timestamp: ts });
    ctx.emit({ testId: 'noop', status: 'success', timestamp: ts });
    return { ran: 1 };
  },
};

async function viaListener(url) {
  const child = spawn(process.execPath, [server, url], { stdio: ['pipe', 'pipe', 'inherit'] });
  const real = await new Promise((resolve, reject) => {
    child.stdout.once('data', (d) => resolve(String(d).trim()));
    child.once('exit', (code) => reject(new Error(`server exited ${code}`)));
  });
  const t = await dial(real);
  return { t, stop: () => child.stdin.end() };
}

const dir = mkdtempSync(path.join(tmpdir(), 'subrun-bench-rpc-'));
const transports = [
  ['memory (in-process)', async () => {
    const [a, b] = memoryPair();
    new ServerConnection(b.stream, noopHandler);
    return { t: a, stop: () => {} };
  }],
  ['stdio (child)', async () => ({ t: await spawnTransport([process.execPath, server]), stop: () => {} })],
  ['stdio + protocol fd', async () => ({ t: await spawnTransport([process.execPath, server], { protocolFd: true }), stop: () => {} })],
  ['unix socket', () => viaListener(`unix:${path.join(dir, 's.sock')}`)],
  ['tcp 127.0.0.1', () => viaListener('tcp://127.0.0.1:0')],
  ['websocket', () => viaListener('ws://127.0.0.1:0/rpc')],
];

function spawnCost(cmd, args, options = {}) {
  const times = [];
  for (let i = 0; i < SPAWNS; i++) {
    const t0 = process.hrtime.bigint();
    const r = spawnSync(cmd, args, { stdio: 'ignore', ...options });
    if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}`);
    times.push(Number(process.hrtime.bigint() - t0) / 1000);
  }
  return median(times);
}

const emptyList = path.join(dir, 'empty.list');
writeFileSync(emptyList, '');
writeFileSync(path.join(dir, 'bench_empty.py'), 'import unittest\nclass T(unittest.TestCase):\n    def test_noop(self):\n        pass\n');
const nodeSpawn = spawnCost(process.execPath, ['-e', '0']);
const pySpawn = spawnCost('/usr/bin/python3', ['-m', 'subunit.run', '--load-list', emptyList, 'bench_empty'], { cwd: dir });
const best = Math.min(nodeSpawn, pySpawn);

console.log(`bench/rpc: ${N} round-trips per transport, ${PIPELINE} pipelined Runs, ${SPAWNS} spawns per anchor (node ${process.version})`);
console.log(`anchor: spawn \`node -e 0\`                          median ${(nodeSpawn / 1000).toFixed(1)} ms`);
console.log(`anchor: spawn \`python3 -m subunit.run\` (empty list)  median ${(pySpawn / 1000).toFixed(1)} ms`);
console.log('');
console.log('transport              p50 µs   p99 µs   pipelined Run/s   p50 vs node spawn   p50 vs python spawn');
for (const [name, open] of transports) {
  const { t, stop } = await open();
  const client = await ClientConnection.connect(t.stream, { heartbeatMs: 0 });
  const r = await measure(client);
  await client.goodbye();
  await t.close();
  stop();
  console.log(
    `${name.padEnd(22)} ${r.p50.toFixed(1).padStart(6)}  ${r.p99.toFixed(1).padStart(7)}   ${Math.round(r.perSecond).toString().padStart(15)}   ${(nodeSpawn / r.p50).toFixed(0).padStart(14)}×   ${(pySpawn / r.p50).toFixed(0).padStart(16)}×`,
  );
}
console.log(`\ntargets: p50 <= 100 µs over stdio and unix; >= 100× faster than the cheapest spawn (${(best / 1000).toFixed(1)} ms)`);
rmSync(dir, { recursive: true, force: true });
