import { Packr, Unpackr } from 'msgpackr';
import { SubrunError } from '../core/errors.js';

/** How an RPC message's bytes are encoded (SPEC §4.2, §7.2). */
export type Encoding = 'json' | 'msgpack';

export const MIME_JSON = 'application/json';
export const MIME_MSGPACK = 'application/msgpack';

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder('utf-8', { fatal: true });
// Plain maps, no records or structure sharing: the peer may be in another language.
const packr = new Packr({ useRecords: false, mapsAsObjects: true, variableMapSize: true });
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true });

export function mimeTypeOf(encoding: Encoding): string {
  return encoding === 'json' ? MIME_JSON : MIME_MSGPACK;
}

/** The encoding a MIME type names, or undefined if we do not speak it (SPEC §4.2). */
export function encodingOf(mimeType: string | undefined): Encoding | undefined {
  if (mimeType === undefined || mimeType === '') return 'json';
  const base = mimeType.split(';', 1)[0]!.trim().toLowerCase();
  if (base === MIME_JSON) return 'json';
  if (base === MIME_MSGPACK || base === 'application/x-msgpack') return 'msgpack';
  return undefined;
}

export function encodeMessage(message: object, encoding: Encoding): Uint8Array {
  return encoding === 'json' ? textEncoder.encode(JSON.stringify(message)) : packr.pack(message);
}

/** Decode message bytes; a malformed body is a coded error, never a crash (SPEC §8.6). */
export function decodeMessage(bytes: Uint8Array, encoding: Encoding): unknown {
  try {
    return encoding === 'json' ? JSON.parse(textDecoder.decode(bytes)) : unpackr.unpack(bytes);
  } catch (error) {
    throw new SubrunError('ERR_BAD_MESSAGE', `undecodable ${encoding} message: ${(error as Error).message}`, { cause: error });
  }
}

/** Whether `bytes` already hold one complete JSON object (SPEC §4.3, senders that omit EOF). */
export function isCompleteJsonObject(bytes: Uint8Array): boolean {
  let end = bytes.length - 1;
  while (end >= 0 && (bytes[end] === 0x20 || bytes[end] === 0x0a || bytes[end] === 0x0d || bytes[end] === 0x09)) end--;
  if (end < 1 || bytes[end] !== 0x7d /* } */) return false;
  try {
    const v: unknown = JSON.parse(textDecoder.decode(bytes));
    return v !== null && typeof v === 'object';
  } catch {
    return false;
  }
}
