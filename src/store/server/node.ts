// Owns one store process's data plane: the LMDB environment's MVCC families, the raft transport, and the
// regions, each a RegionActor (region-actor.ts: its raft group, state machine, guard, proposals and reads)
// under the store's own one_for_one supervisor, so one failed region restarts alone and recovers from its log.
// The node is the regions' host (RegionHost) and their router: raft traffic from the transport goes to the
// owning region's ActorRef, requests become asks, and what each region publishes after it changes is what
// /debug/vars, ListRegions and the control plane read. One timer ticks every region (a message each).
import type { ActorRef, ActorSystem, TraceContext } from '../../actors/index.js';
import { actorChildSpec } from '../../actors/index.js';
import type { Clock, TimerHandle } from '../../common/clock.js';
import { DropLog } from '../../common/drop-log.js';
import { InvalidArgumentError, UnavailableError } from '../../common/errors.js';
import type { Logger } from '../../common/log.js';
import type { Prng } from '../../common/prng.js';
import type { Message } from '../../raft/index.js';
import { Supervisor } from '../../supervisor/supervisor.js';
import type { ChildSpec, ExitReason } from '../../supervisor/types.js';
import { DB_NAMES, openRaftLogStore, type RaftLogStore, type Storage } from '../../storage/index.js';
import { RaftTransport, type FaultInjector } from '../../transport/index.js';
import { LmdbMvccBackend } from '../mvcc/lmdb.js';
import type { KeyError } from '../percolator/types.js';
import type { FamilyMvccStore } from '../mvcc/families.js';
import type { RegionCommand } from '../region/command.js';
import { bootstrapRegions, descriptorToJson, descriptorFromJson, type RegionDescriptor } from '../region/descriptor.js';
import { RegionNotFoundError, StoreNotMatchError } from '../region/errors.js';
import { decodeRegionRecord, encodeRegionRecord, regionRecordKey, REGION_RECORD_PREFIX, type ApplyCounters, type ApplyEvent, type RegionRecord } from '../region/state-machine.js';
import { RegionActor, type ReadAt, type RegionMsg, type RegionView, type RequestContext } from './region-actor.js';
import type { RegionHost, RegionTiming } from './region-host.js';

export type { RequestContext } from './region-actor.js';

/** Deadline of a proposal or read barrier inside the store (below the client's per-attempt deadline). */
export const DEFAULT_STORE_PROPOSE_TIMEOUT_MS = 3_000;
/** Apply-event listeners per store (watch streams); more are refused. */
export const MAX_APPLY_LISTENERS = 256;
/** A region restarted more than this many times within REGION_RESTART_PERIOD_MS takes the data plane down. */
export const REGION_RESTART_INTENSITY = 5;
export const REGION_RESTART_PERIOD_MS = 30_000;
/** An ask to a region waits this much longer than the region's own deadline, so the region's error wins. */
const ASK_SLACK_MS = 1_000;

export interface StoreNodeOptions {
  storeId: number;
  storage: Storage;
  /** Every store id → its KV+raft address (this one included). */
  stores: Map<number, string>;
  /** The process's actor system: regions are spawned here. */
  actors: ActorSystem;
  /** Cluster token the raft streams present and require. */
  token?: string;
  clock: Clock;
  prng: Prng;
  logger: Logger;
  tickMs: number;
  electionTicks: number;
  heartbeatTicks: number;
  snapshotEveryEntries?: number;
  compactionSlackEntries?: number;
  proposeTimeoutMs?: number;
  faults?: FaultInjector;
  onFailure?: (err: unknown) => void;
  /**
   * A timestamp from the cluster TSO that clients take their timestamps from (the coordinators), asked once
   * when this store becomes a region's leader; it becomes the one-phase-commit floor of that term (see
   * ts-guard.ts). Without it, or while it fails, the floor is the wall clock plus a margin.
   */
  leaderFloorTso?: () => Promise<bigint>;
}

/** A region as the router knows it: its current actor and the view it last published. */
export interface RegionEntry {
  id: number;
  ref?: ActorRef<RegionMsg>;
  view?: RegionView;
  /** running: its actor is up; down: it exited and its supervisor has not brought it back (yet). */
  state: 'starting' | 'running' | 'down';
  starts: number;
  lastExit?: string;
}

