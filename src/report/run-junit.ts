import type { FailureDetail } from './summary.js';

const utf8 = new TextDecoder('utf-8', { fatal: false });
// Characters XML 1.0 cannot carry become visible \uXXXX escapes.
// eslint-disable-next-line no-control-regex
const NOT_XML = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

function text(s: string): string {
  return s.replace(NOT_XML, (c) => `\\u${c.charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}`).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function attr(s: string): string {
  return text(s).replace(/"/g, '&quot;').replace(/\n/g, '&#10;').replace(/\r/g, '&#13;').replace(/\t/g, '&#9;');
}

/**
 * JUnit XML for `subrun run --junit` (the dialect Jenkins and GitLab read): one
 * `<testcase>` per final result in arrival order; fail and uxsuccess are `<failure>`
 * carrying the traceback, other attachments in `<system-out>`; skip is `<skipped>`.
 */
export function junitFromResults(results: ReadonlyArray<{ id: string; status: string }>, failures: readonly FailureDetail[]): string {
  const details = new Map(failures.map((f) => [f.testId, f]));
  let failed = 0;
  let skipped = 0;
  const cases = results.map(({ id, status }) => {
    const dot = id.lastIndexOf('.', id.indexOf('(') === -1 ? undefined : id.indexOf('('));
    const classname = dot > 0 && !id.includes(' > ') ? id.slice(0, dot) : '';
    const name = classname === '' ? id : id.slice(dot + 1);
    let body = '';
    if (status === 'fail' || status === 'uxsuccess') {
      failed++;
      const f = details.get(id);
      const tb = f?.attachments.find((a) => a.name === 'traceback');
      const out = (f?.attachments ?? []).filter((a) => a !== tb).map((a) => `${a.name}:\n${utf8.decode(a.bytes)}`).join('\n');
      body = `<failure message="${attr(status === 'uxsuccess' ? 'unexpected success' : 'failed')}">${text(tb === undefined ? '' : utf8.decode(tb.bytes))}</failure>`;
      if (out !== '') body += `<system-out>${text(out)}</system-out>`;
    } else if (status === 'skip') {
      skipped++;
      body = '<skipped/>';
    }
    return `  <testcase classname="${attr(classname)}" name="${attr(name)}"${body === '' ? '/>' : `>${body}</testcase>`}`;
  });
  return `<?xml version="1.0" encoding="UTF-8"?>\n<testsuites>\n<testsuite name="subrun" tests="${results.length}" failures="${failed}" errors="0" skipped="${skipped}">\n${cases.join('\n')}\n</testsuite>\n</testsuites>\n`;
}
