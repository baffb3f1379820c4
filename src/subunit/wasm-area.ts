/**
 * A WebAssembly scratch area for PacketEncoder.encodeBatch (BENCHMARKS.md
 * "Codec"): the batch is written into this module's memory, and the common
 * packet (a test id, a status, perhaps a timestamp) is finished there by one
 * call: header, the repeated test id copied, a new one checked ASCII without
 * NUL, and the CRC-32 by the same slice-by-8 tables as crc32.ts, without
 * JavaScript's bounds checks. A batch took ~0.55x the time of the JavaScript
 * path. The bytes are the same: the encoder's tests run through both.
 *
 * The module is assembled here from a few dozen instructions (no toolchain,
 * nothing fetched or prebuilt). Memory layout: the CRC tables at [0, 8192),
 * the batch from AREA_BASE up, grown as needed. Without WebAssembly (an engine
 * started with --no-expose-wasm, say) acquireArea() returns undefined and the
 * encoder keeps to JavaScript.
 */

import { crc32Tables } from './crc32.js';

/** Where the batch starts in the area's memory: the CRC tables come first. */
export const AREA_BASE = 8192;
/** An area that grew past this is dropped after its batch (wasm memory cannot shrink); a smaller one is kept for the next. */
const RETAIN_BYTES = 16 << 20;
const PAGE = 65536;

/** The part of the WebAssembly API used here (not in the project's TypeScript libs); absent when the engine does not expose it. */
declare const WebAssembly:
  | {
      Module: new (bytes: Uint8Array) => object;
      Instance: new (module: object, imports: object) => { exports: unknown };
    }
  | undefined;

interface AreaExports {
  mem: { readonly buffer: ArrayBuffer; grow(pages: number): number };
  common(s: number, total: number, flags: number, seconds: number, nanos: number, nanosWidth: number, n: number, src: number): number;
  crc(start: number, end: number): number;
}

/** The module's memory and functions, and views of the memory kept current across growth. */
export class WasmArea {
  bytes: Uint8Array<ArrayBuffer>;
  view: DataView<ArrayBuffer>;
  readonly #x: AreaExports;

  constructor(x: AreaExports) {
    this.#x = x;
    this.bytes = new Uint8Array(x.mem.buffer);
    this.view = new DataView(x.mem.buffer);
  }

