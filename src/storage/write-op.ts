// Owns the shape of a write given as data (puts and removals) and the lazy-write delay, shared by the LMDB
// Storage and the simulator's disk (which must not load the native LMDB binding).

/** One put (a value) or removal (no value) in a named database, as data. */
export interface WriteOp {
  db: { put(key: Buffer, value: Buffer): unknown; remove(key: Buffer): unknown };
  key: Buffer;
  value?: Buffer | null;
}

export interface WriteOptions {
  /** Wait for another batch (or LAZY_WRITE_DELAY_MS) instead of starting one; see the header of storage.ts. */
  lazy?: boolean;
}

/** Longest a lazy write waits for another batch to ride along with before it is flushed on its own. */
export const LAZY_WRITE_DELAY_MS = 100;
