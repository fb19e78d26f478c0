// Owns a shard: the regions of one thread and what they share there — the thread's LMDB environment (and so
// its group commit: fsyncs are per thread), the raft log store, the MVCC families, the inbound drop counter,
// one tick timer, and the records handed from one region incarnation to the next. The timer ticks every region
// of the shard in one callback (RegionActor.tick, between the regions' messages) rather than sending each a
// message; regions publish their views only when they change, and the shard reports them once per turn, plus
// its drop and apply counters whenever those moved (at least every REPORT_EVERY_MS while anything is hosted). A shard is the RegionHost of
// its region actors. What leaves the thread goes through ShardLinks: direct calls on the main thread
// (--workers 0: shard 0 uses the role's own environment), messages to the node's main-thread actor on a worker
// thread, batched per turn. Shards are registered per thread; a region actor finds its shard by index.
import type { ActorRef } from '../../actors/index.js';
import { SystemClock, type Clock, type TimerHandle } from '../../common/clock.js';
import { DropLog, type DropStats } from '../../common/drop-log.js';
import { createLogger, type Logger } from '../../common/log.js';
import { defaultPrng, type Prng } from '../../common/prng.js';
import type { Message } from '../../raft/index.js';
import { DB_NAMES, openRaftLogStore, openStorage, type RaftLogStore, type Storage } from '../../storage/index.js';
import { LmdbMvccBackend } from '../mvcc/lmdb.js';
import { FamilyMvccStore } from '../mvcc/families.js';
import { descriptorToJson, type DescriptorJson, type RegionDescriptor } from '../region/descriptor.js';
import { decodeRegionRecord, regionRecordKey, type ApplyCounters, type ApplyEvent, type RegionRecord } from '../region/state-machine.js';
import type { RegionMsg, RegionView } from './region-actor.js';
import type { RegionHost, RegionTiming, Tickable } from './region-host.js';

/** A shard whose views did not change still reports its counters this often (overlay draining, drops). */
export const REPORT_EVERY_MS = 1_000;
/** The lock family is scanned for its oldest start ts at most this often (a report under load comes every turn). */
export const LOCK_SCAN_EVERY_MS = 250;

/** Plain data a shard is opened from on its thread (spawn args of its region actors). */
export interface ShardConfig {
  /** 0: the main thread's shard (--workers 0); 1..N: worker thread N. */
  index: number;
  /** Its LMDB environment's folder (a worker shard opens it on its thread). */
  dir: string;
  storeId: number;
  stores: Array<[number, string]>;
  tickMs: number;
  timing: RegionTiming;
  /** The node's main-thread actor, for a worker shard. */
  main?: ActorRef<MainMsg>;
}

/** What a worker shard sends to the node's main-thread actor. */
export type MainMsg =
  | { t: 'send'; items: Array<{ to: number; group: number; msg: Message }> }
  | { t: 'report'; shard: number; views: Array<[number, RegionView]>; drops: DropStats; counters: ApplyCounters; overlay: number; oldestLock: string }
  | { t: 'applied'; events: ApplyEvent[] }
  | { t: 'split'; shard: number; child: DescriptorJson }
  | { t: 'failed'; shard: number; message: string }
  | { t: 'floorTso' };

/** How a shard reaches the rest of the store. */
export interface ShardLinks {
  send(items: Array<{ to: number; group: number; msg: Message }>): void;
  report(views: Array<[number, RegionView]>, shard: Shard): void;
  applied(events: ApplyEvent[]): void;
  split(child: RegionDescriptor): void;
  failed(err: unknown): void;
  floorTso?: () => Promise<bigint>;
}

const shards = new Map<number, Shard>();
const EMPTY = Buffer.alloc(0);

