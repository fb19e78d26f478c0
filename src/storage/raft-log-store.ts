// Owns the durable raft state of MANY raft groups in one LMDB environment: entries keyed (groupId, index)
// big-endian, and per group the hard state, conf state, compaction point and latest snapshot. Reads are
// synchronous (LogReader); writes go through the environment's group commit and resolve only once durable.
//
// Each group keeps two small in-memory states:
//   planned — everything submitted so far; used to plan the keys the next write touches, so that writes are
//             blind puts/removes computed outside the write transaction;
//   durable — everything that is on disk; what readers see. It moves forward only when a write's fsync
//             has completed, just before that write's promise resolves (batches resolve in order).
// A group must be written by one RaftLogStore (one thread) at a time.
import type { ConfState, Entry, HardState, LogReader, Snapshot, SnapshotMeta } from '../raft/types.js';
import { EMPTY_HARD_STATE } from '../raft/types.js';
import { DataLossError, FailedPreconditionError, InvalidArgumentError } from '../common/errors.js';
import {
  MetaTag,
  RecordKind,
  checkRecord,
  decodeConfStatePayload,
  decodeEntryPayload,
  decodeHardStatePayload,
  decodeLogKey,
  decodeLogStatePayload,
  decodeSnapshotDataPayload,
  decodeSnapshotMetaPayload,
  encodeConfState,
  encodeEntry,
  encodeHardState,
  encodeLogState,
  encodeSnapshotData,
  encodeSnapshotMeta,
  groupKey,
  logKey,
  metaKey,
  readU64,
  recordPayload,
} from './codec.js';
// The raft core defines how it wants unreadable ranges reported; the log store raises exactly those.
import { LogCompactedError, LogUnavailableError } from '../raft/errors.js';
import { DB_NAMES } from './storage.js';

/**
 * The ordered byte table the log store reads and writes: an LMDB database in production (BinaryDb fits it
 * as is), an in-memory table under simulation (src/sim/sim-disk.ts). Only what the store calls.
 */
export interface OrderedTable {
  get(key: Buffer): Buffer | undefined;
  put(key: Buffer, value: Buffer): unknown;
  remove(key: Buffer): unknown;
  getRange(opts: { start: Buffer; end: Buffer }): Iterable<{ key: Buffer; value: Buffer }>;
  getKeys(opts: { start: Buffer; end?: Buffer; reverse?: boolean; limit?: number }): Iterable<Buffer>;
  getKeysCount(opts: { start: Buffer; end: Buffer }): number;
}

/** What the log store needs from its environment (a Storage; a simulated disk under simulation). */
export interface LogStoreBackend {
  readonly path: string;
  readonly isClosed: boolean;
  db(name: string): OrderedTable;
  /** Runs apply in the next write transaction; resolves once it is durable (see Storage.write). */
  write(apply: () => void): Promise<void>;
  /** The same for puts and removals given as data (see Storage.writeOps); absent: they go through write(). */
  writeOps?(ops: readonly WriteOp[]): Promise<void>;
}

/** Entries kept in memory per group after they became durable, so the hot tail is served without decoding. */
export const DEFAULT_TAIL_CACHE_ENTRIES = 256;
export const DEFAULT_TAIL_CACHE_BYTES = 1 << 20;
/** Per-entry bytes counted on top of data when applying a maxBytes limit (framing of index, term, type). */
export const ENTRY_SIZE_OVERHEAD_BYTES = 16;
const MAX_INDEX = Number.MAX_SAFE_INTEGER - 1;
const MAX_GROUP_ID = Number.MAX_SAFE_INTEGER - 1;

export function entrySizeBytes(e: Entry): number {
  return e.data.byteLength + ENTRY_SIZE_OVERHEAD_BYTES;
}

export interface RaftLogStoreOptions {
  tailCacheEntries?: number;
  tailCacheBytes?: number;
}

/** One durable step of a raft group, applied in this order: snapshot, entries, conf, hardState. */
export interface PersistRequest {
  /** A snapshot received from a leader: replaces the whole log, the stored snapshot and the conf state. */
  snapshot?: Snapshot;
  /** Contiguous entries; those at index i replace the stored i..last (a conflicting suffix is dropped). */
  entries?: Entry[];
  conf?: ConfState;
  hardState?: HardState;
}