/** What the gRPC front asks of the node (StoreNode.traced binds a call's trace to it). */
export type StoreRequests = Pick<StoreNode, 'regions' | 'read' | 'propose' | 'onePhaseCommit' | 'split'>;

export class StoreNode implements RegionHost {
  readonly regions = new Map<number, RegionEntry>();
  readonly transport: RaftTransport;
  readonly counters: ApplyCounters = {};
  readonly raftStore: RaftLogStore;
  readonly backend: LmdbMvccBackend;
  readonly drops: DropLog;
  readonly timing: RegionTiming;
  readonly storeId: number;
  readonly storage: Storage;
  readonly clock: Clock;
  readonly prng: Prng;
  readonly logger: Logger;
  readonly leaderFloorTso?: () => Promise<bigint>;
  private readonly supervisor: Supervisor;
  private readonly others: Map<number, string>;
  private readonly listeners = new Set<(ev: ApplyEvent) => void>();
  private readonly opening = new Map<number, Promise<void>>();
  private readonly handedOver = new Map<number, RegionRecord>();
  private timer?: TimerHandle;
  private closed = false;

  private constructor(private readonly opts: StoreNodeOptions) {
    this.storeId = opts.storeId;
    this.storage = opts.storage;
    this.clock = opts.clock;
    this.prng = opts.prng;
    this.logger = opts.logger;
    if (opts.leaderFloorTso) this.leaderFloorTso = opts.leaderFloorTso;
    this.timing = {
      electionTicks: opts.electionTicks,
      heartbeatTicks: opts.heartbeatTicks,
      proposeTimeoutMs: opts.proposeTimeoutMs ?? DEFAULT_STORE_PROPOSE_TIMEOUT_MS,
      ...(opts.snapshotEveryEntries ? { snapshotEveryEntries: opts.snapshotEveryEntries } : {}),
      ...(opts.compactionSlackEntries !== undefined ? { compactionSlackEntries: opts.compactionSlackEntries } : {}),
    };
    this.others = new Map([...opts.stores].filter(([id]) => id !== opts.storeId));
    this.drops = new DropLog(opts.clock, opts.logger, 'raft message');
    this.transport = new RaftTransport({
      nodeId: opts.storeId,
      peers: this.others,
      onMessages: opts.faults ? this.inboundFilter(opts.faults) : this.route,
      onPeerUnreachable: this.peerUnreachable,
      ...(opts.token ? { token: opts.token } : {}),
      peerName: (id) => `store-${id}`,
      clock: opts.clock,
      prng: opts.prng.fork(),
      logger: opts.logger,
      ...(opts.faults ? { faults: opts.faults } : {}),
    });
    this.raftStore = openRaftLogStore(opts.storage);
    this.backend = new LmdbMvccBackend(opts.storage, opts.logger, (err) => this.failStore(err));
    this.supervisor = new Supervisor({
      id: 'regions',
      strategy: 'one_for_one',
      intensity: REGION_RESTART_INTENSITY,
      periodMs: REGION_RESTART_PERIOD_MS,
      clock: opts.clock,
      logger: opts.logger,
      children: [],
    });
  }

  /**
   * The transport applies faults where messages are sent; a partition must also hold for what peers send
   * here, or isolating one store through its own injector would cut only one direction (a follower that
   * still hears its leader never campaigns, a leader that still hears acks keeps committing).
   */
  private inboundFilter(faults: FaultInjector) {
    return (from: number, items: Array<{ group: number; msg: unknown }>) => {
      if (!faults.blocks(from, this.opts.storeId)) this.route(from, items);
    };
  }

