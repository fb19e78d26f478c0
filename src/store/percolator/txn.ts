// Owns the Percolator write rules over an MvccStore: prewrite, commit, batch rollback, resolve lock, check
// txn status, txn heartbeat and one-phase commit. Each command validates every key before it writes anything,
// so a refused command leaves storage untouched; each is idempotent under replay (a raft entry may apply
// after the client already retried it elsewhere). Pure: no clock, no I/O beyond the store handed in.
//
// Besides put and delete, a transaction can name reads it depends on, checked where the command applies:
// - a LOCK mutation: the key must not have changed (no put/delete committed at or after start, no other
//   transaction's put/delete lock). LOCKs of the same key do not conflict with one another, only with writers
//   of it. In two phases the key is locked and commits a lock record (so a later writer that read before it
//   conflicts); in one phase nothing is written.
// - a read range: no key in [start, end) changed (same rule), i.e. a scan at start would still see the same.
//   In one phase it holds atomically with the commit; in two phases it is checked at each region's prewrite.
import { compareBytes } from '../keys.js';
import type { LockRecord, MvccStore, VersionedWrite } from '../mvcc/types.js';
import type {
  CheckTxnStatusRequest,
  CheckTxnStatusResult,
  CommitRequest,
  HeartBeatRequest,
  KeyError,
  KeyRange,
  LockInfo,
  Mutation,
  OnePhaseCommitRequest,
  PrewriteRequest,
  ResolveLockRequest,
  RollbackRequest,
} from './types.js';

export function lockInfo(key: Buffer, l: LockRecord): LockInfo {
  return { key, primary: l.primary, lockTs: l.startTs, ttlMs: l.ttlMs, kind: l.kind, minCommitTs: l.minCommitTs };
}

function first<T>(it: Iterable<T>): T | undefined {
  for (const x of it) return x;
  return undefined;
}

/** The write record this transaction left on key (commit or rollback), if any. */
export function findOwnWrite(store: MvccStore, key: Buffer, startTs: bigint): VersionedWrite | undefined {
  for (const w of store.writes(key)) {
    if (w.write.startTs === startTs) return w;
    // Writes are newest first and a commit ts is above its start ts: older records cannot be ours.
    if (w.commitTs < startTs) return undefined;
  }
  return undefined;
}

/** Whether key has a visible value at ts (its newest put/delete at or below ts is a put). */
export function existsAt(store: MvccStore, key: Buffer, ts: bigint): boolean {
  for (const w of store.writes(key, ts)) {
    if (w.write.kind === 'put') return true;
    if (w.write.kind === 'delete') return false;
  }
  return false;
}

/** The newest committed put or delete of key (lock and rollback records change nothing). */
function newestChange(store: MvccStore, key: Buffer): VersionedWrite | undefined {
  for (const w of store.writes(key)) if (w.write.kind === 'put' || w.write.kind === 'delete') return w;
  return undefined;
}

function conflictOf(store: MvccStore, m: Mutation, startTs: bigint, primary: Buffer): KeyError | undefined {
  const newest = first(store.writes(m.key));
  if (newest && newest.commitTs >= startTs) {
    // Our own record decides before anyone else's: a transaction retried in another form (a one-phase commit
    // that applied late, then a two-phase attempt of the same start ts) must learn it already committed, not
    // that it conflicts with itself — a conflict would tell the client "not written" about a write that is.
    const own = findOwnWrite(store, m.key, startTs);
    if (own?.write.kind === 'rollback') return { kind: 'abort', key: m.key, message: `transaction ${startTs} was already rolled back` };
    if (own) return { kind: 'committed', key: m.key, startTs, commitTs: own.commitTs };
    // A LOCK depends only on the value: another transaction's lock or rollback record is no change.
    const change = m.op === 'lock' ? newestChange(store, m.key) : newest;
    if (change && change.commitTs >= startTs) {
      return { kind: 'write_conflict', key: m.key, startTs, conflictTs: change.write.startTs, conflictCommitTs: change.commitTs, primary };
    }
  }
  if (m.assertNotExist && existsAt(store, m.key, startTs)) return { kind: 'already_exists', key: m.key };
  return undefined;
}

/** Whether another transaction's lock stops m: any lock for a write, only a put/delete lock for a LOCK. */
function lockBlocks(lock: LockRecord, m: Mutation, startTs: bigint): boolean {
  return lock.startTs !== startTs && (m.op !== 'lock' || lock.kind !== 'lock');
}

/**
 * The first change a scan of [start, end) at startTs did not see: another transaction's put/delete lock, or a
 * put/delete committed at or after startTs by another transaction.
 */
export function rangeConflict(store: MvccStore, r: KeyRange, startTs: bigint, primary: Buffer): KeyError | undefined {
  for (const { key, lock } of store.locks(r.start, r.end)) {
    if (lock.startTs !== startTs && lock.kind !== 'lock') return { kind: 'locked', lock: lockInfo(key, lock) };
  }
  for (const key of store.writeKeys(r.start, r.end)) {
    const c = newestChange(store, key);
    if (c && c.commitTs >= startTs && c.write.startTs !== startTs) {
      return { kind: 'write_conflict', key, startTs, conflictTs: c.write.startTs, conflictCommitTs: c.commitTs, primary };
    }
  }
  return undefined;
}

