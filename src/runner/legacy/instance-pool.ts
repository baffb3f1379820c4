import { SubrunError } from '../../core/errors.js';
import type { InstanceHooks } from '../config/runner-config.js';
import { substituteShell } from '../../core/shell.js';
import { describeExit, runShell } from './shell-process.js';

export interface InstancePoolOptions {
  cwd: string;
  env?: Record<string, string | undefined>;
  signal?: AbortSignal;
  /** Called with each helper command line before it runs (testr prints "running=..."). */
  onCommand?: (command: string) => void;
}

/**
 * Test environments from `instance_provision` (SPEC §14.2), handed out one per
 * running command and returned after it, as testrepository's TestCommand does:
 * provision asks for the shortfall up to the wanted concurrency, and dispose runs
 * once for all of them. Acquisition is serialised so two partitions never
 * provision at the same time.
 */
export class InstancePool {
  private readonly hooks: InstanceHooks;
  private readonly options: InstancePoolOptions;
  private readonly all = new Set<string>();
  private readonly free: string[] = [];
  private lock: Promise<unknown> = Promise.resolve();
  private disposed: Promise<void> | undefined;

  constructor(hooks: InstanceHooks, options: InstancePoolOptions) {
    this.hooks = hooks;
    this.options = options;
  }

  get execute(): string | undefined {
    return this.hooks.execute;
  }

  /** Every instance provisioned so far. */
  get instances(): string[] {
    return [...this.all].sort();
  }

  /** An instance for one command; provisions up to `concurrency` instances when none is free. */
  obtain(concurrency: number): Promise<string> {
    const next = this.lock.then(() => this.obtainNow(concurrency));
    this.lock = next.catch(() => {});
    return next;
  }

  release(id: string): void {
    if (this.all.has(id) && !this.free.includes(id)) this.free.push(id);
  }

  /** Run instance_dispose once for every instance provisioned (idempotent). */
  dispose(): Promise<void> {
    this.disposed ??= this.disposeNow();
    return this.disposed;
  }

  private async obtainNow(concurrency: number): Promise<string> {
    if (this.disposed !== undefined) throw new SubrunError('ERR_COMMAND_FAILED', 'instance pool already disposed');
    const free = this.free.shift();
    if (free !== undefined) return free;
    const want = Math.max(1, concurrency - this.all.size);
    const command = substituteShell(this.hooks.provision, ['INSTANCE_COUNT'], { INSTANCE_COUNT: { text: String(want) } });
    this.options.onCommand?.(command);
    const result = await runShell(command, this.options);
    if (result.exitCode !== 0) {
      throw new SubrunError('ERR_COMMAND_FAILED', `instance_provision ${describeExit(result)}: ${command}`, {
        details: { command, exitCode: result.exitCode, stderrTail: result.stderrTail },
      });
    }
    const ids = result.stdout.toString('utf8').split(/\s+/).filter((s) => s !== '');
    const fresh = ids.filter((id) => !this.all.has(id));
    if (fresh.length === 0) {
      throw new SubrunError('ERR_COMMAND_FAILED', `instance_provision printed no new instance id: ${command}`, { details: { command } });
    }
    for (const id of fresh) this.all.add(id);
    this.free.push(...fresh.slice(1));
    return fresh[0]!;
  }

  private async disposeNow(): Promise<void> {
    await this.lock;
    if (this.all.size === 0 || this.hooks.dispose === undefined) return;
    const command = substituteShell(this.hooks.dispose, ['INSTANCE_IDS'], { INSTANCE_IDS: { words: this.instances } });
    this.options.onCommand?.(command);
    const { signal: _ignored, ...rest } = this.options;
    // Disposal runs even when the run was aborted: the environments must not leak.
    const result = await runShell(command, rest);
    if (result.exitCode !== 0) {
      throw new SubrunError('ERR_COMMAND_FAILED', `instance_dispose ${describeExit(result)}: ${command}`, {
        details: { command, exitCode: result.exitCode, stderrTail: result.stderrTail },
      });
    }
  }
}
