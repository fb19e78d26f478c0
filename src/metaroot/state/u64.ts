// Owns the representation of unsigned 64-bit values in rooted state: canonical decimal strings.
// Allocator fences and TSO values (physical ms shifted left by the logical bits) exceed 2^53, and the state must
// stay plain data that msgpack, structured clone and chai's deep-equal all treat the same, so bigint is out.
// Canonical means no sign, no leading zeros ("0" for zero) and at most 2^64-1; canonical strings of equal length
// compare like numbers, so comparisons never need to parse.

/** A canonical decimal string holding an unsigned 64-bit integer. */
export type U64 = string;

export const U64_ZERO: U64 = '0';
export const U64_MAX: U64 = '18446744073709551615';

const CANONICAL = /^(0|[1-9][0-9]{0,19})$/;

export function isU64(v: unknown): v is U64 {
  if (typeof v !== 'string' || !CANONICAL.test(v)) return false;
  return v.length < U64_MAX.length || v <= U64_MAX;
}

/** Negative if a < b, zero if equal, positive if a > b. Both must be canonical. */
export function compareU64(a: U64, b: U64): number {
  if (a.length !== b.length) return a.length - b.length;
  return a < b ? -1 : a > b ? 1 : 0;
}

export function maxU64(a: U64, b: U64): U64 {
  return compareU64(a, b) >= 0 ? a : b;
}

/** From a JS number; only safe non-negative integers are representable exactly. */
export function u64FromNumber(n: number): U64 {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`not a safe unsigned integer: ${n}`);
  return String(n);
}

/** From a bigint in [0, 2^64). */
export function u64FromBigInt(n: bigint): U64 {
  if (n < 0n || n > 18446744073709551615n) throw new RangeError(`out of u64 range: ${n}`);
  return n.toString(10);
}

export function u64ToBigInt(v: U64): bigint {
  return BigInt(v);
}
