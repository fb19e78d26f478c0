// Owns a simulated disk for the whole-stack simulator: the environment the production RaftLogStore writes
// (LogStoreBackend), in memory, with the failure modes of a real one made explicit and driven by one seed.
//
// Model. A process opens the disk and gets a SimStorage (one per incarnation). Writes submitted during one
// event form one batch (the production Storage batches one event-loop turn into one transaction). The batch
// is committed at once — visible to this incarnation's reads, as in LMDB after commit — and becomes durable
// after a simulated fsync delay; only then do its promises resolve, in submission order. A crash throws the
// incarnation away, and what the next one sees depends on the crash kind:
//   - lost unsynced writes: everything committed but not synced is gone (crash before fsync);
//   - torn last write: a prefix of the first unsynced batch's writes survived (LMDB commits a transaction
//     atomically, so a write — one callback, e.g. one raft persist — is never split; the tear is between
//     writes, which is what a disk that synced each write on its own could leave behind);
//   - crash after fsync: the batch is durable but the process died before anyone was told (decided at sync).
// A write callback that throws is rejected alone and the storage refuses later writes, as in production.
// Writes given as data and lazy writes (Storage.writeOps) behave as in production, on the simulated clock.
import type { Prng } from '../common/prng.js';
import type { Clock } from '../common/clock.js';
import { UnavailableError } from '../common/errors.js';
import type { LogStoreBackend, OrderedTable } from '../storage/raft-log-store.js';
import { LAZY_WRITE_DELAY_MS, type WriteOp, type WriteOptions } from '../storage/write-op.js';

/** An ordered in-memory byte table (hex keys sort exactly like the bytes). */
class SortedTable {
  keys: string[] = [];
  values = new Map<string, Buffer>();

  clone(): SortedTable {
    const t = new SortedTable();
    t.keys = this.keys.slice();
    t.values = new Map(this.values);
    return t;
  }

  /** Index of the first key >= k. */
  lowerBound(k: string): number {
    let lo = 0;
    let hi = this.keys.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.keys[mid]! < k) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  put(k: string, v: Buffer): void {
    if (!this.values.has(k)) this.keys.splice(this.lowerBound(k), 0, k);
    this.values.set(k, v);
  }

  remove(k: string): void {
    if (!this.values.delete(k)) return;
    this.keys.splice(this.lowerBound(k), 1);
  }
}

type Op = { table: string; key: string; value: Buffer | undefined };

const hex = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
const unhex = (s: string): Buffer => Buffer.from(s, 'hex');

export type CrashKind = 'lose-unsynced' | 'torn-last-write';

export interface SimDiskOptions {
  clock: Clock;
  prng: Prng;
  /** Longest simulated fsync, ms (each sync takes a uniform share of it; syncs complete in order). */
  maxSyncMs: number;
  /**
   * Asked once per batch, when its sync completes: true makes the process die right there — durable, nobody
   * told (the harness crashes the process and restarts it later).
   */
  crashAfterSync?: () => boolean;
  /**
   * Told of every batch when it is committed, with the virtual time its sync will complete: the harness may
   * crash the process before then (crash before fsync: the batch is lost or torn).
   */
  onCommit?: (syncAt: number) => void;
  /** An injected bug for checking the checkers: writes are acknowledged at commit, before their fsync. */
  ackBeforeSync?: boolean;
}

export interface DiskStats {
  batches: number;
  writes: number;
  lostBatches: number;
  tornWrites: number;
}

/** The durable side: what survives every crash. */
export class SimDisk {
  private durable = new Map<string, SortedTable>();
  private current?: SimStorage;
  readonly stats: DiskStats = { batches: 0, writes: 0, lostBatches: 0, tornWrites: 0 };

  constructor(
    readonly path: string,
    private readonly opts: SimDiskOptions,
  ) {}

  /** A new incarnation's view of the disk: exactly what is durable. */
  open(): SimStorage {
    if (this.current && !this.current.isClosed) throw new Error(`assertion: ${this.path} is already open`);
    const view = new Map<string, SortedTable>();
    for (const [name, t] of this.durable) view.set(name, t.clone());
    this.current = new SimStorage(this, view, this.opts);
    return this.current;
  }

