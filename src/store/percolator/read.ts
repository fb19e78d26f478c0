// Owns snapshot-isolation reads over an MvccStore: a lock of an older (or equal) transaction that may still
// commit below the read ts blocks the read (Locked); otherwise the newest committed put/delete at or below the
// read ts decides, skipping lock and rollback records.
import { compareBytes } from '../keys.js';
import type { LockRecord, MvccStore } from '../mvcc/types.js';
import { lockInfo } from './txn.js';
import type { KeyError, ReadRequest } from './types.js';

/** Longest scan page a store returns; a client asks again from where the page ended. */
export const MAX_SCAN_LIMIT = 10_000;

function blocks(lock: LockRecord, req: ReadRequest): boolean {
  if (lock.kind === 'lock') return false; // a read lock carries no value and never commits a change
  if (lock.startTs > req.readTs) return false; // starts after us: commits after us
  if (lock.minCommitTs > req.readTs) return false; // pushed above us: commits after us
  return !(req.bypassLocks ?? []).includes(lock.startTs);
}

export type ReadResult = { value: Buffer | undefined } | { error: KeyError };

export function get(store: MvccStore, key: Buffer, req: ReadRequest): ReadResult {
  const lock = store.getLock(key);
  if (lock && blocks(lock, req)) return { error: { kind: 'locked', lock: lockInfo(key, lock) } };
  return { value: visibleValue(store, key, req.readTs) };
}

export function visibleValue(store: MvccStore, key: Buffer, readTs: bigint): Buffer | undefined {
  for (const w of store.writes(key, readTs)) {
    if (w.write.kind === 'put') return store.getData(key, w.write.startTs) ?? Buffer.alloc(0);
    if (w.write.kind === 'delete') return undefined;
  }
  return undefined;
}

export interface ScanResult {
  pairs: Array<{ key: Buffer; value: Buffer }>;
  error?: KeyError;
}

/** Visible pairs in [start, end) at readTs, at most limit; stops at the first blocking lock it passes. */
export function scan(store: MvccStore, start: Buffer, end: Buffer, limit: number, req: ReadRequest): ScanResult {
  const pairs: ScanResult['pairs'] = [];
  let stop: Buffer | undefined;
  for (const key of store.writeKeys(start, end)) {
    if (pairs.length >= limit) {
      stop = key;
      break;
    }
    const r = get(store, key, req);
    if ('error' in r) return { pairs: [], error: r.error };
    if (r.value !== undefined) pairs.push({ key, value: r.value });
  }
  // A lock on a key with no committed version yet (an insert in flight) blocks too, if the page covers it.
  for (const { key, lock } of store.locks(start, end)) {
    if (stop && compareBytes(key, stop) >= 0) break;
    if (blocks(lock, req)) return { pairs: [], error: { kind: 'locked', lock: lockInfo(key, lock) } };
  }
  return { pairs };
}
