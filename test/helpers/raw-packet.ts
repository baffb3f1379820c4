import { crc32 } from '../../src/subunit/crc32.js';

/**
 * A packet assembled by hand from its flags and body, with a correct length and CRC
 * (the minimal length width unless `width` is given): for packets our encoder
 * would refuse to write.
 */
export function rawPacket(flags: number, body: Uint8Array | number[], width?: 1 | 2 | 3): Buffer {
  const b = Buffer.from(body);
  let w = width ?? 1;
  while (width === undefined && 3 + w + b.length + 4 > [63, 16383, 4194303][w - 1]!) w++;
  const total = 3 + w + b.length + 4;
  const len = w === 1 ? [total] : w === 2 ? [0x40 | (total >> 8), total & 0xff] : [0x80 | (total >> 16), (total >> 8) & 0xff, total & 0xff];
  const head = Buffer.from([0xb3, flags >> 8, flags & 0xff, ...len]);
  const content = Buffer.concat([head, b]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(content));
  return Buffer.concat([content, crc]);
}
