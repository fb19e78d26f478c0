// Owns the split check of one region: one pass over the region's newest versions (each user key's newest put
// or delete) that stops as soon as the region is known to be over a threshold, and the key to split at. Keys
// count every user key with a put or delete; bytes are each key plus the value of its newest put (older
// versions and deletes' payload are not counted: an estimate, like upstream's approximate size). Pure over an
// MvccStore, so it runs inside the region's actor, on whatever thread hosts it, and in unit tests.
import type { MvccStore } from '../mvcc/types.js';

/** Newest commit ts there can be: every version is at or below it. */
const MAX_TS = (1n << 64n) - 1n;

export interface SplitLimits {
  /** Split once a region holds more user keys than this. */
  maxKeys: number;
  /** Split once a region's estimated size is above this many bytes. */
  maxBytes: number;
}

export interface SplitCheck {
  /** Keys and bytes seen (the pass stops at the first threshold passed, so these are lower bounds then). */
  keys: number;
  bytes: number;
  /**
   * Where to split, when over a threshold: the key at half the threshold that was passed (half the keys, or
   * half the bytes), so the left part holds about half a full region and the right part the rest.
   */
  splitKey?: Buffer;
}

export function checkSplit(m: MvccStore, start: Buffer, end: Buffer, limits: SplitLimits): SplitCheck {
  let keys = 0;
  let bytes = 0;
  let atHalfKeys: Buffer | undefined;
  let atHalfBytes: Buffer | undefined;
  for (const c of m.visibleChanges(start, end, MAX_TS)) {
    // A key equal to the region's start cannot be a split point (the left part would be empty).
    const usable = c.key.length > 0 && Buffer.compare(c.key, start) > 0;
    keys++;
    bytes += c.key.length + (c.write.kind === 'put' ? (m.getData(c.key, c.write.startTs)?.length ?? 0) : 0);
    if (usable && !atHalfKeys && keys > limits.maxKeys / 2) atHalfKeys = c.key;
    if (usable && !atHalfBytes && bytes > limits.maxBytes / 2) atHalfBytes = c.key;
    if (keys > limits.maxKeys && atHalfKeys) return { keys, bytes, splitKey: Buffer.from(atHalfKeys) };
    if (bytes > limits.maxBytes && atHalfBytes) return { keys, bytes, splitKey: Buffer.from(atHalfBytes) };
  }
  return { keys, bytes };
}
