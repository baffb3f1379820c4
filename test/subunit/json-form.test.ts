import t from 'tap';
import { formatTimestamp, parseTimestamp } from '../../src/subunit/json-form.js';

// SPEC §3.2: the JSON form's timestamp text.
t.test('formatTimestamp carries nanoseconds of 10^9 and more into the seconds', async (t) => {
  const iso = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.(\d{6}|\d{9})Z$/;
  const cases: [number, number, string][] = [
    [1, 5, '1970-01-01T00:00:01.000000005Z'],
    [1, 1_000_000_005, '1970-01-01T00:00:02.000000005Z'],
    [1, 1_000_000_000, '1970-01-01T00:00:02.000000Z'],
    [0, 1_073_741_823, '1970-01-01T00:00:01.073741823Z'],
    // The largest wire value: 2^32 - 1 seconds and a 30-bit nanosecond count.
    [4_294_967_295, 1_073_741_823, '2106-02-07T06:28:16.073741823Z'],
  ];
  for (const [seconds, nanos, text] of cases) {
    const out = formatTimestamp({ seconds, nanos });
    t.equal(out, text, `${seconds}s ${nanos}ns`);
    t.match(out, iso, 'six or nine fractional digits');
    const back = parseTimestamp(out);
    t.same(back, { seconds: seconds + Math.floor(nanos / 1e9), nanos: nanos % 1e9 }, 'reads back as the carried value');
  }
});

t.test('parseTimestamp refuses date-times that do not exist and zones beyond ±23:59', async (t) => {
  const valid: [string, number][] = [
    ['1970-01-01T00:00:00Z', 0],
    ['2024-02-29T12:00:00Z', 1_709_208_000],
    ['2000-02-29T00:00:00Z', 951_782_400],
    ['2026-12-31T23:59:59Z', 1_798_761_599],
    ['1970-01-02T00:00:00+23:59', 86_400 - 86_340],
    ['1970-01-01T00:00:00-23:59', 86_340],
    ['1970-01-01T00:00:00-00:00', 0],
  ];
  for (const [text, seconds] of valid) t.same(parseTimestamp(text), { seconds, nanos: 0 }, text);
  t.same(parseTimestamp('0070-01-01T00:00:00Z')?.seconds, -59_958_144_000, 'years below 100 are not read as 19xx');
  for (const text of [
    '2026-13-45T00:00:00Z',
    '2026-00-01T00:00:00Z',
    '2026-01-00T00:00:00Z',
    '2026-04-31T00:00:00Z',
    '2026-02-29T00:00:00Z',
    '1900-02-29T00:00:00Z',
    '2026-01-01T24:00:00Z',
    '2026-01-01T00:60:00Z',
    '2026-01-01T00:00:60Z',
    '2026-01-01T00:00:00+25:00',
    '2026-01-01T00:00:00+24:00',
    '2026-01-01T00:00:00-23:60',
    '2026-01-01T00:00:00.1234567890Z',
    '2026-01-01T00:00:00',
  ]) {
    t.equal(parseTimestamp(text), undefined, text);
  }
});
