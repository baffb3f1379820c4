import { Buffer } from 'node:buffer';
import { InvalidArgumentError } from '../core/errors.js';
import {
  FLAG_EOF,
  FLAG_FILE_CONTENT,
  FLAG_MIME_TYPE,
  FLAG_ROUTE_CODE,
  FLAG_RUNNABLE,
  FLAG_TAGS,
  FLAG_TEST_ID,
  FLAG_TIMESTAMP,
  MAX_PACKET_BYTES,
  SIGNATURE,
  VERSION_BITS,
} from './constants.js';
import { crc32View } from './crc32.js';
import { SubunitError, SubunitErrorCode } from './errors.js';
import type { SubunitEvent, TestStatus } from './event.js';
import { encodeUtf8, isAsciiNoNul } from './utf8.js';
import { numberWidth, writeNumber } from './varint.js';
import { AREA_BASE, acquireArea, releaseArea, type WasmArea } from './wasm-area.js';

export { MAX_PACKET_BYTES } from './constants.js';

/**
 * Node's native UTF-8 write, applied to a plain Uint8Array: it returns how many
 * bytes it wrote, and a string is ASCII exactly when that equals its length
 * (every other character takes 2-3 bytes). For a 60-character test id this is
 * ~2x faster than a JavaScript loop, more for a concatenated (cons) string
 * (BENCHMARKS.md "Codec"). Buffer.prototype.utf8Write is not documented, so fall
 * back to the loop when it is missing.
 */
const utf8Write = (Buffer.prototype as unknown as { utf8Write?: (this: Uint8Array, s: string, offset: number, length: number) => number }).utf8Write;
const EMPTY = new Uint8Array(0);
/** Size of the encoder's slabs; a packet larger than this gets a slab of its own. */
const SLAB = 65536;
/** encodeBatch reserves at most this much from its sample; beyond, the slab doubles as it fills. */
const MAX_RESERVE = 1 << 28;
/** How many packets of a batch encodeBatch measures before reserving room for the rest. */
const SAMPLE = 64;
/** Default attachment chunk of encodeFileChunks: small enough to interleave on a live stream. */
export const DEFAULT_FILE_CHUNK = 65536;

/**
 * Encodes events into subunit v2 packets (SPEC §2), byte for byte as
 * python-subunit's StreamResultToBytes would for the same event (SPEC §2.6 lists
 * where a choice was made). Each call returns a new Uint8Array the caller may
 * keep: a view of a region of the encoder's slab that is never reused.
 */
export class PacketEncoder {
  /**
   * The slab packets are written into. A returned packet is a view of its own
   * region, which is never written again, so the caller may keep it; the next
   * packet starts after it (the msgpackr technique: no copy, no allocation per
   * packet). A kept packet pins at most one slab.
   */
  private buf = new Uint8Array(SLAB);
  /** A DataView of `buf`, for crc32View. */
  private view = new DataView(this.buf.buffer);
  /** `buf`'s ArrayBuffer, kept: encode() makes a view of it per packet, and the `.buffer` getter is a call. */
  private arrayBuffer: ArrayBuffer = this.buf.buffer;
  /**
   * The last new test id written and where its bytes are (ASCII without NUL,
   * checked then): its next packet (a test's result after its inprogress)
   * copies those bytes instead of checking the string again. They are never in
   * a packet the caller holds (the caller may write over it): they are in the
   * packet or batch being written, or in `idCopy` (see keepIdPrivate).
   */
  private lastId = '';
  private lastIdBuf: Uint8Array | undefined;
  /** A DataView over `lastIdBuf`, for the word copy. */
  private lastIdView: DataView | undefined;
  private lastIdPos = 0;
  /** The encoder's own copy of the last test id's bytes, once its packet is handed out. */
  private idCopy = new Uint8Array(64);
  private idCopyView = new DataView(this.idCopy.buffer);
  /** Scratch result of writeString: where the string's bytes start, or -1 when they are not ASCII. */
  private asciiAt = -1;
  /** Scratch result of finish: how far the packet's body moved for a wider length field. */
  private shift = 0;
  /** Where the packet being written starts in `buf`. */
  private start = 0;
  private pos = 0;
  /** Where the bytes that must stay contiguous start: the packet, or the whole batch in encodeBatch. */
  private keepFrom = 0;
  /** While encodeBatch writes into the WebAssembly area (wasm-area.ts): `buf` and `view` are its memory, and it grows instead of moving. */
  private area: WasmArea | undefined;

