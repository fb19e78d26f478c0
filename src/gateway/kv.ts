// Owns the narrow ports the fsmeta executor depends on: a transactional KV with snapshot reads and buffered
// writes, and the coordinator duties (timestamps, ids, mounts, quota fences, rooted events). The executor sees
// nothing else, so it runs the same on the in-memory KV (tests, the seeded checkers) and on the real stores.
import { NokvError } from '../common/errors.js';

export interface KvPair {
  key: Buffer;
  value: Buffer;
}

/** Where a scanned value names another key: prefix ‖ value[offset .. offset + length) (offset < 0: from the end). */
export interface KvRef {
  prefix: Buffer;
  offset: number;
  length: number;
}

export interface KvRefScan {
  /** ref: the value of the key the pair's value names (undefined: it has none). */
  pairs: Array<KvPair & { ref: Buffer | undefined }>;
  /** Values of the extra keys that have one, keyed by hex. */
  found: Map<string, Buffer>;
}

/** One transaction: every read sees the snapshot at startTs; writes are buffered until commit. */
export interface KvTxn {
  readonly startTs: bigint;
  get(key: Buffer): Promise<Buffer | undefined>;
  /** Values keyed by the key's hex; absent keys are missing. */
  batchGet(keys: Buffer[]): Promise<Map<string, Buffer>>;
  /** Visible pairs in [start, end) in key order, at most limit. */
  scan(start: Buffer, end: Buffer, limit: number): Promise<KvPair[]>;
  /**
   * scan, plus the value of the key each pair's value names and the values of `keys`, all at startTs (a
   * directory page with its inodes and the directory's own record: one read per region on the stores).
   */
  scanRefs(start: Buffer, end: Buffer, limit: number, ref: KvRef, keys: Buffer[]): Promise<KvRefScan>;
  /** assertNotExist: commit fails with KvAlreadyExistsError if the key is visible at startTs. */
  put(key: Buffer, value: Buffer, opts?: { assertNotExist?: boolean }): void;
  delete(key: Buffer): void;
  /**
   * A read the commit depends on: it fails with KvConflictError if key was put or deleted after startTs.
   * Nothing is written, so transactions that only assert the same key never conflict with one another.
   */
  assertUnchanged(key: Buffer): void;
  /** The same for every key in [start, end): a scan at startTs would still see the same. */
  assertRangeUnchanged(start: Buffer, end: Buffer): void;
  /**
   * Commits atomically; resolves with the commit timestamp (0n when nothing was written). The KV picks the
   * commit timestamp itself, at commit time, so that no snapshot taken before it can miss the write.
   * Throws KvConflictError (retryable) or KvAlreadyExistsError.
   */
  commit(): Promise<bigint>;
}

export interface TransactionalKv {
  /** A transaction (or a read-only snapshot, if never committed) at startTs. */
  begin(startTs: bigint): KvTxn;
  /**
   * The value of key as of now (it sees every commit acknowledged before the call), for a read of one key that
   * needs no timestamp of its own. The stores take the timestamp where the key lives, saving the caller's TSO
   * round trip.
   */
  readLatest(key: Buffer): Promise<Buffer | undefined>;
}

/** Another transaction got in the way (write conflict, lock, commit ts overtaken): retrying may succeed. */
export class KvConflictError extends NokvError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super('ABORTED', message, details);
    this.name = 'KvConflictError';
  }
}

/** A put with assertNotExist met a visible key. */
export class KvAlreadyExistsError extends NokvError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super('ALREADY_EXISTS', message, details);
    this.name = 'KvAlreadyExistsError';
  }
}

// ---- apply events (what the watch router consumes) -------------------------------------------------------

export interface KvCursor {
  regionId: number;
  term: number;
  index: number;
}

/** One applied entry that changed committed data (a 1PC, a commit, a lock resolved to committed). */
export interface KvApplyEvent {
  cursor: KvCursor;
  commitVersion: bigint;
  mutations: Array<{ op: 'put' | 'delete'; key: Buffer }>;
}

export interface ApplyEventSource {
  /** Calls listener for every applied event from now on; the returned function unsubscribes. */
  subscribe(listener: (ev: KvApplyEvent) => void): () => void;
}

// ---- coordinator duties ----------------------------------------------------------------------------------

export interface MountInfo {
  mount: string;
  rootInode: number;
  retired: boolean;
}

export interface QuotaFence {
  /** 0 = unlimited. */
  limitBytes: number;
  limitInodes: number;
}

/** The rooted events the gateway publishes (the coordinator forwards them to meta-root). */
export type FsRootEvent =
  | { kind: 'snapshot_epoch_published'; mount: string; rootInode: number; readVersion: bigint }
  | { kind: 'snapshot_epoch_retired'; mount: string; rootInode: number; readVersion: bigint }
  | { kind: 'subtree_handoff_started'; mount: string; rootInode: number; frontier: bigint }
  | { kind: 'subtree_handoff_completed'; mount: string; rootInode: number; frontier: bigint };

export interface CoordinatorDuties {
  /** The first of `count` consecutive, strictly increasing timestamps. */
  reserveTimestamps(count: number): Promise<bigint>;
  /** The first of `count` consecutive unique ids (never 0). */
  allocIds(count: number): Promise<number>;
  /** undefined when the mount was never registered. */
  getMount(mount: string): Promise<MountInfo | undefined>;
  /** The fence of (mount, scope), scope 0 = mount-wide; undefined when there is none. */
  getQuotaFence(mount: string, scope: number): Promise<QuotaFence | undefined>;
  publishRootEvent(event: FsRootEvent): Promise<void>;
}