  /** Opens every region recorded on disk; a store with none bootstraps the two regions it belongs to. */
  static async open(opts: StoreNodeOptions): Promise<StoreNode> {
    const node = new StoreNode(opts);
    const records = node.loadRecords();
    if (records.length === 0) {
      const fresh = bootstrapRegions([...opts.stores.keys()]).filter((d) => d.peers.includes(opts.storeId));
      const db = opts.storage.db(DB_NAMES.appState);
      const recs = fresh.map((d) => ({ desc: descriptorToJson(d), applied: 0 }));
      await opts.storage.write(() => {
        for (const r of recs) db.put(regionRecordKey(r.desc.id), encodeRegionRecord(r));
      });
      records.push(...recs);
      opts.logger.info({ regions: recs.map((r) => r.desc.id) }, 'store bootstrapped its regions');
    }
    await node.supervisor.start();
    node.supervisor.onExit((reason) => {
      if (!node.closed) node.failStore(new UnavailableError(`regions gave up: ${describe(reason)}`));
    });
    try {
      for (const r of records) await node.startRegion(r.desc.id);
    } catch (err) {
      await node.close();
      throw err;
    }
    node.startTicking();
    return node;
  }

  private loadRecords(): RegionRecord[] {
    const db = this.opts.storage.db(DB_NAMES.appState);
    const end = Buffer.from(REGION_RECORD_PREFIX);
    end[end.length - 1]!++;
    const out: RegionRecord[] = [];
    for (const { value } of db.getRange({ start: REGION_RECORD_PREFIX, end })) out.push(decodeRegionRecord(value));
    return out;
  }

  // ---- RegionHost --------------------------------------------------------------------------------------

  loadRecord(regionId: number): RegionRecord | undefined {
    const handed = this.handedOver.get(regionId);
    if (handed) return handed;
    const v = this.opts.storage.db(DB_NAMES.appState).get(regionRecordKey(regionId));
    return v ? decodeRegionRecord(v) : undefined;
  }

  handOver(regionId: number, record: RegionRecord): void {
    this.handedOver.set(regionId, record);
  }

  isConfiguredPeer = (nodeId: number): boolean => this.others.has(nodeId);

  send(regionId: number, msgs: Message[]): void {
    for (const m of msgs) this.transport.send(m.to, regionId, m);
  }

  publish(regionId: number, view: RegionView): void {
    const e = this.regions.get(regionId);
    if (e) e.view = view;
  }

  descriptors(): RegionDescriptor[] {
    const out: RegionDescriptor[] = [];
    for (const e of this.regions.values()) if (e.view) out.push(e.view.desc);
    return out;
  }

  addrOf(storeId: number): string {
    return this.opts.stores.get(storeId) ?? '';
  }

  emitApplied(ev: ApplyEvent): void {
    for (const l of this.listeners) l(ev);
  }

  openSplitChild(child: RegionDescriptor): void {
    if (this.regions.has(child.id) || this.closed) return;
    this.handedOver.set(child.id, { desc: descriptorToJson(child), applied: 0 });
    const p = this.startRegion(child.id)
      .catch((err) => this.opts.logger.error({ err, region: child.id }, 'cannot open split child region'))
      .finally(() => this.opening.delete(child.id));
    this.opening.set(child.id, p);
  }

  failStore(err: unknown): void {
    this.opts.onFailure?.(err);
  }

  // ---- placement and supervision -----------------------------------------------------------------------

  private async startRegion(id: number): Promise<void> {
    const entry: RegionEntry = { id, state: 'starting', starts: 0 };
    this.regions.set(id, entry);
    const spec = actorChildSpec<RegionMsg>(
      this.opts.actors,
      { name: `region-${id}`, behaviour: () => new RegionActor(this, id), thread: 0 },
      {
        id: `region-${id}`,
        onStart: (ref) => {
          entry.ref = ref;
          entry.state = 'running';
          entry.starts++;
        },
      },
    );
    await this.supervisor.startChild(this.watched(spec, entry));
  }

  /** The spec with its exits recorded on the router entry, so a region that is down is reported as such. */
  private watched(spec: ChildSpec, entry: RegionEntry): ChildSpec {
    return {
      ...spec,
      start: async () => {
        entry.state = 'starting';
        const inst = await spec.start();
        inst.onExit((reason) => {
          entry.state = 'down';
          entry.ref = undefined;
          entry.lastExit = describe(reason);
          if (!this.closed && reason !== 'shutdown' && reason !== 'normal') this.opts.logger.warn({ region: entry.id, reason: entry.lastExit }, 'region actor exited; its supervisor decides');
        });
        return inst;
      },
    };
  }

