// Owns the vocabulary of Percolator outcomes: per-key errors (what a transaction ran into; part of a normal
// reply, not a failure of the call) and the requests the logic accepts. Every time value a decision depends on
// (lock age, TTL expiry) arrives in the request as `nowMs`, set once by the proposing leader, so every replica
// decides the same way.
import type { MutationOp } from '../mvcc/types.js';

export interface LockInfo {
  key: Buffer;
  primary: Buffer;
  lockTs: bigint;
  ttlMs: number;
  kind: MutationOp;
  minCommitTs: bigint;
}

export type KeyError =
  | { kind: 'locked'; lock: LockInfo }
  | { kind: 'write_conflict'; key: Buffer; startTs: bigint; conflictTs: bigint; conflictCommitTs: bigint; primary: Buffer }
  | { kind: 'already_exists'; key: Buffer }
  | { kind: 'commit_ts_expired'; key: Buffer; startTs: bigint; commitTs: bigint; minCommitTs: bigint }
  | { kind: 'committed'; key: Buffer; startTs: bigint; commitTs: bigint }
  | { kind: 'txn_not_found'; key: Buffer; startTs: bigint }
  | { kind: 'abort'; key: Buffer; message: string };

export interface Mutation {
  op: MutationOp;
  key: Buffer;
  value?: Buffer;
  /** Fail with AlreadyExists if the key is visible at startTs. */
  assertNotExist?: boolean;
}

/** [start, end) of user keys; an empty end is unbounded. */
export interface KeyRange {
  start: Buffer;
  end: Buffer;
}

export interface PrewriteRequest {
  mutations: Mutation[];
  /** Ranges read at startTs that must be unchanged (see txn.ts); absent in entries written before they existed. */
  readRanges?: KeyRange[];
  primary: Buffer;
  startTs: bigint;
  lockTtlMs: number;
  /** 0 → startTs + 1. */
  minCommitTs: bigint;
  nowMs: number;
}

export interface CommitRequest {
  keys: Buffer[];
  startTs: bigint;
  commitTs: bigint;
}

export interface RollbackRequest {
  keys: Buffer[];
  startTs: bigint;
}

export interface ResolveLockRequest {
  startTs: bigint;
  /** 0 = roll back. */
  commitTs: bigint;
  keys: Buffer[];
}

export type TxnAction = 'none' | 'ttl_expire_rollback' | 'lock_not_exist_rollback' | 'min_commit_ts_pushed';

export interface CheckTxnStatusRequest {
  primary: Buffer;
  lockTs: bigint;
  /** A reader's start ts; pushes the lock's min commit ts above it (0 = do not push). */
  callerStartTs: bigint;
  rollbackIfNotExist: boolean;
  nowMs: number;
}

export interface CheckTxnStatusResult {
  error?: KeyError;
  action: TxnAction;
  /** Non-zero while the transaction is still locked. */
  lockTtlMs: number;
  /** Non-zero when the transaction committed. */
  commitTs: bigint;
  lock?: LockInfo;
}

export interface HeartBeatRequest {
  primary: Buffer;
  startTs: bigint;
  adviseTtlMs: number;
  nowMs: number;
}

export interface OnePhaseCommitRequest {
  mutations: Mutation[];
  readRanges?: KeyRange[];
  startTs: bigint;
  commitTs: bigint;
}

export interface ReadRequest {
  readTs: bigint;
  /** Locks of these start timestamps do not block (their primary was pushed above readTs). */
  bypassLocks?: bigint[];
}