  encode(event: SubunitEvent): Uint8Array {
    this.pos = this.keepFrom = this.start;
    if (this.buf.length - this.start < 256) this.newSlab(0);
    const size = this.write(event);
    this.keepIdPrivate();
    // The constructor, not subarray(): cheaper per packet (slabs start at offset 0 of their buffer).
    const out = new Uint8Array(this.arrayBuffer, this.start, size);
    this.start += size;
    if (this.buf.length > SLAB) {
      this.pos = this.keepFrom = this.start;
      this.newSlab(0);
    }
    return out;
  }

  /**
   * Encodes events back to back into one new Uint8Array: a whole stream without
   * an object per packet. Throws (ERR_SUBUNIT_ENCODE) on the first event it
   * refuses, writing nothing. The batch is written in the WebAssembly area when
   * there is one (the same bytes, ~0.55x the time), else in the slab.
   */
  encodeBatch(events: Iterable<SubunitEvent>): Uint8Array {
    const area = acquireArea();
    if (area === undefined) return this.encodeBatchInSlab(events);
    try {
      return this.encodeBatchInArea(area, events);
    } finally {
      releaseArea(area);
    }
  }

  private encodeBatchInSlab(events: Iterable<SubunitEvent>): Uint8Array {
    this.pos = this.keepFrom = this.start;
    if (this.buf.length - this.start < 256) this.newSlab(0);
    try {
      this.writeAll(events);
    } catch (error) {
      // The batch's bytes will be written over, the last test id's with them.
      this.lastIdBuf = this.lastIdView = undefined;
      this.start = this.keepFrom;
      throw error;
    }
    this.keepIdPrivate();
    const out = this.buf.subarray(this.keepFrom, this.start);
    this.keepFrom = this.start;
    if (this.buf.length > SLAB) {
      this.pos = this.start;
      this.newSlab(0);
    }
    return out;
  }

  /** The batch in the area's memory, copied out at the end; the slab is left as it was. */
  private encodeBatchInArea(area: WasmArea, events: Iterable<SubunitEvent>): Uint8Array {
    const { buf, view, arrayBuffer, start } = this;
    this.area = area;
    this.buf = area.bytes;
    this.view = area.view;
    this.arrayBuffer = area.bytes.buffer;
    this.start = this.pos = this.keepFrom = AREA_BASE;
    try {
      this.writeAll(events);
      const out = this.buf.slice(AREA_BASE, this.start);
      // The area is written over by the next batch.
      this.keepIdPrivate();
      return out;
    } catch (error) {
      this.lastIdBuf = this.lastIdView = undefined;
      throw error;
    } finally {
      this.area = undefined;
      this.buf = buf;
      this.view = view;
      this.arrayBuffer = arrayBuffer;
      this.start = this.pos = this.keepFrom = start;
    }
  }

  private writeAll(events: Iterable<SubunitEvent>): void {
    if (Array.isArray(events)) {
      // An index loop: ~3 % of a batch went to the array iterator.
      const list = events as SubunitEvent[];
      for (let k = 0; k < list.length; k++) {
        // Not `this.start += this.write(...)`: write() may move the batch to a new slab, and start with it.
        const size = this.write(list[k]!);
        this.start += size;
        if (k + 1 === SAMPLE) this.reserveFor(list.length - SAMPLE, SAMPLE);
      }
    } else {
      for (const event of events) {
        const size = this.write(event);
        this.start += size;
      }
    }
  }

