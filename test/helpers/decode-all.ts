import { StreamDecoder } from '../../src/subunit/decoder.js';
import type { SubunitEvent } from '../../src/subunit/event.js';

/** Everything a StreamDecoder reports for `bytes` fed in the given chunks, in order. */
export interface Decoded {
  events: SubunitEvent[];
  raws: Buffer[];
  text: Buffer[];
  errors: { code: string; offset: number }[];
  /** Every report in stream order: the bytes each packet or text run covered (errors cover none). */
  order: { kind: 'packet' | 'text' | 'error'; offset: number; bytes: Buffer }[];
}

export function decodeChunks(chunks: Iterable<Uint8Array>, options?: { maxPacketBytes?: number }): Decoded {
  const out: Decoded = { events: [], raws: [], text: [], errors: [], order: [] };
  const d = new StreamDecoder(
    {
      packet(event, raw, offset) {
        out.events.push(event);
        const copy = Buffer.from(raw);
        out.raws.push(copy);
        out.order.push({ kind: 'packet', offset, bytes: copy });
      },
      nonSubunit(bytes, offset) {
        const copy = Buffer.from(bytes);
        out.text.push(copy);
        out.order.push({ kind: 'text', offset, bytes: copy });
      },
      error(error, offset) {
        out.errors.push({ code: error.code, offset });
        out.order.push({ kind: 'error', offset, bytes: Buffer.alloc(0) });
      },
    },
    options,
  );
  for (const c of chunks) d.push(c);
  d.end();
  return out;
}

export function decodeBytes(bytes: Uint8Array, step = Math.max(1, bytes.length)): Decoded {
  const chunks: Uint8Array[] = [];
  for (let i = 0; i < bytes.length; i += step) chunks.push(bytes.subarray(i, i + step));
  return decodeChunks(chunks);
}

/** The stream rebuilt from what the decoder reported: equal to the input when nothing was lost. */
export function reassemble(d: Decoded): Buffer {
  return Buffer.concat(d.order.map((o) => o.bytes));
}