/** The shard `config.index` of this thread, opened here (its own LMDB environment) on first use. */
export function shardFor(config: ShardConfig): Shard {
  let s = shards.get(config.index);
  if (!s) {
    if (!config.main) throw new Error(`shard ${config.index} is not open on this thread`);
    s = new Shard(config, openStorage({ path: config.dir }), new SystemClock(), defaultPrng(), createLogger({ role: 'store', node: String(config.storeId) }).child({ shard: config.index }), mainLinks(config.main, config.index));
    shards.set(config.index, s);
  }
  return s;
}

/** Registers a shard built by its owner (the main thread's, on the role's environment). */
export function registerShard(s: Shard): void {
  shards.set(s.index, s);
}

export function unregisterShard(s: Shard): void {
  if (shards.get(s.index) === s) shards.delete(s.index);
}

/** Links of a worker shard: everything batched per turn into messages to the node's main-thread actor. */
function mainLinks(main: ActorRef<MainMsg>, index: number): ShardLinks {
  let out: Array<{ to: number; group: number; msg: Message }> = [];
  let events: ApplyEvent[] = [];
  let scheduled = false;
  const flush = () => {
    scheduled = false;
    if (out.length > 0) main.tell({ t: 'send', items: out });
    if (events.length > 0) main.tell({ t: 'applied', events });
    out = [];
    events = [];
  };
  const later = () => {
    if (!scheduled) {
      scheduled = true;
      queueMicrotask(flush);
    }
  };
  return {
    send: (items) => {
      for (const i of items) out.push(i);
      later();
    },
    applied: (evs) => {
      for (const e of evs) events.push(e);
      later();
    },
    report: (views, s) => main.tell({ t: 'report', shard: index, views, drops: s.drops.stats(), counters: s.counters, overlay: s.backend.overlaySize, oldestLock: s.oldestLockTs() }),
    split: (child) => main.tell({ t: 'split', shard: index, child: descriptorToJson(child) }),
    failed: (err) => main.tell({ t: 'failed', shard: index, message: err instanceof Error ? err.message : String(err) }),
    floorTso: () => main.ask<bigint>({ t: 'floorTso' }, { timeoutMs: 5_000 }),
  };
}

export class Shard implements RegionHost {
  readonly index: number;
  readonly storeId: number;
  readonly raftStore: RaftLogStore;
  readonly backend: LmdbMvccBackend;
  readonly counters: ApplyCounters = {};
  readonly drops: DropLog;
  readonly timing: RegionTiming;
  readonly leaderFloorTso?: () => Promise<bigint>;
  private readonly stores: Map<number, string>;
  private readonly regions = new Map<number, { ref: ActorRef<RegionMsg>; actor: Tickable }>();
  private readonly views = new Map<number, RegionView>();
  private readonly handedOver = new Map<number, RegionRecord>();
  private pendingViews: Array<[number, RegionView]> = [];
  private reportScheduled = false;
  private lastReportAt = 0;
  private lastDropsTotal = 0;
  private lockScan = { atMs: -Infinity, oldest: '' };
  private timer?: TimerHandle;
  private closed = false;

  constructor(
    private readonly config: ShardConfig,
    readonly storage: Storage,
    readonly clock: Clock,
    readonly prng: Prng,
    readonly logger: Logger,
    private readonly links: ShardLinks,
  ) {
    this.index = config.index;
    this.storeId = config.storeId;
    this.timing = config.timing;
    this.stores = new Map(config.stores);
    this.raftStore = openRaftLogStore(storage);
    this.backend = new LmdbMvccBackend(storage, logger, (err) => this.failStore(err));
    this.drops = new DropLog(clock, logger, 'raft message');
    if (links.floorTso) this.leaderFloorTso = links.floorTso;
  }

  // ---- RegionHost --------------------------------------------------------------------------------------

  isConfiguredPeer = (nodeId: number): boolean => nodeId !== this.storeId && this.stores.has(nodeId);

  /** A store that joined after this shard opened (`StoreNode.learnStore`). */
  learnStore(storeId: number, addr: string): void {
    this.stores.set(storeId, addr);
  }

