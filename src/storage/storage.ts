// Owns the process's LMDB environment: opening it with the named databases each role uses, the group-commit
// write pipeline every durable write in the process goes through, and closing it cleanly.
//
// Group commit: writes submitted during one event-loop turn (from any group, table or caller) go into ONE
// LMDB write transaction, scheduled with setImmediate so the whole turn — including its microtasks — lands in
// the same batch. The batch's promises resolve only after that transaction committed AND `env.flushed`
// reported it synced to disk, and always in submission order. One fsync covers the batch.
//
// Two ways in. writeOps() takes the puts and removals as data: a batch made only of those is handed to
// lmdb-js as plain asynchronous puts, which its write thread commits on its own — no round trip back to this
// thread to run a callback inside the transaction (that round trip waits for this event loop, which on a busy
// store is milliseconds per batch). write() takes a callback, for the rare write that must read inside the
// transaction; a batch holding one runs as a callback transaction, with every op of the batch inside it.
//
// A lazy write (writeOps(ops, { lazy: true })) does not start a batch of its own: it rides along with the next
// batch something else starts, or is flushed after LAZY_WRITE_DELAY_MS. It is for writes whose loss in a crash
// is recovered from elsewhere — a region's applied MVCC state, which is replayed from the durable raft log — so
// they stop costing a transaction and an fsync of their own. Order is kept: a lazy write is in the same FIFO
// queue as every other write, so it is durable before anything submitted after it.
import { storageBatchWrites, storageFsyncSeconds } from '../common/metrics.js';
import { open, type Database, type RootDatabase } from 'lmdb';
import { chmodSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { resolve as resolvePath } from 'node:path';
import { FailedPreconditionError, InvalidArgumentError, UnavailableError } from '../common/errors.js';
import { trackResource } from '../common/resources.js';
import { LAZY_WRITE_DELAY_MS, type WriteOp, type WriteOptions } from './write-op.js';

export { LAZY_WRITE_DELAY_MS, type WriteOp, type WriteOptions } from './write-op.js';

/** The named databases of one environment, by purpose. */
export const DB_NAMES = {
  raftLog: 'raft.log',
  raftMeta: 'raft.meta',
  raftSnapshot: 'raft.snap',
  mvccLock: 'mvcc.lock',
  mvccWrite: 'mvcc.write',
  mvccData: 'mvcc.data',
  appState: 'app.state',
} as const;

/** Named databases per environment (LMDB fixes this at open); leaves room for many KV tables. */
export const MAX_NAMED_DBS = 128;

export type BinaryDb = Database<Buffer, Buffer>;

export interface StorageOptions {
  /** Directory of the environment; created if missing. */
  path: string;
  /** Initial memory-map size; LMDB grows it on demand when unset. */
  mapSizeBytes?: number;
}

export interface StorageStats {
  /** Write transactions committed (each covered by one fsync). */
  batches: number;
  /** Write callbacks submitted through write(). */
  writes: number;
  /** Most write callbacks that shared one transaction. */
  maxWritesPerBatch: number;
}

interface PendingWrite {
  /** Exactly one of apply and ops. */
  apply?: () => void;
  ops?: readonly WriteOp[];
  resolve: () => void;
  reject: (err: unknown) => void;
}

// One environment per path per thread: a second open of the same path would get a second JS handle on the
// same native environment and a second, unordered commit pipeline.
const openPaths = new Set<string>();

export function openStorage(opts: StorageOptions): Storage {
  const path = resolvePath(opts.path);
  if (openPaths.has(path)) throw new FailedPreconditionError(`storage at ${path} is already open in this thread`, { path });
  mkdirSync(path, { recursive: true, mode: 0o700 });
  const env = open({
    path,
    // lmdb-js would otherwise treat a directory name containing a dot as a file name.
    noSubdir: false,
    maxDbs: MAX_NAMED_DBS,
    ...(opts.mapSizeBytes !== undefined ? { mapSize: opts.mapSizeBytes } : {}),
    encoding: 'binary',
    keyEncoding: 'binary',
    // Batches go to lmdb-js as plain puts or as a transaction callback (see flush), and by default lmdb-js runs
    // every queued callback transaction after every queued single put: a later batch of puts would then land
    // before an earlier callback batch, and an older value of a key would win on disk with both acknowledged.
    // Strict order costs a thread switch only where a callback batch follows puts, and callback batches are rare.
    strictAsyncOrder: true,
  }) as RootDatabase<Buffer, Buffer>;
  openPaths.add(path);
  restrictToOwner(path);
  return new Storage(path, env);
}

/** The environment is its owner's alone: the folder 0700 and its files 0600, also for one made before. */
function restrictToOwner(path: string): void {
  chmodSync(path, 0o700);
  for (const entry of readdirSync(path, { withFileTypes: true })) if (entry.isFile()) chmodSync(join(path, entry.name), 0o600);
}

export class Storage {
  private readonly dbs = new Map<string, BinaryDb>();
  private pending: PendingWrite[] = [];
  private scheduled = false;
  /** Flushes lazy writes that found no batch to ride along with. */
  private lazyTimer: ReturnType<typeof setTimeout> | undefined;
  /** Settles when every batch submitted so far has been resolved or rejected; never rejects. */
  private chain: Promise<void> = Promise.resolve();
  private failure: unknown = undefined;
  private closed = false;
  private readonly untrack: () => void;
  private readonly counters: StorageStats = { batches: 0, writes: 0, maxWritesPerBatch: 0 };

  constructor(
    readonly path: string,
    private readonly env: RootDatabase<Buffer, Buffer>,
  ) {
    this.untrack = trackResource({ kind: 'lmdb', description: `lmdb environment ${path}` });
  }

  /** A named binary database (opened once, then cached). Raw access: values here are NOT checksummed. */
  db(name: string): BinaryDb {
    this.assertOpen();
    let db = this.dbs.get(name);
    if (!db) {
      db = this.env.openDB<Buffer, Buffer>(name, { encoding: 'binary', keyEncoding: 'binary', cache: false });
      this.dbs.set(name, db);
    }
    return db;
  }

  /**
   * Runs `apply` inside the next group-commit transaction; resolves once that transaction is on disk.
   * `apply` should only put/remove through db(...) handles, after any reads or checks it needs: a throw
   * rejects this write alone and does NOT roll back what it already wrote (the rest of the batch commits).
   * After any failed write the storage refuses further writes (the in-memory views of its users may no
   * longer match the disk; reopen to recover). Validate before submitting.
   */
  write(apply: () => void): Promise<void> {
    return this.enqueue({ apply }, false);
  }

  /**
   * Puts and removes `ops` in order, atomically, in the next group-commit transaction; resolves once that
   * transaction is on disk. The buffers must not change after the call (lmdb-js reads them when it commits).
   * Same failure rules as write(). With `lazy`, see the header.
   */
  writeOps(ops: readonly WriteOp[], opts: WriteOptions = {}): Promise<void> {
    return this.enqueue({ ops }, opts.lazy === true);
  }

  private enqueue(w: Pick<PendingWrite, 'apply' | 'ops'>, lazy: boolean): Promise<void> {
    this.assertOpen();
    if (this.failure !== undefined) {
      return Promise.reject(new UnavailableError(`storage ${this.path} failed earlier: ${String(this.failure)}`));
    }
    this.counters.writes++;
    return new Promise<void>((resolve, reject) => {
      this.pending.push({ ...w, resolve, reject });
      if (!lazy) this.schedule();
      else if (!this.scheduled && this.lazyTimer === undefined) {
        this.lazyTimer = setTimeout(() => {
          this.lazyTimer = undefined;
          this.schedule();
        }, LAZY_WRITE_DELAY_MS);
      }
    });
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => this.flush());
  }

  /** Resolves when everything submitted so far is durable (or has failed). */
  async drain(): Promise<void> {
    while (this.scheduled || this.pending.length > 0) {
      this.schedule(); // lazy writes too
      await new Promise<void>((r) => setImmediate(r));
    }
    await this.chain;
  }

  stats(): StorageStats {
    return { ...this.counters };
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Waits for submitted writes, then closes the environment. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    await this.drain();
    this.closed = true;
    try {
      await this.env.close();
    } finally {
      openPaths.delete(this.path);
      this.untrack();
    }
  }

  private flush(): void {
    this.scheduled = false;
    if (this.lazyTimer !== undefined) {
      clearTimeout(this.lazyTimer);
      this.lazyTimer = undefined;
    }
    const batch = this.pending;
    this.pending = [];
    if (batch.length === 0) return;
    this.counters.batches++;
    this.counters.maxWritesPerBatch = Math.max(this.counters.maxWritesPerBatch, batch.length);
    storageBatchWrites.observe(batch.length);
    const started = performance.now(); // measurement only: no behaviour depends on it
    // An asynchronous lmdb-js transaction cannot be rolled back (a throw or ABORT still commits what was
    // written; only transactionSync aborts, and it would block this thread for the fsync). So each write
    // is isolated: one that throws is rejected alone, the rest of the batch commits.
    const failed = new Map<PendingWrite, unknown>();
    const run = (inTxn: boolean) => {
      let last: unknown;
      for (const w of batch) {
        try {
          if (w.apply) w.apply();
          else for (const op of w.ops!) last = op.value ? op.db.put(op.key, op.value) : op.db.remove(op.key);
        } catch (err) {
          failed.set(w, err);
        }
      }
      return inTxn ? undefined : last;
    };
    // Plain puts issued in this one synchronous turn are one lmdb-js transaction (its event-turn batching);
    // the promise of the last one settles when that transaction committed.
    const committed: Promise<unknown> = batch.every((w) => w.ops)
      ? Promise.resolve(run(false))
      : this.env.transaction(() => run(true));
    const durable = committed
      // The commit promise may resolve before the sync when LMDB overlaps syncs with later commits;
      // `flushed` is the documented point at which the commit is on disk.
      .then(() => this.env.flushed)
      .then(() => storageFsyncSeconds.observe((performance.now() - started) / 1000));
    durable.catch(() => undefined); // handled below, in order; avoid a premature unhandled-rejection report
    this.chain = this.chain.then(() =>
      durable.then(
        () => {
          const earlier = this.failure;
          for (const w of batch) {
            if (failed.has(w)) {
              w.reject(failed.get(w));
              if (this.failure === undefined) this.failure = failed.get(w);
            } else if (earlier !== undefined) {
              w.reject(new UnavailableError(`storage ${this.path} failed earlier: ${String(earlier)}`));
            } else {
              w.resolve();
            }
          }
        },
        (err: unknown) => {
          if (this.failure === undefined) this.failure = err;
          for (const w of batch) w.reject(err);
        },
      ),
    );
  }

  private assertOpen(): void {
    if (this.closed) throw new FailedPreconditionError(`storage ${this.path} is closed`, { path: this.path });
  }
}

/** Validates a caller-chosen database/table name (LMDB names are free-form; ours stay readable). */
export function checkDbName(name: string): void {
  if (!/^[a-z0-9][a-z0-9._-]{0,62}$/.test(name)) {
    throw new InvalidArgumentError(`invalid table name "${name}" (lowercase letters, digits, . _ -; max 63)`, { name });
  }
}