function rangeErrors(store: MvccStore, ranges: KeyRange[] | undefined, startTs: bigint, primary: Buffer): KeyError[] {
  const out: KeyError[] = [];
  for (const r of ranges ?? []) {
    const e = rangeConflict(store, r, startTs, primary);
    if (e) out.push(e);
  }
  return out;
}

export function prewrite(store: MvccStore, req: PrewriteRequest): KeyError[] {
  const errors: KeyError[] = [];
  const todo: Mutation[] = [];
  for (const m of req.mutations) {
    const lock = store.getLock(m.key);
    if (lock) {
      if (lock.startTs !== req.startTs) errors.push({ kind: 'locked', lock: lockInfo(m.key, lock) });
      continue; // our own lock: a replayed prewrite, nothing to do
    }
    const err = conflictOf(store, m, req.startTs, req.primary);
    if (err) errors.push(err);
    else todo.push(m);
  }
  errors.push(...rangeErrors(store, req.readRanges, req.startTs, req.primary));
  if (errors.length > 0) return errors;
  const minCommitTs = req.minCommitTs > req.startTs ? req.minCommitTs : req.startTs + 1n;
  for (const m of todo) {
    if (m.op === 'put') store.putData(m.key, req.startTs, m.value ?? Buffer.alloc(0));
    store.putLock(m.key, { primary: req.primary, startTs: req.startTs, startTimeMs: req.nowMs, ttlMs: req.lockTtlMs, kind: m.op, minCommitTs });
  }
  return [];
}

function commitKey(store: MvccStore, key: Buffer, lock: LockRecord, commitTs: bigint): void {
  store.putWrite(key, commitTs, { kind: lock.kind, startTs: lock.startTs });
  store.deleteLock(key);
}

function rollbackKey(store: MvccStore, key: Buffer, startTs: bigint, lock: LockRecord | undefined): void {
  if (lock && lock.startTs === startTs) {
    store.deleteLock(key);
    if (lock.kind === 'put') store.deleteData(key, startTs);
  }
  // The marker stops a late (replayed or delayed) prewrite of this transaction from ever succeeding.
  store.putWrite(key, startTs, { kind: 'rollback', startTs });
}

export function commit(store: MvccStore, req: CommitRequest): KeyError | undefined {
  if (req.commitTs <= req.startTs) {
    return { kind: 'abort', key: req.keys[0] ?? Buffer.alloc(0), message: `commit ts ${req.commitTs} must exceed start ts ${req.startTs}` };
  }
  const todo: Array<[Buffer, LockRecord]> = [];
  for (const key of req.keys) {
    const lock = store.getLock(key);
    if (lock && lock.startTs === req.startTs) {
      if (lock.minCommitTs > req.commitTs) {
        return { kind: 'commit_ts_expired', key, startTs: req.startTs, commitTs: req.commitTs, minCommitTs: lock.minCommitTs };
      }
      todo.push([key, lock]);
      continue;
    }
    const own = findOwnWrite(store, key, req.startTs);
    if (own && own.write.kind !== 'rollback') continue; // already committed: replay
    if (own) return { kind: 'abort', key, message: `transaction ${req.startTs} was rolled back` };
    return { kind: 'abort', key, message: `lock of transaction ${req.startTs} not found` };
  }
  for (const [key, lock] of todo) commitKey(store, key, lock, req.commitTs);
  return undefined;
}

export function batchRollback(store: MvccStore, req: RollbackRequest): KeyError | undefined {
  for (const key of req.keys) {
    const own = findOwnWrite(store, key, req.startTs);
    if (own && own.write.kind !== 'rollback') return { kind: 'committed', key, startTs: req.startTs, commitTs: own.commitTs };
  }
  for (const key of req.keys) {
    if (findOwnWrite(store, key, req.startTs)) continue; // already rolled back
    rollbackKey(store, key, req.startTs, store.getLock(key));
  }
  return undefined;
}

/**
 * Commits (commitTs > 0) or rolls back the locks of one transaction. With no keys, every lock of the
 * transaction within [rangeStart, rangeEnd) is resolved. Returns how many locks were resolved.
 */
export function resolveLock(store: MvccStore, req: ResolveLockRequest, rangeStart: Buffer, rangeEnd: Buffer): number {
  const targets: Array<[Buffer, LockRecord]> = [];
  if (req.keys.length > 0) {
    for (const key of req.keys) {
      const lock = store.getLock(key);
      if (lock && lock.startTs === req.startTs) targets.push([key, lock]);
    }
  } else {
    for (const { key, lock } of store.locks(rangeStart, rangeEnd)) if (lock.startTs === req.startTs) targets.push([key, lock]);
  }
  for (const [key, lock] of targets) {
    if (req.commitTs > 0n) commitKey(store, key, lock, req.commitTs);
    else rollbackKey(store, key, req.startTs, lock);
  }
  return targets.length;
}

