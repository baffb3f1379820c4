import { Duplex, type Readable, type Writable } from 'node:stream';
import { SubrunError } from '../core/errors.js';
import { PROTOCOL_FD_PREAMBLE } from './protocol-fd.js';

export type ChannelMode = 'stdio' | 'fd';

export interface ChildStreamEvents {
  /** Child stdout bytes that are not protocol (protocol-fd mode only). */
  onOutput(chunk: Buffer): void;
  onModeChosen(mode: ChannelMode): void;
  onProtocolError(error: SubrunError): void;
}

/**
 * The protocol stream of a child process (SPEC §9.4, §9.5). In plain mode it reads the
 * child's stdout and writes its stdin. When the protocol fd was offered it tees our writes
 * to stdin and the fd until the child shows which one it speaks on:
 * - the preamble arriving on the fd chooses fd mode;
 * - a byte on stdout, or EOF on the fd, with no preamble byte seen first chooses stdio mode.
 * A stdout byte only decides after the current poll phase (setImmediate), so that a
 * preamble the child wrote before it, already readable, is seen first.
 */
export class ChildStream extends Duplex {
  readonly #stdin: Writable;
  readonly #stdout: Readable;
  readonly #fd: Duplex | undefined;
  readonly #events: ChildStreamEvents;
  #mode: ChannelMode | undefined;
  #preambleSeen = 0;
  #heldStdout: Buffer[] = [];
  #decisionScheduled = false;
  #source: Readable | undefined;
  #writeBroken = false;
  /** Writes waiting for a target to drain; those on the channel not chosen are released on choosing. */
  readonly #waiters = new Set<{ target: Writable; release: () => void }>();

  constructor(stdin: Writable, stdout: Readable, fd: Duplex | undefined, events: ChildStreamEvents) {
    // Not autoDestroy: when the protocol is done the child's stdout (test output in fd mode)
    // and stderr must still drain; only an explicit destroy() tears the pipes down.
    super({ allowHalfOpen: true, autoDestroy: false });
    this.#stdin = stdin;
    this.#stdout = stdout;
    this.#fd = fd;
    this.#events = events;
    // EPIPE on a dead child's stdin must not crash us; `closed` reports the exit (SPEC §9.8).
    stdin.on('error', () => {
      this.#writeBroken = true;
    });
    stdout.on('data', (chunk: Buffer) => this.#onStdout(chunk));
    stdout.on('end', () => {
      if (this.#mode === 'stdio') this.push(null);
      else if (this.#mode === undefined) this.#scheduleStdioDecision();
    });
    if (fd === undefined) {
      this.#choose('stdio');
    } else {
      fd.on('error', () => {
        if (this.#mode === 'fd') this.#writeBroken = true;
      });
      fd.on('data', (chunk: Buffer) => this.#onFd(chunk));
      fd.on('end', () => {
        if (this.#mode === 'fd') this.push(null);
        else if (this.#mode === undefined && this.#preambleSeen === 0) this.#choose('stdio');
        else if (this.#mode === undefined) this.#protocolError('the child closed the protocol fd in the middle of the preamble');
      });
    }
  }

  get mode(): ChannelMode | undefined {
    return this.#mode;
  }

  #onStdout(chunk: Buffer): void {
    if (this.#mode === 'stdio') {
      if (!this.push(chunk)) this.#stdout.pause();
    } else if (this.#mode === 'fd') {
      this.#events.onOutput(chunk);
    } else {
      this.#heldStdout.push(chunk);
      this.#scheduleStdioDecision();
    }
  }

  #scheduleStdioDecision(): void {
    if (this.#decisionScheduled) return;
    this.#decisionScheduled = true;
    setImmediate(() => {
      if (this.#mode === undefined && this.#preambleSeen === 0) this.#choose('stdio');
    });
  }

  #onFd(chunk: Buffer): void {
    if (this.#mode === 'fd') {
      if (!this.push(chunk)) this.#fd!.pause();
      return;
    }
    if (this.#mode === 'stdio') return; // the fd was not chosen; ignore and drop (SPEC §9.5)
    const want = PROTOCOL_FD_PREAMBLE.length - this.#preambleSeen;
    const head = chunk.subarray(0, want);
    if (!head.equals(PROTOCOL_FD_PREAMBLE.subarray(this.#preambleSeen, this.#preambleSeen + head.length))) {
      this.#protocolError(`the child wrote ${JSON.stringify(head.toString('latin1'))} on the protocol fd instead of the preamble`);
      return;
    }
    this.#preambleSeen += head.length;
    if (this.#preambleSeen < PROTOCOL_FD_PREAMBLE.length) return;
    this.#choose('fd');
    const rest = chunk.subarray(want);
    if (rest.length > 0 && !this.push(rest)) this.#fd!.pause();
  }

  #choose(mode: ChannelMode): void {
    this.#mode = mode;
    if (mode === 'fd') {
      this.#source = this.#fd;
      // Stdout is now test output; anything held from it goes to the output callback.
      for (const c of this.#heldStdout) this.#events.onOutput(c);
      // The child does not read the protocol from stdin: drop what the tee queued there and
      // give it EOF, as under </dev/null.
      this.#stdin.destroy();
      if (this.#fd?.readableEnded === true) this.push(null);
    } else {
      this.#source = this.#stdout;
      this.#fd?.destroy();
      for (const c of this.#heldStdout) this.push(c);
      if (this.#stdout.readableEnded) this.push(null);
    }
    this.#heldStdout = [];
    const unchosen = mode === 'fd' ? this.#stdin : this.#fd;
    for (const w of [...this.#waiters]) if (w.target === unchosen) w.release();
    this.#events.onModeChosen(mode);
  }

  #protocolError(message: string): void {
    this.#mode = 'fd';
    this.#events.onProtocolError(new SubrunError('ERR_TRANSPORT_PROTOCOL_FD', message));
  }

  override _read(): void {
    this.#source?.resume();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    if (this.#writeBroken) {
      callback(); // SPEC §9.8: bytes for a peer that is gone are dropped; `closed` says why
      return;
    }
    const targets: Writable[] = [];
    if (this.#mode === 'stdio' || this.#mode === undefined) targets.push(this.#stdin);
    if ((this.#mode === 'fd' || this.#mode === undefined) && this.#fd !== undefined) targets.push(this.#fd);
    let waiting = 1;
    const done = () => {
      if (--waiting === 0) callback();
    };
    for (const w of targets) {
      if (w.destroyed || w.writableEnded) continue;
      if (!w.write(chunk)) {
        waiting++;
        const waiter = { target: w, release: () => {} };
        const onDrain = () => {
          w.off('close', onDrain);
          w.off('drain', onDrain);
          this.#waiters.delete(waiter);
          done();
        };
        waiter.release = onDrain;
        this.#waiters.add(waiter);
        w.once('drain', onDrain);
        w.once('close', onDrain);
      }
    }
    done();
  }

  override _final(callback: (error?: Error | null) => void): void {
    if (this.#mode !== 'fd' && !this.#stdin.writableEnded) this.#stdin.end();
    if (this.#mode !== 'stdio' && this.#fd !== undefined && !this.#fd.destroyed) this.#fd.end();
    callback();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.#stdin.destroy();
    this.#stdout.destroy();
    this.#fd?.destroy();
    callback(error);
  }
}
