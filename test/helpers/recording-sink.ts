import type { SubunitEvent } from '../../src/subunit/event.js';
import type { ResultSink } from '../../src/server/suite.js';

export interface TestRecord {
  statuses: string[];
  attachments: Record<string, string>;
  tags?: string[];
}

/** A ResultSink that keeps every event and folds them per test id. */
export class RecordingSink implements ResultSink {
  readonly events: SubunitEvent[] = [];

  emit(event: SubunitEvent): void {
    this.events.push(event);
  }

  get byId(): Map<string, TestRecord> {
    const map = new Map<string, TestRecord>();
    for (const e of this.events) {
      if (e.testId === undefined) continue;
      let rec = map.get(e.testId);
      if (rec === undefined) map.set(e.testId, (rec = { statuses: [], attachments: {} }));
      if (e.status !== undefined) rec.statuses.push(e.status);
      if (e.tags !== undefined) rec.tags = e.tags;
      if (e.fileName !== undefined) rec.attachments[e.fileName] = (rec.attachments[e.fileName] ?? '') + Buffer.from(e.fileBytes ?? new Uint8Array()).toString('utf8');
    }
    return map;
  }

  /** Final status per test id, in the order tests finished. */
  get finals(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const e of this.events) {
      if (e.testId !== undefined && e.status !== undefined && e.status !== 'inprogress' && e.status !== 'exists') out[e.testId] = e.status;
    }
    return out;
  }

  /** Test-less attachments (stray output). */
  get stray(): string {
    return this.events.filter((e) => e.testId === undefined && e.fileBytes !== undefined).map((e) => Buffer.from(e.fileBytes!).toString('utf8')).join('');
  }
}
