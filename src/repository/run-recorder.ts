import { StreamDecoder } from '../subunit/decoder.js';
import { PacketEncoder } from '../subunit/encoder.js';
import { RPC_TEST_ID, timestampFromMillis, timestampToMillis, type SubunitEvent, type Timestamp } from '../subunit/event.js';
import { FINAL_STATUSES, type FinalStatus, type StatusCounts, type TestResult } from './types.js';

/** Where a recorder puts the bytes it keeps: the stream file, or memory. */
export interface RecordSink {
  append(bytes: Uint8Array): void;
}

/** Stray bytes are wrapped in packets of at most this much (SPEC §13.3). */
const NON_SUBUNIT_CHUNK = 65536;
const ERROR_MIME = 'text/plain; charset=utf8';
const TEXT = new TextEncoder();

/**
 * The pure part of recording a run, shared by every store: it decides what
 * reaches the stream (SPEC §13.3: no RPC packets, stray bytes wrapped, dangling
 * tests failed) and derives each test's result and duration from the packets.
 */
export class RunRecorder {
  readonly #sink: RecordSink;
  readonly #now: () => number;
  readonly #encoder = new PacketEncoder();
  readonly #decoder: StreamDecoder;
  /** Tests with an `inprogress` and no final status yet, with their start (ms or null). */
  readonly #open = new Map<string, number | null>();
  /** Route code and tags of each open test's inprogress: python-subunit keys a test by id and route code. */
  readonly #openRoute = new Map<string, { routeCode?: string; tags?: string[] }>();
  /** Final results in the order the tests first finished. */
  readonly #results = new Map<string, TestResult>();
  #minTs = Infinity;
  #maxTs = -Infinity;
  #lastTs: Timestamp | undefined;
  #bytes = 0;
  #decodeErrors = 0;

  constructor(sink: RecordSink, now: () => number) {
    this.#sink = sink;
    this.#now = now;
    this.#decoder = new StreamDecoder({
      packet: (event, raw) => this.packet(event, raw),
      nonSubunit: (bytes) => this.nonSubunit(bytes),
      error: () => {
        this.#decodeErrors++;
      },
    });
  }

  get bytes(): number {
    return this.#bytes;
  }

  /** Candidate packets the decoder rejected (their bytes were kept as stray output). */
  get decodeErrors(): number {
    return this.#decodeErrors;
  }

  write(chunk: Uint8Array): void {
    this.#decoder.push(chunk);
  }

  /**
   * Re-reads bytes already in the store (recovery, rebuilding): packets update the
   * test state but nothing is appended. Returns the stream offset just past the
   * last whole packet, so a torn final write can be cut off.
   */
  replay(chunks: Iterable<Uint8Array>): number {
    let validEnd = 0;
    const decoder = new StreamDecoder({
      packet: (event, raw, offset) => {
        if (event.testId === RPC_TEST_ID) return;
        this.observe(event);
        validEnd = offset + raw.length;
      },
      nonSubunit: () => {},
      error: () => {
        this.#decodeErrors++;
      },
    });
    for (const chunk of chunks) decoder.push(chunk);
    decoder.end();
    this.#bytes = validEnd;
    return validEnd;
  }

  packet(event: SubunitEvent, raw: Uint8Array): void {
    if (event.testId === RPC_TEST_ID) return; // SPEC §13.3: never in the history
    this.#append(raw);
    this.observe(event);
  }

  nonSubunit(bytes: Uint8Array): void {
    for (let off = 0; off < bytes.length; off += NON_SUBUNIT_CHUNK) {
      const part = bytes.subarray(off, Math.min(bytes.length, off + NON_SUBUNIT_CHUNK));
      // No MIME type: what python-subunit's reader reports stray bytes as.
      this.#append(this.#encoder.encode({ fileName: 'stdout', fileBytes: part }));
    }
  }

  /**
   * Ends the stream: an incomplete trailing packet is kept as stray bytes, and
   * every test still in progress gets a final `fail` packet saying `reason`
   * (SPEC §13.3). Returns the ids of the tests it failed.
   */
  close(reason: string): string[] {
    this.#decoder.end();
    const dangling = [...this.#open.keys()];
    if (dangling.length === 0) return dangling;
    const timestamp = this.#lastTs ?? timestampFromMillis(this.#now());
    const fileBytes = TEXT.encode(`subrun: ${reason}\n`);
    for (const testId of dangling) {
      // The closing packet must carry the inprogress packet's route code, or python-subunit's
      // tools count it as a second test next to one left incomplete.
      const event: SubunitEvent = {
        ...this.#openRoute.get(testId),
        testId,
        status: 'fail',
        timestamp,
        fileName: 'subrun-error',
        mimeType: ERROR_MIME,
        fileBytes,
        eof: true,
      };
      this.#append(this.#encoder.encode(event));
      this.observe(event);
    }
    return dangling;
  }

  results(): TestResult[] {
    return [...this.#results.values()];
  }

  counts(): StatusCounts {
    const counts: StatusCounts = { success: 0, fail: 0, skip: 0, xfail: 0, uxsuccess: 0 };
    for (const r of this.#results.values()) counts[r.status]++;
    return counts;
  }

  /** The earliest timestamp seen (ms), or null. */
  firstTimestampMs(): number | null {
    return this.#minTs === Infinity ? null : this.#minTs;
  }

  /** From the earliest to the latest timestamp seen; null when there was none. */
  durationMs(): number | null {
    return this.#maxTs >= this.#minTs ? this.#maxTs - this.#minTs : null;
  }

  /** Updates test state from a kept packet (also used when re-reading a stored stream). */
  observe(event: SubunitEvent): void {
    let ms: number | null = null;
    if (event.timestamp !== undefined) {
      ms = timestampToMillis(event.timestamp);
      if (ms < this.#minTs) this.#minTs = ms;
      if (ms > this.#maxTs) {
        this.#maxTs = ms;
        this.#lastTs = event.timestamp;
      }
    }
    const { testId, status } = event;
    if (testId === undefined || status === undefined) return;
    if (status === 'inprogress') {
      // A repeated inprogress (a retried test) keeps the first start while still open.
      if (!this.#open.has(testId)) {
        this.#open.set(testId, ms);
        this.#openRoute.set(testId, {
          ...(event.routeCode === undefined ? {} : { routeCode: event.routeCode }),
          ...(event.tags === undefined ? {} : { tags: [...event.tags] }),
        });
      }
      return;
    }
    if (!FINAL_STATUSES.has(status)) return;
    const start = this.#open.get(testId);
    this.#open.delete(testId);
    this.#openRoute.delete(testId);
    const durationMs = start != null && ms !== null ? Math.max(0, ms - start) : null;
    this.#results.set(testId, { testId, status: status as FinalStatus, durationMs });
  }

  #append(bytes: Uint8Array): void {
    this.#bytes += bytes.length;
    this.#sink.append(bytes);
  }
}