  /** Grows the memory to at least `length` bytes (doubling). Views taken before are detached: read `bytes` and `view` again. */
  grow(length: number): void {
    const have = this.bytes.length;
    if (length <= have) return;
    const pages = Math.ceil((Math.max(length, 2 * have) - have) / PAGE);
    this.#x.mem.grow(pages);
    this.bytes = new Uint8Array(this.#x.mem.buffer);
    this.view = new DataView(this.#x.mem.buffer);
  }

  /**
   * Finishes the common packet at `s` (SPEC §2): writes the signature, flags,
   * the length `total` (1 byte below 64, else 2), the timestamp when
   * `nanosWidth` (1-4, the width of `nanos`) is not 0, the test id's length
   * `n` (< 16384), then the id: copied from `src` when src >= 0, else already
   * in place and checked ASCII without NUL. Then the CRC. Returns `total`, or 0
   * when the id is not ASCII without NUL (nothing else is checked: the caller
   * has).
   */
  common(s: number, total: number, flags: number, seconds: number, nanos: number, nanosWidth: number, n: number, src: number): number {
    return this.#x.common(s, total, flags, seconds, nanos, nanosWidth, n, src);
  }

  /** The CRC-32 of bytes [start, end) of the memory, unsigned. */
  crc(start: number, end: number): number {
    return this.#x.crc(start, end) >>> 0;
  }

  get retained(): number {
    return this.bytes.length;
  }
}

let compiled: object | null | undefined;
let idle: WasmArea | undefined;
let busy = false;

/**
 * The area for one batch, or undefined when WebAssembly is missing or the area
 * is in use (an event's getter encoding a batch of its own): then use
 * JavaScript. Give it back with releaseArea().
 */
export function acquireArea(): WasmArea | undefined {
  if (busy) return undefined;
  if (idle === undefined) {
    const made = makeArea();
    if (made === undefined) return undefined;
    idle = made;
  }
  busy = true;
  return idle;
}

/** Ends a batch: the area is kept for the next one unless it grew past RETAIN_BYTES. */
export function releaseArea(area: WasmArea): void {
  busy = false;
  if (area.retained > RETAIN_BYTES) idle = undefined;
}

/** The memory the idle area keeps between batches (0 without one): for tests. */
export function retainedAreaBytes(): number {
  return idle?.retained ?? 0;
}

function makeArea(): WasmArea | undefined {
  if (compiled === undefined) {
    try {
      compiled = typeof WebAssembly === 'object' ? new WebAssembly.Module(assemble()) : null;
    } catch {
      compiled = null;
    }
  }
  if (compiled === null) return undefined;
  const x = new WebAssembly!.Instance(compiled, {}).exports as AreaExports;
  const area = new WasmArea(x);
  area.grow(AREA_BASE + PAGE);
  // Little-endian whatever the platform: the module reads the tables with i32.load.
  const tables = crc32Tables();
  for (let i = 0; i < tables.length; i++) area.view.setInt32(4 * i, tables[i]!, true);
  return area;
}

// ---------------------------------------------------------------------------
// The module, written with a small assembler: each instruction is a byte array,
// a body is a nested array of them (WebAssembly core spec, binary format).

type Code = number[] | Code[];

function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
  return out;
}

function sleb(n: number): number[] {
  const out: number[] = [];
  for (;;) {
    const b = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (b & 0x40) === 0) || (n === -1 && (b & 0x40) !== 0)) {
      out.push(b);
      return out;
    }
    out.push(b | 0x80);
  }
}

const I32 = 0x7f;
const get = (i: number): number[] => [0x20, ...uleb(i)];
const set = (i: number): number[] => [0x21, ...uleb(i)];
const tee = (i: number): number[] => [0x22, ...uleb(i)];
const i32 = (n: number): number[] => [0x41, ...sleb(n | 0)];
/** i32.load / store with alignment hint 1 (the area's words are unaligned) and a constant offset. */
const load = (offset = 0): number[] => [0x28, 0, ...uleb(offset)];
const load8 = (offset = 0): number[] => [0x2d, 0, ...uleb(offset)];
const store = (offset = 0): number[] => [0x36, 0, ...uleb(offset)];
const store8 = (offset = 0): number[] => [0x3a, 0, ...uleb(offset)];
const ADD = [0x6a];
const SUB = [0x6b];
const AND = [0x71];
const OR = [0x72];
const XOR = [0x73];
const SHL = [0x74];
const SHR_U = [0x76];
const ROTL = [0x77];
const ROTR = [0x78];
const EQ = [0x46];
const LT_S = [0x48];
const LT_U = [0x49];
const GT_U = [0x4b];
const GE_U = [0x4f];
const BLOCK = [0x02, 0x40];
const LOOP = [0x03, 0x40];
const IF = [0x04, 0x40];
const ELSE = [0x05];
const END = [0x0b];
const RETURN = [0x0f];
const br = (depth: number): number[] => [0x0c, ...uleb(depth)];
const brIf = (depth: number): number[] => [0x0d, ...uleb(depth)];
/** memory.copy (bulk memory): dest, src, length on the stack. */
const MEMORY_COPY = [0xfc, 0x0a, 0, 0];

/** Table k's entry for `index & 0xff` (table k at byte k * 1024; index pushed by `index`). */
const lookup = (k: number, index: Code): Code => [index, i32(255), AND, i32(2), SHL, load(k * 1024)];
/** Table k's entry for the top byte of local v. */
const lookupTop = (k: number, v: number): Code => [get(v), i32(24), SHR_U, i32(2), SHL, load(k * 1024)];
const byteOf = (v: number, shift: number): Code => [get(v), i32(shift), SHR_U];
/** Stores local v big-endian at the address `addr` pushes (a byte swap by two rotations). */
const storeBigEndian = (addr: Code, v: number): Code => [addr, get(v), i32(8), ROTR, i32(0xff00ff00), AND, get(v), i32(8), ROTL, i32(0x00ff00ff), AND, OR, store()];