interface GroupState {
  hardState: HardState;
  conf: ConfState;
  /**
   * Entries <= trunc.index are gone; trunc.term is the term of entry trunc.index. Replaced, never edited,
   * except that compact() fills in a term of -1 inside its write transaction (copies share the cell).
   */
  trunc: { index: number; term: number };
  lastIndex: number;
  lastTerm: number;
  /** index 0 = no snapshot stored. */
  snapshotMeta: SnapshotMeta;
  snapshotDataBytes: number;
}

const EMPTY_CONF: ConfState = Object.freeze({ voters: [], learners: [] }) as ConfState;

function emptyState(): GroupState {
  return {
    hardState: EMPTY_HARD_STATE,
    conf: EMPTY_CONF,
    trunc: { index: 0, term: 0 },
    lastIndex: 0,
    lastTerm: 0,
    snapshotMeta: { index: 0, term: 0, conf: EMPTY_CONF },
    snapshotDataBytes: 0,
  };
}

type WriteOp = { db: OrderedTable; key: Buffer; value: Buffer | undefined };

class Group {
  planned: GroupState;
  durable: GroupState;
  /** Contiguous durable entries at the end of the log (tail[0].index .. durable.lastIndex). */
  tail: Entry[] = [];
  /**
   * A compaction submitted but maybe not yet durable: its deletes are visible to reads as soon as its write
   * transaction commits, which is before the fsync that moves `durable` on, so readers treat entries at or
   * below it as compacted from submission on (they are covered by a durable snapshot already). Without this,
   * a read in that window found the entries gone while `durable` still listed them (a DataLossError).
   */
  compacting = { index: 0, term: 0 };
  tailBytes = 0;

  constructor(state: GroupState) {
    this.planned = state;
    this.durable = state;
  }
}

export function openRaftLogStore(storage: LogStoreBackend, opts: RaftLogStoreOptions = {}): RaftLogStore {
  return new RaftLogStore(storage, opts);
}

export class RaftLogStore {
  private readonly log: OrderedTable;
  private readonly meta: OrderedTable;
  private readonly snaps: OrderedTable;
  private readonly groupsById = new Map<number, Group>();
  private readonly tailCacheEntries: number;
  private readonly tailCacheBytes: number;

  constructor(
    readonly storage: LogStoreBackend,
    opts: RaftLogStoreOptions = {},
  ) {
    this.log = storage.db(DB_NAMES.raftLog);
    this.meta = storage.db(DB_NAMES.raftMeta);
    this.snaps = storage.db(DB_NAMES.raftSnapshot);
    this.tailCacheEntries = opts.tailCacheEntries ?? DEFAULT_TAIL_CACHE_ENTRIES;
    this.tailCacheBytes = opts.tailCacheBytes ?? DEFAULT_TAIL_CACHE_BYTES;
  }

  /** The synchronous read side of one group (recovered from disk on first use). */
  groupLog(groupId: number): GroupLog {
    return new GroupLog(this, groupId);
  }

  /** Ids of every group with any stored state, ascending. */
  groups(): number[] {
    const ids = new Set<number>();
    for (const db of [this.log, this.meta]) {
      let start: Buffer = groupKey(0);
      for (;;) {
        const next = firstKeyAtOrAfter(db, start);
        if (!next) break;
        const g = readU64(next, 0);
        ids.add(g);
        if (g >= MAX_GROUP_ID) break;
        start = groupKey(g + 1);
      }
    }
    return [...ids].sort((a, b) => a - b);
  }

