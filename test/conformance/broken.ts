import path from 'node:path';
import type { Test } from 'tap';
import { runSubrun } from '../helpers/cli.js';
import { ROOT } from '../helpers/paths.js';
import { clauseIds } from './scenarios.js';

const BROKEN = path.join(ROOT, 'dist', 'test', 'fixtures', 'broken-server.js');
const ALL = ['before-hello', 'concurrent', 'eof', 'garbage', 'goodbye', 'handshake', 'heartbeat', 'list', 'no-common-version', 'run', 'split-message', 'unknown-message', 'unknown-test', 'version-v1-only', 'version-wide'];

/**
 * Each --break kind of test/fixtures/broken-server.ts, and exactly the clauses it must fail:
 * the rule it breaks, and nothing else (every other clause passes or is skipped after the failure).
 */
export const EXPECTED_FAILURES: Record<string, string[]> = {
  'no-hello': ALL.map((s) => `${s}/hello-answered`),
  'bad-range': ALL.map((s) => `${s}/hello-range`),
  'wrong-nonce': [
    'before-hello/works-after-hello',
    'concurrent/list-answered',
    'garbage/keeps-working',
    'list/list-done',
    'run/list-answered',
    'split-message/split-list-answered',
    'unknown-message/keeps-working',
    'version-v1-only/v1-list-answered',
    'version-wide/list-answered',
  ],
  'done-first': ['list/exists-before-done', 'list/nothing-after-done', 'run/final-status-before-done', 'run/inprogress-before-done', 'run/nothing-after-done'],
  'two-dones': ['concurrent/first-once', 'concurrent/second-once', 'list/done-once', 'run/done-once'],
  'crash-on-garbage': ['garbage/keeps-working'],
  'ignore-goodbye': ['goodbye/exits'],
  'answer-pre-hello': ['before-hello/early-not-answered', 'before-hello/no-early-results'],
};

export async function checkBroken(t: Test, kind: string): Promise<void> {
  // --time-scale 3: the machine is shared and loaded; a slow start must not pass for a broken rule.
  // A server that never says Hello makes every scenario wait its full deadline, so all run at once.
  const jobs = kind === 'no-hello' ? '14' : '7';
  const r = await runSubrun(['check', '--json', '--jobs', jobs, '--time-scale', '3', '--', process.execPath, BROKEN, `--break=${kind}`]);
  t.equal(r.code, 1, `${kind}: exit 1 (a clause failed)`);
  const report = JSON.parse(r.stdout) as Parameters<typeof clauseIds>[0] & { passed: boolean };
  t.equal(report.passed, false);
  t.same(clauseIds(report, 'fail'), [...EXPECTED_FAILURES[kind]!].sort(), `${kind}: exactly the clauses about the broken rule fail`);
}
