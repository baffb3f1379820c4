import type { SubunitEvent, TestStatus, Timestamp } from '../subunit/event.js';

/**
 * One test as a stream describes it, gathered the way testtools'
 * _StreamToTestRecord does (which subunit-stats, subunit-ls and friends use), so
 * our stream tools count what python-subunit's count.
 */
export interface TestRecord {
  id: string;
  routeCode: string | undefined;
  /** The last status seen; 'unknown' when only attachments arrived. */
  status: TestStatus | 'unknown';
  /** The last tags seen for the test (python-subunit replaces, never merges). */
  tags: readonly string[];
  /** The timestamp of the first event with this test id, and of the one that completed it. */
  start: Timestamp | undefined;
  end: Timestamp | undefined;
  /** Non-empty attachments, in arrival order, chunks concatenated per file name. */
  attachments: Map<string, { mimeType: string | undefined; chunks: Uint8Array[] }>;
  /** The packets' raw bytes, when the collector keeps them (for `stream filter`). */
  packets: Uint8Array[];
  /** Whether the stream ended before the test reached a final status. */
  incomplete: boolean;
}

/** Statuses that do not complete a test (testtools' INTERIM_STATES). */
function isInterim(status: TestStatus | undefined): boolean {
  return status === undefined || status === 'undefined' || status === 'inprogress';
}

export interface TestRecordOptions {
  /** Keep each packet's raw bytes on its record. @default false */
  keepPackets?: boolean;
}

/** Groups events into test records by (test id, route code); calls `onTest` as each completes. */
export class TestRecordCollector {
  private readonly open = new Map<string, TestRecord>();
  private readonly keepPackets: boolean;

  constructor(
    private readonly onTest: (record: TestRecord) => void,
    options: TestRecordOptions = {},
  ) {
    this.keepPackets = options.keepPackets ?? false;
  }

  /** Feeds one event; returns false when it belongs to no test (no test id). */
  event(e: SubunitEvent, raw?: Uint8Array): boolean {
    if (e.testId === undefined) return false;
    // Strings hold no NUL (SPEC §2.5), so this key cannot collide; "-" vs "+" tells no route code from an empty one.
    const key = e.routeCode === undefined ? `-\0${e.testId}` : `+${e.routeCode}\0${e.testId}`;
    let r = this.open.get(key);
    if (r === undefined) {
      r = {
        id: e.testId,
        routeCode: e.routeCode,
        status: 'unknown',
        tags: [],
        start: e.timestamp,
        end: undefined,
        attachments: new Map(),
        packets: [],
        incomplete: false,
      };
      this.open.set(key, r);
    }
    if (e.status !== undefined && e.status !== 'undefined') r.status = e.status;
    r.end = e.timestamp;
    if (e.fileName !== undefined && e.fileBytes !== undefined && e.fileBytes.length > 0) {
      let a = r.attachments.get(e.fileName);
      if (a === undefined) {
        a = { mimeType: e.mimeType, chunks: [] };
        r.attachments.set(e.fileName, a);
      }
      a.chunks.push(e.fileBytes);
    }
    if (e.tags !== undefined) r.tags = e.tags;
    if (this.keepPackets && raw !== undefined) r.packets.push(raw.slice());
    if (!isInterim(e.status)) {
      this.open.delete(key);
      this.onTest(r);
    }
    return true;
  }

  /** Flushes the tests still open, in the order they began, as incomplete. */
  end(): void {
    for (const r of this.open.values()) {
      r.end = undefined;
      r.incomplete = true;
      this.onTest(r);
    }
    this.open.clear();
  }
}

/** Seconds between a record's first and last timestamps, when both are known. */
export function durationSeconds(r: TestRecord): number | undefined {
  if (r.start === undefined || r.end === undefined) return undefined;
  return r.end.seconds - r.start.seconds + (r.end.nanos - r.start.nanos) / 1e9;
}