  /** Durably applies one raft step for a group (see PersistRequest). Throws InvalidArgumentError on misuse. */
  persist(groupId: number, req: PersistRequest): Promise<void> {
    const grp = this.group(groupId);
    const s: GroupState = { ...grp.planned };
    const ops: WriteOp[] = [];
    if (req.snapshot) this.planSnapshotInstall(groupId, s, req.snapshot, ops);
    const appended = req.entries && req.entries.length > 0 ? this.planAppend(groupId, s, req.entries, ops) : [];
    if (req.conf) {
      s.conf = req.conf;
      ops.push({ db: this.meta, key: metaKey(groupId, MetaTag.ConfState), value: encodeConfState(metaKey(groupId, MetaTag.ConfState), req.conf) });
    }
    if (req.hardState) {
      s.hardState = { ...req.hardState };
      const k = metaKey(groupId, MetaTag.HardState);
      ops.push({ db: this.meta, key: k, value: encodeHardState(k, req.hardState) });
    }
    grp.planned = s;
    const snapshotInstalled = req.snapshot !== undefined;
    return this.submit(ops).then(() => {
      grp.durable = s;
      if (snapshotInstalled) this.resetTail(grp);
      if (appended.length > 0) this.appendTail(grp, appended);
    });
  }

  /** Installs a snapshot received from a leader: the log is replaced by it. */
  applySnapshot(groupId: number, snapshot: Snapshot): Promise<void> {
    return this.persist(groupId, { snapshot });
  }

  /**
   * Stores a snapshot this node took of its own state machine at snapshot.meta.index (<= last index),
   * without touching the log; follow with compact() to drop the entries it covers.
   */
  saveSnapshot(groupId: number, snapshot: Snapshot): Promise<void> {
    const grp = this.group(groupId);
    const s: GroupState = { ...grp.planned };
    const { index } = snapshot.meta;
    if (index <= s.snapshotMeta.index || index < s.trunc.index) {
      throw new InvalidArgumentError(`snapshot at ${index} is not newer than stored snapshot ${s.snapshotMeta.index}`, { groupId, index });
    }
    if (index > s.lastIndex) {
      throw new InvalidArgumentError(`snapshot at ${index} is beyond last index ${s.lastIndex}; use applySnapshot`, { groupId, index });
    }
    const ops: WriteOp[] = [];
    this.planSnapshotRecords(groupId, s, snapshot, ops);
    grp.planned = s;
    return this.submit(ops).then(() => {
      grp.durable = s;
    });
  }

  /**
   * Drops entries <= index. Requires a stored snapshot covering index (saveSnapshot/applySnapshot first).
   * Compacting at or below the current compaction point is a no-op.
   */
  compact(groupId: number, index: number): Promise<void> {
    const grp = this.group(groupId);
    const s: GroupState = { ...grp.planned };
    if (index <= s.trunc.index) return Promise.resolve();
    if (index > s.lastIndex) {
      throw new InvalidArgumentError(`cannot compact to ${index} beyond last index ${s.lastIndex}`, { groupId, index });
    }
    if (index > s.snapshotMeta.index) {
      throw new InvalidArgumentError(`cannot compact to ${index}: latest snapshot is at ${s.snapshotMeta.index}`, { groupId, index });
    }
    const ops: WriteOp[] = [];
    for (let i = s.trunc.index + 1; i <= index; i++) ops.push({ db: this.log, key: logKey(groupId, i), value: undefined });
    const stateKey = metaKey(groupId, MetaTag.LogState);
    const entryKey = logKey(groupId, index);
    // The term of entry `index` is known without a read only at the edges; otherwise it is read inside the
    // write transaction, where every earlier submitted write (even one not yet committed) is visible.
    const knownTerm = index === s.lastIndex ? s.lastTerm : index === s.snapshotMeta.index ? s.snapshotMeta.term : -1;
    const trunc = { index, term: knownTerm };
    s.trunc = trunc;
    grp.planned = s;
    if (knownTerm >= 0) grp.compacting = { index, term: knownTerm };
    return this.submit(ops, () => {
      if (trunc.term < 0) {
        const rec = this.log.get(entryKey);
        if (!rec) throw new DataLossError(`raft log of group ${groupId} has no entry ${index} to compact at`, { groupId, index });
        trunc.term = this.decodeEntry(groupId, index, entryKey, rec).term;
        grp.compacting = { index, term: trunc.term };
      }
      this.meta.put(stateKey, encodeLogState(stateKey, { truncIndex: trunc.index, truncTerm: trunc.term }));
    }).then(() => {
      grp.durable = s;
      this.dropTailThrough(grp, index);
    });
  }