/**
 * CRC-32 of [p, stop) into local c, as crc32Table in crc32.ts: 8 bytes a step,
 * then 4, then single bytes. Clobbers p, d and stop8.
 */
function crcInto(p: number, stop: number, c: number, d: number, stop8: number): Code {
  return [
    i32(-1), set(c),
    get(stop), get(stop), get(p), SUB, i32(7), AND, SUB, set(stop8),
    BLOCK, get(p), get(stop8), GE_U, brIf(0),
      LOOP,
        get(c), get(p), load(0), XOR, set(c),
        get(p), load(4), set(d),
        lookup(7, get(c)), lookup(6, byteOf(c, 8)), XOR, lookup(5, byteOf(c, 16)), XOR, lookupTop(4, c), XOR,
        lookup(3, get(d)), XOR, lookup(2, byteOf(d, 8)), XOR, lookup(1, byteOf(d, 16)), XOR, lookupTop(0, d), XOR,
        set(c),
        get(p), i32(8), ADD, tee(p), get(stop8), LT_U, brIf(0),
      END,
    END,
    get(stop), get(p), SUB, i32(4), GE_U, IF,
      get(c), get(p), load(0), XOR, set(c),
      lookup(3, get(c)), lookup(2, byteOf(c, 8)), XOR, lookup(1, byteOf(c, 16)), XOR, lookupTop(0, c), XOR, set(c),
      get(p), i32(4), ADD, set(p),
    END,
    BLOCK, get(p), get(stop), GE_U, brIf(0),
      LOOP,
        get(c), get(p), load8(0), XOR, i32(255), AND, i32(2), SHL, load(0), get(c), i32(8), SHR_U, XOR, set(c),
        get(p), i32(1), ADD, tee(p), get(stop), LT_U, brIf(0),
      END,
    END,
    get(c), i32(-1), XOR, set(c),
  ];
}

/**
 * SPEC §2.4 for a value below 16384: local `value` at local `base` + `offset`,
 * 1 byte below 64, else 2; local `next` is set to the position after it.
 */
function smallNumber(base: number, offset: number, value: number, next: number): Code {
  return [
    get(value), i32(64), LT_U, IF,
      get(base), get(value), store8(offset),
      get(base), i32(offset + 1), ADD, set(next),
    ELSE,
      get(base), get(value), i32(8), SHR_U, i32(0x40), OR, store8(offset),
      get(base), get(value), store8(offset + 1),
      get(base), i32(offset + 2), ADD, set(next),
    END,
  ];
}

