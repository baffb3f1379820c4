import { SubrunError } from '../../core/errors.js';
import { StreamDecoder } from '../../subunit/decoder.js';
import type { RunnerConfig } from '../config/runner-config.js';
import { instanceCommand, listCommand } from './commands.js';
import type { InstancePool } from './instance-pool.js';
import { describeExit, runShell } from './shell-process.js';

export interface ListOptions {
  cwd: string;
  env?: Record<string, string | undefined>;
  signal?: AbortSignal;
  /** Extra arguments appended to the command (testr's `-- args`). */
  extraArgs?: readonly string[];
  /** Instances from instance_provision, when configured. */
  instances?: InstancePool;
  /** Passed to instance provisioning as the wanted number of instances. */
  concurrency?: number;
  onCommand?: (command: string) => void;
}

/**
 * Parse the listing command's output (SPEC §14.7): the ids of subunit v2 `exists`
 * events in order; output with no subunit packet at all is one id per line, as
 * testrepository reads it when python-subunit is missing.
 */
export function parseTestList(bytes: Uint8Array): string[] {
  const ids: string[] = [];
  let packets = 0;
  const decoder = new StreamDecoder({
    packet(event) {
      packets++;
      if (event.status === 'exists' && event.testId !== undefined) ids.push(event.testId);
    },
    nonSubunit() {},
    error() {},
  });
  decoder.push(bytes);
  decoder.end();
  if (packets > 0) return ids;
  return Buffer.from(bytes)
    .toString('utf8')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '');
}

/** Run the listing command (SPEC §14.3) and return the test ids it names. */
export async function listTests(config: RunnerConfig, options: ListOptions): Promise<string[]> {
  if (config.testCommand === undefined || !config.testCommand.includes('$LISTOPT')) {
    throw new SubrunError('ERR_CONFIG', `${config.file}: test_command: listing tests needs $LISTOPT in the command (and test_list_option)`, {
      details: { file: config.file, key: 'test_command' },
    });
  }
  let command = listCommand(config, options.extraArgs);
  let instance: string | undefined;
  if (options.instances !== undefined) {
    instance = await options.instances.obtain(options.concurrency ?? 1);
    if (options.instances.execute !== undefined) command = instanceCommand(options.instances.execute, instance, command, null);
  }
  try {
    options.onCommand?.(command);
    const result = await runShell(command, { cwd: options.cwd, env: options.env, signal: options.signal, timeoutMs: config.timeouts.listMs });
    if (result.killed === 'abort') throw new SubrunError('ERR_ABORTED', 'test listing was aborted', { cause: options.signal?.reason });
    if (result.exitCode !== 0) {
      const output = result.stdout.toString('utf8').slice(-2000);
      throw new SubrunError('ERR_LIST_FAILED', `the test listing command ${describeExit(result)}: ${command}\n${result.stderrTail}${output}`.trimEnd(), {
        details: { command, exitCode: result.exitCode, signal: result.signal, stderrTail: result.stderrTail },
      });
    }
    return parseTestList(result.stdout);
  } finally {
    if (instance !== undefined) options.instances!.release(instance);
  }
}