  /** Removes every trace of a group (entries, hard state, conf, snapshot). */
  dropGroup(groupId: number): Promise<void> {
    const grp = this.group(groupId);
    const s = grp.planned;
    const ops: WriteOp[] = [];
    for (let i = s.trunc.index + 1; i <= s.lastIndex; i++) ops.push({ db: this.log, key: logKey(groupId, i), value: undefined });
    for (const tag of [MetaTag.HardState, MetaTag.ConfState, MetaTag.LogState, MetaTag.SnapshotMeta]) {
      ops.push({ db: this.meta, key: metaKey(groupId, tag), value: undefined });
    }
    ops.push({ db: this.snaps, key: groupKey(groupId), value: undefined });
    const fresh = emptyState();
    grp.planned = fresh;
    grp.compacting = { index: 0, term: 0 };
    return this.submit(ops).then(() => {
      grp.durable = fresh;
      this.resetTail(grp);
    });
  }

  // ---- read side (used by GroupLog) --------------------------------------------------------------------

  /** @internal */
  durableState(groupId: number): GroupState {
    return this.group(groupId).durable;
  }

  /** @internal the last index readers must treat as compacted (see Group.compacting) */
  readFloor(groupId: number): number {
    const grp = this.group(groupId);
    return Math.max(grp.durable.trunc.index, grp.compacting.index);
  }

  /** @internal */
  readEntries(groupId: number, lo: number, hi: number, maxBytes: number): Entry[] {
    const grp = this.group(groupId);
    const s = grp.durable;
    const floor = Math.max(s.trunc.index, grp.compacting.index);
    if (lo <= floor) throw new LogCompactedError(`entries of group ${groupId} from ${lo} were compacted (first is ${floor + 1})`, { groupId, index: lo });
    if (hi > s.lastIndex + 1) throw new LogUnavailableError(`entries of group ${groupId} up to ${hi - 1} are beyond last index ${s.lastIndex}`, { groupId, index: hi - 1 });
    const out: Entry[] = [];
    if (lo >= hi) return out;
    let bytes = 0;
    const take = (e: Entry): boolean => {
      const size = entrySizeBytes(e);
      if (out.length > 0 && bytes + size > maxBytes) return false;
      bytes += size;
      out.push(e);
      return true;
    };
    const tailStart = grp.tail.length > 0 ? grp.tail[0]!.index : s.lastIndex + 1;
    let next = lo;
    if (lo < tailStart) {
      const end = Math.min(hi, tailStart);
      for (const { key, value } of this.log.getRange({ start: logKey(groupId, lo), end: logKey(groupId, end) })) {
        const { index } = decodeLogKey(key);
        if (index !== next) throw new DataLossError(`raft log of group ${groupId} is missing entry ${next} (next stored is ${index})`, { groupId, index: next });
        if (!take(this.decodeEntry(groupId, index, key, value))) return out;
        next++;
      }
      if (next !== end) throw new DataLossError(`raft log of group ${groupId} is missing entry ${next}`, { groupId, index: next });
    }
    for (let i = next - tailStart; next < hi; i++, next++) {
      if (!take(grp.tail[i]!)) break;
    }
    return out;
  }

  /** @internal */
  readTerm(groupId: number, i: number): number {
    const grp = this.group(groupId);
    const s = grp.durable;
    if (i === s.trunc.index) return s.trunc.term;
    if (grp.compacting.index > s.trunc.index && i <= grp.compacting.index) {
      if (i === grp.compacting.index) return grp.compacting.term;
      throw new LogCompactedError(`term of entry ${i} of group ${groupId} was compacted`, { groupId, index: i });
    }
    if (i < s.trunc.index) throw new LogCompactedError(`term of entry ${i} of group ${groupId} was compacted`, { groupId, index: i });
    if (i > s.lastIndex) throw new LogUnavailableError(`entry ${i} of group ${groupId} is beyond last index ${s.lastIndex}`, { groupId, index: i });
    if (i === s.lastIndex) return s.lastTerm;
    if (grp.tail.length > 0 && i >= grp.tail[0]!.index) return grp.tail[i - grp.tail[0]!.index]!.term;
    const key = logKey(groupId, i);
    const rec = this.log.get(key);
    if (!rec) throw new DataLossError(`raft log of group ${groupId} is missing entry ${i}`, { groupId, index: i });
    return this.decodeEntry(groupId, i, key, rec).term;
  }

