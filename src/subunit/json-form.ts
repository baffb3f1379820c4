import { Buffer } from 'node:buffer';
import { SubunitError, SubunitErrorCode } from './errors.js';
import { STATUSES, type SubunitEvent, type TestStatus, type Timestamp } from './event.js';

/**
 * The JSON event form (SPEC §3): one object per event, keys in a fixed order, as
 * printed by `subrun stream decode` and read by `subrun stream encode`.
 */
export interface JsonPacket {
  testId?: string;
  status?: TestStatus;
  tags?: string[];
  /** ISO-8601 UTC with 6 fractional digits, or 9 when the nanoseconds are not whole microseconds. */
  timestamp?: string;
  routeCode?: string;
  runnable: boolean;
  mimeType?: string;
  fileName?: string;
  /** Base64. */
  fileBytes?: string;
  eof?: true;
  /** Base64 of the packet's bytes, present only when re-encoding the fields would not reproduce them (SPEC §3.3). */
  raw?: string;
}

export interface JsonNonSubunit {
  nonSubunit: true;
  fileBytes: string;
}

export interface JsonError {
  error: { code: string; message: string; offset: number };
}

export type JsonEvent = JsonPacket | JsonNonSubunit | JsonError;

const STATUS_SET: ReadonlySet<string> = new Set(STATUSES);
const ISO = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/;

/**
 * SPEC §3.2. A reader keeps nanoseconds of 10^9 and more (any 30-bit value is on
 * the wire, SPEC §2.5); they carry into the seconds, as python-subunit reads
 * them, so the text is always a valid date-time (the packet's own bytes are kept
 * by `raw`, SPEC §3.3).
 */
export function formatTimestamp(ts: Timestamp): string {
  const seconds = ts.seconds + Math.floor(ts.nanos / 1e9);
  const nanos = ts.nanos % 1e9;
  const base = new Date(seconds * 1000).toISOString().slice(0, 19);
  const frac = nanos % 1000 === 0 ? String(nanos / 1000).padStart(6, '0') : String(nanos).padStart(9, '0');
  return `${base}.${frac}Z`;
}

/** Parses an ISO-8601 date-time with a zone (SPEC §3.2); undefined when it is not a valid one. */
export function parseTimestamp(text: string): Timestamp | undefined {
  const r = readTimestamp(text);
  return typeof r === 'string' ? undefined : r;
}

const MAX_SECONDS = 0xffff_ffff;
const MONTH_DAYS = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/**
 * SPEC §3.2: the timestamp, or what is wrong with it. Every field is checked
 * against the calendar (Date.UTC would roll 2026-13-45 forward into 2027, and
 * read years 0-99 as 1900-1999), so a date-time that does not exist is refused.
 */
function readTimestamp(text: string): Timestamp | string {
  const m = ISO.exec(text);
  if (m === null) return 'is not an ISO-8601 date-time with a zone';
  const [, y, mo, d, h, mi, s, frac = '', zone] = m as unknown as [string, string, string, string, string, string, string, string | undefined, string];
  const year = Number(y);
  const month = Number(mo);
  const day = Number(d);
  const hour = Number(h);
  const minute = Number(mi);
  const second = Number(s);
  if (month < 1 || month > 12) return `has month ${mo} (01-12)`;
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  const days = month === 2 && leap ? 29 : MONTH_DAYS[month - 1]!;
  if (day < 1 || day > days) return `has day ${d} (${y}-${mo} has 01-${days})`;
  if (hour > 23) return `has hour ${h} (00-23)`;
  if (minute > 59) return `has minute ${mi} (00-59)`;
  if (second > 59) return `has second ${s} (00-59)`;
  let offset = 0;
  if (zone !== 'Z') {
    const zh = Number(zone.slice(1, 3));
    const zm = Number(zone.slice(4, 6));
    if (zh > 23 || zm > 59) return `has zone offset ${zone} (-23:59 to +23:59)`;
    offset = (zone[0] === '-' ? -1 : 1) * (zh * 3600 + zm * 60);
  }
  const seconds = daysFromCivil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second - offset;
  return { seconds, nanos: Number(frac.padEnd(9, '0')) };
}

/** Days from 1970-01-01 to a proleptic Gregorian date (H. Hinnant's days_from_civil). */
function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (month + (month > 2 ? -3 : 9)) + 2) / 5) + day - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

export function packetToJson(event: SubunitEvent): JsonPacket {
  const j: Partial<JsonPacket> = {};
  if (event.testId !== undefined) j.testId = event.testId;
  if (event.status !== undefined && event.status !== 'undefined') j.status = event.status;
  if (event.tags !== undefined) j.tags = event.tags;
  if (event.timestamp !== undefined) j.timestamp = formatTimestamp(event.timestamp);
  if (event.routeCode !== undefined) j.routeCode = event.routeCode;
  j.runnable = event.runnable !== false;
  if (event.mimeType !== undefined) j.mimeType = event.mimeType;
  if (event.fileName !== undefined) {
    j.fileName = event.fileName;
    j.fileBytes = toBase64(event.fileBytes ?? new Uint8Array(0));
  }
  if (event.eof === true) j.eof = true;
  return j as JsonPacket;
}

export function toBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

function fromBase64(text: unknown, where: string): Uint8Array {
  if (typeof text !== 'string' || text.length % 4 !== 0 || !BASE64.test(text)) bad(`${where} must be a base64 string`);
  return new Uint8Array(Buffer.from(text, 'base64'));
}

