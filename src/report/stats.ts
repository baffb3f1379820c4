import type { SubunitEvent } from '../subunit/event.js';
import { TestRecordCollector, type TestRecord } from './test-records.js';

/**
 * The numbers subunit-stats prints, computed the same way: tests are completed
 * records of the stream (SPEC §3.5); a test that never finished counts as
 * failed, `exists` events are ignored, xfail and uxsuccess count as passed, and
 * the seen tags are the union of each test's last tags. A corrupt packet counts
 * as one failed test, as python-subunit's "subunit.parser" pseudo-test does.
 */
export class StreamStats {
  total = 0;
  failed = 0;
  skipped = 0;
  corrupt = 0;
  readonly tags = new Set<string>();
  private readonly records = new TestRecordCollector((r) => this.count(r));

  get passed(): number {
    return this.total - this.failed - this.skipped;
  }

  event(e: SubunitEvent): void {
    if (e.status === 'exists') return;
    this.records.event(e);
  }

  corruptPacket(): void {
    this.corrupt++;
    this.total++;
    this.failed++;
  }

  end(): void {
    this.records.end();
  }

  format(): string {
    const n = (v: number) => String(v).padStart(5);
    const sorted = [...this.tags].sort(compareCodePoints);
    return (
      `Total tests:   ${n(this.total)}\n` +
      `Passed tests:  ${n(this.passed)}\n` +
      `Failed tests:  ${n(this.failed)}\n` +
      `Skipped tests: ${n(this.skipped)}\n` +
      `Seen tags: ${sorted.join(', ')}\n`
    );
  }

  private count(r: TestRecord): void {
    this.total++;
    if (r.status === 'fail' || r.status === 'inprogress' || r.status === 'unknown') this.failed++;
    else if (r.status === 'skip') this.skipped++;
    for (const t of r.tags) this.tags.add(t);
  }
}

/** Orders strings by Unicode code point, as Python's sorted() does (JS's default compares UTF-16 units). */
export function compareCodePoints(a: string, b: string): number {
  const x = Array.from(a);
  const y = Array.from(b);
  const n = Math.min(x.length, y.length);
  for (let i = 0; i < n; i++) {
    const d = x[i]!.codePointAt(0)! - y[i]!.codePointAt(0)!;
    if (d !== 0) return d;
  }
  return x.length - y.length;
}
