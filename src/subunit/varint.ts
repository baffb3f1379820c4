import { MAX_NUMBER } from './constants.js';

/**
 * The 1-4 byte number encoding (SPEC §2.4): the top two bits of the first byte
 * give the width, the rest is big-endian. Writers use the narrowest width, as
 * python-subunit does.
 */

export function numberWidth(value: number): 1 | 2 | 3 | 4 {
  if (value < 0x40) return 1;
  if (value < 0x4000) return 2;
  if (value < 0x400000) return 3;
  return 4;
}

/** Writes `value` (0..MAX_NUMBER, checked by the caller) at `pos`; returns the position after it. */
export function writeNumber(buf: Uint8Array, pos: number, value: number): number {
  if (value < 0x40) {
    buf[pos] = value;
    return pos + 1;
  }
  if (value < 0x4000) {
    buf[pos] = 0x40 | (value >>> 8);
    buf[pos + 1] = value & 0xff;
    return pos + 2;
  }
  if (value < 0x400000) {
    buf[pos] = 0x80 | (value >>> 16);
    buf[pos + 1] = (value >>> 8) & 0xff;
    buf[pos + 2] = value & 0xff;
    return pos + 3;
  }
  buf[pos] = 0xc0 | (value >>> 24);
  buf[pos + 1] = (value >>> 16) & 0xff;
  buf[pos + 2] = (value >>> 8) & 0xff;
  buf[pos + 3] = value & 0xff;
  return pos + 4;
}

export function isEncodableNumber(value: number): boolean {
  return Number.isInteger(value) && value >= 0 && value <= MAX_NUMBER;
}