  /** Encodes into the slab at `start` and returns the packet's length. */
  private write(event: SubunitEvent): number {
    if (event === null || typeof event !== 'object') throw new InvalidArgumentError('event', 'an object', event);
    const testId = event.testId;
    if (
      typeof testId === 'string' &&
      event.tags === undefined &&
      event.mimeType === undefined &&
      event.fileName === undefined &&
      event.fileBytes === undefined &&
      event.routeCode === undefined
    ) {
      const size = this.writeSimple(event, testId);
      if (size !== 0) return size;
    }
    return this.writeGeneral(event);
  }

  /**
   * The common packet (a test id, a status, perhaps a timestamp: what a test
   * run is made of) in one pass: with an ASCII test id every field's width is
   * known before writing, so the length field is written once at its final
   * width (no body shifted), with one room check. Returns 0, having kept
   * nothing, when the event needs writeGeneral: a non-ASCII or NUL-holding test
   * id, a long one, an invalid timestamp or status (writeGeneral then refuses
   * with the same error as before).
   */
  private writeSimple(event: SubunitEvent, testId: string): number {
    const n = testId.length;
    // Keeps both the id's length and the packet's length within 2 bytes.
    if (n > 4000) return 0;
    const ts = event.timestamp;
    let seconds = 0;
    let nanos = 0;
    let tsBytes = 0;
    let flags = VERSION_BITS | FLAG_TEST_ID;
    if (ts !== undefined) {
      seconds = ts.seconds;
      nanos = ts.nanos;
      // x >>> 0 === x: an integer in 0..2^32-1.
      if (seconds >>> 0 !== seconds || nanos >>> 0 !== nanos || nanos > 999_999_999) return 0;
      tsBytes = nanos < 0x40 ? 5 : nanos < 0x4000 ? 6 : nanos < 0x400000 ? 7 : 8;
      flags |= FLAG_TIMESTAMP;
    }
    const status = statusCode(event.status);
    if (status < 0) return 0;
    flags |= status;
    if (event.runnable !== false) flags |= FLAG_RUNNABLE;
    if (event.eof === true) flags |= FLAG_EOF;
    const idWidth = n < 0x40 ? 1 : 2;
    // SPEC §2.1: the length's width is chosen from the packet's size without it.
    const base = 3 + tsBytes + idWidth + n + 4;
    const width = base <= 62 ? 1 : 2;
    const total = base + width;
    // Room for the packet, and for an optimistic UTF-8 write of the id (3 bytes per unit at most).
    this.pos = this.start;
    this.ensure(total + 2 * n);
    const b = this.buf;
    const s = this.start;
    const at = s + 3 + width + tsBytes + idWidth;
    const repeated = testId === this.lastId && this.lastIdView !== undefined;
    const area = this.area;
    if (area !== undefined) {
      // The module writes the header, copies or checks the id, and adds the CRC (wasm-area.ts).
      let src = -1;
      if (repeated && this.lastIdBuf === b) src = this.lastIdPos;
      else if (!writeAsciiOptimistic(b, testId, at)) return 0;
      if (area.common(s, total, flags, seconds, nanos, tsBytes === 0 ? 0 : tsBytes - 4, n, src) === 0) return 0;
      this.pos = s + total;
      if (src < 0) this.setLastId(testId, at);
      return total;
    }
    if (repeated) {
      // Copied a word at a time from where the id was first written (this slab, the one before it, or idCopy).
      const from = this.lastIdView!;
      const view = this.view;
      const src = this.lastIdPos;
      let i = 0;
      for (const n4 = n - 3; i < n4; i += 4) view.setInt32(at + i, from.getInt32(src + i, true), true);
      for (; i < n; i++) b[at + i] = from.getUint8(src + i);
    } else if (!writeAsciiOptimistic(b, testId, at) || !isAsciiNoNul(this.view, b, at, at + n)) {
      return 0;
    }
    b[s] = SIGNATURE;
    b[s + 1] = flags >>> 8;
    b[s + 2] = flags & 0xff;
    let p = s + 3;
    if (width === 1) b[p++] = total;
    else {
      b[p++] = 0x40 | (total >>> 8);
      b[p++] = total & 0xff;
    }
    if (tsBytes !== 0) {
      b[p] = seconds >>> 24;
      b[p + 1] = (seconds >>> 16) & 0xff;
      b[p + 2] = (seconds >>> 8) & 0xff;
      b[p + 3] = seconds & 0xff;
      writeNumber(b, p + 4, nanos);
      p += tsBytes;
    }
    if (idWidth === 1) b[p] = n;
    else {
      b[p] = 0x40 | (n >>> 8);
      b[p + 1] = n & 0xff;
    }
    const end = s + total - 4;
    const crc = crc32View(this.view, s, end);
    b[end] = crc >>> 24;
    b[end + 1] = (crc >>> 16) & 0xff;
    b[end + 2] = (crc >>> 8) & 0xff;
    b[end + 3] = crc & 0xff;
    this.pos = s + total;
    if (!repeated) this.setLastId(testId, at);
    return total;
  }

