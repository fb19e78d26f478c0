// Owns the representation of region keys in rooted state: lowercase hex strings of the raw bytes.
// Every byte becomes exactly two characters from [0-9a-f], whose ASCII order matches the digit order, so plain
// string comparison of two hex keys equals bytewise comparison of the bytes (a proper prefix sorts first in
// both). The empty string is the smallest key as a start key and means "no upper bound" as an end key.

export type HexKey = string;

const HEX = /^(?:[0-9a-f]{2})*$/;

export function isHexKey(v: unknown): v is HexKey {
  return typeof v === 'string' && HEX.test(v);
}

export function hexKey(bytes: Uint8Array | string): HexKey {
  const buf = typeof bytes === 'string' ? Buffer.from(bytes, 'utf8') : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return buf.toString('hex');
}

export function keyBytes(key: HexKey): Uint8Array {
  return new Uint8Array(Buffer.from(key, 'hex'));
}

export function compareKeys(a: HexKey, b: HexKey): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Compares end keys, where '' is +infinity. */
export function compareEndKeys(a: HexKey, b: HexKey): number {
  if (a === b) return 0;
  if (a === '') return 1;
  if (b === '') return -1;
  return compareKeys(a, b);
}

/** Whether key lies in [start, end) with end '' unbounded. */
export function keyInRange(key: HexKey, start: HexKey, end: HexKey): boolean {
  return key >= start && (end === '' || key < end);
}

/** Whether the half-open ranges [aStart, aEnd) and [bStart, bEnd) share at least one key. */
export function rangesOverlap(aStart: HexKey, aEnd: HexKey, bStart: HexKey, bEnd: HexKey): boolean {
  const aBeforeB = aEnd !== '' && aEnd <= bStart;
  const bBeforeA = bEnd !== '' && bEnd <= aStart;
  return !aBeforeB && !bBeforeA;
}

/** A range is well formed when it is non-empty: end unbounded or strictly after start. */
export function isValidRange(start: HexKey, end: HexKey): boolean {
  return end === '' || start < end;
}
