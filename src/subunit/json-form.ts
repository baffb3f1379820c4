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

/** Parses an ISO-8601 date-time with a zone; undefined when it is not one. */
export function parseTimestamp(text: string): Timestamp | undefined {
  const m = ISO.exec(text);
  if (m === null) return undefined;
  const [, y, mo, d, h, mi, s, frac = '', zone] = m as unknown as [string, string, string, string, string, string, string, string | undefined, string];
  const ms = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s));
  if (Number.isNaN(ms)) return undefined;
  let seconds = ms / 1000;
  if (zone !== 'Z') {
    const sign = zone[0] === '-' ? -1 : 1;
    seconds -= sign * (Number(zone.slice(1, 3)) * 3600 + Number(zone.slice(4, 6)) * 60);
  }
  return { seconds, nanos: Number(frac.padEnd(9, '0')) };
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

/**
 * One parsed line of the JSON form: an event to encode, raw bytes to copy
 * (non-subunit bytes, or a packet's `raw`), or nothing (an error line, which only
 * describes the bytes that follow it). Throws ERR_SUBUNIT_JSON on anything else.
 */
export type JsonLine = { kind: 'event'; event: SubunitEvent } | { kind: 'bytes'; bytes: Uint8Array } | { kind: 'skip' };

export function parseJsonLine(value: unknown): JsonLine {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) bad('each line must be a JSON object');
  const o = value as Record<string, unknown>;
  if ('error' in o) return { kind: 'skip' };
  if ('nonSubunit' in o) {
    if (o['nonSubunit'] !== true) bad('`nonSubunit` must be true');
    return { kind: 'bytes', bytes: fromBase64(o['fileBytes'], '`fileBytes`') };
  }
  for (const key of Object.keys(o)) if (!PACKET_KEYS.has(key)) bad(`unknown key \`${key}\``);
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
    const parsed = parseTimestamp(ts);
    if (parsed === undefined) bad('`timestamp` must be an ISO-8601 date-time with a zone, e.g. 2026-01-02T03:04:05.123456Z');
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