  /** A new test id was written at `at` in the current slab: the next packet of the same test copies it from there. */
  private setLastId(testId: string, at: number): void {
    this.lastId = testId;
    this.lastIdBuf = this.buf;
    this.lastIdView = this.view;
    this.lastIdPos = at;
  }

  /**
   * Before a packet or batch is handed out: if the last test id's bytes are in
   * it, copy them to `idCopy`, so that a caller writing over its packet cannot
   * change what the next packet of the same test says.
   */
  private keepIdPrivate(): void {
    if (this.lastIdBuf !== this.buf) return;
    const n = this.lastId.length;
    if (this.idCopy.length < n) {
      this.idCopy = new Uint8Array(Math.max(n, 2 * this.idCopy.length));
      this.idCopyView = new DataView(this.idCopy.buffer);
    }
    // A word at a time: subarray() and set() cost more than the copy for a test id.
    const from = this.view;
    const to = this.idCopyView;
    const src = this.lastIdPos;
    let i = 0;
    for (const n4 = n - 3; i < n4; i += 4) to.setInt32(i, from.getInt32(src + i, true), true);
    for (; i < n; i++) to.setUint8(i, from.getUint8(src + i));
    this.lastIdBuf = this.idCopy;
    this.lastIdView = this.idCopyView;
    this.lastIdPos = 0;
  }

  /** Any event: field by field, the length field widened (the body moved) when the packet turns out long. */
  private writeGeneral(event: SubunitEvent): number {
    this.pos = this.start + 4; // SPEC §2.1: signature, 2 flag bytes, then a length of (first guess) 1 byte
    this.ensure(0);
    let flags = VERSION_BITS;
    const ts = event.timestamp;
    if (ts !== undefined) {
      flags |= FLAG_TIMESTAMP;
      this.writeTimestamp(ts.seconds, ts.nanos);
    }
    const testId = event.testId;
    let idAt = -1;
    if (testId !== undefined) {
      flags |= FLAG_TEST_ID;
      if (testId === this.lastId && this.lastIdView !== undefined) this.copyLastId();
      else {
        this.writeString(testId, 'testId');
        if (this.asciiAt >= 0) idAt = this.asciiAt - this.start;
      }
    }
    const tags = event.tags;
    if (tags !== undefined) {
      if (!Array.isArray(tags)) refuse('`tags` must be an array of strings');
      flags |= FLAG_TAGS;
      if (tags.length > MAX_PACKET_BYTES) refuse('too many tags');
      this.ensure(4);
      this.pos = writeNumber(this.buf, this.pos, tags.length);
      for (let i = 0; i < tags.length; i++) this.writeString(tags[i]!, 'tags');
    }
    if (event.runnable !== false) flags |= FLAG_RUNNABLE;
    if (event.mimeType !== undefined) {
      flags |= FLAG_MIME_TYPE;
      this.writeString(event.mimeType, 'mimeType');
    }
    if (event.fileName !== undefined) {
      flags |= FLAG_FILE_CONTENT;
      this.writeString(event.fileName, 'fileName');
      this.writeBytes(event.fileBytes ?? EMPTY);
    } else if (event.fileBytes !== undefined) {
      refuse('`fileBytes` given without `fileName`');
    }
    if (event.eof === true) flags |= FLAG_EOF;
    if (event.routeCode !== undefined) {
      flags |= FLAG_ROUTE_CODE;
      this.writeString(event.routeCode, 'routeCode');
    }
    flags |= statusBits(event.status);
    const size = this.finish(flags);
    // Only now is the packet sure to be kept (a refused event leaves its bytes to be written over).
    if (idAt >= 0) this.setLastId(testId!, this.start + idAt + this.shift);
    return size;
  }

