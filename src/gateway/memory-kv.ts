// Owns the in-memory MVCC store with snapshot isolation that stands in for the store cluster in tests, the
// seeded checkers and `--dev-memory-kv`. Each commit validates (first committer wins on write-write conflicts,
// then the asserted-unchanged keys and ranges, then assertNotExist) and applies atomically, taking its commit timestamp from the same oracle as the start
// timestamps at that instant, so a snapshot can never miss a commit ordered before it. Every operation first
// awaits the injected `interleave` hook, which a seeded test uses to vary how concurrent operations interleave.
import { compareBytes } from '../store/keys.js';
import {
  KvAlreadyExistsError,
  KvConflictError,
  type ApplyEventSource,
  type KvApplyEvent,
  type KvPair,
  type KvRef,
  type KvRefScan,
  type KvTxn,
  type TransactionalKv,
} from './kv.js';

/** A strictly increasing timestamp counter shared by the memory KV and the memory coordinator. */
export class MemoryTso {
  private next = 1n;
  nextSync(count = 1): bigint {
    const first = this.next;
    this.next += BigInt(count);
    return first;
  }
  get last(): bigint {
    return this.next - 1n;
  }
}

interface Version {
  ts: bigint;
  value: Buffer | undefined;
}

interface Mutation {
  key: Buffer;
  value: Buffer | undefined;
  assertNotExist: boolean;
}

/** Reads a commit depends on: keys and [start, end) ranges that must not have changed after the start ts. */
export interface ReadChecks {
  keys: Buffer[];
  ranges: Array<{ start: Buffer; end: Buffer }>;
}

export interface MemoryKvOptions {
  tso?: MemoryTso;
  /** Awaited at the start of every read and commit (default: nothing). */
  interleave?: () => Promise<void>;
}

export class MemoryKv implements TransactionalKv, ApplyEventSource {
  readonly tso: MemoryTso;
  private readonly versions = new Map<string, Version[]>();
  /** Every key ever written, sorted, for scans. */
  private readonly sortedKeys: Buffer[] = [];
  private readonly listeners = new Set<(ev: KvApplyEvent) => void>();
  private readonly interleave: () => Promise<void>;
  private applyIndex = 0;
  readonly stats = { commits: 0, conflicts: 0, reads: 0 };

  constructor(opts: MemoryKvOptions = {}) {
    this.tso = opts.tso ?? new MemoryTso();
    this.interleave = opts.interleave ?? (() => Promise.resolve());
  }

  begin(startTs: bigint): KvTxn {
    return new MemoryTxn(this, startTs);
  }

  /** A read at a timestamp taken now from the shared counter, as the stores take one where the key lives. */
  readLatest(key: Buffer): Promise<Buffer | undefined> {
    return this.begin(this.tso.nextSync()).get(key);
  }

