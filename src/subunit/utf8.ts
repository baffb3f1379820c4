/**
 * UTF-8 for the codec's string fields (SPEC §2.5): strings must be valid UTF-8
 * and contain no NUL. Decoding goes through the platform's TextDecoder, behind a
 * small cache: a stream repeats its strings (a test id in its inprogress and its
 * final packet, tags, mime types), and comparing a few bytes is cheaper than
 * decoding them again (the msgpackr key-cache technique).
 */

import { Buffer } from 'node:buffer';

const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
/**
 * Node's native latin1 slice, applied to plain Uint8Arrays too. For ASCII bytes
 * latin1 and UTF-8 agree, and for a 60-byte test id this is ~3x faster than
 * TextDecoder, whose per-call cost dominates at that size (BENCHMARKS.md "Codec").
 * Buffer.prototype.latin1Slice is not documented, so fall back when it is missing.
 */
const latin1Slice = (Buffer.prototype as unknown as { latin1Slice?: (this: Uint8Array, start: number, end: number) => string }).latin1Slice;
const encoder = new TextEncoder();
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const SLOTS = 256;
/** Longer strings are decoded every time: comparing them would cost about as much. */
const MAX_CACHED = 128;

/** Decodes `bytes[start, end)` without the cache; undefined when not valid UTF-8 or holding NUL. */
export function decodeUtf8(bytes: Uint8Array, start: number, end: number): string | undefined {
  const view = new Uint8Array(bytes.buffer, bytes.byteOffset + start, end - start);
  if (view.indexOf(0) !== -1) return undefined;
  try {
    return decoder.decode(view);
  } catch {
    return undefined;
  }
}

/**
 * A direct-mapped cache of recently decoded ASCII strings, one per decoder (no
 * shared state). An entry is checked against the bytes character by character,
 * so a hit allocates nothing.
 */
export class Utf8Cache {
  private readonly values: (string | undefined)[] = new Array<string | undefined>(SLOTS);

  decode(bytes: Uint8Array, start: number, end: number): string | undefined {
    const n = end - start;
    if (n === 0) return '';
    if (n > MAX_CACHED) return decodeUtf8(bytes, start, end);
    const slot = (n * 31 + bytes[end - 1]! * 7 + bytes[start + (n >> 1)]! * 3 + bytes[start]!) & (SLOTS - 1);
    const cached = this.values[slot];
    if (cached !== undefined && cached.length === n) {
      // From the end: test ids sharing a slot and a length mostly differ in their last characters.
      let i = n - 1;
      while (i >= 0 && cached.charCodeAt(i) === bytes[start + i]) i--;
      if (i < 0) return cached;
    }
    let i = start;
    for (; i < end; i++) {
      const b = bytes[i]!;
      if (b >= 0x80 || b === 0) break;
    }
    if (i < end) return decodeUtf8(bytes, start, end);
    // Only ASCII strings are cached: for them, characters and bytes correspond one to one.
    const s = latin1Slice !== undefined ? latin1Slice.call(bytes, start, end) : decodeUtf8(bytes, start, end)!;
    this.values[slot] = s;
    return s;
  }
}

/** UTF-8 bytes of a string that is not pure ASCII; undefined when it holds a lone surrogate. */
export function encodeUtf8(s: string): Uint8Array | undefined {
  if (LONE_SURROGATE.test(s)) return undefined;
  return encoder.encode(s);
}
