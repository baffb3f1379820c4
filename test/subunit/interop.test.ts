import t from 'tap';
import fc from 'fast-check';
import { encodePacket } from '../../src/subunit/encoder.js';
import type { SubunitEvent } from '../../src/subunit/event.js';
import { packetToJson } from '../../src/subunit/json-form.js';
import { arbitraryEvent } from '../helpers/arbitrary-event.js';
import { requirePythonSubunit, runPythonScript } from '../helpers/python.js';

// Streams our encoder writes are read by python-subunit's ByteStreamToStreamResult
// with no parser error and the same events (SPEC §2). Never skipped: a missing
// python-subunit fails here.
requirePythonSubunit();
// Real processes on a shared 2-core machine: allow more than tap's default.
t.setTimeout(300_000);

function pythonReads(events: SubunitEvent[]): Record<string, unknown>[] {
  const stream = Buffer.concat(events.map((e) => encodePacket(e)));
  return runPythonScript('subunit_json.py', stream)
    .toString('utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

function ours(e: SubunitEvent): Record<string, unknown> {
  const j: Record<string, unknown> = { ...packetToJson(e) };
  // python-subunit reads tags into a set and the script sorts them by code point (= UTF-8 byte order).
  if (Array.isArray(j['tags'])) j['tags'] = [...new Set(j['tags'] as string[])].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  return j;
}

t.test('hand-picked events, including every status and the width boundaries', async (t) => {
  const events: SubunitEvent[] = [
    {},
    { runnable: false },
    { testId: 'a', status: 'exists' },
    { testId: 'a', status: 'inprogress', timestamp: { seconds: 0, nanos: 0 } },
    { testId: 'a', status: 'success', timestamp: { seconds: 0xffffffff, nanos: 999_999_000 } },
    { testId: 'b', status: 'uxsuccess', tags: [] },
    { testId: 'b', status: 'skip', mimeType: '' },
    { testId: 'c', status: 'fail', fileName: 'tb', fileBytes: new Uint8Array(16384).fill(0xb3), eof: true },
    { testId: 'c', status: 'xfail', routeCode: '0/1', tags: ['x', 'y', 'x'] },
    { testId: 'x'.repeat(16384), fileName: '', fileBytes: new Uint8Array(0) },
    { testId: 'ünïcödé ✓ 𝄞', tags: ['тег'], routeCode: '路由' },
    { fileName: 'big', fileBytes: new Uint8Array(4194303 - 17).fill(7) },
  ];
  const got = pythonReads(events);
  t.equal(got.length, events.length, 'one python event per packet');
  t.notOk(got.some((e) => e['testId'] === 'subunit.parser'), 'no parser errors');
  t.same(got, events.map(ours));
});

t.test('arbitrary events (fast-check), one python run per batch', async (t) => {
  const batches = fc.sample(fc.array(arbitraryEvent({ micros: true }), { minLength: 1, maxLength: 60 }), { numRuns: 8, seed: 20261121 });
  for (const events of batches) {
    const got = pythonReads(events);
    t.same(got, events.map(ours), `${events.length} events`);
  }
});
