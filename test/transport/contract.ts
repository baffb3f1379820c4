// The transport contract (SPEC §9.1): one suite, run against every transport by the
// contract-*.test.ts files. The peer is always an echo: in-process for sockets and memory,
// the echo fixture as a child for stdio and ssh.
import { createHash, randomBytes } from 'node:crypto';
import type { Test } from 'tap';
import { ManualClock } from '../../src/core/clock.js';
import type { Transport, TransportClosed } from '../../src/transport/transport.js';

export interface HarnessOptions {
  /** The echo peer keeps its side open after our EOF (for close() escalation). */
  ignoreEof?: boolean;
  clock?: ManualClock;
  closeTimeoutMs?: number;
}

export interface Harness {
  client: Transport;
  /** Kill the peer abruptly: SIGKILL the child, destroy the server-side socket. */
  killPeer(): void;
  cleanup(): Promise<void>;
}

export interface ContractSubject {
  name: string;
  make(options: HarnessOptions): Promise<Harness>;
  /** closed settles by itself once the peer dies (children, ws, memory); sockets only see EOF. */
  detectsPeerDeath: boolean;
  /** A child transport: closed carries the exit status. */
  child: boolean;
  /** Bytes for the large-payload case (ssh is slower). @default 8 MiB */
  largeBytes?: number;
}

export const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/** Collect everything the stream yields until EOF. */
export function readAll(transport: Transport): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    transport.stream.on('data', (c: Buffer) => chunks.push(c));
    transport.stream.once('end', () => resolve(Buffer.concat(chunks)));
    transport.stream.once('error', reject);
  });
}

