// Owns the lineage digest of a sealed era: the fingerprint a successor must present to prove it read the exact
// legacy it inherits from. SHA-256 over a fixed binary layout, so every replica and every client computes the
// same hex string from the same rooted record.
import { createHash } from 'node:crypto';
import { MANDATE_BITS, MANDATE_ALLOC_ID, MANDATE_TSO, type Frontiers, type Legacy } from './types.js';
import type { U64 } from './u64.js';

const DOMAIN = 'nokv.eunomia.legacy.v1';

export function frontierForBit(f: Frontiers, bit: number): U64 {
  return bit === MANDATE_ALLOC_ID ? f.alloc_id : bit === MANDATE_TSO ? f.tso : f.region_lookup;
}

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
}

function u64(v: U64 | number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt(v));
  return b;
}

/**
 * hex(SHA-256(domain | u32 len(holder) | holder | u64 era | u32 mandate | for bit in 1,2,4 that is in the
 * mandate or has a non-zero frontier: u32 bit | u64 frontier | u64 sealed_at.term | u64 sealed_at.index)).
 */
export function digestOfLegacy(legacy: Legacy): string {
  const h = createHash('sha256');
  const holder = Buffer.from(legacy.holder_id, 'utf8');
  h.update(DOMAIN);
  h.update(u32(holder.length));
  h.update(holder);
  h.update(u64(legacy.era));
  h.update(u32(legacy.mandate));
  for (const bit of MANDATE_BITS) {
    const frontier = frontierForBit(legacy.frontiers, bit);
    if ((legacy.mandate & bit) === 0 && frontier === '0') continue;
    h.update(u32(bit));
    h.update(u64(frontier));
  }
  h.update(u64(legacy.sealed_at.term));
  h.update(u64(legacy.sealed_at.index));
  return h.digest('hex');
}
