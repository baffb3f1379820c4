import { FLAG_FILE_CONTENT, FLAG_MIME_TYPE, FLAG_ROUTE_CODE, FLAG_TAGS, FLAG_TEST_ID, FLAG_TIMESTAMP } from './constants.js';
import { MutablePacketView } from './packet-view.js';
import { decodeUtf8, isAsciiNoNul, Utf8Cache } from './utf8.js';

/** Why the last parse failed (PacketParser.failure): a field runs past the packet, or a count cannot fit. */
export const FIELD_PAST_END = 1;
/** A string is not UTF-8, or holds NUL. */
export const FIELD_UTF8 = 2;
/** Bytes follow the last field. */
export const FIELD_TRAILING = 3;
/** The flags of a test's progress or result (with a status, perhaps runnable and EOF), which parseCommon reads. */
const COMMON = FLAG_TIMESTAMP | FLAG_TEST_ID;
const COMMON_MASK = COMMON | FLAG_TAGS | FLAG_MIME_TYPE | FLAG_FILE_CONTENT | FLAG_ROUTE_CODE;

/**
 * Reads the fields of a packet whose frame and CRC were checked (SPEC §2.3-2.5)
 * into the one reused MutablePacketView (whose `bytes` the caller has set to `data`), checking every number and string
 * against the packet's end. No allocation per packet: a test id seen lately is
 * checked against the cache's bytes, and strings are made only when read.
 */
export class PacketParser {
  readonly view = new MutablePacketView(new Utf8Cache());
  /** After a failed parse: why, which field, and where (the packet's byte index). */
  failure = 0;
  failedField = '';
  failedAt = 0;
  /** Scratch result of readNumber/readString: the position after the field, or -1 / -2 (see readString). */
  private p = 0;

  /**
   * SPEC §2.3: fields in wire order from `pos` to `bodyEnd` (where the CRC
   * starts) into the view. False when one is malformed (see `failure`).
   */
  parse(data: Uint8Array, dv: DataView, start: number, pos: number, bodyEnd: number): boolean {
    const flags = (data[start + 1]! << 8) | data[start + 2]!;
    const v = this.view;
    if ((flags & COMMON_MASK) === COMMON && this.parseCommon(data, dv, pos, bodyEnd)) {
      v.start = start;
      v.end = bodyEnd + 4;
      v.flags = flags;
      return true;
    }
    let what = '';
    parse: {
      if (flags & FLAG_TIMESTAMP) {
        what = 'timestamp';
        this.p = -1;
        if (pos + 4 > bodyEnd) break parse;
        v.seconds = dv.getUint32(pos);
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
        let id = v.strings.find(dv, data, s0, s1);
        if (id === undefined && !isAsciiNoNul(dv, data, s0, s1)) {
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
      if (flags & (FLAG_TAGS | FLAG_MIME_TYPE | FLAG_FILE_CONTENT | FLAG_ROUTE_CODE)) {
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
            if (this.readString(data, dv, pos, bodyEnd) < 0) break parse;
            pos = this.p;
          }
        }
        if (flags & FLAG_MIME_TYPE) {
          what = 'mime type';
          const s0 = this.readString(data, dv, pos, bodyEnd);
          if (s0 < 0) break parse;
          v.mimeStart = s0;
          v.mimeEnd = pos = this.p;
        }
        if (flags & FLAG_FILE_CONTENT) {
          what = 'file name';
          const s0 = this.readString(data, dv, pos, bodyEnd);
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
          const s0 = this.readString(data, dv, pos, bodyEnd);
          if (s0 < 0) break parse;
          v.routeStart = s0;
          v.routeEnd = pos = this.p;
        }
      }
      if (pos !== bodyEnd) {
        this.failure = FIELD_TRAILING;
        this.failedAt = pos - start;
        return false;
      }
      v.start = start;
      v.end = bodyEnd + 4;
      v.flags = flags;
      return true;
    }
    this.failure = this.p === -2 ? FIELD_UTF8 : FIELD_PAST_END;
    this.failedField = what;
    this.failedAt = pos - start;
    return false;
  }

  /**
   * The common packet, a timestamp and an ASCII test id (SPEC §2.3), read
   * straight through. False, having changed nothing parse() relies on, for
   * anything else (a field past the end, trailing bytes, a non-ASCII id), which
   * parse() then reads field by field and judges.
   */
  private parseCommon(data: Uint8Array, dv: DataView, pos: number, bodyEnd: number): boolean {
    if (pos + 5 > bodyEnd) return false;
    const seconds = dv.getUint32(pos);
    let p = pos + 4;
    const b0 = data[p]!;
    const w = b0 >>> 6;
    if (p + w >= bodyEnd) return false;
    const nanos =
      w === 0
        ? b0
        : w === 1
          ? ((b0 & 0x3f) << 8) | data[p + 1]!
          : w === 2
            ? ((b0 & 0x3f) << 16) | (data[p + 1]! << 8) | data[p + 2]!
            : (((b0 & 0x3f) << 24) | (data[p + 1]! << 16) | (data[p + 2]! << 8) | data[p + 3]!) >>> 0;
    p += w + 1;
    const c0 = data[p]!;
    let s0: number;
    let n: number;
    if (c0 < 0x40) {
      n = c0;
      s0 = p + 1;
    } else if (c0 < 0x80 && p + 2 <= bodyEnd) {
      n = ((c0 & 0x3f) << 8) | data[p + 1]!;
      s0 = p + 2;
    } else {
      return false;
    }
    const s1 = s0 + n;
    if (s1 !== bodyEnd) return false;
    const v = this.view;
    // A test id seen lately is checked by matching the cached string's bytes, and not decoded again.
    const id = v.strings.find(dv, data, s0, s1);
    if (id === undefined && !isAsciiNoNul(dv, data, s0, s1)) return false;
    v.seconds = seconds;
    v.nanos = nanos;
    v.testIdValue = id;
    v.testIdStart = s0;
    v.testIdEnd = s1;
    return true;
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
   * holds NUL. An ASCII string is only checked here, and decoded when read.
   */
  private readString(data: Uint8Array, dv: DataView, pos: number, limit: number): number {
    const n = this.readNumber(data, pos, limit);
    if (this.p < 0) return -1;
    const s0 = this.p;
    const s1 = s0 + n;
    if (s1 > limit) {
      this.p = -1;
      return -1;
    }
    if (!isAsciiNoNul(dv, data, s0, s1) && decodeUtf8(data, s0, s1) === undefined) {
      this.p = -2;
      return -2;
    }
    this.p = s1;
    return s0;
  }
}
