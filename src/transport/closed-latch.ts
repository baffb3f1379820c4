import type { TransportClosed } from './transport.js';

/** A promise that settles once with the first outcome given; later outcomes are ignored. */
export class ClosedLatch {
  readonly promise: Promise<TransportClosed>;
  #resolve!: (value: TransportClosed) => void;
  #settled = false;

  constructor() {
    this.promise = new Promise((resolve) => {
      this.#resolve = resolve;
    });
  }

  get settled(): boolean {
    return this.#settled;
  }

  settle(value: TransportClosed): void {
    if (this.#settled) return;
    this.#settled = true;
    this.#resolve(value);
  }
}