function expired(lock: LockRecord, nowMs: number): boolean {
  return lock.ttlMs > 0 && nowMs - lock.startTimeMs >= lock.ttlMs;
}

export function checkTxnStatus(store: MvccStore, req: CheckTxnStatusRequest): CheckTxnStatusResult {
  const lock = store.getLock(req.primary);
  if (lock && lock.startTs === req.lockTs) {
    if (expired(lock, req.nowMs)) {
      rollbackKey(store, req.primary, req.lockTs, lock);
      return { action: 'ttl_expire_rollback', lockTtlMs: 0, commitTs: 0n };
    }
    let action: CheckTxnStatusResult['action'] = 'none';
    if (req.callerStartTs > 0n && lock.minCommitTs <= req.callerStartTs) {
      lock.minCommitTs = req.callerStartTs + 1n;
      store.putLock(req.primary, lock);
      action = 'min_commit_ts_pushed';
    }
    return { action, lockTtlMs: lock.ttlMs, commitTs: 0n, lock: lockInfo(req.primary, lock) };
  }
  const own = findOwnWrite(store, req.primary, req.lockTs);
  if (own && own.write.kind !== 'rollback') return { action: 'none', lockTtlMs: 0, commitTs: own.commitTs };
  if (own) return { action: 'lock_not_exist_rollback', lockTtlMs: 0, commitTs: 0n };
  if (req.rollbackIfNotExist) {
    rollbackKey(store, req.primary, req.lockTs, undefined);
    return { action: 'lock_not_exist_rollback', lockTtlMs: 0, commitTs: 0n };
  }
  return { action: 'none', lockTtlMs: 0, commitTs: 0n, error: { kind: 'txn_not_found', key: req.primary, startTs: req.lockTs } };
}

/** Extends the primary's TTL (never shrinks it); an expired lock is rolled back, never revived. */
export function txnHeartBeat(store: MvccStore, req: HeartBeatRequest): { ttlMs: number; error?: KeyError } {
  const lock = store.getLock(req.primary);
  if (!lock || lock.startTs !== req.startTs) return { ttlMs: 0, error: { kind: 'txn_not_found', key: req.primary, startTs: req.startTs } };
  if (expired(lock, req.nowMs)) {
    rollbackKey(store, req.primary, req.startTs, lock);
    return { ttlMs: 0, error: { kind: 'abort', key: req.primary, message: `lock of transaction ${req.startTs} expired and was rolled back` } };
  }
  const wanted = req.nowMs - lock.startTimeMs + req.adviseTtlMs;
  if (wanted > lock.ttlMs) {
    lock.ttlMs = wanted;
    store.putLock(req.primary, lock);
  }
  return { ttlMs: lock.ttlMs };
}

/**
 * One-phase commit: the prewrite checks, then data and write records at commitTs with no locks (LOCK mutations
 * and read ranges are only checked). Replay-safe: if every put/delete already carries this transaction's write
 * at (startTs, commitTs) it succeeds without writing.
 */
export function onePhaseCommit(store: MvccStore, req: OnePhaseCommitRequest): KeyError[] {
  if (req.commitTs <= req.startTs) {
    return [{ kind: 'abort', key: req.mutations[0]?.key ?? Buffer.alloc(0), message: `commit ts ${req.commitTs} must exceed start ts ${req.startTs}` }];
  }
  const writes = req.mutations.filter((m) => m.op !== 'lock');
  const applied = writes.length > 0 && writes.every((m) => {
    const own = findOwnWrite(store, m.key, req.startTs);
    return own !== undefined && own.commitTs === req.commitTs && own.write.kind === m.op;
  });
  if (applied) return [];
  const errors: KeyError[] = [];
  const primary = req.mutations[0]?.key ?? Buffer.alloc(0);
  for (const m of req.mutations) {
    const lock = store.getLock(m.key);
    if (lock && lockBlocks(lock, m, req.startTs)) {
      errors.push({ kind: 'locked', lock: lockInfo(m.key, lock) });
      continue;
    }
    const err = conflictOf(store, m, req.startTs, primary);
    if (err) errors.push(err);
  }
  errors.push(...rangeErrors(store, req.readRanges, req.startTs, primary));
  if (errors.length > 0) return errors;
  for (const m of writes) {
    if (m.op === 'put') store.putData(m.key, req.startTs, m.value ?? Buffer.alloc(0));
    store.putWrite(m.key, req.commitTs, { kind: m.op, startTs: req.startTs });
  }
  return [];
}

/** Sorted, de-duplicated keys (a command naming a key twice would otherwise be judged against itself). */
export function uniqueKeys(keys: Buffer[]): Buffer[] {
  const sorted = [...keys].sort(compareBytes);
  return sorted.filter((k, i) => i === 0 || compareBytes(k, sorted[i - 1]!) !== 0);
}
