import { InvalidArgumentError, SubrunError } from '../core/errors.js';
import { MAX_PACKET_BYTES, SIGNATURE } from './constants.js';
import { crc32View, crc32Word, zlibCrc32 } from './crc32.js';
import { crc32Shift } from './crc32-combine.js';
import { SubunitError, SubunitErrorCode } from './errors.js';
import { FIELD_TRAILING, FIELD_UTF8, PacketParser } from './packet-parser.js';
import type { MutablePacketView } from './packet-view.js';

/** What both decoders report besides packets. */
export interface DecoderSink {
  /** Bytes that are not part of a packet (a copy the handler may keep). */
  nonSubunit(bytes: Uint8Array, offset: number): void;
  /** A candidate packet at `offset` was rejected; its bytes follow as nonSubunit. */
  error(error: SubunitError, offset: number): void;
}

export interface StreamDecoderOptions {
  /**
   * Candidates longer than this are rejected as ERR_SUBUNIT_LENGTH as soon as
   * their length field arrives.
   * @default 4194303 (MAX_PACKET_BYTES)
   */
  maxPacketBytes?: number;
}

const NEED_MORE = 0;
const REJECTED = -1;
/** A pending buffer grown past this for one big packet is released once it empties. */
const KEEP_PENDING = 65536;
/**
 * Runs of whole packets at least this long are checked with one zlib.crc32
 * call (SPEC §2.7); shorter ones packet by packet with the JavaScript tables,
 * as a native call costs about as much as checking ~400 bytes in JavaScript.
 */
const RUN_MIN_BYTES = 512;
/**
 * CRC work (bytes) allowed for candidates inside a rejected one's claimed span
 * (SPEC §2.7): the decoder starts with this much, earns INNER_WORK_PER_BYTE per
 * byte of stream (counted between the candidates it judges, so that any split
 * of the stream decides alike), and never holds more. A candidate in such a span claiming more
 * than is left is rejected from its header, unchecked: this bounds the work
 * per byte whatever the input (a stream of signatures each claiming 4 MiB took
 * minutes), while the rare real packet inside a corrupt one is still found.
 */
const INNER_WORK_MAX = 64 << 20;
const INNER_WORK_PER_BYTE = 8;

/**
 * The streaming subunit v2 decoder (SPEC §2.7) behind StreamDecoder and
 * PacketViewDecoder, which differ only in how a packet is handed out. Push
 * chunks of any size; packets are emitted as soon as their last byte arrives.
 * Peer bytes never throw: every byte comes out exactly once, in order, either
 * inside a packet or as nonSubunit, and a rejected candidate is reported as a
 * coded error before its bytes. Resynchronises at the next signature byte after
 * a rejected candidate's signature, so a valid packet is never swallowed by the
 * garbage before it. A whole packet inside one chunk is checked and parsed in
 * place; only a packet split across chunks is copied.
 */
export abstract class DecoderCore {
  private readonly sink: DecoderSink;
  private readonly maxPacketBytes: number;
  /** Bytes of an incomplete candidate packet, starting with its signature. */
  private pend: Uint8Array = new Uint8Array(0);
  private pendLen = 0;
  /** Whether the pending candidate sits inside a UTF-8 character of the text before it. */
  private pendInText = false;
  /** Stream offset of the first byte not yet emitted. */
  private offset = 0;
  /** Continuation bytes still expected by the UTF-8 character the last text byte began. */
  private utf8Need = 0;
  /**
   * Stream offset up to which a rejection is not reported: the claimed span of
   * the last rejected candidate that was (one corrupt packet is one error, not
   * one per signature byte inside it). A valid packet ends it.
   */
  private quietUntil = 0;
  /** CRC work left for candidates inside such a span (INNER_WORK_MAX), as of stream offset `workAt`. */
  private innerWork = INNER_WORK_MAX;
  private workAt = 0;
  private ended = false;
  /** Parses every packet into its one reused view (no allocation per packet). */
  private readonly parser = new PacketParser();
  /** A DataView of the last buffer checksummed (the chunk, or the pending bytes), for crc32View and word reads. */
  private viewOf: Uint8Array | undefined;
  private view: DataView = new DataView(new ArrayBuffer(0));
  /**
   * No run check (tryRun) starts before `plainUntil` in `plainData`: the
   * packets there already failed one, or were too few, and go one by one.
   */
  private plainData: Uint8Array | undefined;
  private plainUntil = 0;

