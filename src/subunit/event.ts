/**
 * The subunit v2 event model (SPEC §2). One SubunitEvent is one packet: a status
 * change for a test, a file attachment chunk, or both. Field presence mirrors the
 * packet's flags: an absent field means its flag is clear.
 */

/** The eight v2 statuses, indexed by their 3-bit wire value (SPEC §2.3). */
export const STATUSES = ['undefined', 'exists', 'inprogress', 'success', 'uxsuccess', 'skip', 'fail', 'xfail'] as const;
export type TestStatus = (typeof STATUSES)[number];

/**
 * Final statuses that make a run unsuccessful (testtools' TestResult.wasSuccessful
 * treats an unexpected success as a failure). Note that subunit-stats counts
 * uxsuccess as passed, and `subrun stream stats` matches it (SPEC §3.5).
 */
export const FAILING_STATUSES: ReadonlySet<TestStatus> = new Set(['fail', 'uxsuccess']);

/** Seconds since the Unix epoch (uint32 on the wire) and nanoseconds (0..999,999,999). */
export interface Timestamp {
  seconds: number;
  nanos: number;
}

export interface SubunitEvent {
  testId?: string;
  /** Omitted (or 'undefined') when the packet carries no status. */
  status?: TestStatus;
  tags?: string[];
  timestamp?: Timestamp;
  routeCode?: string;
  /** The runnable flag. */
  runnable?: boolean;
  mimeType?: string;
  /** Present exactly when the packet carries file content (possibly zero bytes). */
  fileName?: string;
  fileBytes?: Uint8Array;
  eof?: boolean;
}

/** The fixed test id of RPC packets (SPEC §4). */
export const RPC_TEST_ID = 'testrepository-rpc';

export function timestampFromMillis(ms: number): Timestamp {
  const seconds = Math.floor(ms / 1000);
  return { seconds, nanos: Math.round((ms - seconds * 1000) * 1e6) };
}

export function timestampToMillis(ts: Timestamp): number {
  return ts.seconds * 1000 + ts.nanos / 1e6;
}