  /** Writes the last test id again (a length, then its bytes copied a word at a time from its last packet). */
  private copyLastId(): void {
    const n = this.lastId.length;
    this.ensure(n + 4);
    // ensure() may have moved to a new slab: then the bytes are in the old one, still intact.
    const from = this.lastIdView!;
    const view = this.view;
    const src = this.lastIdPos;
    const dst = writeNumber(this.buf, this.pos, n);
    let i = 0;
    for (const n4 = n - 3; i < n4; i += 4) view.setInt32(dst + i, from.getInt32(src + i, true), true);
    for (; i < n; i++) view.setUint8(dst + i, from.getUint8(src + i));
    this.pos = dst + n;
  }

  private finish(flags: number): number {
    // SPEC §2.1, python-subunit's rule: the length's width is chosen from the
    // packet's size without it; the length counts the whole packet.
    const base = this.pos - this.start - 1 + 4;
    let width: number;
    if (base <= 62) width = 1;
    else if (base <= 16381) width = 2;
    else if (base <= 4194300) width = 3;
    else refuse(`packet of ${base + 3} bytes exceeds the maximum of ${MAX_PACKET_BYTES}`);
    this.shift = width - 1;
    if (width !== 1) {
      this.ensure(width + 3);
      this.buf.copyWithin(this.start + 3 + width, this.start + 4, this.pos);
      this.pos += width - 1;
    }
    const buf = this.buf;
    const s = this.start;
    const total = base + width;
    buf[s] = SIGNATURE;
    buf[s + 1] = flags >>> 8;
    buf[s + 2] = flags & 0xff;
    writeNumber(buf, s + 3, total);
    const crc = crc32View(this.view, s, this.pos);
    const p = this.pos;
    buf[p] = crc >>> 24;
    buf[p + 1] = (crc >>> 16) & 0xff;
    buf[p + 2] = (crc >>> 8) & 0xff;
    buf[p + 3] = crc & 0xff;
    return total;
  }

  /**
   * Sizes the batch's slab from its first `done` packets, so a long batch is not
   * copied at every doubling. An event much larger than the sample still goes
   * through ensure().
   */
  private reserveFor(remaining: number, done: number): void {
    const used = this.start - this.keepFrom;
    const projected = used + Math.ceil((used / done) * remaining * 1.125) + 256;
    if (projected <= this.buf.length - this.keepFrom || projected > MAX_RESERVE) return;
    this.pos = this.start;
    if (this.area !== undefined) this.growArea(this.keepFrom + projected);
    else this.newSlab(projected, true);
  }

  /** Makes room for `extra` more bytes and the CRC, moving the packet so far to a new slab if needed. */
  private ensure(extra: number): void {
    if (this.pos + extra + 4 <= this.buf.length) return;
    if (this.area !== undefined) this.growArea(this.pos + extra + 4);
    else this.newSlab(this.pos - this.keepFrom + extra + 4);
  }

  /** The area's memory grows in place (positions keep), but views of it are new: the last test id's among them. */
  private growArea(length: number): void {
    const old = this.buf;
    this.area!.grow(length);
    this.buf = this.area!.bytes;
    this.view = this.area!.view;
    this.arrayBuffer = this.buf.buffer;
    if (this.lastIdBuf === old) {
      this.lastIdBuf = this.buf;
      this.lastIdView = this.view;
    }
  }

