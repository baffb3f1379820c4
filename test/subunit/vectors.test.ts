import t, { type Test } from 'tap';
import { createHash } from 'node:crypto';
import { encodePacket } from '../../src/subunit/encoder.js';
import type { SubunitEvent, TestStatus } from '../../src/subunit/event.js';
import { packetToJson, parseTimestamp } from '../../src/subunit/json-form.js';
import { decodeBytes, decodeChunks, type Decoded } from '../helpers/decode-all.js';
import { loadVectors } from '../helpers/vectors.js';

// SPEC §2: golden vectors written by python-subunit (scripts/gen-vectors.py).
const vectors = loadVectors();
// Thousands of split points and real processes on a shared 2-core machine: allow more than tap's default.
t.setTimeout(300_000);

function asExpected(e: SubunitEvent): Record<string, unknown> {
  const j: Record<string, unknown> = { ...packetToJson(e) };
  if (Array.isArray(j['tags'])) j['tags'] = [...(j['tags'] as string[])].sort();
  if (e.fileBytes !== undefined && e.fileBytes.length > 4096) {
    delete j['fileBytes'];
    const { fileName, eof, ...rest } = j;
    return {
      ...rest,
      fileName,
      fileBytesSha256: createHash('sha256').update(e.fileBytes).digest('hex'),
      fileBytesLength: e.fileBytes.length,
      ...(eof === undefined ? {} : { eof }),
    };
  }
  return j;
}

function checkClean(t: Test, d: Decoded, bytes: Buffer, expected: number, label: string): void {
  t.same(d.errors, [], `${label}: no errors`);
  t.same(d.text.length, 0, `${label}: no non-subunit bytes`);
  t.equal(d.events.length, expected, `${label}: event count`);
  t.ok(Buffer.concat(d.raws).equals(bytes), `${label}: raw views cover the stream`);
}

t.ok(vectors.length >= 40, 'vectors are present');

t.test('the vectors cover every status, every flag and every width boundary', async (t) => {
  const names = new Set(vectors.map((v) => v.name));
  for (const s of ['exists', 'inprogress', 'success', 'uxsuccess', 'skip', 'fail', 'xfail']) t.ok(names.has(`status-${s}`), s);
  for (const f of ['test-id', 'route-code', 'timestamp', 'tags', 'mime-type', 'file-content', 'eof']) t.ok(names.has(`flag-${f}`), f);
  for (const n of ['length-62', 'length-63', 'length-65', 'length-16383', 'length-16385', 'length-4194303']) t.ok(names.has(n), n);
  for (const n of ['string-63', 'string-64', 'string-16383', 'string-16384', 'nanos-16000', 'nanos-17000', 'nanos-4194000', 'nanos-4195000']) t.ok(names.has(n), n);
  const sizes = vectors.filter((v) => v.name.startsWith('length-')).map((v) => v.bytes.length);
  t.same(sizes, [62, 63, 65, 16383, 16385, 4194303], 'length vectors have the sizes their names claim');
});

for (const v of vectors) {
  t.test(`vector ${v.name}`, async (t) => {
    const whole = decodeBytes(v.bytes);
    checkClean(t, whole, v.bytes, v.events.length, 'whole');
    t.same(whole.events.map(asExpected), v.events, 'events equal what python-subunit reads');

    const again = Buffer.concat(whole.events.map((e) => encodePacket(e)));
    t.ok(again.equals(v.bytes), 're-encoding the decoded events gives the identical bytes');

    if (v.bytes.length <= 20000) {
      const bytewise = decodeBytes(v.bytes, 1);
      checkClean(t, bytewise, v.bytes, v.events.length, 'one byte at a time');
      t.same(bytewise.events, whole.events);
    }
    // Every split point for small vectors; for big ones, around the header, the fields and the CRC.
    const points: number[] = [];
    const n = v.bytes.length;
    const edge = n > 100_000 ? 32 : 300;
    const every = n > 100_000 ? Math.floor(n / 48) : 1021;
    for (let k = 1; k < n; k++) if (n <= 4096 || k < edge || n - k < edge || k % every === 0) points.push(k);
    let bad = 0;
    for (const k of points) {
      const d = decodeChunks([v.bytes.subarray(0, k), v.bytes.subarray(k)]);
      if (d.errors.length || d.text.length || d.events.length !== v.events.length || !Buffer.concat(d.raws).equals(v.bytes)) bad++;
    }
    t.equal(bad, 0, `split at ${points.length} positions`);

    // Our encoder fed python-subunit's own call arguments writes python-subunit's bytes.
    const calls = v.calls.map(callToEvent);
    if (calls.every((c) => c !== undefined)) {
      t.ok(Buffer.concat(calls.map((c) => encodePacket(c!))).equals(v.bytes), 'encoding the calls gives the identical bytes');
    }
  });
}

/** python-subunit's StreamResult.status() keyword arguments as an event (undefined for digest-only content). */
function callToEvent(c: Record<string, unknown>): SubunitEvent | undefined {
  const e: SubunitEvent = {};
  if (typeof c['test_id'] === 'string') e.testId = c['test_id'];
  if (typeof c['test_status'] === 'string') e.status = c['test_status'] as TestStatus;
  // python-subunit writes no tags flag for an empty tag list (SPEC §2.6).
  if (Array.isArray(c['test_tags']) && c['test_tags'].length > 0) e.tags = c['test_tags'] as string[];
  if (typeof c['timestamp'] === 'string') e.timestamp = parseTimestamp(c['timestamp'])!;
  if (c['runnable'] === false) e.runnable = false;
  if (typeof c['mime_type'] === 'string' && c['mime_type'] !== '') e.mimeType = c['mime_type'];
  if (typeof c['file_name'] === 'string') {
    e.fileName = c['file_name'];
    const fb = c['file_bytes'] as { base64?: string };
    if (fb.base64 === undefined) return undefined;
    e.fileBytes = new Uint8Array(Buffer.from(fb.base64, 'base64'));
  }
  if (c['eof'] === true) e.eof = true;
  if (typeof c['route_code'] === 'string') e.routeCode = c['route_code'];
  return e;
}
