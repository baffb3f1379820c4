import t from 'tap';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { encodePacket } from '../../src/subunit/encoder.js';
import { TestApiSuite } from '../../src/server/test-api/test-api-suite.js';
import { ROOT } from '../helpers/paths.js';
import { RecordingSink } from '../helpers/recording-sink.js';

// What the test-api suite emits, encoded with our codec, is a stream python-subunit
// reads with the same counts (the real subunit-stats, not a re-implementation).
const STATS = '/usr/bin/subunit-stats';

t.test('python-subunit agrees with the results of the example suite', async (t) => {
  if (!existsSync(STATS)) {
    if (process.env.CI === 'true') t.fail(`${STATS} is missing: run scripts/setup.sh`);
    else t.comment(`${STATS} is missing: run scripts/setup.sh`);
    return;
  }
  const suite = new TestApiSuite({ root: ROOT, files: ['examples/basics.test.js', 'examples/hooks.test.js', 'examples/typescript.test.ts'] });
  t.teardown(() => suite.close());
  const sink = new RecordingSink();
  await suite.run({}, sink);
  const stream = Buffer.concat(sink.events.map((e) => encodePacket(e)));
  let out: string;
  try {
    out = execFileSync(STATS, { input: stream, encoding: 'utf8' });
  } catch (error) {
    // subunit-stats exits 1 when the stream has failures; its report is still on stdout.
    out = (error as { stdout: string }).stdout;
  }
  const finals = Object.values(sink.finals);
  const count = (...statuses: string[]) => finals.filter((s) => statuses.includes(s)).length;
  t.match(out, new RegExp(`Total tests:\\s+${finals.length}\\b`));
  // subunit-stats counts xfail and uxsuccess among the passed.
  t.match(out, new RegExp(`Passed tests:\\s+${count('success', 'xfail', 'uxsuccess')}\\b`));
  t.match(out, new RegExp(`Failed tests:\\s+${count('fail')}\\b`));
  t.match(out, new RegExp(`Skipped tests:\\s+${count('skip')}\\b`));
  t.match(out, /Seen tags: .*smoke/);
});
