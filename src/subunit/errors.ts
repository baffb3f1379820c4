import { SubrunError } from '../core/errors.js';

/**
 * Codes of the codec (SPEC §2.7). Decoder codes describe peer bytes and arrive as
 * events, never as exceptions; ERR_SUBUNIT_ENCODE is thrown to our own caller.
 */
export const SubunitErrorCode = {
  /** The stored CRC-32 does not match the packet's bytes. */
  CRC: 'ERR_SUBUNIT_CRC',
  /** The length field is a 4-byte number, shorter than the packet's own header, or above the maximum. */
  LENGTH: 'ERR_SUBUNIT_LENGTH',
  /** The flags' version nibble is not 2. */
  VERSION: 'ERR_SUBUNIT_VERSION',
  /** A field runs past the end of its packet, or bytes remain after the last field. */
  FIELD: 'ERR_SUBUNIT_FIELD',
  /** A string field is not valid UTF-8 or contains NUL. */
  UTF8: 'ERR_SUBUNIT_UTF8',
  /** The stream ended inside a packet. */
  TRUNCATED: 'ERR_SUBUNIT_TRUNCATED',
  /** A line of the JSON event form (SPEC §3) is not a valid event. */
  JSON: 'ERR_SUBUNIT_JSON',
  /** The encoder refused an event it cannot represent. */
  ENCODE: 'ERR_SUBUNIT_ENCODE',
} as const;
export type SubunitErrorCode = (typeof SubunitErrorCode)[keyof typeof SubunitErrorCode];

/** A codec error. `details.offset` is the stream byte offset of the packet it concerns, when there is one. */
export class SubunitError extends SubrunError {
  declare readonly code: SubunitErrorCode;

  constructor(code: SubunitErrorCode, message: string, details?: Record<string, unknown>) {
    super(code, message, details === undefined ? undefined : { details });
    this.name = 'SubunitError';
  }
}
