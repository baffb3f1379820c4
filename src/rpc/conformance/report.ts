import type { KitReport } from './kit.js';

/** The human-readable report of a kit run (SPEC §11.6): one line per clause, details under failures. */
export function formatReport(report: KitReport, options: { verbose?: boolean } = {}): string {
  const out: string[] = [];
  for (const s of report.scenarios) {
    const version = s.version === undefined ? 'no version' : `version ${s.version}`;
    out.push(`${s.passed ? 'PASS' : 'FAIL'} ${s.name} (${version}, ${s.durationMs} ms): ${s.title} [${s.spec}]`);
    for (const c of s.clauses) {
      if (c.status === 'skip' && options.verbose !== true) continue;
      const mark = c.status === 'pass' ? 'ok  ' : c.status === 'fail' ? 'FAIL' : 'skip';
      out.push(`  ${mark} ${c.spec} ${s.name}/${c.clause}: ${c.title}${c.status === 'skip' ? ` (${c.reason})` : ''}`);
      if (c.status !== 'fail') continue;
      out.push(`       ${c.reason}`);
      if (c.seen !== undefined && c.seen.length > 0) {
        out.push('       seen:');
        for (const line of c.seen) out.push(`         ${line}`);
      }
      if (c.lastBytesHex !== undefined && c.lastBytesHex !== '') {
        out.push('       last bytes received:');
        for (const line of c.lastBytesHex.split('\n')) out.push(`         ${line}`);
      }
    }
    if (!s.passed && s.stderrTail !== undefined) {
      out.push('  server stderr (tail):');
      for (const line of s.stderrTail.trimEnd().split('\n')) out.push(`    ${line}`);
    }
  }
  const { pass, fail, skip } = report.counts;
  out.push(`${report.passed ? 'conformance: PASS' : 'conformance: FAIL'}: ${pass} clauses passed, ${fail} failed, ${skip} not applicable or skipped`);
  return out.join('\n') + '\n';
}
