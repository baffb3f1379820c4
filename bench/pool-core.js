// bench/pool-core.js: the pool's parts without the network, to judge bench/pool.js.
//
//   npm run build && node bench/pool-core.js [--sessions 1000] [--resources 100] [--cycles 50000] [--batch 20]
//
// 1. The pure state machine (PoolState): N sessions cycling release+acquire on R port
//    resources (plus two idle resources of other types, as in bench/pool.js), so the queue
//    holds N-R waiters throughout. Each cycle is one release (which grants the head of
//    the queue) and one new request (which queues).
// 2. The same loop with every event staged in the SQLite store (a file in a temp dir),
//    committed every --batch cycles (the server commits once per event-loop turn).
// 3. Anchor for 2: bare better-sqlite3 inserting the same number of rows of the same size
//    into one table, in transactions of the same size, in the same run.
// Medians of 3 runs each; ratios ours/anchor.
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PoolState } from '../dist/src/pool/pool-state.js';
import { PoolStore } from '../dist/src/pool/store.js';
import { systemClock } from '../dist/src/core/clock.js';

const args = Object.fromEntries(process.argv.slice(2).reduce((acc, a, i, all) => (a.startsWith('--') ? [...acc, [a.slice(2), all[i + 1]]] : acc), []));
const SESSIONS = Number(args.sessions ?? 1000);
const RESOURCES = Number(args.resources ?? 100);
const CYCLES = Number(args.cycles ?? 50_000);
const BATCH = Number(args.batch ?? 20);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const fmt = (x) => (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(3));
const need = [{ type: 'port', count: 1, attrs: {} }];
let cpuPerCycle = [];

/** Cycles/s of PoolState; `onEvent` sees every event, `onTurn` runs every BATCH cycles. */
function cycleRun(onEvent, onTurn) {
  const holders = [];
  let pendingGrant = null;
  const state = new PoolState({
    clock: systemClock,
    emit: (e) => {
      onEvent(e);
      if (e.kind === 'granted') pendingGrant = e.lease;
    },
  });
  for (let i = 0; i < RESOURCES; i++) state.addResource({ type: 'port', value: String(20000 + i) }, 'bench');
  state.addResource({ type: 'solo', value: '1' }, 'bench');
  state.addResource({ type: 'kill', value: '1' }, 'bench');
  for (let i = 0; i < SESSIONS; i++) {
    state.openSession(`s${i}`, { client: `b${i}`, tokenHash: 'x', graceMs: 0, remote: '127.0.0.1' });
    const r = state.request(`s${i}`, `r0`, need);
    if (r.status === 'granted') holders.push(r.lease);
  }
  onTurn();
  let next = 1;
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  for (let c = 0; c < CYCLES; c++) {
    const lease = holders.shift();
    pendingGrant = null;
    state.release(lease.session, lease.id);
    if (pendingGrant !== null) holders.push(pendingGrant);
    const r = state.request(lease.session, `r${next++}`, need);
    if (r.status === 'granted') holders.push(r.lease);
    if (c % BATCH === BATCH - 1) onTurn();
  }
  onTurn();
  const s = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  state.dispose();
  // CPU time per cycle moves far less with the machine's load than cycles/s does.
  cpuPerCycle.push((cpu.user + cpu.system) / CYCLES);
  return CYCLES / s;
}

const dir = mkdtempSync(path.join(tmpdir(), 'subrun-bench-pool-core-'));
try {
  console.log(`bench/pool-core: ${SESSIONS} sessions, ${RESOURCES} resources, ${CYCLES} release+acquire cycles, commit every ${BATCH} cycles, node ${process.version}`);
  const pure = [];
  const stored = [];
  const bare = [];
  const pureCpu = [];
  const storedCpu = [];
  const bareCpu = [];
  let eventsPerCycle = 0;
  let stagedPerCycle = 0;
  let bytesPerRow = 0;
  for (let run = 0; run < 3; run++) {
    cpuPerCycle = pureCpu;
    pure.push(cycleRun(() => {}, () => {}));
    cpuPerCycle = storedCpu;

    const store = new PoolStore(path.join(dir, `pool-${run}.sqlite`));
    let staged = 0;
    stored.push(cycleRun((e) => {
      store.stage(e, 'bench');
      staged++;
    }, () => store.commit()));
    // The anchor writes rows of the size the store really wrote (its `data` column).
    const file = new Database(path.join(dir, `pool-${run}.sqlite`), { readonly: true });
    bytesPerRow = median(file.prepare('SELECT length(data) AS n FROM events ORDER BY seq DESC LIMIT 10000').all().map((r) => r.n));
    file.close();
    let logged = 0;
    for (const _ of store.events()) logged++;
    stagedPerCycle = staged / CYCLES;
    eventsPerCycle = logged / CYCLES;
    store.close();

    // Anchor: the same number of logged rows, same size, same transaction size, bare driver.
    const db = new Database(path.join(dir, `bare-${run}.sqlite`));
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.exec('CREATE TABLE events (seq INTEGER PRIMARY KEY, at INTEGER NOT NULL, kind TEXT NOT NULL, actor TEXT NOT NULL, resource TEXT, data TEXT NOT NULL)');
    const insert = db.prepare('INSERT INTO events (at, kind, actor, resource, data) VALUES (?, ?, ?, ?, ?)');
    const payload = 'x'.repeat(bytesPerRow);
    const perTurn = Math.max(1, Math.round(BATCH * eventsPerCycle));
    const turn = db.transaction((n) => {
      for (let i = 0; i < n; i++) insert.run(Date.now(), 'granted', 'bench', 'port:20000', payload);
    });
    const t0 = performance.now();
    const cpu0 = process.cpuUsage();
    for (let c = 0; c < CYCLES; c += BATCH) turn(perTurn);
    bare.push(CYCLES / ((performance.now() - t0) / 1000));
    const cpu = process.cpuUsage(cpu0);
    bareCpu.push((cpu.user + cpu.system) / CYCLES);
    db.close();
  }
  console.log(`state machine alone:            median ${fmt(median(pure))} cycles/s  runs ${pure.map(fmt).join(' ')}`);
  console.log(`state machine + SQLite store:   median ${fmt(median(stored))} cycles/s  runs ${stored.map(fmt).join(' ')}  (${stagedPerCycle.toFixed(2)} events staged, ${eventsPerCycle.toFixed(2)} logged per cycle)`);
  console.log(`anchor: bare better-sqlite3, ${Math.max(1, Math.round(BATCH * eventsPerCycle))} rows of ${bytesPerRow} bytes per transaction: median ${fmt(median(bare))} cycles/s  runs ${bare.map(fmt).join(' ')}`);
  console.log(`ratio store/anchor ${fmt(median(stored) / median(bare))}x`);
  const storeCpu = median(storedCpu) - median(pureCpu);
  console.log(`CPU per cycle: state machine ${fmt(median(pureCpu))} µs, with the store ${fmt(median(storedCpu))} µs (the store's share ${fmt(storeCpu)} µs); anchor ${fmt(median(bareCpu))} µs; store/anchor ${fmt(storeCpu / median(bareCpu))}x`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