  constructor(sink: DecoderSink, options: StreamDecoderOptions = {}) {
    if (sink === null || typeof sink !== 'object') throw new InvalidArgumentError('handler', 'a DecoderHandler', sink);
    const max = options.maxPacketBytes ?? MAX_PACKET_BYTES;
    if (!Number.isInteger(max) || max < 8 || max > MAX_PACKET_BYTES) {
      throw new InvalidArgumentError('options.maxPacketBytes', `an integer in 8..${MAX_PACKET_BYTES}`, max);
    }
    this.sink = sink;
    this.maxPacketBytes = max;
  }

  /** Hands out a valid packet, parsed into `view` (valid only during the call). */
  protected abstract emitPacket(view: MutablePacketView): void;

  /** Stream offset of the next byte to arrive. */
  get bytesSeen(): number {
    return this.offset + this.pendLen;
  }

  push(chunk: Uint8Array): void {
    if (this.ended) throw new SubrunError('ERR_INVALID_STATE', 'StreamDecoder.push() called after end()');
    if (!(chunk instanceof Uint8Array)) throw new InvalidArgumentError('chunk', 'a Uint8Array', chunk);
    // A plain Uint8Array: its subarray() (the `raw` views) is ~2x cheaper than a
    // Buffer's or a new view's, and its slice() copies where Buffer's does not.
    if (chunk.constructor !== Uint8Array) chunk = new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.length);
    let from = 0;
    if (this.pendLen > 0) {
      from = this.completePending(chunk);
      if (from < 0) return;
    }
    if (from >= chunk.length) return;
    const base = this.offset - from;
    const used = this.scan(chunk, from, from, chunk.length, base, false);
    this.offset = base + used;
    if (used < chunk.length) this.appendPending(chunk, used, chunk.length);
  }

  /** Ends the stream: an incomplete trailing packet is reported (ERR_SUBUNIT_TRUNCATED) and its bytes emitted. */
  end(): void {
    if (this.ended) return;
    this.ended = true;
    if (this.pendLen === 0) return;
    const data = this.pend;
    const len = this.pendLen;
    this.pendLen = 0;
    this.pend = new Uint8Array(0);
    this.scan(data, 0, 0, len, this.offset, true);
    this.offset += len;
  }

  /**
   * Feeds a chunk to the pending candidate, copying only the bytes it still
   * needs. Returns how much of `chunk` was used, or -1 when all of it was.
   */
  private completePending(chunk: Uint8Array): number {
    let used = 0;
    for (;;) {
      const need = this.pendingNeed();
      if (need > this.pendLen) {
        const take = Math.min(need - this.pendLen, chunk.length - used);
        this.appendPending(chunk, used, used + take);
        used += take;
        if (this.pendLen < need) return -1;
        continue;
      }
      const data = this.pend;
      const len = this.pendLen;
      const silent = this.pendInText;
      const r = this.tryPacket(data, 0, len, this.offset, silent, false);
      if (r > 0) {
        this.clearPending();
        this.offset += r;
        this.utf8Need = 0;
        this.quietUntil = 0;
        return used;
      }
      // Rejected: rescan everything after its signature, with the rest of the chunk.
      this.appendPending(chunk, used, chunk.length);
      const all = this.pend;
      const allLen = this.pendLen;
      this.pendLen = 0;
      this.pend = new Uint8Array(0);
      this.textByte(SIGNATURE, this.offset);
      const consumed = this.scan(all, 0, 1, allLen, this.offset, false);
      const base = this.offset;
      this.offset = base + consumed;
      if (consumed < allLen) this.appendPending(all, consumed, allLen);
      return -1;
    }
  }

  /** How many bytes the pending candidate must hold before it can be judged. */
  private pendingNeed(): number {
    const d = this.pend;
    if (this.pendLen >= 2 && d[1]! >>> 4 !== 2) return this.pendLen;
    if (this.pendLen < 4) return 4;
    const width = (d[3]! >>> 6) + 1;
    if (width === 4 || this.pendLen < 3 + width) return width === 4 ? 4 : 3 + width;
    const length = readLength(d, 3, width);
    if (length < 3 + width + 4 || length > this.maxPacketBytes) return this.pendLen;
    // Inside a rejected candidate's span, and more than the work left: tryPacket rejects it now.
    if (this.offset < this.quietUntil && length > this.workLeftAt(this.offset)) return this.pendLen;
    return length;
  }

  private appendPending(src: Uint8Array, start: number, end: number): void {
    const n = end - start;
    if (n <= 0) return;
    if (this.pendLen === 0) this.pendInText = this.utf8Need > 0;
    if (this.pendLen + n > this.pend.length) {
      // Grow only to what has arrived (SPEC §2.7: no allocation on a length's word).
      const grown = new Uint8Array(Math.max(this.pendLen + n, Math.min(this.pend.length * 2, this.maxPacketBytes), 64));
      grown.set(this.pend.subarray(0, this.pendLen));
      this.pend = grown;
    }
    this.pend.set(src.subarray(start, end), this.pendLen);
    this.pendLen += n;
  }

  private clearPending(): void {
    this.pendLen = 0;
    if (this.pend.length > KEEP_PENDING) this.pend = new Uint8Array(0);
  }

  /**
   * Follows UTF-8 through non-subunit text, byte `b` at stream offset `at`.
   * Bytes inside a rejected candidate's span are not text (a corrupt packet
   * ending in what looks like a UTF-8 lead byte must not silence the rejection
   * of the candidate after it): they leave no character open.
   */
  private textByte(b: number, at: number): void {
    if (at < this.quietUntil) this.utf8Need = 0;
    else if (this.utf8Need > 0 && (b & 0xc0) === 0x80) this.utf8Need--;
    else this.utf8Need = b >= 0xf0 && b < 0xf8 ? 3 : b >= 0xe0 && b < 0xf0 ? 2 : b >= 0xc0 && b < 0xe0 ? 1 : 0;
  }

  /**
   * Scans data[i, end) where data[textStart, i) is already known to be text.
   * `base` is the stream offset of data[0]. Returns the index up to which bytes
   * were emitted; the rest is an incomplete candidate (never when `final`).
   */
  private scan(data: Uint8Array, textStart: number, i: number, end: number, base: number, final: boolean): number {
    const handler = this.sink;
    while (i < end) {
      const b = data[i]!;
      if (b === SIGNATURE) {
        const inText = this.utf8Need > 0;
        if (textStart < i) {
          handler.nonSubunit(data.slice(textStart, i), base + textStart);
          textStart = i;
        }
        // A run of packets checked at once, else this one packet (tryRun's 0 is "none", tryPacket's NEED_MORE).
        const run = zlibCrc32 !== undefined && (data !== this.plainData || i >= this.plainUntil) ? this.tryRun(data, i, end, base) : 0;
        const r = run > 0 ? run : this.tryPacket(data, i, end, base, inText, final);
        if (r > 0) {
          i += r;
          textStart = i;
          this.utf8Need = 0;
          this.quietUntil = 0;
          continue;
        }
        if (r === NEED_MORE) return i;
      }
      this.textByte(b, base + i);
      i++;
    }
    if (textStart < end) handler.nonSubunit(data.slice(textStart, end), base + textStart);
    return end;
  }

  /**
   * Judges the candidate at data[i]: emits it and returns its length, returns
   * NEED_MORE, or reports why it is not a packet (unless `silent`: a signature
   * byte inside a UTF-8 character of surrounding text) and returns REJECTED.
   */
  private tryPacket(data: Uint8Array, i: number, end: number, base: number, silent: boolean, final: boolean): number {
    const avail = end - i;
    const offset = base + i;
    // Inside a rejected candidate's span: tried all the same, but its own rejection is not reported again.
    const inner = offset < this.quietUntil;
    silent ||= inner;
    if (avail >= 2 && data[i + 1]! >>> 4 !== 2) {
      return this.reject(silent, SubunitErrorCode.VERSION, `packet at offset ${offset}: version ${data[i + 1]! >>> 4}, expected 2`, offset);
    }
    if (avail < 4) return final ? this.truncated(silent, offset, avail, -1) : NEED_MORE;
    const width = (data[i + 3]! >>> 6) + 1;
    if (width === 4) {
      return this.reject(silent, SubunitErrorCode.LENGTH, `packet at offset ${offset}: length field uses 4 bytes, at most 3 allowed`, offset);
    }
    if (avail < 3 + width) return final ? this.truncated(silent, offset, avail, -1) : NEED_MORE;
    const length = readLength(data, i + 3, width);
    if (inner && length > this.workLeftAt(offset)) return REJECTED;
    if (length < 3 + width + 4) {
      return this.reject(silent, SubunitErrorCode.LENGTH, `packet at offset ${offset}: length ${length} is shorter than its own header and CRC`, offset, { length });
    }
    if (length > this.maxPacketBytes) {
      return this.reject(silent, SubunitErrorCode.LENGTH, `packet at offset ${offset}: length ${length} exceeds the maximum of ${this.maxPacketBytes}`, offset, { length });
    }
    if (avail < length) return final ? this.truncated(silent, offset, avail, length) : NEED_MORE;
    if (inner) this.innerWork -= length;
    const bodyEnd = i + length - 4;
    const stored = ((data[bodyEnd]! << 24) | (data[bodyEnd + 1]! << 16) | (data[bodyEnd + 2]! << 8) | data[bodyEnd + 3]!) >>> 0;
    const dv = this.viewFor(data);
    const crc = crc32View(dv, i, bodyEnd);
    if (crc !== stored) {
      return this.reject(
        silent,
        SubunitErrorCode.CRC,
        `packet at offset ${offset}: bad checksum - calculated 0x${crc.toString(16)}, stored 0x${stored.toString(16)}`,
        offset,
        { length },
        length,
      );
    }
    const parser = this.parser;
    if (!parser.parse(data, dv, i, i + 3 + width, bodyEnd)) {
      const at = parser.failedAt;
      if (parser.failure === FIELD_TRAILING) {
        return this.reject(silent, SubunitErrorCode.FIELD, `packet at offset ${offset}: ${length - 4 - at} bytes after the last field`, offset, { field: at }, length);
      }
      return parser.failure === FIELD_UTF8
        ? this.reject(silent, SubunitErrorCode.UTF8, `packet at offset ${offset}: ${parser.failedField} at byte ${at} is not UTF-8 without NUL`, offset, { field: at }, length)
        : this.reject(silent, SubunitErrorCode.FIELD, `packet at offset ${offset}: ${parser.failedField} at byte ${at} runs past the end of the packet`, offset, { field: at }, length);
    }
    parser.view.offset = offset;
    this.emitPacket(parser.view);
    return length;
  }

  /**
   * The run of whole packets framed back to back from data[i] (each with a
   * signature, version 2 and a length that fits), checked with ONE zlib.crc32
   * pass over all of them (SPEC §2.7): each valid packet's CRC over its own
   * bytes, stored CRC included, follows from its stored CRC alone, and the run's
   * from those by CRC combination. When they agree, every packet is parsed and
   * emitted as tryPacket would; the count of bytes emitted is returned. A
   * mismatch, a run too short to be worth a native call, or a packet whose
   * fields fail leaves the rest of the run to tryPacket, which reports exactly
   * what it always did. Returns 0 when nothing was emitted.
   */
  private tryRun(data: Uint8Array, i: number, end: number, base: number): number {
    const max = this.maxPacketBytes;
    const dv = this.viewFor(data);
    let j = i;
    let predicted = 0;
    for (;;) {
      if (end - j < 8 || data[j] !== SIGNATURE || data[j + 1]! >>> 4 !== 2) break;
      const b3 = data[j + 3]!;
      const w = b3 >>> 6;
      if (w === 3) break;
      const length = w === 0 ? b3 : w === 1 ? ((b3 & 0x3f) << 8) | data[j + 4]! : ((b3 & 0x3f) << 16) | (data[j + 4]! << 8) | data[j + 5]!;
      if (length < 8 + w || length > max || length > end - j) break;
      const crcAt = j + length - 4;
      predicted = crc32Shift(predicted, length) ^ crc32Word(dv.getInt32(crcAt), dv.getInt32(crcAt, true));
      j += length;
    }
    if (j - i < RUN_MIN_BYTES || ((zlibCrc32!(new Uint8Array(data.buffer, data.byteOffset + i, j - i)) ^ predicted) | 0) !== 0) {
      this.plainData = data;
      this.plainUntil = j;
      return 0;
    }
    const parser = this.parser;
    const view = parser.view;
    let k = i;
    while (k < j) {
      const b3 = data[k + 3]!;
      const w = b3 >>> 6;
      const length = w === 0 ? b3 : w === 1 ? ((b3 & 0x3f) << 8) | data[k + 4]! : ((b3 & 0x3f) << 16) | (data[k + 4]! << 8) | data[k + 5]!;
      if (!parser.parse(data, dv, k, k + 4 + w, k + length - 4)) {
        // tryPacket judges it again and reports why.
        this.plainData = data;
        this.plainUntil = j;
        break;
      }
      view.offset = base + k;
      this.emitPacket(view);
      k += length;
    }
    return k - i;
  }

  /** The inner-candidate work left for a candidate at stream `offset` (candidates are judged in stream order). */
  private workLeftAt(offset: number): number {
    if (offset > this.workAt) {
      this.innerWork = Math.min(INNER_WORK_MAX, this.innerWork + INNER_WORK_PER_BYTE * (offset - this.workAt));
      this.workAt = offset;
    }
    return this.innerWork;
  }

  /** A DataView of `data`, which also becomes the packet view's buffer (each packet is parsed right after). */
  private viewFor(data: Uint8Array): DataView {
    if (data !== this.viewOf) {
      this.viewOf = data;
      this.view = new DataView(data.buffer, data.byteOffset, data.byteLength);
      const v = this.parser.view;
      v.bytes = data;
      v.dv = this.view;
      v.arrayBuffer = data.buffer;
      v.byteOffset = data.byteOffset;
    }
    return this.view;
  }

  private truncated(silent: boolean, offset: number, avail: number, length: number): number {
    const claim = length < 0 ? 'its header' : `${length} bytes`;
    return this.reject(silent, SubunitErrorCode.TRUNCATED, `packet at offset ${offset}: stream ended after ${avail} of ${claim}`, offset, { length: avail }, avail);
  }

  /**
   * Reports a rejected candidate unless `silent`. A reported candidate that
   * claimed `span` bytes (its length, once read) quiets the rejections of the
   * candidates that start inside them.
   */
  private reject(silent: boolean, code: SubunitErrorCode, message: string, offset: number, details?: Record<string, unknown>, span = 1): number {
    if (!silent) {
      this.sink.error(new SubunitError(code, message, { offset, ...details }), offset);
      this.quietUntil = offset + span;
    }
    return REJECTED;
  }
}

function readLength(d: Uint8Array, pos: number, width: number): number {
  const b0 = d[pos]! & 0x3f;
  if (width === 1) return b0;
  if (width === 2) return (b0 << 8) | d[pos + 1]!;
  return (b0 << 16) | (d[pos + 1]! << 8) | d[pos + 2]!;
}
