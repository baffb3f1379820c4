import type { SubunitEvent, TestStatus } from '../subunit/event.js';
import { concatBytes } from '../core/bytes.js';

/** A stream the report writes to: a process's stdout, or a buffer in tests. */
export interface TextSink {
  write(text: string): unknown;
}

export interface Attachment {
  name: string;
  mimeType: string | undefined;
  bytes: Uint8Array;
}

/** A test that failed, with everything it attached (tracebacks, captured output). */
export interface FailureDetail {
  testId: string;
  status: TestStatus;
  tags: string[];
  attachments: Attachment[];
}

interface OpenTest {
  tags: Set<string>;
  attachments: Map<string, { mimeType: string | undefined; parts: Uint8Array[] }>;
}

const FAILED: ReadonlySet<string> = new Set(['fail', 'uxsuccess']);
const FINAL: ReadonlySet<string> = new Set(['success', 'fail', 'skip', 'xfail', 'uxsuccess']);

/**
 * Collects, from a stream's events, the details of the tests that failed.
 * Attachments of tests that pass are dropped as soon as they pass, so memory
 * follows the failures, not the stream.
 */
export class FailureCollector {
  readonly #open = new Map<string, OpenTest>();
  readonly #failures = new Map<string, FailureDetail>();
  /** When set, only these tests are collected (`subrun failing`). */
  readonly #only: ReadonlySet<string> | undefined;

  constructor(options: { only?: ReadonlySet<string> } = {}) {
    this.#only = options.only;
  }

  event(e: SubunitEvent): void {
    const id = e.testId;
    if (id === undefined || (this.#only !== undefined && !this.#only.has(id))) return;
    if (e.status === 'exists') return; // a listing, not a result
    let test = this.#open.get(id);
    // A new inprogress starts the test afresh (a retry forgets the earlier attempt's output).
    if (test === undefined || e.status === 'inprogress') {
      test = { tags: new Set(), attachments: new Map() };
      this.#open.set(id, test);
    }
    if (e.tags !== undefined) for (const tag of e.tags) test.tags.add(tag);
    if (e.fileName !== undefined) {
      let a = test.attachments.get(e.fileName);
      if (a === undefined) {
        a = { mimeType: e.mimeType, parts: [] };
        test.attachments.set(e.fileName, a);
      }
      if (e.fileBytes !== undefined && e.fileBytes.length > 0) a.parts.push(e.fileBytes.slice());
    }
    if (e.status === undefined || !FINAL.has(e.status)) return;
    this.#open.delete(id);
    if (!FAILED.has(e.status)) {
      this.#failures.delete(id);
      return;
    }
    this.#failures.set(id, {
      testId: id,
      status: e.status,
      tags: [...test.tags].sort(),
      attachments: [...test.attachments].map(([name, a]) => ({ name, mimeType: a.mimeType, bytes: concatBytes(a.parts) })),
    });
  }

  /** The failures, in the order they happened. */
  failures(): FailureDetail[] {
    return [...this.#failures.values()];
  }
}

export interface RunTotals {
  /** Shown as `id=N`; omitted when the totals are not of a stored run. */
  runId?: number;
  tests: number;
  counts: { success: number; fail: number; skip: number; xfail: number; uxsuccess: number };
  durationMs: number | null;
}

const RULE = '='.repeat(70);
const THIN = '-'.repeat(70);
const TEXT_DECODER = new TextDecoder('utf-8', { fatal: true });

/**
 * One failure as testr prints it (testtools' layout): a rule, `FAIL: id`, its
 * tags, a thin rule, text attachments as `name: {{{...}}}`, the traceback last.
 */
export function formatFailure(f: FailureDetail): string {
  const label = f.status === 'uxsuccess' ? 'UNEXPECTED SUCCESS' : 'FAIL';
  let out = `${RULE}\n${label}: ${f.testId}\n`;
  if (f.tags.length > 0) out += `tags: ${f.tags.join(' ')}\n`;
  out += `${THIN}\n`;
  const traceback: string[] = [];
  const binary: Attachment[] = [];
  for (const a of f.attachments) {
    const text = asText(a);
    if (text === undefined) {
      binary.push(a);
      continue;
    }
    if (text === '') continue;
    if (a.name === 'traceback') {
      traceback.push(text.endsWith('\n') ? text : `${text}\n`);
      continue;
    }
    const body = text.endsWith('\n') ? text.slice(0, -1) : text;
    out += body.includes('\n') ? `${a.name}: {{{\n${body}\n}}}\n\n` : `${a.name}: {{{${body}}}}\n\n`;
  }
  if (binary.length > 0) {
    out += 'Binary content:\n';
    for (const a of binary) out += `  ${a.name} (${a.mimeType ?? 'application/octet-stream'}, ${a.bytes.length} bytes)\n`;
    out += '\n';
  }
  return out + traceback.join('');
}

/** `Ran N tests in X.XXXs` and `PASSED (id=N)` / `FAILED (id=N, failures=F, skips=S, ...)`, testr's two lines. */
export function formatTotals(totals: RunTotals): string {
  const { counts } = totals;
  const time = totals.durationMs === null ? '' : ` in ${(totals.durationMs / 1000).toFixed(3)}s`;
  const fields: string[] = [];
  if (totals.runId !== undefined) fields.push(`id=${totals.runId}`);
  if (counts.fail > 0) fields.push(`failures=${counts.fail}`);
  if (counts.skip > 0) fields.push(`skips=${counts.skip}`);
  if (counts.xfail > 0) fields.push(`xfails=${counts.xfail}`);
  if (counts.uxsuccess > 0) fields.push(`uxsuccesses=${counts.uxsuccess}`);
  const failed = counts.fail + counts.uxsuccess > 0;
  const verdict = `${failed ? 'FAILED' : 'PASSED'}${fields.length > 0 ? ` (${fields.join(', ')})` : ''}`;
  return `Ran ${totals.tests} test${totals.tests === 1 ? '' : 's'}${time}\n${verdict}\n`;
}

/** Prints failures as they are found, then the totals: the summary of `last`, `load` and (later) `run`. */
export class SummaryPrinter {
  readonly #out: TextSink;

  constructor(out: TextSink) {
    this.#out = out;
  }

  failures(list: readonly FailureDetail[]): void {
    for (const f of list) this.#out.write(formatFailure(f));
  }

  totals(totals: RunTotals): void {
    this.#out.write(formatTotals(totals));
  }
}

function asText(a: Attachment): string | undefined {
  const mime = a.mimeType?.toLowerCase();
  if (mime !== undefined && !mime.startsWith('text/') && !mime.includes('json') && !mime.includes('charset')) return undefined;
  try {
    return TEXT_DECODER.decode(a.bytes);
  } catch {
    return undefined;
  }
}
