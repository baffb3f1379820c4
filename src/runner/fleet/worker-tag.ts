import type { Clock } from '../../core/clock.js';
import { PacketEncoder } from '../../subunit/encoder.js';
import { timestampFromMillis, type SubunitEvent } from '../../subunit/event.js';

/**
 * Marks a server's packet for the merged stream as testr marks a partition's (SPEC §14.7):
 * the tag `worker-N`, the route code `N` in front of its own, and a timestamp of arrival
 * when it has none; then encodes it. The result is valid until the next call.
 */
export class WorkerTagger {
  readonly #encoder = new PacketEncoder();
  readonly #clock: Clock;

  constructor(clock: Clock) {
    this.#clock = clock;
  }

  tag(event: SubunitEvent, worker: number): { event: SubunitEvent; raw: Uint8Array } {
    const tag = `worker-${worker}`;
    const tagged: SubunitEvent = { ...event };
    const tags = event.tags === undefined ? [] : event.tags.filter((t) => t !== tag);
    tags.push(tag);
    tagged.tags = tags;
    tagged.routeCode = event.routeCode === undefined || event.routeCode === '' ? String(worker) : `${worker}/${event.routeCode}`;
    tagged.timestamp ??= timestampFromMillis(this.#clock.now());
    return { event: tagged, raw: this.#encoder.encode(tagged) };
  }
}
