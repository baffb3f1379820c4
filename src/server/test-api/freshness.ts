/**
 * The files a worker has loaded, each with the mtime and size it had when loaded.
 * `stale()` says whether any changed or vanished since: then the worker's module
 * cache is out of date and the worker must be replaced before the next run.
 */
import { statSync } from 'node:fs';
import type { ModuleStamp } from './worker-protocol.js';

export class ModuleStamps {
  readonly #stamps = new Map<string, ModuleStamp>();

  add(stamp: ModuleStamp): void {
    if (!this.#stamps.has(stamp.path)) this.#stamps.set(stamp.path, stamp);
  }

  /** Stamp a file now (for CommonJS files the ESM hooks do not see). */
  addCurrent(path: string): void {
    if (this.#stamps.has(path)) return;
    const st = statSync(path, { bigint: true, throwIfNoEntry: false });
    if (st !== undefined) this.#stamps.set(path, { path, mtimeNs: String(st.mtimeNs), size: Number(st.size) });
  }

  get size(): number {
    return this.#stamps.size;
  }

  /** The first file that changed since it was loaded, or undefined. */
  stale(): string | undefined {
    for (const s of this.#stamps.values()) {
      const st = statSync(s.path, { bigint: true, throwIfNoEntry: false });
      if (st === undefined || String(st.mtimeNs) !== s.mtimeNs || Number(st.size) !== s.size) return s.path;
    }
    return undefined;
  }
}