/** Fail instead of hanging: every wait in the contract is bounded. */
export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} did not happen within ${ms} ms`)), ms);
    }),
  ]);
}

/** Write all chunks, honouring backpressure; returns how often write() said "wait". */
export async function writeAll(transport: Transport, chunks: Buffer[]): Promise<number> {
  let waits = 0;
  for (const c of chunks) {
    if (!transport.stream.write(c)) {
      waits++;
      await new Promise<void>((resolve) => transport.stream.once('drain', resolve));
    }
  }
  return waits;
}

/** Deterministic chunk sizes so a failure can be replayed. */
function* chunkSizes(seed: number, total: number, max: number): Generator<number> {
  let x = seed >>> 0 || 1;
  let left = total;
  while (left > 0) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    const n = Math.min(left, 1 + (x % max));
    left -= n;
    yield n;
  }
}

const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

export function runTransportContract(t: Test, subject: ContractSubject): void {
  const setup = async (t: Test, options: HarnessOptions = {}) => {
    const h = await subject.make(options);
    t.teardown(async () => {
      h.client.destroy();
      await h.cleanup();
    });
    return h;
  };

  t.test(`${subject.name}: bytes echo both ways, in order, and EOF reaches the peer`, async (t) => {
    const { client } = await setup(t);
    const got = readAll(client);
    client.stream.write(Buffer.from('hello '));
    client.stream.write(Buffer.from([0, 1, 2, 0xb3, 0xff]));
    client.stream.end(Buffer.from(' world'));
    // The echo ends its output only when it has seen our EOF: so 'end' here proves half-close.
    const echoed = await within(got, 20_000, 'the echo and its EOF');
    t.same(echoed, Buffer.concat([Buffer.from('hello '), Buffer.from([0, 1, 2, 0xb3, 0xff]), Buffer.from(' world')]));
    const info = await within(client.closed, 20_000, 'closed');
    t.equal(info.error, undefined, 'an orderly close carries no error');
    if (subject.child) t.equal(info.exitCode, 0, 'the child exited 0');
    t.equal(typeof client.url, 'string');
  });

  t.test(`${subject.name}: a large payload crosses with backpressure, intact`, async (t) => {
    const { client } = await setup(t);
    const total = subject.largeBytes ?? 8 * 1024 * 1024;
    const payload = randomBytes(total);
    const chunks: Buffer[] = [];
    for (let off = 0; off < total; off += 64 * 1024) chunks.push(payload.subarray(off, off + 64 * 1024));
    const got = readAll(client);
    const waits = await within(writeAll(client, chunks), 60_000, 'writing the payload');
    client.stream.end();
    const echoed = await within(got, 60_000, 'the echoed payload');
    t.equal(echoed.length, total, 'every byte came back');
    t.equal(sha256(echoed), sha256(payload), 'in order, unchanged');
    t.ok(waits > 0, `write() asked us to wait (${waits} times): backpressure reaches the writer`);
    await within(client.closed, 20_000, 'closed');
  });

  t.test(`${subject.name}: arbitrary chunking is invisible to the reader`, async (t) => {
    for (const seed of [1, 7, 1234]) {
      const { client } = await setup(t);
      const payload = randomBytes(150_000);
      const chunks: Buffer[] = [];
      let off = 0;
      for (const n of chunkSizes(seed, payload.length, seed === 1 ? 3 : 9000)) {
        chunks.push(payload.subarray(off, off + n));
        off += n;
      }
      const got = readAll(client);
      await writeAll(client, chunks);
      client.stream.end();
      const echoed = await within(got, 30_000, 'the echo');
      t.equal(sha256(echoed), sha256(payload), `seed ${seed}: ${chunks.length} chunks reassemble`);
    }
  });

  t.test(`${subject.name}: peer death settles closed and never hangs`, async (t) => {
    const h = await setup(t);
    const { client } = h;
    const got = readAll(client);
    client.stream.write(Buffer.from('before death'));
    // Wait for the echo so the peer is surely up before it dies.
    await within(new Promise((resolve) => client.stream.once('data', resolve)), 20_000, 'the first echo');
    h.killPeer();
    await within(got, 20_000, 'EOF after the peer died');
    let info: TransportClosed;
    if (subject.detectsPeerDeath) {
      info = await within(client.closed, 20_000, 'closed after the peer died, without close()');
      t.ok(info.error !== undefined || info.signal === 'SIGKILL', 'closed says the peer went away');
      if (subject.child) t.equal(info.signal, 'SIGKILL', 'the exit signal is reported');
      else t.equal(info.error?.code, 'ERR_TRANSPORT_BROKEN');
    }
    // Writing into a dead channel must not throw, and close() must not hang.
    t.doesNotThrow(() => client.stream.write(Buffer.from('into the void')));
    await within(client.close(), 20_000, 'close() after peer death');
    info = await within(client.closed, 1000, 'closed');
    t.ok(info, 'closed has settled');
  });

  t.test(`${subject.name}: close() and destroy() are idempotent and settle closed once`, async (t) => {
    const { client } = await setup(t);
    readAll(client).catch(() => {});
    let settledCount = 0;
    void client.closed.then(() => settledCount++);
    const a = client.close();
    const b = client.close();
    await within(Promise.all([a, b]), 20_000, 'two concurrent close() calls');
    client.destroy();
    client.destroy();
    await client.close();
    await tick();
    t.equal(settledCount, 1, 'closed settled exactly once');
    const info = await client.closed;
    t.equal(info.error, undefined, 'an orderly close has no error');

    const second = await setup(t);
    readAll(second.client).catch(() => {});
    second.client.destroy();
    second.client.destroy();
    const info2 = await within(second.client.closed, 20_000, 'closed after destroy()');
    await within(second.client.close(), 1000, 'close() after destroy()');
    t.equal(info2.error, undefined, 'our own destroy() is not reported as a failure');
    if (subject.child) t.equal(info2.signal, 'SIGKILL', 'destroy() kills the child');
  });

  t.test(`${subject.name}: close() is bounded when the peer never finishes`, async (t) => {
    const clock = new ManualClock();
    const { client } = await setup(t, { ignoreEof: true, clock, closeTimeoutMs: 5000 });
    readAll(client).catch(() => {});
    client.stream.write(Buffer.from('x'));
    await within(new Promise((resolve) => client.stream.once('data', resolve)), 20_000, 'the first echo');
    let done = false;
    const closing = client.close().then(() => {
      done = true;
    });
    // Give the peer a real chance to (wrongly) finish on its own before time moves.
    await new Promise((resolve) => setTimeout(resolve, 100));
    t.equal(done, false, 'close() waits for a peer that keeps its side open');
    clock.advance(5000);
    await tick();
    clock.advance(5000);
    await within(closing, 20_000, 'close() once the timeout passed');
    const info = await client.closed;
    // ssh turns SIGTERM into its own exit 255.
    if (subject.child) t.ok(info.signal === 'SIGTERM' || info.signal === 'SIGKILL' || info.exitCode === 255, `the child was stopped (${info.signal ?? info.exitCode})`);
    t.equal(info.error, undefined, 'a stop we forced is not reported as a failure');
    t.equal(clock.pendingTimers, 0, 'no timer left behind');
  });
}
