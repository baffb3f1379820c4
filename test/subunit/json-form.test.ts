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
