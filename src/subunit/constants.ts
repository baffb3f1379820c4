/** Wire constants of the subunit v2 packet (SPEC §2.1, §2.2). */

export const SIGNATURE = 0xb3;
/** The version nibble, in the top four bits of the flags (SPEC §2.2). */
export const VERSION_BITS = 0x2000;
export const FLAG_TEST_ID = 0x0800;
export const FLAG_ROUTE_CODE = 0x0400;
export const FLAG_TIMESTAMP = 0x0200;
export const FLAG_RUNNABLE = 0x0100;
export const FLAG_TAGS = 0x0080;
export const FLAG_FILE_CONTENT = 0x0040;
export const FLAG_MIME_TYPE = 0x0020;
export const FLAG_EOF = 0x0010;
/** Unused in v2: a decoder accepts it (as python-subunit does), an encoder never sets it. */
export const FLAG_RESERVED = 0x0008;
export const STATUS_MASK = 0x0007;

/** The largest packet the 3-byte length field can describe (SPEC §2.1). */
export const MAX_PACKET_BYTES = 4194303;
/** The largest value the 1-4 byte number encoding can hold (SPEC §2.4). */
export const MAX_NUMBER = 0x3fffffff;
/** Signature, flags, a 1-byte length and the CRC: the smallest possible packet. */
export const MIN_PACKET_BYTES = 8;