function bad(message: string): never {
  throw new SubunitError(SubunitErrorCode.JSON, message);
}

function str(o: Record<string, unknown>, key: string): string | undefined {
  const v = o[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'string') bad(`\`${key}\` must be a string`);
  return v;
}

const PACKET_KEYS: ReadonlySet<string> = new Set([
  'testId', 'status', 'tags', 'timestamp', 'routeCode', 'runnable', 'mimeType', 'fileName', 'fileBytes', 'eof', 'raw',
]);

const NON_SUBUNIT_KEYS: ReadonlySet<string> = new Set(['nonSubunit', 'fileBytes']);
const ERROR_LINE_KEYS: ReadonlySet<string> = new Set(['error']);
const ERROR_KEYS: ReadonlySet<string> = new Set(['code', 'message', 'offset']);

/** SPEC §3.4: every line kind refuses keys it does not have, so a typo is not silently lost. */
function onlyKeys(o: Record<string, unknown>, keys: ReadonlySet<string>, kind: string): void {
  for (const key of Object.keys(o)) if (!keys.has(key)) bad(`unknown key \`${key}\` on ${kind}`);
}

/** An error line is skipped, but it must still be the shape `decode` prints (SPEC §3.1). */
function checkErrorValue(value: unknown): void {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) bad('`error` must be an object {"code", "message", "offset"}');
  const e = value as Record<string, unknown>;
  for (const key of Object.keys(e)) if (!ERROR_KEYS.has(key)) bad(`unknown key \`error.${key}\``);
  if (typeof e['code'] !== 'string') bad('`error.code` must be a string');
  if (typeof e['message'] !== 'string') bad('`error.message` must be a string');
  const offset = e['offset'];
  if (typeof offset !== 'number' || !Number.isSafeInteger(offset) || offset < 0) bad('`error.offset` must be a non-negative integer');
}

/**
 * One parsed line of the JSON form: an event to encode, raw bytes to copy
 * (non-subunit bytes, or a packet's `raw`), or nothing (an error line, which only
 * describes the bytes that follow it). Throws ERR_SUBUNIT_JSON on anything else.
 */
export type JsonLine = { kind: 'event'; event: SubunitEvent } | { kind: 'bytes'; bytes: Uint8Array } | { kind: 'skip' };

export function parseJsonLine(value: unknown): JsonLine {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) bad('each line must be a JSON object');
  const o = value as Record<string, unknown>;
  if ('error' in o) {
    onlyKeys(o, ERROR_LINE_KEYS, 'an error line');
    checkErrorValue(o['error']);
    return { kind: 'skip' };
  }
  if ('nonSubunit' in o) {
    onlyKeys(o, NON_SUBUNIT_KEYS, 'a nonSubunit line');
    if (o['nonSubunit'] !== true) bad('`nonSubunit` must be true');
    return { kind: 'bytes', bytes: fromBase64(o['fileBytes'], '`fileBytes`') };
  }
  onlyKeys(o, PACKET_KEYS, 'a packet line');
  if (o['raw'] !== undefined) return { kind: 'bytes', bytes: fromBase64(o['raw'], '`raw`') };
  const event: SubunitEvent = {};
  const testId = str(o, 'testId');
  if (testId !== undefined) event.testId = testId;
  const status = o['status'];
  if (status !== undefined) {
    if (typeof status !== 'string' || !STATUS_SET.has(status)) bad(`\`status\` must be one of ${STATUSES.join(', ')}`);
    event.status = status as TestStatus;
  }
  const tags = o['tags'];
  if (tags !== undefined) {
    if (!Array.isArray(tags) || !tags.every((t) => typeof t === 'string')) bad('`tags` must be an array of strings');
    event.tags = tags as string[];
  }
  const ts = str(o, 'timestamp');
  if (ts !== undefined) {
    const parsed = readTimestamp(ts);
    if (typeof parsed === 'string') {
      bad(`\`timestamp\` ${JSON.stringify(ts)} ${parsed}: it must be a valid ISO-8601 date-time with a zone, e.g. 2026-01-02T03:04:05.123456Z`);
    }
    // SPEC §2.5: what 32-bit seconds since the epoch can hold.
    if (parsed.seconds < 0 || parsed.seconds > MAX_SECONDS) bad(`\`timestamp\` ${JSON.stringify(ts)} is outside ${formatTimestamp({ seconds: 0, nanos: 0 })}..${formatTimestamp({ seconds: MAX_SECONDS, nanos: 999_999_999 })}`);
    event.timestamp = parsed;
  }
  const routeCode = str(o, 'routeCode');
  if (routeCode !== undefined) event.routeCode = routeCode;
  const runnable = o['runnable'];
  if (runnable !== undefined && typeof runnable !== 'boolean') bad('`runnable` must be a boolean');
  event.runnable = runnable !== false;
  const mimeType = str(o, 'mimeType');
  if (mimeType !== undefined) event.mimeType = mimeType;
  const fileName = str(o, 'fileName');
  if (fileName !== undefined) {
    event.fileName = fileName;
    event.fileBytes = o['fileBytes'] === undefined ? new Uint8Array(0) : fromBase64(o['fileBytes'], '`fileBytes`');
  } else if (o['fileBytes'] !== undefined) {
    bad('`fileBytes` given without `fileName`');
  }
  const eof = o['eof'];
  if (eof !== undefined && typeof eof !== 'boolean') bad('`eof` must be a boolean');
  if (eof === true) event.eof = true;
  return { kind: 'event', event };
}
