import { DecoderCore, type DecoderSink, type StreamDecoderOptions } from './decoder-core.js';
import type { SubunitEvent } from './event.js';
import type { MutablePacketView } from './packet-view.js';

export type { StreamDecoderOptions } from './decoder-core.js';

export interface DecoderHandler extends DecoderSink {
  /** A valid packet. `raw` is a view of its exact bytes, valid only during the call; `offset` is its stream byte offset. */
  packet(event: SubunitEvent, raw: Uint8Array, offset: number): void;
}

/**
 * Streaming subunit v2 decoder (SPEC §2.7) that hands out each packet as its
 * own SubunitEvent object, which the handler may keep. For hot consumers that
 * read a few fields of every packet, PacketViewDecoder does the same without
 * an object per packet.
 */
export class StreamDecoder extends DecoderCore {
  private readonly handler: DecoderHandler;

  constructor(handler: DecoderHandler, options?: StreamDecoderOptions) {
    super(handler, options);
    this.handler = handler;
  }

  protected emitPacket(view: MutablePacketView): void {
    // Everything is taken from the view before the handler runs, so a handler that pushes more input loses nothing.
    const event = view.toEvent();
    // raw() written out: this runs once per packet, and V8 did not always inline it.
    this.handler.packet(event, new Uint8Array(view.arrayBuffer, view.byteOffset + view.start, view.end - view.start), view.offset);
  }
}