/** common(s, total, flags, seconds, nanos, nanosWidth, n, src): see WasmArea.common. */
function commonBody(): Code {
  // Parameters 0-7, then locals.
  const S = 0, TOTAL = 1, FLAGS = 2, SECONDS = 3, NANOS = 4, NANOS_WIDTH = 5, N = 6, SRC = 7;
  const Q = 8, C = 9, D = 10, STOP8 = 11, P = 12, ACC = 13, W = 14, IDEND = 15;
  return [
    get(S), i32(0xb3), store8(0),
    get(S), get(FLAGS), i32(8), SHR_U, store8(1),
    get(S), get(FLAGS), store8(2),
    // SPEC §2.1: the length (which counts the whole packet).
    smallNumber(S, 3, TOTAL, Q),
    // SPEC §2.3: the timestamp, 32-bit seconds then nanoseconds as a 1-4 byte number.
    get(NANOS_WIDTH), IF,
      storeBigEndian(get(Q), SECONDS),
      get(NANOS_WIDTH), i32(1), EQ, IF,
        get(Q), get(NANOS), store8(4),
      ELSE, get(NANOS_WIDTH), i32(2), EQ, IF,
        get(Q), get(NANOS), i32(8), SHR_U, i32(0x40), OR, store8(4),
        get(Q), get(NANOS), store8(5),
      ELSE, get(NANOS_WIDTH), i32(3), EQ, IF,
        get(Q), get(NANOS), i32(16), SHR_U, i32(0x80), OR, store8(4),
        get(Q), get(NANOS), i32(8), SHR_U, store8(5),
        get(Q), get(NANOS), store8(6),
      ELSE,
        get(NANOS), i32(0xc0000000), OR, set(W),
        storeBigEndian([get(Q), i32(4), ADD], W),
      END, END, END,
      get(Q), i32(4), ADD, get(NANOS_WIDTH), ADD, set(Q),
    END,
    // The test id's length.
    smallNumber(Q, 0, N, Q),
    get(Q), get(N), ADD, set(IDEND),
    get(SRC), i32(0), LT_S, IF,
      // A new id, written by the caller: ASCII without NUL, four bytes at a
      // time as isAsciiNoNul does (a byte >= 0x80 sets its top bit, and
      // (w - 0x01010101) & ~w sets the top bit of a zero byte).
      i32(0), set(ACC), get(Q), set(P),
      BLOCK, LOOP,
        get(P), i32(4), ADD, get(IDEND), GT_U, brIf(1),
        get(P), load(0), set(W),
        get(ACC), get(W), OR, get(W), i32(0x01010101), SUB, get(W), i32(-1), XOR, AND, OR, set(ACC),
        get(P), i32(4), ADD, set(P),
        br(0),
      END, END,
      BLOCK, LOOP,
        get(P), get(IDEND), GE_U, brIf(1),
        get(P), load8(0), set(W),
        get(ACC), get(W), OR, get(W), i32(1), SUB, OR, set(ACC),
        get(P), i32(1), ADD, set(P),
        br(0),
      END, END,
      get(ACC), i32(0x80808080), AND, IF, i32(0), RETURN, END,
    ELSE,
      get(Q), get(SRC), get(N), MEMORY_COPY,
    END,
    get(S), set(P),
    crcInto(P, IDEND, C, D, STOP8),
    storeBigEndian(get(IDEND), C),
    get(TOTAL),
  ];
}

/** crc(start, end): the CRC-32 of [start, end). */
function crcBody(): Code {
  const P = 0, STOP = 1, C = 2, D = 3, STOP8 = 4;
  return [crcInto(P, STOP, C, D, STOP8), get(C)];
}

function flatten(code: Code, out: number[] = []): number[] {
  for (const part of code) {
    if (typeof part === 'number') out.push(part);
    else flatten(part, out);
  }
  return out;
}

function assemble(): Uint8Array {
  const vec = (items: number[][]): number[] => [...uleb(items.length), ...items.flat()];
  const section = (id: number, body: number[]): number[] => [id, ...uleb(body.length), ...body];
  const name = (s: string): number[] => [...uleb(s.length), ...Array.from(s, (ch) => ch.charCodeAt(0))];
  const funcs = [
    { name: 'common', params: 8, locals: 8, body: commonBody() },
    { name: 'crc', params: 2, locals: 3, body: crcBody() },
  ];
  const types = funcs.map((f) => [0x60, ...vec(new Array<number[]>(f.params).fill([I32])), ...vec([[I32]])]);
  const bodies = funcs.map((f) => {
    const code = [...vec([[...uleb(f.locals), I32]]), ...flatten(f.body), ...END];
    return [...uleb(code.length), ...code];
  });
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vec(types)),
    ...section(3, vec(funcs.map((_, i) => uleb(i)))),
    // One memory of 1 page, no maximum; the area grows it.
    ...section(5, vec([[0x00, 0x01]])),
    ...section(7, vec([...funcs.map((f, i) => [...name(f.name), 0x00, ...uleb(i)]), [...name('mem'), 0x02, 0x00]])),
    ...section(10, vec(bodies)),
  ]);
}
