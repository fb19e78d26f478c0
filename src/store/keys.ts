// Owns the byte-level key layout of the store: the order-preserving, prefix-free encoding of user keys
// (memcomparable groups of 8 bytes) that lets one LMDB database hold many versions of many keys in user-key
// order, big-endian inverted versions (newest first in a forward scan), range checks and hex helpers.
// Timestamps are bigint: the coordinator's TSO is `physical ms << 18 | logical`, which exceeds 2^53.

const GROUP = 8;
const MARKER = 0xff;
const MAX_U64 = 0xffff_ffff_ffff_ffffn;

export type Bytes = Uint8Array;

/** Memcomparable encoding: each 8-byte group is padded with zeros and followed by 0xFF minus the pad count. */
export function encodeKey(key: Bytes): Buffer {
  return encodeKeyInto(key, 0);
}

/** encodeKey with `extra` zero bytes after it, in one allocation (a versioned key's room for its version). */
function encodeKeyInto(key: Bytes, extra: number): Buffer {
  const groups = Math.floor(key.length / GROUP) + 1;
  const out = Buffer.alloc(groups * (GROUP + 1) + extra);
  // Byte by byte: keys are tens of bytes, where a subarray per group costs more than the copy.
  for (let g = 0; g < groups; g++) {
    const from = g * GROUP;
    const take = Math.min(GROUP, key.length - from);
    const at = g * (GROUP + 1);
    for (let i = 0; i < take; i++) out[at + i] = key[from + i]!;
    out[at + GROUP] = MARKER - (GROUP - take);
  }
  return out;
}

/**
 * Inverse of encodeKey for a buffer that starts with an encoded key; returns the key and the bytes used. Finds
 * the last group first, so the key is copied into one buffer of its final size (reads decode a key per row).
 */
export function decodeKey(buf: Bytes): { key: Buffer; used: number } {
  let off = 0;
  let pad: number;
  for (;;) {
    if (off + GROUP + 1 > buf.length) throw new RangeError('truncated encoded key');
    pad = MARKER - buf[off + GROUP]!;
    if (pad < 0 || pad > GROUP) throw new RangeError('corrupt encoded key marker');
    off += GROUP + 1;
    if (pad > 0) break;
  }
  const groups = off / (GROUP + 1);
  const key = Buffer.allocUnsafe(groups * GROUP - pad);
  for (let g = 0; g < groups; g++) {
    const take = g === groups - 1 ? GROUP - pad : GROUP;
    for (let i = 0; i < take; i++) key[g * GROUP + i] = buf[g * (GROUP + 1) + i]!;
  }
  return { key, used: off };
}

/** 8 bytes, big-endian, of MAX_U64 - ts: a larger (newer) ts sorts first. */
export function encodeDescTs(ts: bigint): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(MAX_U64 - ts);
  return b;
}

export function decodeDescTs(buf: Bytes, off = 0): bigint {
  return MAX_U64 - (Buffer.isBuffer(buf) ? buf : Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength)).readBigUInt64BE(off);
}

/** Encoded key followed by the inverted version: the key of one version in the write and data families. */
export function versionedKey(key: Bytes, ts: bigint): Buffer {
  const out = encodeKeyInto(key, 8);
  out.writeBigUInt64BE(MAX_U64 - ts, out.length - 8);
  return out;
}

export function compareBytes(a: Bytes, b: Bytes): number {
  return Buffer.compare(a, b);
}

/** Whether key lies in [start, end); an empty end means +infinity. */
export function inRange(key: Bytes, start: Bytes, end: Bytes): boolean {
  return compareBytes(key, start) >= 0 && (end.length === 0 || compareBytes(key, end) < 0);
}

export function toHex(b: Bytes): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
}

export function fromHex(s: string): Buffer {
  return Buffer.from(s, 'hex');
}

export function asBuffer(b: Bytes): Buffer {
  return Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength);
}

export const MAX_TS = MAX_U64;
