// The subunit v2 codec's public API (SPEC §2).
export { STATUSES, FAILING_STATUSES, RPC_TEST_ID, timestampFromMillis, timestampToMillis } from './event.js';
export type { SubunitEvent, TestStatus, Timestamp } from './event.js';
export { PacketEncoder, encodePacket, encodeFileChunks, MAX_PACKET_BYTES, DEFAULT_FILE_CHUNK } from './encoder.js';
export { StreamDecoder, type DecoderHandler, type StreamDecoderOptions } from './decoder.js';
export { SubunitError, SubunitErrorCode } from './errors.js';
export { crc32 } from './crc32.js';
export { packetToJson, parseJsonLine, formatTimestamp, parseTimestamp, toBase64, type JsonEvent, type JsonPacket, type JsonNonSubunit, type JsonError, type JsonLine } from './json-form.js';
export { PacketViewDecoder, type PacketViewHandler } from './view-decoder.js';
export type { PacketView } from './packet-view.js';
