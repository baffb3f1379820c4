import { formatTimestamp } from '../subunit/json-form.js';
import { durationSeconds, type TestRecord } from './test-records.js';

/**
 * JUnit XML of test records (SPEC §3.6), in the dialect Jenkins and GitLab read:
 * `<testsuites>` / `<testsuite>` / `<testcase classname name time>` with
 * `<failure>`, `<error>` or `<skipped>`, attachments in `<system-out>`.
 * fail and uxsuccess are failures; a test the stream never finished is an error;
 * xfail passes. Characters XML 1.0 cannot carry (control characters, lone
 * surrogates, U+FFFE/U+FFFF) are written as visible `\uXXXX` escapes.
 */
export interface JunitOptions {
  /** @default 'subrun' */
  suiteName?: string;
}

const TRACEBACK_NAMES = new Set(['traceback', 'Traceback', 'reason']);
const utf8 = new TextDecoder('utf-8', { fatal: false });
// eslint-disable-next-line no-control-regex
const NOT_XML = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

export function xmlText(s: string): string {
  return s
    .replace(NOT_XML, (c) => `\\u${c.charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}`)
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;');
}

export function xmlAttr(s: string): string {
  return xmlText(s).replace(/"/g, '&quot;').replace(/\n/g, '&#10;').replace(/\r/g, '&#13;').replace(/\t/g, '&#9;');
}

/** Splits a test id into JUnit's classname and name at the last dot before any parameters. */
export function splitTestId(id: string): { classname: string; name: string } {
  const paren = id.indexOf('(');
  const head = paren === -1 ? id : id.slice(0, paren);
  const dot = head.lastIndexOf('.');
  if (dot <= 0) return { classname: '', name: id };
  return { classname: id.slice(0, dot), name: id.slice(dot + 1) };
}

function attachmentText(chunks: Uint8Array[]): string {
  let total = 0;
  for (const c of chunks) total += c.length;
  const all = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    all.set(c, at);
    at += c.length;
  }
  return utf8.decode(all);
}

function seconds(value: number | undefined): string {
  return (value === undefined || value < 0 ? 0 : value).toFixed(3);
}

export function junitXml(records: readonly TestRecord[], options: JunitOptions = {}): string {
  const suite = options.suiteName ?? 'subrun';
  let failures = 0;
  let errors = 0;
  let skipped = 0;
  let time = 0;
  let first: TestRecord['start'];
  const cases: string[] = [];
  for (const r of records) {
    const d = durationSeconds(r);
    if (d !== undefined && d > 0) time += d;
    if (r.start !== undefined && (first === undefined || r.start.seconds < first.seconds)) first = r.start;
    const { classname, name } = splitTestId(r.id);
    let body = '';
    let detail = '';
    let out = '';
    for (const [fileName, a] of r.attachments) {
      const text = attachmentText(a.chunks);
      if (TRACEBACK_NAMES.has(fileName) && detail === '') detail = text;
      else out += `${fileName}:\n${text}${text.endsWith('\n') ? '' : '\n'}`;
    }
    switch (r.status) {
      case 'fail':
        failures++;
        body = `<failure type="fail" message="${xmlAttr(summaryLine(detail) || 'test failed')}">${xmlText(detail)}</failure>`;
        break;
      case 'uxsuccess':
        failures++;
        body = `<failure type="uxsuccess" message="unexpected success">${xmlText(detail)}</failure>`;
        break;
      case 'skip':
        skipped++;
        body = `<skipped message="${xmlAttr(summaryLine(detail) || 'skipped')}"/>`;
        break;
      case 'inprogress':
      case 'unknown':
        errors++;
        body = `<error type="incomplete" message="the stream ended before the test finished (${r.status})">${xmlText(detail)}</error>`;
        break;
      default:
        if (detail !== '') out = `${detail}\n${out}`;
    }
    if (out !== '') body += `<system-out>${xmlText(out)}</system-out>`;
    const attrs = `classname="${xmlAttr(classname)}" name="${xmlAttr(name)}" time="${seconds(d)}"`;
    cases.push(body === '' ? `    <testcase ${attrs}/>` : `    <testcase ${attrs}>${body}</testcase>`);
  }
  const counts = `tests="${records.length}" failures="${failures}" errors="${errors}" skipped="${skipped}" time="${seconds(time)}"`;
  const stamp = first === undefined ? '' : ` timestamp="${formatTimestamp(first).slice(0, 19)}"`;
  return (
    '<?xml version="1.0" encoding="UTF-8"?>\n' +
    `<testsuites name="${xmlAttr(suite)}" ${counts}>\n` +
    `  <testsuite name="${xmlAttr(suite)}" ${counts}${stamp}>\n` +
    cases.map((c) => c + '\n').join('') +
    '  </testsuite>\n</testsuites>\n'
  );
}

/** The last non-empty line: for a traceback, the exception itself. */
function summaryLine(s: string): string {
  const lines = s.split('\n').filter((l) => l.trim() !== '');
  return (lines[lines.length - 1] ?? '').slice(0, 500);
}
