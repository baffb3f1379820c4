/**
 * UTF-8 for the codec's string fields (SPEC §2.5): short ASCII strings (test ids,
 * tags, mime types) take a hand-written path, the rest goes through the platform's
 * TextEncoder/TextDecoder. Strings must be valid UTF-8 and contain no NUL.
 */

const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const encoder = new TextEncoder();
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Decodes `bytes[start, end)`; returns undefined when they are not valid UTF-8 or contain NUL. */
export function decodeUtf8(bytes: Uint8Array, start: number, end: number): string | undefined {
  const n = end - start;
  if (n < 48) {
    let s = '';
    let i = start;
    for (; i < end; i++) {
      const b = bytes[i]!;
      if (b >= 0x80 || b === 0) break;
      s += String.fromCharCode(b);
    }
    if (i === end) return s;
    if (bytes[i] === 0) return undefined;
  }
  const view = bytes.subarray(start, end);
  if (view.indexOf(0) !== -1) return undefined;
  try {
    return decoder.decode(view);
  } catch {
    return undefined;
  }
}

/** UTF-8 bytes of a string that is not pure ASCII; undefined when it holds a lone surrogate. */
export function encodeUtf8(s: string): Uint8Array | undefined {
  if (LONE_SURROGATE.test(s)) return undefined;
  return encoder.encode(s);
}
