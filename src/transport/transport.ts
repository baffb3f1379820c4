import type { Duplex } from 'node:stream';
import type { SubrunError } from '../core/errors.js';

/**
 * A byte channel to a peer (SPEC §9). The protocol layers above see only `stream`;
 * everything about how the bytes travel (pipes, sockets, WebSocket frames, ssh) stays here.
 */
export interface Transport {
  /** The protocol byte stream: binary, no encoding; ending it half-closes (SPEC §9.1). */
  readonly stream: Duplex;
  /** Canonical description, e.g. `tcp://127.0.0.1:4000`, `stdio:pid/1234`. */
  readonly url: string;
  /** Settles once when the channel is gone; never rejects. */
  readonly closed: Promise<TransportClosed>;
  /** Graceful: end our side, wait (bounded) for the peer to finish, then force. Idempotent. */
  close(): Promise<void>;
  /** Now: kill the child by pid / destroy the socket. Idempotent. */
  destroy(): void;
}

export interface TransportClosed {
  /** Present when the channel broke rather than closing in order (SPEC §9.8). */
  error?: SubrunError;
  /** Child-based transports: the child's exit status. */
  exitCode?: number | null;
  signal?: string | null;
  /** Child-based transports: the last ~8 KiB of the child's stderr. */
  stderrTail?: string;
  /** Child transports in protocol-fd mode: the last ~8 KiB of the child's stdout (test output). */
  stdoutTail?: string;
}

/** Bound on the stderr/stdout tails kept for a child (SPEC §9.8). */
export const TAIL_BYTES = 8 * 1024;

/** Default bound on how long close() waits for the peer before forcing (SPEC §9.1). */
export const DEFAULT_CLOSE_TIMEOUT_MS = 5000;