  private newSlab(need: number, exact = false): void {
    const used = Math.max(0, this.pos - this.keepFrom);
    const next = new Uint8Array(exact ? need : Math.max(SLAB, need * 2));
    if (used > 0) next.set(this.buf.subarray(this.keepFrom, this.pos));
    this.buf = next;
    this.arrayBuffer = next.buffer;
    this.view = new DataView(next.buffer);
    this.start -= this.keepFrom;
    this.pos = used;
    this.keepFrom = 0;
  }

  private writeTimestamp(seconds: number, nanos: number): void {
    if (!Number.isInteger(seconds) || seconds < 0 || seconds > 0xffffffff) {
      refuse(`timestamp seconds must be an integer in 0..4294967295, got ${String(seconds)}`);
    }
    if (!Number.isInteger(nanos) || nanos < 0 || nanos > 999_999_999) {
      refuse(`timestamp nanos must be an integer in 0..999999999, got ${String(nanos)}`);
    }
    this.ensure(8);
    const b = this.buf;
    const p = this.pos;
    b[p] = seconds >>> 24;
    b[p + 1] = (seconds >>> 16) & 0xff;
    b[p + 2] = (seconds >>> 8) & 0xff;
    b[p + 3] = seconds & 0xff;
    this.pos = writeNumber(b, p + 4, nanos);
  }

  /** SPEC §2.5: a length, then UTF-8 without NUL. Sets asciiAt. */
  private writeString(s: string, field: string): void {
    if (typeof s !== 'string') refuse(`\`${field}\` must be a string, got ${typeof s}`);
    const n = s.length;
    if (n > MAX_PACKET_BYTES) refuse(`\`${field}\` is longer than a packet`);
    // Optimistic ASCII: write the characters after a length sized for n bytes,
    // with room for any UTF-8 (at most 3 bytes per UTF-16 unit), so a short
    // write cannot pass for an ASCII one.
    this.ensure(3 * n + 4);
    const b = this.buf;
    const start = this.pos + numberWidth(n);
    let ascii: boolean;
    if (utf8Write !== undefined) {
      ascii = utf8Write.call(b, s, start, 3 * n) === n && isAsciiNoNul(this.view, b, start, start + n);
    } else {
      let i = 0;
      for (; i < n; i++) {
        const c = s.charCodeAt(i);
        if (c >= 0x80 || c === 0) break;
        b[start + i] = c;
      }
      ascii = i === n;
    }
    if (ascii) {
      writeNumber(b, this.pos, n);
      this.pos = start + n;
      this.asciiAt = start;
      return;
    }
    this.asciiAt = -1;
    if (s.indexOf('\0') !== -1) refuse(`\`${field}\` contains a NUL character`);
    const utf8 = encodeUtf8(s);
    if (utf8 === undefined) refuse(`\`${field}\` contains a lone surrogate (not encodable as UTF-8)`);
    this.writeBytes(utf8);
  }

  private writeBytes(bytes: Uint8Array): void {
    if (!(bytes instanceof Uint8Array)) refuse('`fileBytes` must be a Uint8Array');
    const n = bytes.length;
    if (n > MAX_PACKET_BYTES) refuse(`attachment of ${n} bytes exceeds the packet maximum; use encodeFileChunks`);
    this.ensure(n + 4);
    this.pos = writeNumber(this.buf, this.pos, n);
    this.buf.set(bytes, this.pos);
    this.pos += n;
  }
}

/**
 * Writes `s` at `at` as ASCII if it is: with utf8Write, exactly when it writes
 * one byte per character (room for 3 per character must follow `at`); without
 * it, by a loop that also refuses NUL. False when `s` is not ASCII (the bytes
 * written are then garbage). NUL still has to be checked after utf8Write.
 */
function writeAsciiOptimistic(b: Uint8Array, s: string, at: number): boolean {
  const n = s.length;
  if (utf8Write !== undefined) return utf8Write.call(b, s, at, 3 * n) === n;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x80 || c === 0) return false;
    b[at + i] = c;
  }
  return true;
}

/** SPEC §2.3: the status's 3-bit value (the index in STATUSES). */
function statusBits(status: TestStatus | undefined): number {
  const code = statusCode(status);
  return code >= 0 ? code : refuse(`unknown status ${JSON.stringify(status)}`);
}

