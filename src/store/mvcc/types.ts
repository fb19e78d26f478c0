// Owns the MVCC data model shared by the Percolator logic and its storage back ends: the lock record (lock
// family, one per key), the write record (write family, one per commit or rollback, keyed by commit ts) and the
// value (data family, keyed by start ts), plus the small synchronous storage interface the logic runs on.
// Synchronous on purpose: Percolator commands run inside a region's raft apply, which must be deterministic
// and finish in one step.
import { Packr } from 'msgpackr';
import type { Bytes } from '../keys.js';

export type MutationOp = 'put' | 'delete' | 'lock';
export type WriteKind = 'put' | 'delete' | 'lock' | 'rollback';

export interface LockRecord {
  primary: Buffer;
  startTs: bigint;
  /** The proposing leader's clock when the lock was written (carried in the command: deterministic). */
  startTimeMs: number;
  ttlMs: number;
  kind: MutationOp;
  minCommitTs: bigint;
}

export interface WriteRecord {
  kind: WriteKind;
  startTs: bigint;
}

export interface VersionedWrite {
  commitTs: bigint;
  write: WriteRecord;
}

/** What the Percolator logic needs from storage. Keys are user keys; implementations encode them. */
export interface MvccStore {
  getLock(key: Bytes): LockRecord | undefined;
  putLock(key: Bytes, lock: LockRecord): void;
  deleteLock(key: Bytes): void;
  /** Write records of `key`, newest commit first, starting at commit ts <= maxTs. */
  writes(key: Bytes, maxTs?: bigint): Iterable<VersionedWrite>;
  putWrite(key: Bytes, commitTs: bigint, write: WriteRecord): void;
  /** Removes one write record (MVCC garbage collection only). */
  deleteWrite(key: Bytes, commitTs: bigint): void;
  getData(key: Bytes, startTs: bigint): Buffer | undefined;
  putData(key: Bytes, startTs: bigint, value: Bytes): void;
  deleteData(key: Bytes, startTs: bigint): void;
  /** Distinct user keys that have at least one write record in [start, end) (empty end = +inf), in order. */
  writeKeys(start: Bytes, end: Bytes): Iterable<Buffer>;
  /**
   * For each user key in [start, end), in key order, its newest put or delete committed at or below maxTs
   * (lock and rollback records skipped; keys without one are left out), found in one pass over the range.
   */
  visibleChanges(start: Bytes, end: Bytes, maxTs: bigint): Iterable<{ key: Buffer } & VersionedWrite>;
  /** Locks in [start, end), in key order. */
  locks(start: Bytes, end: Bytes): Iterable<{ key: Buffer; lock: LockRecord }>;
}

const packr = new Packr({ useRecords: false, int64AsType: 'bigint' });

const KINDS: WriteKind[] = ['put', 'delete', 'lock', 'rollback'];

export function encodeLock(l: LockRecord): Buffer {
  return packr.pack([l.primary, l.startTs, l.startTimeMs, l.ttlMs, KINDS.indexOf(l.kind), l.minCommitTs]);
}

export function decodeLock(b: Bytes): LockRecord {
  const [primary, startTs, startTimeMs, ttlMs, kind, minCommitTs] = packr.unpack(b) as [Uint8Array, bigint, number, number, number, bigint];
  return {
    primary: Buffer.from(primary),
    startTs: BigInt(startTs),
    startTimeMs: Number(startTimeMs),
    ttlMs: Number(ttlMs),
    kind: KINDS[kind] as MutationOp,
    minCommitTs: BigInt(minCommitTs),
  };
}

/** Write record: one kind byte then the start ts, 9 bytes. */
export function encodeWrite(w: WriteRecord): Buffer {
  const b = Buffer.alloc(9);
  b[0] = KINDS.indexOf(w.kind);
  b.writeBigUInt64BE(w.startTs, 1);
  return b;
}

export function decodeWrite(b: Bytes): WriteRecord {
  const buf = Buffer.from(b.buffer, b.byteOffset, b.byteLength);
  const kind = KINDS[buf[0]!];
  if (!kind || buf.length !== 9) throw new RangeError('corrupt write record');
  return { kind, startTs: buf.readBigUInt64BE(1) };
}
