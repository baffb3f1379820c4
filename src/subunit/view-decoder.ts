import { DecoderCore, type DecoderSink, type StreamDecoderOptions } from './decoder-core.js';
import type { MutablePacketView, PacketView } from './packet-view.js';

export interface PacketViewHandler extends DecoderSink {
  /**
   * A valid packet, read in place. The view is reused for the next packet: it
   * is valid only during this call (do not push() into the decoder from here).
   */
  packet(view: PacketView): void;
}

/**
 * The streaming decoder of StreamDecoder (SPEC §2.7: the same checks, errors,
 * resynchronisation and nonSubunit bytes, byte for byte), handing out each
 * packet as one reused PacketView instead of a new SubunitEvent: no object, no
 * view and no string per packet unless the handler asks (a repeated test id
 * comes from the decoder's cache). For consumers that read a few fields of
 * every packet of a large stream.
 */
export class PacketViewDecoder extends DecoderCore {
  private readonly handler: PacketViewHandler;

  constructor(handler: PacketViewHandler, options?: StreamDecoderOptions) {
    super(handler, options);
    this.handler = handler;
  }

  protected emitPacket(view: MutablePacketView): void {
    this.handler.packet(view);
  }
}
