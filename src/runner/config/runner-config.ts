/**
 * The normalised runner configuration both `.testr.conf` and `subrun.config.json`
 * map to (SPEC §14). Later stages (listing, scheduling, running) read only this.
 */

export type ConfigFormat = 'testr' | 'json';

/** How many partitions or servers a run uses (`--parallel` without a number). */
export type Concurrency = { kind: 'auto' } | { kind: 'fixed'; count: number } | { kind: 'command'; command: string };

export interface InstanceHooks {
  /** `$INSTANCE_COUNT` → prints instance ids separated by whitespace. */
  provision: string;
  /** Wraps each command: `$INSTANCE_ID`, `$COMMAND`, `$FILES`. */
  execute?: string;
  /** `$INSTANCE_IDS`, run once at the end. */
  dispose?: string;
}

/** Where a test server runs (SPEC §14.5). */
export type ServerEntry =
  | { kind: 'local'; url: string }
  | { kind: 'ssh'; url: string; user?: string; host: string; port?: number; path: string }
  | { kind: 'tcp'; url: string; host: string; port: number }
  | { kind: 'unix'; url: string; path: string }
  | { kind: 'ws'; url: string };

export interface ResourceRequest {
  /** The pool's WebSocket URL. */
  pool: string;
  /** Resource name → how many each batch leases. */
  perBatch: Record<string, number>;
}

export interface RunnerTimeouts {
  /** Server Hello must arrive within this. @default 10000 */
  handshakeMs: number;
  /** A server silent for this long is hung. @default 30000 */
  hangMs: number;
  /** One test may take this long; undefined means no limit. */
  perTestMs?: number;
  /** The listing command or List request may take this long. @default 300000 */
  listMs: number;
}

export const DEFAULT_TIMEOUTS: Readonly<RunnerTimeouts> = Object.freeze({ handshakeMs: 10_000, hangMs: 30_000, listMs: 300_000 });

export interface RunnerConfig {
  /** The file this came from (absolute path) and its format. */
  file: string;
  format: ConfigFormat;
  mode: 'legacy' | 'server';
  testCommand?: string;
  testIdOption?: string;
  testListOption?: string;
  testIdListDefault?: string;
  /** The group_regex source, as written. */
  groupRegex?: string;
  filterTags: string[];
  concurrency: Concurrency;
  instances?: InstanceHooks;
  testServerCommand?: string;
  servers: ServerEntry[];
  resources?: ResourceRequest;
  timeouts: RunnerTimeouts;
}

/**
 * The group of a test id under `group_regex` (SPEC §14.2): testrepository's
 * `re.match(...).group(0) or test_id`, so an unmatched id or an empty match is its own group.
 */
export function makeGroupKey(groupRegex: string | undefined): (testId: string) => string {
  if (groupRegex === undefined || groupRegex === '') return (id) => id;
  const re = compileGroupRegex(groupRegex);
  return (id) => {
    const m = re.exec(id);
    return m === null || m[0] === '' ? id : m[0];
  };
}

/**
 * Compile a group_regex written for Python's `re` as a JavaScript RegExp anchored at
 * the start, as `re.match` is. Python's named groups `(?P<n>…)` and `(?P=n)` are
 * rewritten to JavaScript's `(?<n>…)` and `\k<n>`.
 */
export function compileGroupRegex(source: string): RegExp {
  const js = source.replace(/\(\?P</g, '(?<').replace(/\(\?P=(\w+)\)/g, '\\k<$1>');
  return new RegExp(`^(?:${js})`);
}