/** statusBits, or -1 for an unknown status. */
function statusCode(status: TestStatus | undefined): number {
  switch (status) {
    case undefined:
    case 'undefined':
      return 0;
    case 'exists':
      return 1;
    case 'inprogress':
      return 2;
    case 'success':
      return 3;
    case 'uxsuccess':
      return 4;
    case 'skip':
      return 5;
    case 'fail':
      return 6;
    case 'xfail':
      return 7;
    default:
      return -1;
  }
}

function refuse(message: string): never {
  throw new SubunitError(SubunitErrorCode.ENCODE, `cannot encode subunit packet: ${message}`);
}

let shared: PacketEncoder | undefined;

/** Encodes one event with a shared encoder. */
export function encodePacket(event: SubunitEvent): Uint8Array {
  shared ??= new PacketEncoder();
  return shared.encode(event);
}

/**
 * Splits an attachment across packets (SPEC §2.6): every packet repeats the
 * event's test id, route code, timestamp, tags, mime type and runnable flag;
 * the status and EOF (unless `event.eof === false`) go on the last packet only.
 * Zero bytes still make one packet.
 *
 * `maxChunk` (1..MAX_PACKET_BYTES) is clamped: a packet carries at most
 * `maxChunk` bytes and at most what fits in MAX_PACKET_BYTES beside the
 * event's other fields (4,194,286 bytes beside a one-letter test id and file
 * name and nothing else, fewer beside longer fields), so MAX_PACKET_BYTES
 * asks for full packets. A clamp rather than a refusal: the room depends on
 * the event, which a caller should not have to compute. Throws
 * ERR_SUBUNIT_ENCODE when the other fields leave no room for a byte.
 */
export function encodeFileChunks(event: SubunitEvent, bytes: Uint8Array, maxChunk = DEFAULT_FILE_CHUNK): Uint8Array[] {
  if (!(bytes instanceof Uint8Array)) throw new InvalidArgumentError('bytes', 'a Uint8Array', bytes);
  if (!Number.isInteger(maxChunk) || maxChunk < 1 || maxChunk > MAX_PACKET_BYTES) {
    throw new InvalidArgumentError('maxChunk', `an integer in 1..${MAX_PACKET_BYTES}`, maxChunk);
  }
  if (event.fileName === undefined) throw new InvalidArgumentError('event.fileName', 'a string', event.fileName);
  const encoder = new PacketEncoder();
  const packets: Uint8Array[] = [];
  const { status, eof, ...common } = event;
  // The last packet's fields with no content: status and EOF are flags, so every
  // packet's other fields take as many bytes. Its length field's width is in its
  // top two bits (SPEC §2.4); without it and the content's 1-byte count, `fixed`
  // is what every packet spends besides the content and its count.
  const probe = encoder.encode({ ...common, fileBytes: EMPTY, ...(status === undefined ? {} : { status }), ...(eof === false ? {} : { eof: true }) });
  const fixed = probe.length - ((probe[3]! >> 6) + 1) - 1;
  // SPEC §2.1: a packet without its length field is at most 4,194,300 bytes (then a 3-byte length).
  let room = MAX_PACKET_BYTES - 3 - fixed;
  while (room > 0 && fixed + numberWidth(room) + room > MAX_PACKET_BYTES - 3) room--;
  if (bytes.length > 0 && room < 1) {
    refuse(`the event's other fields take ${fixed + 1 + 3} of the ${MAX_PACKET_BYTES} bytes of a packet: no room for attachment bytes`);
  }
  const chunkSize = Math.min(maxChunk, room);
  for (let off = 0; off < bytes.length || packets.length === 0; off += chunkSize) {
    const last = off + chunkSize >= bytes.length;
    const chunk: SubunitEvent = { ...common, fileBytes: bytes.subarray(off, Math.min(bytes.length, off + chunkSize)) };
    if (last) {
      if (status !== undefined) chunk.status = status;
      if (eof !== false) chunk.eof = true;
    }
    packets.push(encoder.encode(chunk));
  }
  return packets;
}
