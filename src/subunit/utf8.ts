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
const SLOT_BITS = 8;
const SLOTS = 1 << SLOT_BITS;
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
 * Whether `bytes[start, end)` is ASCII without NUL, read four bytes at a time
 * through `view` (a DataView over the same bytes): a word with a byte >= 0x80
 * sets its top bit, and `(w - 0x01010101) & ~w` sets the top bit of a zero byte
 * in a word without any.
 */
export function isAsciiNoNul(view: DataView, bytes: Uint8Array, start: number, end: number): boolean {
  let acc = 0;
  let i = start;
  for (const end4 = end - 3; i < end4; i += 4) {
    const w = view.getInt32(i, true);
    acc |= w | ((w - 0x01010101) & ~w);
  }
  for (; i < end; i++) {
    const b = bytes[i]!;
    acc |= b | (b - 1);
  }
  return (acc & 0x80808080) === 0;
}

/**
 * A direct-mapped cache of recently decoded ASCII strings, one per decoder (no
 * shared state). Each slot keeps its string's bytes, compared four at a time, so
 * a hit allocates nothing and costs a few word compares.
 */
export class Utf8Cache {
  private readonly values: (string | undefined)[] = new Array<string | undefined>(SLOTS).fill(undefined);
  private readonly keys = new Uint8Array(SLOTS * MAX_CACHED);
  private readonly keyView = new DataView(this.keys.buffer);

  /**
   * Decodes `bytes[start, end)`, which the caller has checked is UTF-8 without
   * NUL. `view` is a DataView over the same bytes.
   */
  decodeValid(view: DataView, bytes: Uint8Array, start: number, end: number): string {
    const n = end - start;
    if (n > MAX_CACHED) return decodeUtf8(bytes, start, end)!;
    const hit = this.find(view, bytes, start, end);
    if (hit !== undefined) return hit;
    if (!isAsciiNoNul(view, bytes, start, end)) return decodeUtf8(bytes, start, end)!;
    return this.ascii(view, bytes, start, end);
  }

  /** The cached string whose bytes are `bytes[start, end)` (so they are ASCII without NUL), if any. */
  find(view: DataView, bytes: Uint8Array, start: number, end: number): string | undefined {
    const n = end - start;
    if (n === 0) return '';
    if (n > MAX_CACHED) return undefined;
    const slot = slotOf(view, bytes, start, end);
    const cached = this.values[slot];
    return cached !== undefined && cached.length === n && this.sameBytes(view, bytes, start, n, slot * MAX_CACHED) ? cached : undefined;
  }

  /** Decodes `bytes[start, end)`, known to be ASCII without NUL, and caches it. */
  ascii(view: DataView, bytes: Uint8Array, start: number, end: number): string {
    const n = end - start;
    if (n > MAX_CACHED || latin1Slice === undefined) return decodeUtf8(bytes, start, end)!;
    // For ASCII, characters and bytes correspond one to one: the bytes are the key.
    const s = latin1Slice.call(bytes, start, end);
    const slot = slotOf(view, bytes, start, end);
    this.values[slot] = s;
    const keyView = this.keyView;
    const k = slot * MAX_CACHED;
    let i = 0;
    for (const n4 = n - 3; i < n4; i += 4) keyView.setInt32(k + i, view.getInt32(start + i, true), true);
    for (; i < n; i++) keyView.setUint8(k + i, bytes[start + i]!);
    return s;
  }

  /** Compares from the end: strings sharing a slot and a length mostly differ in their last bytes (test_a, test_b). */
  private sameBytes(view: DataView, bytes: Uint8Array, start: number, n: number, k: number): boolean {
    const keyView = this.keyView;
    let i = n - 4;
    for (; i >= 0; i -= 4) if (view.getInt32(start + i, true) !== keyView.getInt32(k + i, true)) return false;
    const keys = this.keys;
    for (i += 3; i >= 0; i--) if (bytes[start + i] !== keys[k + i]) return false;
    return true;
  }
}

/** The cache slot of a string: from its length and last bytes, where strings of one stream differ most (test_a, test_b). */
function slotOf(view: DataView, bytes: Uint8Array, start: number, end: number): number {
  const n = end - start;
  const w = n >= 4 ? view.getInt32(end - 4, true) : bytes[start]! | (bytes[end - 1]! << 8);
  return Math.imul(w ^ (n << 24), 0x9e3779b1) >>> (32 - SLOT_BITS);
}

/** UTF-8 bytes of a string that is not pure ASCII; undefined when it holds a lone surrogate. */
export function encodeUtf8(s: string): Uint8Array | undefined {
  if (LONE_SURROGATE.test(s)) return undefined;
  return encoder.encode(s);
}