  private startTicking(): void {
    const tick: RegionMsg = { t: 'tick' };
    const loop = () => {
      if (this.closed) return;
      for (const e of this.regions.values()) this.tell(e, tick);
      this.timer = this.opts.clock.setTimer(this.opts.tickMs, loop);
    };
    this.timer = this.opts.clock.setTimer(this.opts.tickMs, loop);
  }

  private tell(e: RegionEntry, msg: RegionMsg): void {
    if (!e.ref || e.state !== 'running') return;
    try {
      e.ref.tell(msg);
    } catch (err) {
      // A full mailbox: raft tolerates a lost message or tick (the sender retries, the next tick comes).
      this.drops.drop(this.opts.storeId, 'region-busy', { group: e.id });
    }
  }

  /**
   * Transport handler: inbound raft items, grouped per region and handed to its actor in one message; the
   * actor validates each and checks its sender against the membership before its core sees it.
   */
  route = (fromNode: number, items: Array<{ group: number; msg: unknown }>): void => {
    let byRegion: Map<number, unknown[]> | undefined;
    for (const item of items) {
      const e = this.regions.get(item.group);
      if (!e) {
        this.drops.drop(fromNode, 'unknown-group', { group: item.group });
        continue;
      }
      byRegion ??= new Map();
      let list = byRegion.get(item.group);
      if (!list) byRegion.set(item.group, (list = []));
      list.push(item.msg);
    }
    if (!byRegion) return;
    for (const [id, msgs] of byRegion) {
      const e = this.regions.get(id)!;
      if (e.state !== 'running') {
        this.drops.drop(fromNode, 'region-down', { group: id });
        continue;
      }
      this.tell(e, { t: 'raft', from: fromNode, msgs });
    }
  };

  /** Transport handler for onPeerUnreachable: every region stops pipelining to that peer. */
  peerUnreachable = (nodeId: number): void => {
    for (const e of this.regions.values()) this.tell(e, { t: 'unreachable', peer: nodeId });
  };

  /** Crashes one region's actor (fault injection for supervision tests; see faults-route.ts). */
  crashRegion(regionId: number, why: string): boolean {
    const e = this.regions.get(regionId);
    if (!e?.ref || e.state !== 'running') return false;
    e.ref.tell({ t: 'crash', why });
    return true;
  }

