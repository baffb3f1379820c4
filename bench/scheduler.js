// Issue 5 (d): scheduling quality on synthetic suites with skewed durations.
// Prints, as medians over many random suites: subrun's work-stealing makespan against
// the lower bound max(total/servers, longest test), and against stestr-style static
// LPT partitioning (the anchor), when recorded times are exact and when they are off
// by up to 2x. Deterministic: seeded PRNG. Run: npm run build && node bench/scheduler.js
import { simulate } from '../dist/src/runner/scheduler/index.js';

const SUITES = Number(process.env.SUITES ?? 200);
const TESTS = Number(process.env.TESTS ?? 2000);
const SERVERS = Number(process.env.SERVERS ?? 8);
const OVERHEAD = Number(process.env.OVERHEAD ?? 0.002); // seconds per batch: one Run round trip

function mulberry32(seed) {
  return () => {
    seed |= 0;
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function gaussian(rand) {
  const u = 1 - rand();
  const v = rand();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

/** Log-normal durations (sigma 1.5: a long tail) plus a few tests 50-200x the median. */
function suite(rand) {
  const recorded = new Map();
  for (let i = 0; i < TESTS; i++) {
    let d = Math.exp(-4 + 1.5 * gaussian(rand));
    if (rand() < 0.003) d *= 50 + 150 * rand();
    recorded.set(`pkg.mod${i % 50}.Test.test_${i}`, d);
  }
  return recorded;
}

/** True durations: each test's recorded time times a factor log-uniform in [1/2, 2]. */
function skewed(recorded, rand) {
  const actual = new Map();
  for (const [id, d] of recorded) actual.set(id, d * Math.pow(2, 2 * rand() - 1));
  return actual;
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

function scenario(name, makeActual) {
  const rand = mulberry32(42);
  const ws = [];
  const st = [];
  const ratio = [];
  const batches = [];
  for (let n = 0; n < SUITES; n++) {
    const recorded = suite(rand);
    const actual = makeActual(recorded, rand);
    const a = simulate({ actual, recorded, servers: SERVERS, policy: 'work-stealing', batchOverhead: OVERHEAD });
    const b = simulate({ actual, recorded, servers: SERVERS, policy: 'static-lpt', batchOverhead: OVERHEAD });
    ws.push(a.makespan / a.lowerBound);
    st.push(b.makespan / b.lowerBound);
    ratio.push(b.makespan / a.makespan);
    batches.push(a.batches);
  }
  console.log(
    `${name.padEnd(28)} work-stealing/LB ${median(ws).toFixed(4)} (worst ${Math.max(...ws).toFixed(4)})` +
      `  static-LPT/LB ${median(st).toFixed(4)} (worst ${Math.max(...st).toFixed(4)})` +
      `  static/work-stealing ${median(ratio).toFixed(3)}x  batches ${median(batches)}`,
  );
  return { ws: median(ws), st: median(st), ratio: median(ratio) };
}

console.log(`${SUITES} suites x ${TESTS} tests, ${SERVERS} servers, ${OVERHEAD * 1000} ms per batch; medians of makespan ratios`);
const exact = scenario('recorded times exact', (r) => r);
const off = scenario('recorded times off by <=2x', skewed);
console.log(
  `\nwithin 5% of the lower bound (exact times): ${exact.ws <= 1.05 ? 'yes' : 'NO'} (${((exact.ws - 1) * 100).toFixed(2)}%); ` +
    `better than static LPT when times are off by 2x: ${off.ratio > 1 ? 'yes' : 'NO'} (${off.ratio.toFixed(3)}x)`,
);
