// Owns one region's replicated state: the raft StateMachine that applies Percolator commands (and splits) to
// the store's MVCC families within the region's range, persists the applied index and descriptor with the
// data, snapshots and restores the range, and reports what each entry changed (apply events). Apply reads no
// clock and no randomness: every time value is in the command. Also owns the region's MVCC GC safe point: a
// `gc` entry runs the pure pass (src/store/gc/collect.ts) over the region on every replica and raises the point,
// which is persisted with the applied index, carried by snapshots and inherited by split children; prewrites and
// one-phase commits of a transaction that started at or below it are refused (their conflict checks would not
// see the versions the pass removed), and reads below it are refused by the region actor.
import { Packr } from 'msgpackr';
import type { Logger } from '../../common/log.js';
import type { AppliedEntry, StateMachine } from '../../raft/host/replicated.js';
import { DB_NAMES, type BinaryDb, type Storage } from '../../storage/index.js';
import { compareBytes } from '../keys.js';
import { encodedRange, FamilyMvccStore, type Families, type OrderedFamily } from '../mvcc/families.js';
import type { LmdbMvccBackend } from '../mvcc/lmdb.js';
import type { WriteRecord } from '../mvcc/types.js';
import { collectGarbage } from '../gc/collect.js';
import { batchRollback, checkTxnStatus, commit, onePhaseCommit, prewrite, resolveLock, txnHeartBeat } from '../percolator/txn.js';
import type { KeyRange } from '../percolator/types.js';
import { decodeCommand, type CommandType, type RegionCommand } from './command.js';
import { descriptorFromJson, descriptorToJson, type DescriptorJson, type RegionDescriptor } from './descriptor.js';

export interface AppliedMutation {
  op: 'put' | 'delete';
  key: Buffer;
}

export interface ApplyEvent {
  regionId: number;
  index: number;
  term: number;
  command: CommandType;
  startTs: bigint;
  commitTs: bigint;
  mutations: AppliedMutation[];
}

export type ApplyResult =
  | { kind: 'ok'; value: unknown }
  | { kind: 'epoch_not_match'; current: DescriptorJson }
  | { kind: 'split_refused'; message: string }
  | { kind: 'skipped' };

export interface RegionHooks {
  onSplit(parent: RegionDescriptor, child: RegionDescriptor, gcSafePoint: bigint): void;
  onApplied(ev: ApplyEvent): void;
  /**
   * The store this replica runs on. A replica that is not among the region's voters (a learner catching up,
   * replaying a split from before it joined) does not host the split child: the child's voters do not include it.
   */
  selfId?: number;
}

/** Counters of applied Percolator commands, per command type (published in /debug/vars). */
export type ApplyCounters = Record<string, number>;

const packr = new Packr({ useRecords: false });

/** Key of a region's record (descriptor + applied index) in the app.state database. */
export function regionRecordKey(id: number): Buffer {
  const b = Buffer.alloc(4 + 8);
  b.write('rgn/', 0, 'latin1');
  b.writeBigUInt64BE(BigInt(id), 4);
  return b;
}

export const REGION_RECORD_PREFIX = Buffer.from('rgn/', 'latin1');

export interface RegionRecord {
  desc: DescriptorJson;
  applied: number;
  /** The region's MVCC GC safe point (decimal); absent = 0 (never collected). */
  gc?: string;
}

export function encodeRegionRecord(r: RegionRecord): Buffer {
  return packr.pack(r);
}

export function decodeRegionRecord(b: Uint8Array): RegionRecord {
  return packr.unpack(b) as RegionRecord;
}

/** Records put/delete write records (committed changes) made while one entry applies. */
class RecordingStore extends FamilyMvccStore {
  recorded: AppliedMutation[] = [];
  override putWrite(key: Uint8Array, commitTs: bigint, write: WriteRecord): void {
    super.putWrite(key, commitTs, write);
    if (write.kind === 'put' || write.kind === 'delete') this.recorded.push({ op: write.kind, key: Buffer.from(key) });
  }
}

export class RegionStateMachine implements StateMachine<ApplyResult> {
  desc: RegionDescriptor;
  applied: number;
  /** Versions below this are collected: reads below it are refused, and transactions that started at or below it. */
  gcSafePoint: bigint;
  /** Applied index found on disk at open: entries at or below it are already in the families. */
  private readonly durableApplied: number;
  private readonly store: RecordingStore;
  private readonly appDb: BinaryDb;

  constructor(
    private readonly backend: LmdbMvccBackend,
    storage: Storage,
    record: RegionRecord,
    private readonly hooks: RegionHooks,
    private readonly counters: ApplyCounters,
    private readonly logger: Logger,
  ) {
    this.desc = descriptorFromJson(record.desc);
    this.applied = record.applied;
    this.gcSafePoint = BigInt(record.gc ?? '0');
    this.durableApplied = record.applied;
    this.store = new RecordingStore(backend.families);
    this.appDb = storage.db(DB_NAMES.appState);
  }