  /** @internal */
  readSnapshot(groupId: number): Snapshot {
    const s = this.group(groupId).durable;
    if (s.snapshotMeta.index === 0) return { meta: s.snapshotMeta, data: new Uint8Array(0) };
    const key = groupKey(groupId);
    const rec = this.snaps.get(key);
    const fail = (why: string) =>
      new DataLossError(`snapshot of group ${groupId} at ${s.snapshotMeta.index} is corrupt: ${why}`, { groupId, index: s.snapshotMeta.index });
    if (!rec) throw fail('data record missing');
    const bad = checkRecord(key, rec, RecordKind.SnapshotData);
    if (bad) throw fail(bad);
    const d = decodeSnapshotDataPayload(recordPayload(rec));
    if (!d) throw fail('malformed data record');
    if (d.index !== s.snapshotMeta.index || d.data.length !== s.snapshotDataBytes) {
      throw fail(`data record is for index ${d.index} with ${d.data.length} bytes, metadata expects ${s.snapshotDataBytes} bytes`);
    }
    return { meta: s.snapshotMeta, data: d.data };
  }

  // ---- planning ----------------------------------------------------------------------------------------

  private planSnapshotInstall(groupId: number, s: GroupState, snap: Snapshot, ops: WriteOp[]): void {
    const { index, term } = snap.meta;
    if (index <= s.snapshotMeta.index || index < s.trunc.index) {
      throw new InvalidArgumentError(`snapshot at ${index} is not newer than stored snapshot ${s.snapshotMeta.index}`, { groupId, index });
    }
    for (let i = s.trunc.index + 1; i <= s.lastIndex; i++) ops.push({ db: this.log, key: logKey(groupId, i), value: undefined });
    this.planSnapshotRecords(groupId, s, snap, ops);
    const stateKey = metaKey(groupId, MetaTag.LogState);
    ops.push({ db: this.meta, key: stateKey, value: encodeLogState(stateKey, { truncIndex: index, truncTerm: term }) });
    const confKey = metaKey(groupId, MetaTag.ConfState);
    ops.push({ db: this.meta, key: confKey, value: encodeConfState(confKey, snap.meta.conf) });
    s.trunc = { index, term };
    s.lastIndex = index;
    s.lastTerm = term;
    s.conf = snap.meta.conf;
  }

  private planSnapshotRecords(groupId: number, s: GroupState, snap: Snapshot, ops: WriteOp[]): void {
    const metaK = metaKey(groupId, MetaTag.SnapshotMeta);
    const dataK = groupKey(groupId);
    ops.push({ db: this.snaps, key: dataK, value: encodeSnapshotData(dataK, snap.meta.index, snap.data) });
    ops.push({ db: this.meta, key: metaK, value: encodeSnapshotMeta(metaK, { meta: snap.meta, dataBytes: snap.data.length }) });
    s.snapshotMeta = snap.meta;
    s.snapshotDataBytes = snap.data.length;
  }

  /** Plans an append with raft's truncate-on-conflict; returns the entries actually written. */
  private planAppend(groupId: number, s: GroupState, entries: Entry[], ops: WriteOp[]): Entry[] {
    const first = entries[0]!.index;
    for (let k = 0; k < entries.length; k++) {
      const e = entries[k]!;
      if (e.index !== first + k) throw new InvalidArgumentError(`entries of group ${groupId} are not contiguous at ${e.index}`, { groupId, index: e.index });
      if (k > 0 && e.term < entries[k - 1]!.term) throw new InvalidArgumentError(`entry terms of group ${groupId} decrease at ${e.index}`, { groupId, index: e.index });
      if (e.index < 1 || e.index > MAX_INDEX) throw new InvalidArgumentError(`entry index ${e.index} out of range`, { groupId, index: e.index });
    }
    // Entries at or below the compaction point are committed and already covered by the snapshot.
    const kept = first <= s.trunc.index ? entries.slice(s.trunc.index + 1 - first) : entries;
    if (kept.length === 0) return kept;
    const from = kept[0]!.index;
    if (from > s.lastIndex + 1) {
      throw new InvalidArgumentError(`append at ${from} would leave a gap after last index ${s.lastIndex} of group ${groupId}`, { groupId, index: from });
    }
    const last = kept[kept.length - 1]!;
    for (let i = last.index + 1; i <= s.lastIndex; i++) ops.push({ db: this.log, key: logKey(groupId, i), value: undefined });
    for (const e of kept) {
      const key = logKey(groupId, e.index);
      ops.push({ db: this.log, key, value: encodeEntry(key, e) });
    }
    s.lastIndex = last.index;
    s.lastTerm = last.term;
    return kept;
  }