  onApplied(listener: (ev: ApplyEvent) => void): () => void {
    if (this.listeners.size >= MAX_APPLY_LISTENERS) throw new UnavailableError(`too many apply watchers (limit ${MAX_APPLY_LISTENERS})`);
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  // ---- requests: admitted here as far as the store goes, then asked of the region ----------------------

  private entryFor(ctx: RequestContext): RegionEntry & { ref: ActorRef<RegionMsg> } {
    if (this.closed) throw new UnavailableError('store is stopping');
    if (ctx.storeId && ctx.storeId !== this.opts.storeId) {
      throw new StoreNotMatchError(`request for store ${ctx.storeId} reached store ${this.opts.storeId}`, { storeId: this.opts.storeId });
    }
    const e = this.regions.get(ctx.regionId);
    if (!e) throw new RegionNotFoundError(`store ${this.opts.storeId} hosts no region ${ctx.regionId}`, { regionId: ctx.regionId, storeId: this.opts.storeId });
    if (!e.ref || e.state !== 'running') throw new UnavailableError(`region ${ctx.regionId} is restarting on store ${this.opts.storeId}`, { regionId: ctx.regionId });
    return e as RegionEntry & { ref: ActorRef<RegionMsg> };
  }

  private ask<T>(ctx: RequestContext, msg: RegionMsg, trace?: TraceContext): Promise<T> {
    const e = this.entryFor(ctx);
    return e.ref.ask<T>(msg, { timeoutMs: this.timing.proposeTimeoutMs + ASK_SLACK_MS, ...(trace ? { trace } : {}) });
  }

  /**
   * Linearizable read: ReadIndex on the leader, wait for apply, then `fn` over the region's MVCC view inside
   * its actor. With `at` (the read's timestamp and what it covers) the read also waits for one-phase commits
   * in flight that it must see, and no later one-phase commit can take a commit ts at or below it.
   */
  read<T>(ctx: RequestContext, keys: Buffer[], fn: (mvcc: FamilyMvccStore, desc: RegionDescriptor) => T, at?: ReadAt, trace?: TraceContext): Promise<T> {
    return this.ask<T>(ctx, { t: 'read', req: { ctx, keys, fn, ...(at ? { at } : {}) } }, trace);
  }

  /** A one-phase commit through the region's guard (see RegionActor.onePc). commitTs 0n lets the guard pick. */
  onePhaseCommit(
    ctx: RequestContext,
    keys: Buffer[],
    writes: Buffer[],
    startTs: bigint,
    commitTs: bigint,
    build: (version: number, commitTs: bigint) => RegionCommand,
    trace?: TraceContext,
  ): Promise<{ errors: KeyError[]; commitTs: bigint }> {
    return this.ask(ctx, { t: 'onePc', req: { ctx, keys, writes, startTs, commitTs, build } }, trace);
  }

  /** Proposes a command built for the region's current epoch version and returns what apply produced. */
  propose(ctx: RequestContext, keys: Buffer[], build: (version: number, nowMs: number) => RegionCommand, trace?: TraceContext): Promise<unknown> {
    return this.ask(ctx, { t: 'propose', req: { ctx, keys, build } }, trace);
  }

  /** Splits a region at splitKey; the new region id is chosen above every id this store knows if not given. */
  async split(ctx: RequestContext, splitKey: Buffer, newId: number, trace?: TraceContext): Promise<{ left: RegionDescriptor; right: RegionDescriptor }> {
    if (splitKey.length === 0) throw new InvalidArgumentError('split key must not be empty');
    const id = newId > 0 ? newId : Math.max(0, ...this.regions.keys()) + 1;
    if (this.regions.has(id)) throw new InvalidArgumentError(`region id ${id} is already in use`);
    const v = (await this.propose(ctx, [], (version) => ({ t: 'split', v: version, splitKey, newId: id }), trace)) as { left: any; right: any };
    return { left: descriptorFromJson(v.left), right: descriptorFromJson(v.right) };
  }

  /** This node's requests, each carrying `trace` into the region actor (a gRPC call's trace; see service.ts). */
  traced(trace: TraceContext | undefined): StoreRequests {
    if (!trace) return this;
    return {
      regions: this.regions,
      read: (ctx, keys, fn, at) => this.read(ctx, keys, fn, at, trace),
      propose: (ctx, keys, build) => this.propose(ctx, keys, build, trace),
      onePhaseCommit: (ctx, keys, writes, startTs, commitTs, build) => this.onePhaseCommit(ctx, keys, writes, startTs, commitTs, build, trace),
      split: (ctx, splitKey, newId) => this.split(ctx, splitKey, newId, trace),
    };
  }

  /** Regions that are not running, and how often the supervisor restarted each region. */
  health(): { down: number[]; restarts: Record<string, number> } {
    const down: number[] = [];
    const restarts: Record<string, number> = {};
    for (const e of this.regions.values()) {
      if (e.state !== 'running') down.push(e.id);
      if (e.starts > 1) restarts[String(e.id)] = e.starts - 1;
    }
    return { down, restarts };
  }

  stats() {
    const views = [...this.regions.values()].map((e) => e.view).filter((v): v is RegionView => !!v);
    return {
      overlay_entries: this.backend.overlaySize,
      one_pc_in_flight: views.reduce((n, v) => n + v.onePcInFlight, 0),
      /** Regions whose current leader floor came from the TSO (the rest use the wall-clock fallback). */
      leader_floor_from_tso: views.filter((v) => v.floorFromTso && v.isLeader).map((v) => v.desc.id),
      watchers: this.listeners.size,
      multi: { groups: this.regions.size, inboundDrops: this.drops.stats() },
      regions_down: this.health().down,
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.timer?.cancel();
    await Promise.all([...this.opening.values()]);
    await this.supervisor.stop();
    await this.transport.close();
  }
}

function describe(reason: ExitReason): string {
  if (typeof reason === 'string') return reason;
  const e = (reason as { error?: { message?: string } }).error;
  return e?.message ?? JSON.stringify(reason);
}