  /** The region's MVCC view for reads (reads see applied-but-not-yet-durable writes). */
  get mvcc(): FamilyMvccStore {
    return this.store;
  }

  apply(entry: AppliedEntry): ApplyResult {
    if (entry.index <= this.durableApplied) return { kind: 'skipped' };
    const cmd = decodeCommand(entry.data);
    this.store.recorded = [];
    let result: ApplyResult;
    const extra: Array<{ db: BinaryDb; key: Buffer; value: Buffer | null }> = [];
    if (cmd.v !== this.desc.epoch.version) {
      result = { kind: 'epoch_not_match', current: descriptorToJson(this.desc) };
    } else if (cmd.t === 'split') {
      result = this.applySplit(cmd.splitKey, cmd.newId, extra);
    } else if (cmd.t === 'gc') {
      result = { kind: 'ok', value: this.applyGc(cmd.safePoint) };
    } else {
      result = { kind: 'ok', value: this.run(cmd) };
      this.counters[cmd.t] = (this.counters[cmd.t] ?? 0) + 1;
    }
    this.applied = entry.index;
    extra.push(this.recordWrite());
    // The applied state rides along with the next raft append instead of costing a transaction and an fsync of
    // its own: a crash before it is durable loses only state that recovery replays from the durable log (the
    // applied index travels in the same transaction as the data). A split's records go out at once.
    this.backend.commit(extra, { lazy: cmd.t !== 'split' });
    if (this.store.recorded.length > 0) this.emit(cmd, entry);
    return result;
  }

  private run(cmd: Exclude<RegionCommand, { t: 'split' | 'gc' }>): unknown {
    switch (cmd.t) {
      case 'prewrite':
        if (cmd.req.startTs <= this.gcSafePoint) return [this.belowSafePoint(cmd.req.mutations[0]?.key, cmd.req.startTs)];
        return prewrite(this.store, { ...cmd.req, readRanges: this.clip(cmd.req.readRanges) });
      case 'commit':
        return commit(this.store, cmd.req);
      case 'rollback':
        return batchRollback(this.store, cmd.req);
      case 'resolve':
        return resolveLock(this.store, cmd.req, this.desc.start, this.desc.end);
      case 'check':
        return checkTxnStatus(this.store, cmd.req);
      case 'heartbeat':
        return txnHeartBeat(this.store, cmd.req);
      case 'one_pc':
        if (cmd.req.startTs <= this.gcSafePoint) return [this.belowSafePoint(cmd.req.mutations[0]?.key, cmd.req.startTs)];
        return onePhaseCommit(this.store, { ...cmd.req, readRanges: this.clip(cmd.req.readRanges) });
    }
  }

  private belowSafePoint(key: Buffer | undefined, startTs: bigint) {
    return { kind: 'abort' as const, key: key ?? Buffer.alloc(0), message: `start ts ${startTs} is at or below the GC safe point ${this.gcSafePoint}` };
  }

  /**
   * One GC pass over the whole region below `sp`. Every replica holds the same families at this index, so the
   * pass removes the same records everywhere. A point at or below the region's own is a no-op (the point only
   * rises, whatever order proposals from different leaders arrive in).
   */
  private applyGc(sp: bigint): { safePoint: string; writesRemoved: number; dataRemoved: number } {
    if (sp <= this.gcSafePoint) return { safePoint: this.gcSafePoint.toString(), writesRemoved: 0, dataRemoved: 0 };
    const st = collectGarbage(this.store, this.desc.start, this.desc.end, sp);
    this.gcSafePoint = sp;
    const c = this.counters;
    c.gc = (c.gc ?? 0) + 1;
    c.gc_writes_removed = (c.gc_writes_removed ?? 0) + st.writesRemoved;
    c.gc_data_removed = (c.gc_data_removed ?? 0) + st.dataRemoved;
    c.gc_locked_skipped = (c.gc_locked_skipped ?? 0) + st.lockedSkipped;
    return { safePoint: sp.toString(), writesRemoved: st.writesRemoved, dataRemoved: st.dataRemoved };
  }

  /** A read range is checked within this region only (its start was admitted here; the client splits ranges). */
  private clip(ranges: KeyRange[] | undefined): KeyRange[] {
    const end = this.desc.end;
    return (ranges ?? []).map((r) => (end.length > 0 && (r.end.length === 0 || compareBytes(r.end, end) > 0) ? { start: r.start, end } : r));
  }