  /** Submits the planned ops; `prelude` runs first inside the same write transaction. */
  private submit(ops: WriteOp[], prelude?: () => void): Promise<void> {
    // Without a read inside the transaction the ops go as data: lmdb-js commits them without calling back here.
    if (!prelude && this.storage.writeOps) return this.storage.writeOps(ops);
    return this.storage.write(() => {
      prelude?.();
      for (const op of ops) {
        if (op.value === undefined) op.db.remove(op.key);
        else op.db.put(op.key, op.value);
      }
    });
  }

  // ---- tail cache --------------------------------------------------------------------------------------

  private resetTail(grp: Group): void {
    grp.tail = [];
    grp.tailBytes = 0;
  }

  private appendTail(grp: Group, entries: Entry[]): void {
    const from = entries[0]!.index;
    const tail = grp.tail;
    if (tail.length > 0) {
      const start = tail[0]!.index;
      const end = start + tail.length; // one past the cached tail
      if (from > end || from <= start) this.resetTail(grp);
      else for (const e of grp.tail.splice(from - start)) grp.tailBytes -= entrySizeBytes(e);
    }
    for (const e of entries) {
      grp.tail.push(e);
      grp.tailBytes += entrySizeBytes(e);
    }
    let drop = 0;
    let bytes = grp.tailBytes;
    while (grp.tail.length - drop > 1 && (grp.tail.length - drop > this.tailCacheEntries || bytes > this.tailCacheBytes)) {
      bytes -= entrySizeBytes(grp.tail[drop]!);
      drop++;
    }
    if (drop > 0) grp.tail.splice(0, drop);
    grp.tailBytes = bytes;
    if (grp.tail.length > 0 && (grp.tail.length > this.tailCacheEntries || bytes > this.tailCacheBytes)) this.resetTail(grp);
  }

  private dropTailThrough(grp: Group, index: number): void {
    if (grp.tail.length === 0) return;
    const n = Math.min(grp.tail.length, index - grp.tail[0]!.index + 1);
    if (n <= 0) return;
    for (const e of grp.tail.splice(0, n)) grp.tailBytes -= entrySizeBytes(e);
  }

  // ---- recovery ----------------------------------------------------------------------------------------

  private group(groupId: number): Group {
    if (this.storage.isClosed) throw new FailedPreconditionError(`storage ${this.storage.path} is closed`, { groupId });
    let grp = this.groupsById.get(groupId);
    if (!grp) {
      if (!Number.isSafeInteger(groupId) || groupId < 0 || groupId > MAX_GROUP_ID) {
        throw new InvalidArgumentError(`invalid raft group id ${groupId}`, { groupId });
      }
      grp = new Group(this.recover(groupId));
      this.groupsById.set(groupId, grp);
    }
    return grp;
  }