  loadRecord(regionId: number): RegionRecord | undefined {
    const handed = this.handedOver.get(regionId);
    if (handed) return handed;
    const v = this.storage.db(DB_NAMES.appState).get(regionRecordKey(regionId));
    return v ? decodeRegionRecord(v) : undefined;
  }

  handOver(regionId: number, record: RegionRecord): void {
    this.handedOver.set(regionId, record);
  }

  send(regionId: number, msgs: Message[]): void {
    this.links.send(msgs.map((m) => ({ to: m.to, group: regionId, msg: m })));
  }

  publish(regionId: number, view: RegionView): void {
    this.views.set(regionId, view);
    this.pendingViews.push([regionId, view]);
    this.scheduleReport();
  }

  /** One report per turn: the views published since the last one, and the shard's counters. */
  private scheduleReport(): void {
    if (this.reportScheduled) return;
    this.reportScheduled = true;
    queueMicrotask(() => {
      this.reportScheduled = false;
      const views = this.pendingViews;
      this.pendingViews = [];
      this.lastReportAt = this.clock.now();
      this.lastDropsTotal = this.drops.stats().total;
      if (!this.closed) this.links.report(views, this);
    });
  }

  /**
   * The smallest start ts of any lock in this shard's environment, every region and replica alike (decimal; ''
   * when there is none): what the store reports as its oldest live transaction, which the coordinator's GC
   * safe point stays below. At most LOCK_SCAN_EVERY_MS old; locks are few (transactions in flight).
   */
  oldestLockTs(): string {
    const now = this.clock.now();
    if (now - this.lockScan.atMs < LOCK_SCAN_EVERY_MS) return this.lockScan.oldest;
    let min: bigint | undefined;
    for (const { lock } of new FamilyMvccStore(this.backend.families).locks(EMPTY, EMPTY)) if (min === undefined || lock.startTs < min) min = lock.startTs;
    this.lockScan = { atMs: now, oldest: min === undefined ? '' : min.toString() };
    return this.lockScan.oldest;
  }

  descriptors(): RegionDescriptor[] {
    return [...this.views.values()].map((v) => v.desc);
  }

  addrOf(storeId: number): string {
    return this.stores.get(storeId) ?? '';
  }

  emitApplied(ev: ApplyEvent): void {
    this.links.applied([ev]);
  }

  openSplitChild(child: RegionDescriptor, gcSafePoint: bigint): void {
    this.handedOver.set(child.id, { desc: descriptorToJson(child), applied: 0, ...(gcSafePoint > 0n ? { gc: gcSafePoint.toString() } : {}) });
    this.links.split(child);
  }

  failStore(err: unknown): void {
    this.links.failed(err);
  }

  // ---- regions on this thread --------------------------------------------------------------------------

  /** A region actor that started here; the shard ticks it from now on. */
  attach(regionId: number, ref: ActorRef<RegionMsg>, actor: Tickable): void {
    this.regions.set(regionId, { ref, actor });
    if (!this.timer && !this.closed) this.startTicking();
  }

  detach(regionId: number, ref: ActorRef<RegionMsg>): void {
    if (this.regions.get(regionId)?.ref.equals(ref)) this.regions.delete(regionId);
  }

  private startTicking(): void {
    const loop = () => {
      if (this.closed) return;
      // RegionActor.tick never throws: a failure there is rethrown inside that region's own mailbox.
      for (const { actor } of this.regions.values()) actor.tick();
      if (this.drops.stats().total !== this.lastDropsTotal || this.clock.now() - this.lastReportAt >= REPORT_EVERY_MS) this.scheduleReport();
      this.timer = this.clock.setTimer(this.config.tickMs, loop);
    };
    this.timer = this.clock.setTimer(this.config.tickMs, loop);
  }

  /** Stops ticking (the owner closes the environment once the regions stopped). */
  close(): void {
    this.closed = true;
    this.timer?.cancel();
    unregisterShard(this);
  }
}
