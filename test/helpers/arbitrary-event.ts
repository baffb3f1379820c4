import fc from 'fast-check';
import { STATUSES, type SubunitEvent, type TestStatus } from '../../src/subunit/event.js';

/** Strings the encoder accepts: valid UTF-16 (no lone surrogates), no NUL. */
const text = (maxLength = 40) => fc.string({ unit: 'grapheme', maxLength }).map((s) => s.replace(/\0/g, '_'));

/** Any event the encoder can encode; nanoseconds are whole microseconds when `micros` (what python keeps). */
export function arbitraryEvent(options: { micros?: boolean } = {}): fc.Arbitrary<SubunitEvent> {
  const nanos = options.micros ? fc.integer({ min: 0, max: 999_999 }).map((u) => u * 1000) : fc.integer({ min: 0, max: 999_999_999 });
  return fc
    .record(
      {
        testId: text(),
        status: fc.constantFrom(...(STATUSES.slice(1) as TestStatus[])),
        tags: fc.array(text(12), { maxLength: 5 }),
        timestamp: fc.record({ seconds: fc.integer({ min: 0, max: 0xffffffff }), nanos }),
        routeCode: text(8),
        runnable: fc.boolean(),
        mimeType: text(30),
        file: fc.record({ fileName: text(20), fileBytes: fc.uint8Array({ maxLength: 300 }) }),
        eof: fc.constant(true as const),
      },
      { requiredKeys: [] },
    )
    .map(({ file, ...rest }) => {
      const e: SubunitEvent = { ...rest };
      if (file !== undefined) {
        e.fileName = file.fileName;
        e.fileBytes = file.fileBytes;
      }
      return e;
    });
}