  private applySplit(splitKey: Buffer, newId: number, extra: Array<{ db: BinaryDb; key: Buffer; value: Buffer | null }>): ApplyResult {
    const d = this.desc;
    if (compareBytes(splitKey, d.start) <= 0 || (d.end.length > 0 && compareBytes(splitKey, d.end) >= 0)) {
      return { kind: 'split_refused', message: `split key ${splitKey.toString('hex')} is not strictly inside region ${d.id}` };
    }
    const version = d.epoch.version + 1;
    const child: RegionDescriptor = { id: newId, start: Buffer.from(splitKey), end: d.end, epoch: { version, confVersion: d.epoch.confVersion }, peers: [...d.peers] };
    this.desc = { ...d, end: Buffer.from(splitKey), epoch: { version, confVersion: d.epoch.confVersion } };
    const hostsChild = this.hooks.selfId === undefined || child.peers.includes(this.hooks.selfId);
    // The child's range was collected with the parent's: it inherits the safe point.
    if (hostsChild) extra.push({ db: this.appDb, key: regionRecordKey(newId), value: encodeRegionRecord({ desc: descriptorToJson(child), applied: 0, ...this.gcField() }) });
    this.logger.info({ region: d.id, child: newId, split: splitKey.toString('hex'), version, hostsChild }, 'region split applied');
    if (hostsChild) this.hooks.onSplit(this.desc, child, this.gcSafePoint);
    return { kind: 'ok', value: { left: descriptorToJson(this.desc), right: descriptorToJson(child) } };
  }

  private gcField(): { gc?: string } {
    return this.gcSafePoint > 0n ? { gc: this.gcSafePoint.toString() } : {};
  }

  private recordWrite(): { db: BinaryDb; key: Buffer; value: Buffer } {
    return { db: this.appDb, key: regionRecordKey(this.desc.id), value: encodeRegionRecord({ desc: descriptorToJson(this.desc), applied: this.applied, ...this.gcField() }) };
  }

  private emit(cmd: RegionCommand, entry: AppliedEntry): void {
    const req = 'req' in cmd ? (cmd.req as { startTs?: bigint; commitTs?: bigint; lockTs?: bigint }) : {};
    try {
      this.hooks.onApplied({
        regionId: this.desc.id,
        index: entry.index,
        term: entry.term,
        command: cmd.t,
        startTs: req.startTs ?? req.lockTs ?? 0n,
        commitTs: req.commitTs ?? 0n,
        mutations: this.store.recorded,
      });
    } catch (err) {
      this.logger.warn({ err }, 'apply listener threw');
    }
  }

  /**
   * A membership change applied at `index` (the raft host applies it, not apply()): the descriptor's peers follow
   * the voters, and its conf version counts changes of them — a learner coming or going is not one, so the
   * store's epoch moves exactly as the rooted plan's (one bump per voter added or removed). Persisted with the
   * applied index, so a replay after a restart does not bump it twice. True when the descriptor changed.
   */
  applyMembership(voters: readonly number[], index: number): boolean {
    if (index <= this.durableApplied || index <= this.applied) return false;
    const peers = [...voters].sort((a, b) => a - b);
    const d = this.desc;
    if (peers.length === d.peers.length && [...d.peers].sort((a, b) => a - b).every((p, i) => p === peers[i])) return false;
    this.desc = { ...d, peers, epoch: { version: d.epoch.version, confVersion: d.epoch.confVersion + 1 } };
    this.applied = index;
    this.backend.commit([this.recordWrite()]);
    this.logger.info({ region: d.id, peers, confVersion: this.desc.epoch.confVersion, index }, 'region membership applied');
    return true;
  }

  // ---- snapshots: the region's slice of the three families ------------------------------------------------

  snapshot(): Uint8Array {
    const { from, to } = encodedRange(this.desc.start, this.desc.end);
    const dump = (f: OrderedFamily) => [...f.range(from, to)];
    const fams = this.backend.families;
    return packr.pack({ desc: descriptorToJson(this.desc), gc: this.gcSafePoint.toString(), lock: dump(fams.lock), write: dump(fams.write), data: dump(fams.data) });
  }

  restore(data: Uint8Array, index: number, _term: number): void {
    if (index <= this.durableApplied) return; // the families already hold a state at or after the snapshot
    const snap = packr.unpack(data) as { desc: DescriptorJson; gc?: string; lock: Array<[Uint8Array, Uint8Array]>; write: Array<[Uint8Array, Uint8Array]>; data: Array<[Uint8Array, Uint8Array]> };
    const fams: Families = this.backend.families;
    const desc = descriptorFromJson(snap.desc);
    const { from, to } = encodedRange(desc.start, desc.end);
    for (const name of ['lock', 'write', 'data'] as const) {
      const f = fams[name];
      for (const [k] of [...f.range(from, to)]) f.del(k);
      for (const [k, v] of snap[name]) f.put(Buffer.from(k), Buffer.from(v));
    }
    this.desc = desc;
    this.applied = index;
    // The snapshot's families were collected below its safe point: a follower installing it takes the point too.
    this.gcSafePoint = BigInt(snap.gc ?? '0');
    this.backend.commit([this.recordWrite()]);
    this.logger.info({ region: desc.id, index }, 'region restored from snapshot');
  }
}