  /** Rebuilds a group's state from disk, checking that its log is exactly (truncIndex, lastIndex]. */
  private recover(groupId: number): GroupState {
    const s = emptyState();
    const hs = this.readMeta(groupId, MetaTag.HardState, RecordKind.HardState, 'hard state', decodeHardStatePayload);
    const ls = this.readMeta(groupId, MetaTag.LogState, RecordKind.LogState, 'log state', decodeLogStatePayload);
    const sm = this.readMeta(groupId, MetaTag.SnapshotMeta, RecordKind.SnapshotMeta, 'snapshot metadata', decodeSnapshotMetaPayload);
    const conf = this.readMeta(groupId, MetaTag.ConfState, RecordKind.ConfState, 'conf state', decodeConfStatePayload);
    if (hs) s.hardState = hs;
    if (ls) s.trunc = { index: ls.truncIndex, term: ls.truncTerm };
    if (sm) {
      s.snapshotMeta = sm.meta;
      s.snapshotDataBytes = sm.dataBytes;
    }
    // Only a conf record counts (applySnapshot writes one); saveSnapshot leaves the conf state alone.
    if (conf) s.conf = conf;
    if (s.trunc.index > s.snapshotMeta.index) {
      throw new DataLossError(`raft log of group ${groupId} is compacted to ${s.trunc.index} but its snapshot is at ${s.snapshotMeta.index}`, { groupId, index: s.trunc.index });
    }
    s.lastIndex = s.trunc.index;
    s.lastTerm = s.trunc.term;
    const lo = logKey(groupId, 0);
    const hi = logKey(groupId, MAX_INDEX + 1);
    const firstKey = firstKeyAtOrAfter(this.log, lo);
    if (firstKey && readU64(firstKey, 0) === groupId) {
      const first = readU64(firstKey, 8);
      const lastKey = [...this.log.getKeys({ start: hi, end: lo, reverse: true, limit: 1 })][0]!;
      const last = readU64(lastKey, 8);
      if (first !== s.trunc.index + 1) {
        throw new DataLossError(`raft log of group ${groupId} starts at ${first}, expected ${s.trunc.index + 1}`, { groupId, index: s.trunc.index + 1 });
      }
      const count = this.log.getKeysCount({ start: lo, end: hi });
      if (count !== last - first + 1) {
        throw new DataLossError(`raft log of group ${groupId} has ${count} entries between ${first} and ${last}: a gap`, { groupId, index: first });
      }
      const rec = this.log.get(lastKey);
      s.lastIndex = last;
      s.lastTerm = this.decodeEntry(groupId, last, lastKey, rec!).term;
    }
    return s;
  }

  private readMeta<T>(
    groupId: number,
    tag: MetaTag,
    kind: RecordKind,
    what: string,
    decode: (p: Uint8Array) => T | null,
  ): T | undefined {
    const key = metaKey(groupId, tag);
    const rec = this.meta.get(key);
    if (!rec) return undefined;
    const bad = checkRecord(key, rec, kind);
    const v = bad ? null : decode(recordPayload(rec));
    if (v === null) throw new DataLossError(`${what} of raft group ${groupId} is corrupt: ${bad ?? 'malformed payload'}`, { groupId, record: what });
    return v;
  }

  private decodeEntry(groupId: number, index: number, key: Uint8Array, rec: Uint8Array): Entry {
    const bad = checkRecord(key, rec, RecordKind.Entry);
    const e = bad ? null : decodeEntryPayload(index, recordPayload(rec));
    if (!e) throw new DataLossError(`raft log entry ${index} of group ${groupId} is corrupt: ${bad ?? 'malformed payload'}`, { groupId, index });
    return e;
  }
}

function firstKeyAtOrAfter(db: OrderedTable, start: Buffer): Buffer | undefined {
  for (const k of db.getKeys({ start, limit: 1 })) return k;
  return undefined;
}

/** The LogReader of one group, as the raft core sees it: what is durable. */
export class GroupLog implements LogReader {
  constructor(
    private readonly store: RaftLogStore,
    readonly groupId: number,
  ) {}

  initialState(): { hardState: HardState; conf: ConfState } {
    const s = this.store.durableState(this.groupId);
    return { hardState: s.hardState, conf: s.conf };
  }

  /** Entries in [lo, hi), at most maxBytes (counted by entrySizeBytes), always at least one if lo < hi. */
  entries(lo: number, hi: number, maxBytes = Number.POSITIVE_INFINITY): Entry[] {
    return this.store.readEntries(this.groupId, lo, hi, maxBytes);
  }

  term(i: number): number {
    return this.store.readTerm(this.groupId, i);
  }

  firstIndex(): number {
    return this.store.readFloor(this.groupId) + 1;
  }

  lastIndex(): number {
    return this.store.durableState(this.groupId).lastIndex;
  }

  /** The latest stored snapshot (index 0 and empty data when none); data is read and verified per call. */
  snapshot(): Snapshot {
    return this.store.readSnapshot(this.groupId);
  }
}
