import { isDeepStrictEqual } from 'node:util';
import { StreamDecoder, type StreamDecoderOptions } from '../../src/subunit/decoder.js';
import { STATUSES, type SubunitEvent } from '../../src/subunit/event.js';
import type { PacketView } from '../../src/subunit/packet-view.js';
import { PacketViewDecoder } from '../../src/subunit/view-decoder.js';

/** Everything a decoder reports for `bytes` fed in the given chunks, in order. */
export interface Decoded {
  events: SubunitEvent[];
  raws: Buffer[];
  text: Buffer[];
  errors: { code: string; offset: number }[];
  /** Every report in stream order: the bytes each packet or text run covered (errors cover none). */
  order: { kind: 'packet' | 'text' | 'error'; offset: number; bytes: Buffer }[];
}

function recorder(): { out: Decoded; packet(event: SubunitEvent, raw: Uint8Array, offset: number): void; nonSubunit(bytes: Uint8Array, offset: number): void; error(error: { code: string }, offset: number): void } {
  const out: Decoded = { events: [], raws: [], text: [], errors: [], order: [] };
  return {
    out,
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
  };
}

/**
 * The event a PacketView describes, read field by field through its getters
 * (not toEvent), checked against toEvent and against its own redundant fields.
 */
export function eventFromView(v: PacketView): SubunitEvent {
  const e: SubunitEvent = {};
  if (v.hasTimestamp) e.timestamp = { seconds: v.seconds, nanos: v.nanos };
  else if (v.seconds !== 0 || v.nanos !== 0 || v.timestamp !== undefined) throw new Error('a view without a timestamp reports one');
  if (v.testId !== undefined) e.testId = v.testId;
  const tags = v.tags;
  if (tags !== undefined) e.tags = tags;
  if (v.mimeType !== undefined) e.mimeType = v.mimeType;
  if (v.hasFile) {
    e.fileName = v.fileName!;
    e.fileBytes = v.fileBytes()!;
    if (!Buffer.from(v.fileView()!).equals(Buffer.from(e.fileBytes))) throw new Error('fileView differs from fileBytes');
  } else if (v.fileName !== undefined || v.fileBytes() !== undefined || v.fileView() !== undefined) {
    throw new Error('a view without file content reports some');
  }
  if (v.routeCode !== undefined) e.routeCode = v.routeCode;
  if (v.status !== undefined) e.status = v.status;
  if (STATUSES[v.statusCode] !== (v.status ?? 'undefined')) throw new Error('statusCode and status disagree');
  e.runnable = v.runnable;
  if (v.eof) e.eof = true;
  if (!isDeepStrictEqual(e, v.toEvent())) throw new Error(`view getters and toEvent() disagree: ${JSON.stringify(e)} vs ${JSON.stringify(v.toEvent())}`);
  if (v.raw().length !== v.length) throw new Error('raw() and length disagree');
  return e;
}

/**
 * Decodes with StreamDecoder and, over the same chunks, with PacketViewDecoder
 * (its packets read through the view's getters), and throws unless both report
 * exactly the same: so every test that decodes through this helper holds for
 * both decoders.
 */
export function decodeChunks(chunks: Iterable<Uint8Array>, options?: StreamDecoderOptions): Decoded {
  const list = [...chunks];
  const a = recorder();
  const d = new StreamDecoder(a, options);
  for (const c of list) d.push(c);
  d.end();
  const b = recorder();
  const v = new PacketViewDecoder({ packet: (view) => b.packet(eventFromView(view), view.raw(), view.offset), nonSubunit: b.nonSubunit, error: b.error }, options);
  for (const c of list) v.push(c);
  v.end();
  if (!isDeepStrictEqual(a.out, b.out)) throw new Error('StreamDecoder and PacketViewDecoder disagree');
  return a.out;
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