  subscribe(listener: (ev: KvApplyEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async pause(): Promise<void> {
    await this.interleave();
  }

  /** The value visible at ts. */
  readAt(key: Buffer, ts: bigint): Buffer | undefined {
    this.stats.reads++;
    const vs = this.versions.get(key.toString('hex'));
    if (!vs) return undefined;
    for (let i = vs.length - 1; i >= 0; i--) if (vs[i]!.ts <= ts) return vs[i]!.value;
    return undefined;
  }

  scanAt(start: Buffer, end: Buffer, limit: number, ts: bigint): KvPair[] {
    const out: KvPair[] = [];
    for (let i = this.lowerBound(start); i < this.sortedKeys.length && out.length < limit; i++) {
      const key = this.sortedKeys[i]!;
      if (end.length > 0 && compareBytes(key, end) >= 0) break;
      const value = this.readAt(key, ts);
      if (value !== undefined) out.push({ key, value });
    }
    return out;
  }

  /** Validates and applies a transaction's writes in one step; returns the commit ts. */
  commitSync(startTs: bigint, muts: Mutation[], checks: ReadChecks = { keys: [], ranges: [] }): bigint {
    const changed = [...muts.map((m) => m.key), ...checks.keys].find((k) => this.changedAfter(k, startTs));
    const inRange = changed ?? checks.ranges.map((r) => this.firstChangedIn(r.start, r.end, startTs)).find((k) => k !== undefined);
    if (inRange) {
      this.stats.conflicts++;
      throw new KvConflictError(`write conflict on ${inRange.toString('hex')} (changed after ${startTs})`, { startTs: String(startTs) });
    }
    for (const m of muts) {
      if (m.assertNotExist && this.readAt(m.key, startTs) !== undefined) {
        throw new KvAlreadyExistsError(`key ${m.key.toString('hex')} already exists`);
      }
    }
    const commitTs = this.tso.nextSync();
    for (const m of muts) {
      const hex = m.key.toString('hex');
      let vs = this.versions.get(hex);
      if (!vs) {
        vs = [];
        this.versions.set(hex, vs);
        this.sortedKeys.splice(this.lowerBound(m.key), 0, m.key);
      }
      vs.push({ ts: commitTs, value: m.value });
    }
    this.stats.commits++;
    const ev: KvApplyEvent = {
      cursor: { regionId: 1, term: 1, index: ++this.applyIndex },
      commitVersion: commitTs,
      mutations: muts.map((m) => ({ op: m.value === undefined ? ('delete' as const) : ('put' as const), key: m.key })),
    };
    for (const l of this.listeners) l(ev);
    return commitTs;
  }

  private changedAfter(key: Buffer, ts: bigint): boolean {
    const vs = this.versions.get(key.toString('hex'));
    return vs !== undefined && vs[vs.length - 1]!.ts > ts;
  }

  private firstChangedIn(start: Buffer, end: Buffer, ts: bigint): Buffer | undefined {
    for (let i = this.lowerBound(start); i < this.sortedKeys.length; i++) {
      const key = this.sortedKeys[i]!;
      if (end.length > 0 && compareBytes(key, end) >= 0) return undefined;
      if (this.changedAfter(key, ts)) return key;
    }
    return undefined;
  }

  private lowerBound(key: Buffer): number {
    let lo = 0;
    let hi = this.sortedKeys.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (compareBytes(this.sortedKeys[mid]!, key) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

class MemoryTxn implements KvTxn {
  private readonly writes = new Map<string, Mutation>();
  private readonly checks: ReadChecks = { keys: [], ranges: [] };
  private done = false;

  constructor(
    private readonly kv: MemoryKv,
    readonly startTs: bigint,
  ) {}

  /** Reads its own buffered writes first, like the store client's transaction. */
  async get(key: Buffer): Promise<Buffer | undefined> {
    await this.kv.pause();
    const own = this.writes.get(key.toString('hex'));
    if (own) return own.value;
    return this.kv.readAt(key, this.startTs);
  }

  async batchGet(keys: Buffer[]): Promise<Map<string, Buffer>> {
    await this.kv.pause();
    const out = new Map<string, Buffer>();
    for (const k of keys) {
      const v = this.kv.readAt(k, this.startTs);
      if (v !== undefined) out.set(k.toString('hex'), v);
    }
    return out;
  }

  async scan(start: Buffer, end: Buffer, limit: number): Promise<KvPair[]> {
    await this.kv.pause();
    return this.kv.scanAt(start, end, limit, this.startTs);
  }

  async scanRefs(start: Buffer, end: Buffer, limit: number, ref: KvRef, keys: Buffer[]): Promise<KvRefScan> {
    await this.kv.pause();
    const pairs = this.kv.scanAt(start, end, limit, this.startTs).map((p) => {
      const from = ref.offset < 0 ? p.value.length + ref.offset : ref.offset;
      const ok = ref.length > 0 && from >= 0 && from + ref.length <= p.value.length;
      return { ...p, ref: ok ? this.kv.readAt(Buffer.concat([ref.prefix, p.value.subarray(from, from + ref.length)]), this.startTs) : undefined };
    });
    const found = new Map<string, Buffer>();
    for (const k of keys) {
      const v = this.kv.readAt(k, this.startTs);
      if (v !== undefined) found.set(k.toString('hex'), v);
    }
    return { pairs, found };
  }

  put(key: Buffer, value: Buffer, opts: { assertNotExist?: boolean } = {}): void {
    this.writes.set(key.toString('hex'), { key, value, assertNotExist: opts.assertNotExist ?? false });
  }

  delete(key: Buffer): void {
    this.writes.set(key.toString('hex'), { key, value: undefined, assertNotExist: false });
  }

  assertUnchanged(key: Buffer): void {
    this.checks.keys.push(key);
  }

  assertRangeUnchanged(start: Buffer, end: Buffer): void {
    this.checks.ranges.push({ start, end });
  }

  async commit(): Promise<bigint> {
    if (this.done) throw new Error('transaction already finished');
    this.done = true;
    if (this.writes.size === 0) return 0n;
    await this.kv.pause();
    return this.kv.commitSync(this.startTs, [...this.writes.values()].sort((a, b) => compareBytes(a.key, b.key)), this.checks);
  }
}
