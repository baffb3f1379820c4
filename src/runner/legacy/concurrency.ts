import { availableParallelism } from 'node:os';
import { SubrunError } from '../../core/errors.js';
import type { RunnerConfig } from '../config/runner-config.js';
import { describeExit, runShell } from './shell-process.js';

/**
 * The number of partitions for `--parallel` without a number (SPEC §14.5): a fixed
 * count, the first line of `test_run_concurrency`'s output, or the CPU count (testr's default).
 */
export async function resolveConcurrency(config: RunnerConfig, options: { cwd: string; env?: Record<string, string | undefined>; signal?: AbortSignal }): Promise<number> {
  const c = config.concurrency;
  if (c.kind === 'fixed') return c.count;
  if (c.kind === 'auto') return Math.max(1, availableParallelism());
  const result = await runShell(c.command, { ...options, timeoutMs: 60_000 });
  const first = result.stdout.toString('utf8').trim().split('\n')[0]?.trim() ?? '';
  if (result.exitCode !== 0) {
    throw new SubrunError('ERR_COMMAND_FAILED', `test_run_concurrency ${describeExit(result)}: ${c.command}\n${result.stderrTail}`.trimEnd(), {
      details: { command: c.command, exitCode: result.exitCode, stderrTail: result.stderrTail },
    });
  }
  const n = Number(first);
  if (!/^\d+$/.test(first) || !Number.isSafeInteger(n) || n < 1) {
    throw new SubrunError('ERR_COMMAND_FAILED', `test_run_concurrency printed ${JSON.stringify(first.slice(0, 60))}, not a positive integer: ${c.command}`, {
      details: { command: c.command },
    });
  }
  return n;
}
