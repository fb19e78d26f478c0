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

/**
 * Visible pairs in [start, end) at readTs, at most limit: one pass over the write records of the range (each
 * key's newest put/delete at or below readTs) and one over its locks; stops at the first blocking lock the page
 * covers, including a lock on a key with no committed version yet (an insert in flight).
 */
export function scan(store: MvccStore, start: Buffer, end: Buffer, limit: number, req: ReadRequest): ScanResult {
  const pairs: ScanResult['pairs'] = [];
  let stop: Buffer | undefined;
  for (const c of store.visibleChanges(start, end, req.readTs)) {
    if (c.write.kind !== 'put') continue;
    if (pairs.length >= limit) {
      stop = c.key;
      break;
    }
    pairs.push({ key: c.key, value: store.getData(c.key, c.write.startTs) ?? Buffer.alloc(0) });
  }
  for (const { key, lock } of store.locks(start, end)) {
    if (stop && compareBytes(key, stop) >= 0) break;
    if (blocks(lock, req)) return { pairs: [], error: { kind: 'locked', lock: lockInfo(key, lock) } };
  }
  return { pairs };
}

/**
 * Where a scanned value names another key: prefix ‖ value[offset .. offset + length), with a negative offset
 * counted from the value's end (a directory entry names its inode by the 8 bytes before its last one).
 */
export interface RefSpec {
  prefix: Buffer;
  offset: number;
  length: number;
}

/** The key `value` refers to, or undefined when there are no references (length 0) or the value is too short. */
export function refKeyOf(value: Buffer, spec: RefSpec): Buffer | undefined {
  if (spec.length === 0) return undefined;
  const from = spec.offset < 0 ? value.length + spec.offset : spec.offset;
  if (from < 0 || from + spec.length > value.length) return undefined;
  return Buffer.concat([spec.prefix, value.subarray(from, from + spec.length)]);
}

export interface ScanRefsRequest extends ReadRequest {
  start: Buffer;
  /** Already clipped to the region (empty = the region's end is unbounded). */
  end: Buffer;
  limit: number;
  ref: RefSpec;
  /** Keys to read beside the scan at the same version (all in the region). */
  keys: Buffer[];
}

/** found: the referenced value; missing: no visible value (or no reference); elsewhere: the key is in another region. */
export type RefValue = { kind: 'found'; value: Buffer } | { kind: 'missing' } | { kind: 'elsewhere'; key: Buffer };

export interface ScanRefsResult {
  pairs: Array<{ key: Buffer; value: Buffer; ref: RefValue }>;
  /** The requested keys that have a visible value. */
  found: Array<{ key: Buffer; value: Buffer }>;
  error?: KeyError;
}

/** Rows one merged pass over a span of keys may visit per key it looks for, before point reads are cheaper. */
const MERGED_READ_OVERSCAN = 4;

/**
 * Snapshot reads of many keys of one region at one version (keys sorted and distinct). Keys near each other —
 * a directory's inodes, allocated in batches — are read in one pass over their span; the pass gives up on the
 * rest when the span holds many more keys than asked for, and those are read one by one. Answers the visible
 * values by hex key, or the first blocking lock.
 */
export function readMany(store: MvccStore, keys: Buffer[], req: ReadRequest): { values: Map<string, Buffer> } | { error: KeyError } {
  const values = new Map<string, Buffer>();
  if (keys.length === 0) return { values };
  const wanted = new Set(keys.map((k) => k.toString('hex')));
  const last = Buffer.concat([keys[keys.length - 1]!, Buffer.from([0])]);
  for (const { key, lock } of store.locks(keys[0]!, last)) {
    if (wanted.has(key.toString('hex')) && blocks(lock, req)) return { error: { kind: 'locked', lock: lockInfo(key, lock) } };
  }
  let budget = MERGED_READ_OVERSCAN * keys.length + 16;
  // Every key at or below `done` has been decided by the pass.
  let done: Buffer | undefined;
  for (const c of store.visibleChanges(keys[0]!, last, req.readTs)) {
    if (--budget < 0) break;
    done = c.key;
    const hex = c.key.toString('hex');
    if (c.write.kind === 'put' && wanted.has(hex)) values.set(hex, store.getData(c.key, c.write.startTs) ?? Buffer.alloc(0));
  }
  if (budget < 0) {
    for (const k of keys) if (!done || compareBytes(k, done) > 0) {
      const v = visibleValue(store, k, req.readTs);
      if (v !== undefined) values.set(k.toString('hex'), v);
    }
  }
  return { values };
}

/**
 * A scan that also reads, at the same version, the key each value refers to when it lies in [regionStart,
 * regionEnd), and a few more keys: a directory page with its inodes in one read of one region. The first lock
 * that blocks any of them is the answer, as for scan.
 */
export function scanRefs(store: MvccStore, regionStart: Buffer, regionEnd: Buffer, req: ScanRefsRequest): ScanRefsResult {
  const none = (error: KeyError): ScanRefsResult => ({ pairs: [], found: [], error });
  const scanned = scan(store, req.start, req.end, req.limit, req);
  if (scanned.error) return none(scanned.error);
  const inRegion = (k: Buffer) => compareBytes(k, regionStart) >= 0 && (regionEnd.length === 0 || compareBytes(k, regionEnd) < 0);
  const refs = scanned.pairs.map((p) => refKeyOf(p.value, req.ref));
  const local = uniqueSorted([...refs.filter((k): k is Buffer => k !== undefined && inRegion(k)), ...req.keys]);
  const got = readMany(store, local, req);
  if ('error' in got) return none(got.error);
  const pairs = scanned.pairs.map((p, i): ScanRefsResult['pairs'][number] => {
    const key = refs[i];
    if (!key) return { ...p, ref: { kind: 'missing' } };
    if (!inRegion(key)) return { ...p, ref: { kind: 'elsewhere', key } };
    const value = got.values.get(key.toString('hex'));
    return { ...p, ref: value === undefined ? { kind: 'missing' } : { kind: 'found', value } };
  });
  const found = req.keys.flatMap((key) => {
    const value = got.values.get(key.toString('hex'));
    return value === undefined ? [] : [{ key, value }];
  });
  return { pairs, found };
}

function uniqueSorted(keys: Buffer[]): Buffer[] {
  const sorted = [...keys].sort(compareBytes);
  return sorted.filter((k, i) => i === 0 || !k.equals(sorted[i - 1]!));
}