  /** The process died: its unsynced writes are lost, or the first unsynced batch is torn. */
  crash(kind: CrashKind): void {
    const s = this.current;
    if (!s || s.isClosed) return;
    const unsynced = s.kill();
    this.stats.lostBatches += unsynced.length;
    if (kind === 'torn-last-write' && unsynced.length > 0) {
      const writes = unsynced[0]!;
      const keep = this.opts.prng.int(writes.length + 1);
      if (keep > 0 && keep < writes.length) this.stats.tornWrites++;
      for (const w of writes.slice(0, keep)) this.applyDurable(w);
    }
  }

  /** A clean stop: whatever is still unsynced is synced (as the production close drains), then closed. */
  close(): void {
    const s = this.current;
    if (!s || s.isClosed) return;
    for (const batch of s.kill()) for (const w of batch) this.applyDurable(w);
  }

  /** @internal a batch's sync completed */
  applyDurable(ops: Op[]): void {
    for (const op of ops) {
      let t = this.durable.get(op.table);
      if (!t) this.durable.set(op.table, (t = new SortedTable()));
      if (op.value === undefined) t.remove(op.key);
      else t.put(op.key, op.value);
    }
  }
}

interface Pending {
  apply: () => void;
  resolve: () => void;
  reject: (err: unknown) => void;
}

/** One incarnation's handle on the disk; a LogStoreBackend the production RaftLogStore runs on unchanged. */
export class SimStorage implements LogStoreBackend {
  private pending: Pending[] = [];
  private scheduled = false;
  /** A timer is set to flush lazy writes (see Storage.writeOps). */
  private lazyTimer = false;
  /** Batches committed but not yet synced, each as its writes' op lists, oldest first. */
  private unsynced: Op[][][] = [];
  private lastSyncAt = 0;
  private recording?: Op[];
  private dead = false;
  private failure: unknown;
  private readonly tables = new Map<string, OrderedTable>();

  constructor(
    private readonly disk: SimDisk,
    private readonly view: Map<string, SortedTable>,
    private readonly opts: SimDiskOptions,
  ) {}

  get path(): string {
    return this.disk.path;
  }

  get isClosed(): boolean {
    return this.dead;
  }

  db(name: string): OrderedTable {
    let t = this.tables.get(name);
    if (!t) {
      t = this.table(name);
      this.tables.set(name, t);
    }
    return t;
  }

  write(apply: () => void): Promise<void> {
    return this.enqueue(apply, false);
  }

  /** Storage.writeOps: the ops as data, and a lazy write that waits for the next batch or LAZY_WRITE_DELAY_MS. */
  writeOps(ops: readonly WriteOp[], opts: WriteOptions = {}): Promise<void> {
    return this.enqueue(() => {
      for (const op of ops) {
        if (op.value) op.db.put(op.key, op.value);
        else op.db.remove(op.key);
      }
    }, opts.lazy === true);
  }

  private enqueue(apply: () => void, lazy: boolean): Promise<void> {
    if (this.failure !== undefined) return Promise.reject(new UnavailableError(`storage ${this.path} failed earlier: ${String(this.failure)}`));
    this.disk.stats.writes++;
    return new Promise<void>((resolve, reject) => {
      if (this.dead) return; // a dead process's write never completes
      this.pending.push({ apply, resolve, reject });
      if (!lazy) this.schedule(0);
      else if (!this.scheduled && !this.lazyTimer) {
        this.lazyTimer = true;
        this.opts.clock.setTimer(LAZY_WRITE_DELAY_MS, () => {
          this.lazyTimer = false;
          this.schedule(0);
        });
      }
    });
  }

  private schedule(delayMs: number): void {
    if (this.scheduled) return;
    this.scheduled = true;
    this.opts.clock.setTimer(delayMs, () => this.flush());
  }

  /** A clean stop: everything submitted becomes durable first (the production close drains too). */
  async close(): Promise<void> {
    while (!this.dead && (this.scheduled || this.pending.length > 0 || this.unsynced.length > 0)) {
      if (this.pending.length > 0) this.schedule(0); // lazy writes too
      await new Promise<void>((r) => this.opts.clock.setTimer(1, r));
    }
    this.dead = true;
  }

  /** @internal the process died; returns the batches that were committed but not synced. */
  kill(): Op[][][] {
    this.dead = true;
    this.pending = [];
    const lost = this.unsynced;
    this.unsynced = [];
    return lost;
  }

