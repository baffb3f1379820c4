/**
 * The test worker's entry point. It loads the suite's files once, then runs batches
 * the main thread sends, posting results in batches (not one message per test) and
 * keeping the shared Progress up to date so a busy loop or crash loses nothing the
 * main thread needs.
 */
import { createRequire, register } from 'node:module';
import path from 'node:path';
import { getHeapStatistics } from 'node:v8';
import { pathToFileURL } from 'node:url';
import { parentPort, workerData } from 'node:worker_threads';
import { getRegistry, formatFailure, TestRunner, walkTests, type FileTree, type TestResult } from '../../testing/engine.js';
import { HeapTrimmer } from './heap-trimmer.js';
import { OutputCapture } from './output-capture.js';
import { Progress } from './progress.js';
import type { FromWorker, LoadError, RunMessage, WorkerInit } from './worker-protocol.js';

const FLUSH_COUNT = 256;
const FLUSH_DELAY_MS = 20;

const init = workerData as WorkerInit;
const port = parentPort!;
const post = (message: FromWorker): void => port.postMessage(message);

let runner: TestRunner | undefined;
const capture = new OutputCapture(() => runner?.current);
capture.install(process.stdout as never, process.stderr as never);

let pending: TestResult[] = [];
let flushTimer: ReturnType<typeof setTimeout> | undefined;
function flush(): void {
  if (flushTimer !== undefined) clearTimeout(flushTimer);
  flushTimer = undefined;
  if (pending.length === 0) return;
  post({ type: 'results', results: pending });
  pending = [];
}

// Crashes in test code are charged to the test being awaited; the worker lives on.
function onCrash(kind: string, error: unknown): void {
  if (runner?.interrupt(error)) return;
  capture.addStray('uncaught-error', `${kind} outside any awaiting test:\n${formatFailure(error)}`);
}
process.on('uncaughtException', (error) => onCrash('uncaught exception', error));
process.on('unhandledRejection', (reason) => onCrash('unhandled rejection', reason));

// process.exit from a test ends this worker (the main thread charges the running
// test and starts a new one); post what is finished first so no result is lost.
const realExit = process.exit.bind(process);
process.exit = ((code?: number) => {
  flush();
  realExit(code);
}) as typeof process.exit;

const nodeTestUrl = new URL('../../testing/node-test.js', import.meta.url).href;
if (init.typescript) {
  // tsx (esbuild) only when the suite has TypeScript files: it adds ~110 ms to a worker's start.
  const esm = (await import('tsx/esm/api')) as { register(): unknown };
  esm.register();
  const cjs = (await import('tsx/cjs/api')) as { register(): unknown };
  cjs.register();
}
// Registered after tsx so these hooks run first: the node:test mapping and file stamps see every load.
register(new URL('./module-hooks.js', import.meta.url), {
  data: { port: init.hooksPort, nodeTestUrl: init.nodeTestCompat ? nodeTestUrl : undefined, watchNodeModules: false },
  transferList: [init.hooksPort],
});

const registry = getRegistry();
const trees: FileTree[] = [];
const loadErrors = new Map<string, LoadError>();
const ids: string[] = [];
const duplicates: string[] = [];
for (const file of init.files) {
  const rel = path.relative(init.root, file).split(path.sep).join('/');
  try {
    const tree = await registry.collect(rel, () => import(pathToFileURL(file).href));
    trees.push(tree);
    for (const t of walkTests(tree.root)) ids.push(t.id);
    for (const id of tree.duplicates.keys()) duplicates.push(id);
  } catch (error) {
    loadErrors.set(rel, { id: rel, traceback: `could not load ${rel}:\n${formatFailure(error)}` });
    ids.push(rel);
  }
}
post({ type: 'ready', tests: ids, duplicates, loadErrors: [...loadErrors.values()], stray: capture.takeStray() });
// Its floor is the heap with every file loaded.
const trimmer = new HeapTrimmer();

const require = createRequire(import.meta.url);
const reportedRequired = new Set<string>();
function newRequiredFiles(): string[] {
  const fresh: string[] = [];
  for (const file of Object.keys(require.cache)) {
    if (reportedRequired.has(file) || file.includes(`${path.sep}node_modules${path.sep}`)) continue;
    reportedRequired.add(file);
    fresh.push(file);
  }
  return fresh;
}

port.on('message', (message: RunMessage) => {
  void runBatch(message);
});

async function runBatch(message: RunMessage): Promise<void> {
  const progress = new Progress(message.progress);
  const plan = new Map<string, number>();
  message.ids.forEach((id, i) => plan.set(id, i));
  const onResult = (result: TestResult): void => {
    if (result.index !== undefined) progress.finish(result.index, result.status);
    pending.push(result);
    // Anything but a pass is posted at once: if a later test kills the worker, its details survive.
    if (result.status !== 'success' || pending.length >= FLUSH_COUNT) flush();
    else flushTimer ??= setTimeout(flush, FLUSH_DELAY_MS);
  };
  // Files that failed to load are listed under their path; running one reports why.
  for (const [id, error] of loadErrors) {
    const index = plan.get(id);
    if (index === undefined) continue;
    progress.start(index, Infinity, Infinity);
    const now = Date.now();
    onResult({ id, index, status: 'fail', startMs: now, endMs: now, traceback: error.traceback });
  }
  runner = new TestRunner({
    resources: Object.freeze({ ...message.resources }),
    defaultTimeoutMs: init.defaultTimeoutMs,
    shouldStop: () => progress.stopRequested,
    onStart(rec) {
      if (rec.index !== undefined) progress.start(rec.index, rec.deadlineMs, rec.deadlineMs - rec.startMs);
      capture.noteTest(rec.id);
    },
    onResult,
  });
  // The grant's variables (SUBRUN_POOL_*) exist for this batch only. A worker has its own
  // copy of process.env, so this touches neither the server nor other workers.
  const saved = new Map<string, string | undefined>();
  for (const [key, value] of Object.entries(message.env ?? {})) {
    saved.set(key, process.env[key]);
    process.env[key] = value;
  }
  try {
    await runner.run(trees, plan);
  } catch (error) {
    capture.addStray('uncaught-error', `the runner failed:\n${formatFailure(error)}`);
  } finally {
    runner = undefined;
    for (const [key, value] of saved) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  }
  flush();
  const heapUsed = getHeapStatistics().used_heap_size;
  post({ type: 'done', heapUsed, requiredFiles: newRequiredFiles(), stray: capture.takeStray() });
  trimmer.trim(heapUsed);
}
