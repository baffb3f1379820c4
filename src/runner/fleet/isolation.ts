import type { Clock } from '../../core/clock.js';
import type { RunnerConfig, ServerEntry } from '../config/runner-config.js';
import { runBatch } from './batch-runner.js';
import { startTestServer, type ServerStartOptions, type TestServerProcess } from './test-server-process.js';

/** What bisection found about one test that failed after others on the same server. */
export type IsolationFinding =
  | { test: string; verdict: 'fails-alone'; trials: number }
  | { test: string; verdict: 'not-reproduced'; trials: number }
  | { test: string; verdict: 'culprit'; culprit: string; trials: number }
  | { test: string; verdict: 'several'; candidates: string[]; trials: number };

export interface IsolationOptions extends ServerStartOptions {
  clock: Clock;
}

/**
 * testr's --analyze-isolation, on fresh servers (SPEC §14.10): does `target` fail on its
 * own? If not, does it fail after `before` (what ran before it on its server)? Then halve
 * `before` until one test is left whose running first makes `target` fail. Each trial is a
 * fresh server that runs the candidates as one Run and then `target` as another, so the
 * order is the one that failed.
 */
export async function analyzeIsolation(config: RunnerConfig, entry: ServerEntry, target: string, before: readonly string[], options: IsolationOptions): Promise<IsolationFinding> {
  let trials = 0;
  const fails = async (candidates: readonly string[]): Promise<boolean> => {
    trials++;
    return trial(config, entry, candidates, target, options);
  };
  if (await fails([])) return { test: target, verdict: 'fails-alone', trials };
  if (before.length === 0 || !(await fails(before))) return { test: target, verdict: 'not-reproduced', trials };
  let candidates = [...before];
  while (candidates.length > 1 && options.signal?.aborted !== true) {
    const half = Math.ceil(candidates.length / 2);
    const first = candidates.slice(0, half);
    const second = candidates.slice(half);
    if (await fails(first)) candidates = first;
    else if (await fails(second)) candidates = second;
    else return { test: target, verdict: 'several', candidates, trials };
  }
  return { test: target, verdict: 'culprit', culprit: candidates[0]!, trials };
}

async function trial(config: RunnerConfig, entry: ServerEntry, candidates: readonly string[], target: string, options: IsolationOptions): Promise<boolean> {
  const server: TestServerProcess = await startTestServer(config, entry, 0, options);
  try {
    const quiet = { onEvent: () => {}, clock: options.clock, ...(options.signal === undefined ? {} : { signal: options.signal }) };
    if (candidates.length > 0) {
      const r = await runBatch(server, candidates, quiet);
      if (r.crash !== undefined) return false;
    }
    let failed = false;
    const r = await runBatch(server, [target], {
      ...quiet,
      onEvent: (e) => {
        if (e.testId === target && (e.status === 'fail' || e.status === 'uxsuccess')) failed = true;
      },
    });
    return failed || r.crash !== undefined;
  } finally {
    try {
      await server.connection.goodbye({ timeoutMs: 5000 });
    } catch {
      // stopped below regardless
    }
    await server.transport.close();
  }
}