  private flush(): void {
    this.scheduled = false;
    if (this.dead) return;
    const batch = this.pending;
    this.pending = [];
    if (batch.length === 0) return;
    this.disk.stats.batches++;
    const writes: Op[][] = [];
    const failed = new Map<Pending, unknown>();
    for (const w of batch) {
      const ops: Op[] = [];
      this.recording = ops;
      try {
        w.apply();
      } catch (err) {
        failed.set(w, err);
      }
      this.recording = undefined;
      writes.push(ops);
    }
    this.unsynced.push(writes);
    const settle = () => {
      const earlier = this.failure;
      for (const w of batch) {
        if (failed.has(w)) {
          w.reject(failed.get(w));
          if (this.failure === undefined) this.failure = failed.get(w);
        } else if (earlier !== undefined) w.reject(new UnavailableError(`storage ${this.path} failed earlier: ${String(earlier)}`));
        else w.resolve();
      }
    };
    if (this.opts.ackBeforeSync) settle();
    const at = Math.max(this.lastSyncAt, this.opts.clock.now() + this.opts.prng.next() * this.opts.maxSyncMs);
    this.lastSyncAt = at;
    this.opts.onCommit?.(at);
    this.opts.clock.setTimer(at - this.opts.clock.now(), () => {
      if (this.dead) return;
      const synced = this.unsynced.shift();
      if (synced !== writes) throw new Error('assertion: simulated syncs complete in order');
      for (const ops of writes) this.disk.applyDurable(ops);
      if (this.opts.crashAfterSync?.()) return; // durable, and the process dies before anyone hears of it
      if (!this.opts.ackBeforeSync) settle();
    });
  }

  private table(name: string): OrderedTable {
    const get = (): SortedTable => {
      let t = this.view.get(name);
      if (!t) this.view.set(name, (t = new SortedTable()));
      return t;
    };
    const record = (key: string, value: Buffer | undefined) => {
      if (!this.recording) throw new Error(`assertion: ${name} written outside a write transaction`);
      this.recording.push({ table: name, key, value });
    };
    return {
      get: (key) => {
        const v = get().values.get(hex(key));
        return v === undefined ? undefined : v;
      },
      put: (key, value) => {
        const k = hex(key);
        // Stored values are copies, as LMDB's are: the caller may reuse its buffer.
        const v = Buffer.from(value);
        record(k, v);
        get().put(k, v);
        return true;
      },
      remove: (key) => {
        const k = hex(key);
        record(k, undefined);
        get().remove(k);
        return true;
      },
      getRange: ({ start, end }: { start: Buffer; end?: Buffer }) => {
        const t = get();
        const lo = t.lowerBound(hex(start));
        const hiKey = end === undefined ? undefined : hex(end);
        const out: Array<{ key: Buffer; value: Buffer }> = [];
        for (let i = lo; i < t.keys.length && (hiKey === undefined || t.keys[i]! < hiKey); i++) out.push({ key: unhex(t.keys[i]!), value: t.values.get(t.keys[i]!)! });
        return out;
      },
      getKeys: ({ start, end, reverse, limit }) => {
        const t = get();
        const out: Buffer[] = [];
        const max = limit ?? Number.POSITIVE_INFINITY;
        if (!reverse) {
          const endKey = end === undefined ? undefined : hex(end);
          for (let i = t.lowerBound(hex(start)); i < t.keys.length && out.length < max; i++) {
            if (endKey !== undefined && t.keys[i]! >= endKey) break;
            out.push(unhex(t.keys[i]!));
          }
        } else {
          // LMDB's reverse range: from start (inclusive) down to end (exclusive).
          const s = hex(start);
          const endKey = end === undefined ? undefined : hex(end);
          let i = t.lowerBound(s);
          if (i >= t.keys.length || t.keys[i]! > s) i--;
          for (; i >= 0 && out.length < max; i--) {
            if (endKey !== undefined && t.keys[i]! <= endKey) break;
            out.push(unhex(t.keys[i]!));
          }
        }
        return out;
      },
      getKeysCount: ({ start, end }) => {
        const t = get();
        return t.lowerBound(hex(end)) - t.lowerBound(hex(start));
      },
    };
  }
}
