import { InvalidArgumentError, SubrunError } from '../core/errors.js';
import {
  FLAG_FILE_CONTENT,
  FLAG_MIME_TYPE,
  FLAG_ROUTE_CODE,
  FLAG_TAGS,
  FLAG_TEST_ID,
  FLAG_TIMESTAMP,
  MAX_PACKET_BYTES,
  SIGNATURE,
} from './constants.js';
import { crc32View } from './crc32.js';
import { SubunitError, SubunitErrorCode } from './errors.js';
import { MutablePacketView } from './packet-view.js';
import { decodeUtf8, isAsciiNoNul, Utf8Cache } from './utf8.js';

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
  private ended = false;
  /** The one view every packet is parsed into (no allocation per packet). */
  private readonly packetView = new MutablePacketView(new Utf8Cache());
  /** A DataView of the last buffer checksummed (the chunk, or the pending bytes), for crc32View and word reads. */
  private viewOf: Uint8Array | undefined;
  private view: DataView = new DataView(new ArrayBuffer(0));
  /** Scratch result of readNumber/readString: the position after the field, or -1 / -2 (see readString). */
  private p = 0;
  /** Scratch result of readString: the string when checking it meant decoding it. */
  private sv: string | undefined = undefined;

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
        return used;
      }
      // Rejected: rescan everything after its signature, with the rest of the chunk.
      this.appendPending(chunk, used, chunk.length);
      const all = this.pend;
      const allLen = this.pendLen;
      this.pendLen = 0;
      this.pend = new Uint8Array(0);
      this.textByte(SIGNATURE);
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

  private textByte(b: number): void {
    if (this.utf8Need > 0 && (b & 0xc0) === 0x80) this.utf8Need--;
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
        const r = this.tryPacket(data, i, end, base, inText, final);
        if (r > 0) {
          i += r;
          textStart = i;
          this.utf8Need = 0;
          continue;
        }
        if (r === NEED_MORE) return i;
      }
      this.textByte(b);
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
    if (length < 3 + width + 4) {
      return this.reject(silent, SubunitErrorCode.LENGTH, `packet at offset ${offset}: length ${length} is shorter than its own header and CRC`, offset, { length });
    }
    if (length > this.maxPacketBytes) {
      return this.reject(silent, SubunitErrorCode.LENGTH, `packet at offset ${offset}: length ${length} exceeds the maximum of ${this.maxPacketBytes}`, offset, { length });
    }
    if (avail < length) return final ? this.truncated(silent, offset, avail, length) : NEED_MORE;
    const bodyEnd = i + length - 4;
    const stored = ((data[bodyEnd]! << 24) | (data[bodyEnd + 1]! << 16) | (data[bodyEnd + 2]! << 8) | data[bodyEnd + 3]!) >>> 0;
    if (data !== this.viewOf) {
      this.viewOf = data;
      this.view = new DataView(data.buffer, data.byteOffset, data.byteLength);
    }
    const crc = crc32View(this.view, i, bodyEnd);
    if (crc !== stored) {
      return this.reject(
        silent,
        SubunitErrorCode.CRC,
        `packet at offset ${offset}: bad checksum - calculated 0x${crc.toString(16)}, stored 0x${stored.toString(16)}`,
        offset,
        { length },
      );
    }
    return this.parse(data, i, i + 3 + width, bodyEnd, offset, silent) ? length : REJECTED;
  }

  private truncated(silent: boolean, offset: number, avail: number, length: number): number {
    const claim = length < 0 ? 'its header' : `${length} bytes`;
    return this.reject(silent, SubunitErrorCode.TRUNCATED, `packet at offset ${offset}: stream ended after ${avail} of ${claim}`, offset, { length: avail });
  }

  private reject(silent: boolean, code: SubunitErrorCode, message: string, offset: number, details?: Record<string, unknown>): number {
    if (!silent) this.sink.error(new SubunitError(code, message, { offset, ...details }), offset);
    return REJECTED;
  }

  /** SPEC §2.3: fields in wire order into the view; false (after reporting) when one is malformed. */
  private parse(data: Uint8Array, start: number, pos: number, bodyEnd: number, offset: number, silent: boolean): boolean {
    const flags = (data[start + 1]! << 8) | data[start + 2]!;
    const v = this.packetView;
    let what = '';
    parse: {
      if (flags & FLAG_TIMESTAMP) {
        what = 'timestamp';
        this.p = -1;
        if (pos + 4 > bodyEnd) break parse;
        v.seconds = ((data[pos]! << 24) | (data[pos + 1]! << 16) | (data[pos + 2]! << 8) | data[pos + 3]!) >>> 0;
        v.nanos = this.readNumber(data, pos + 4, bodyEnd);
        if (this.p < 0) break parse;
        pos = this.p;
      } else {
        v.seconds = 0;
        v.nanos = 0;
      }
      v.testIdValue = undefined;
      if (flags & FLAG_TEST_ID) {
        what = 'test id';
        // A test id seen lately is checked by matching the cached string's bytes, and not decoded again.
        const n = this.readNumber(data, pos, bodyEnd);
        if (this.p < 0) break parse;
        const s0 = this.p;
        const s1 = s0 + n;
        if (s1 > bodyEnd) {
          this.p = -1;
          break parse;
        }
        let id = v.strings.find(this.view, data, s0, s1);
        if (id === undefined && !isAsciiNoNul(this.view, data, s0, s1)) {
          id = decodeUtf8(data, s0, s1);
          if (id === undefined) {
            this.p = -2;
            break parse;
          }
        }
        v.testIdValue = id;
        v.testIdStart = s0;
        v.testIdEnd = pos = s1;
      }
      if (flags & FLAG_TAGS) {
        what = 'tag count';
        const count = this.readNumber(data, pos, bodyEnd);
        if (this.p < 0) break parse;
        pos = this.p;
        what = 'tags';
        // Each tag takes at least one byte: a larger count cannot fit.
        if (count > bodyEnd - pos) break parse;
        v.tagsStart = pos;
        v.tagsCount = count;
        for (let k = 0; k < count; k++) {
          if (this.readString(data, pos, bodyEnd) < 0) break parse;
          pos = this.p;
        }
      }
      if (flags & FLAG_MIME_TYPE) {
        what = 'mime type';
        const s0 = this.readString(data, pos, bodyEnd);
        if (s0 < 0) break parse;
        v.mimeStart = s0;
        v.mimeEnd = pos = this.p;
      }
      if (flags & FLAG_FILE_CONTENT) {
        what = 'file name';
        const s0 = this.readString(data, pos, bodyEnd);
        if (s0 < 0) break parse;
        v.fileNameStart = s0;
        v.fileNameEnd = pos = this.p;
        what = 'file content';
        const n = this.readNumber(data, pos, bodyEnd);
        if (this.p < 0 || this.p + n > bodyEnd) break parse;
        v.fileStart = this.p;
        v.fileEnd = pos = this.p + n;
      }
      if (flags & FLAG_ROUTE_CODE) {
        what = 'route code';
        const s0 = this.readString(data, pos, bodyEnd);
        if (s0 < 0) break parse;
        v.routeStart = s0;
        v.routeEnd = pos = this.p;
      }
      if (pos !== bodyEnd) {
        this.reject(silent, SubunitErrorCode.FIELD, `packet at offset ${offset}: ${bodyEnd - pos} bytes after the last field`, offset, { field: pos - start });
        return false;
      }
      v.bytes = data;
      v.dv = this.view;
      v.start = start;
      v.end = bodyEnd + 4;
      v.offset = offset;
      v.flags = flags;
      this.emitPacket(v);
      return true;
    }
    if (this.p === -2) {
      this.reject(silent, SubunitErrorCode.UTF8, `packet at offset ${offset}: ${what} at byte ${pos - start} is not UTF-8 without NUL`, offset, { field: pos - start });
    } else {
      this.reject(silent, SubunitErrorCode.FIELD, `packet at offset ${offset}: ${what} at byte ${pos - start} runs past the end of the packet`, offset, { field: pos - start });
    }
    return false;
  }

  /** SPEC §2.4. Sets this.p to the position after the number, or -1 when it runs past `limit`. */
  private readNumber(data: Uint8Array, pos: number, limit: number): number {
    if (pos >= limit) {
      this.p = -1;
      return 0;
    }
    const b0 = data[pos]!;
    const width = (b0 >>> 6) + 1;
    if (pos + width > limit) {
      this.p = -1;
      return 0;
    }
    this.p = pos + width;
    switch (width) {
      case 1:
        return b0;
      case 2:
        return ((b0 & 0x3f) << 8) | data[pos + 1]!;
      case 3:
        return ((b0 & 0x3f) << 16) | (data[pos + 1]! << 8) | data[pos + 2]!;
      default:
        return (((b0 & 0x3f) << 24) | (data[pos + 1]! << 16) | (data[pos + 2]! << 8) | data[pos + 3]!) >>> 0;
    }
  }

  /**
   * SPEC §2.5. Returns where the string's bytes start and sets this.p after them;
   * -1 when it runs past `limit`, -2 (also in this.p) when it is not UTF-8 or
   * holds NUL. An ASCII string is only checked, and decoded when read; any other
   * is decoded to check it, and left in this.sv.
   */
  private readString(data: Uint8Array, pos: number, limit: number): number {
    const n = this.readNumber(data, pos, limit);
    if (this.p < 0) return -1;
    const s0 = this.p;
    const s1 = s0 + n;
    if (s1 > limit) {
      this.p = -1;
      return -1;
    }
    this.sv = undefined;
    if (!isAsciiNoNul(this.view, data, s0, s1)) {
      this.sv = decodeUtf8(data, s0, s1);
      if (this.sv === undefined) {
        this.p = -2;
        return -2;
      }
    }
    this.p = s1;
    return s0;
  }
}

function readLength(d: Uint8Array, pos: number, width: number): number {
  const b0 = d[pos]! & 0x3f;
  if (width === 1) return b0;
  if (width === 2) return (b0 << 8) | d[pos + 1]!;
  return (b0 << 16) | (d[pos + 1]! << 8) | d[pos + 2]!;
}
