// Owns one store process's data plane: the raft transport, the placement of regions on shards, their
// supervision, and the routing of everything that reaches a region. A region is a RegionActor
// (region-actor.ts); a shard (shard.ts) is the thread it runs on with that thread's LMDB environment and
// group commit. `--workers 0`: one shard on the main thread over the role's environment; `--workers N`: shards
// 1..N on worker threads, each with its own environment in `<data-dir>/shard-N`. Each shard has its own
// one_for_one supervisor of its regions (a failed region restarts alone); the shards are children of one
// one_for_one supervisor (a dead shard thread is restarted with its regions). The node is the router: region
// → ActorRef for inbound raft traffic and requests (asks), and the view each region last published for
// /debug/vars, ListRegions and the control plane. On the main thread an actor receives what worker shards send
// (raft messages out, reports, apply events, splits, failures).
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { ActorContext, ActorRef, ActorSystem, Behaviour, TraceContext } from '../../actors/index.js';
import { actorChildSpec } from '../../actors/index.js';
import type { Clock } from '../../common/clock.js';
import { DropLog, type DropStats } from '../../common/drop-log.js';
import { FailedPreconditionError, InvalidArgumentError, UnavailableError } from '../../common/errors.js';
import type { Logger } from '../../common/log.js';
import type { Prng } from '../../common/prng.js';
import { Supervisor } from '../../supervisor/supervisor.js';
import type { ChildSpec, ExitReason } from '../../supervisor/types.js';
import { DB_NAMES, openStorage, type Storage } from '../../storage/index.js';
import { RaftTransport, type FaultInjector, type RaftFrame } from '../../transport/index.js';
import type { KeyError } from '../percolator/types.js';
import type { RegionCommand } from '../region/command.js';
import { bootstrapRegions, descriptorToJson, descriptorFromJson, type DescriptorJson, type RegionDescriptor } from '../region/descriptor.js';
import { EpochNotMatchError, RegionNotFoundError, StoreNotMatchError } from '../region/errors.js';
import { decodeRegionRecord, encodeRegionRecord, regionRecordKey, REGION_RECORD_PREFIX, type ApplyCounters, type ApplyEvent, type RegionRecord } from '../region/state-machine.js';
import { asBuffers, type ReadOp } from './reads.js';
import type { ReadAt, RegionMsg, RegionView, RequestContext } from './region-actor.js';
import type { RegionTiming } from './region-host.js';
import { registerShard, Shard, type MainMsg, type ShardConfig, type ShardLinks } from './shard.js';

export type { RequestContext } from './region-actor.js';

const REGION_MODULE = new URL('./region-actor.js', import.meta.url).href;

/** Deadline of a proposal or read barrier inside the store (below the client's per-attempt deadline). */
export const DEFAULT_STORE_PROPOSE_TIMEOUT_MS = 3_000;
/** Apply-event listeners per store (watch streams); more are refused. */
export const MAX_APPLY_LISTENERS = 256;
/** Region restarts a shard's supervisor takes within REGION_RESTART_PERIOD_MS; one more restarts the whole shard. */
export const REGION_RESTART_INTENSITY = 5;
export const REGION_RESTART_PERIOD_MS = 30_000;
/** A shard (its thread and all its regions) restarted more than this many times in the period takes the data plane down. */
export const SHARD_RESTART_INTENSITY = 3;
export const SHARD_RESTART_PERIOD_MS = 60_000;
/** An ask to a region waits this much longer than the region's own deadline, so the region's error wins. */
const ASK_SLACK_MS = 1_000;

export interface StoreNodeOptions {
  storeId: number;
  storage: Storage;
  /** Every store id → its KV+raft address (this one included). */
  stores: Map<number, string>;
  /** The process's actor system: regions are spawned here (shard N on its worker thread N). */
  actors: ActorSystem;
  /** Shards on worker threads (0: every region on the main thread, in `storage`). */
  workers: number;
  /** The store's data dir: worker shard N keeps its LMDB environment in `<dataDir>/shard-N`. */
  dataDir: string;
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

/** A region as the router knows it: its shard, its current actor and the view it last published. */
export interface RegionEntry {
  id: number;
  shard: number;
  ref?: ActorRef<RegionMsg>;
  view?: RegionView;
  /** running: its actor is up; down: it exited and its supervisor has not brought it back (yet). */
  state: 'starting' | 'running' | 'down';
  starts: number;
  lastExit?: string;
}

/** What the gRPC front asks of the node (StoreNode.traced binds a call's trace to it). */
export type StoreRequests = Pick<StoreNode, 'regions' | 'read' | 'propose' | 'onePhaseCommit' | 'split'>;

interface ShardReport {
  drops: DropStats;
  counters: ApplyCounters;
  overlay: number;
  /** The shard's oldest lock start ts (decimal), '' when it holds none. */
  oldestLock: string;
}

export class StoreNode {
  readonly regions = new Map<number, RegionEntry>();
  readonly transport: RaftTransport;
  /** Inbound raft messages the router dropped (unknown region, region down); shards count the rest. */
  private readonly drops: DropLog;
  private readonly timing: RegionTiming;
  private readonly shardIndexes: number[];
  private readonly shardsSup: Supervisor;
  private readonly regionSups = new Map<number, Supervisor>();
  private readonly reports = new Map<number, ShardReport>();
  private readonly others: Map<number, string>;
  private readonly listeners = new Set<(ev: ApplyEvent) => void>();
  private readonly opening = new Set<Promise<void>>();
  private shard0?: Shard;
  private main?: ActorRef<MainMsg>;
  private closed = false;

  private constructor(private readonly opts: StoreNodeOptions) {
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
      onFrames: opts.faults ? this.inboundFilter(opts.faults) : this.route,
      onPeerUnreachable: this.peerUnreachable,
      ...(opts.token ? { token: opts.token } : {}),
      peerName: (id) => `store-${id}`,
      clock: opts.clock,
      prng: opts.prng.fork(),
      logger: opts.logger,
      ...(opts.faults ? { faults: opts.faults } : {}),
    });
    this.shardIndexes = opts.workers === 0 ? [0] : Array.from({ length: opts.workers }, (_, i) => i + 1);
    this.shardsSup = new Supervisor({
      id: 'shards',
      strategy: 'one_for_one',
      intensity: SHARD_RESTART_INTENSITY,
      periodMs: SHARD_RESTART_PERIOD_MS,
      clock: opts.clock,
      logger: opts.logger,
      children: this.shardIndexes.map((i) => this.shardSpec(i)),
    });
  }

  /**
   * The transport applies faults where messages are sent; a partition must also hold for what peers send
   * here, or isolating one store through its own injector would cut only one direction (a follower that
   * still hears its leader never campaigns, a leader that still hears acks keeps committing).
   */
  private inboundFilter(faults: FaultInjector) {
    return (from: number, frames: RaftFrame[]) => {
      if (!faults.blocks(from, this.opts.storeId)) this.route(from, frames);
    };
  }

  /** Places the regions recorded on disk (a store with none bootstraps the two it belongs to) and starts them. */
  static async open(opts: StoreNodeOptions): Promise<StoreNode> {
    const node = new StoreNode(opts);
    const placed = opts.workers === 0 ? await node.placeOnMain() : await node.placeOnShards();
    for (const [id, shard] of placed) node.regions.set(id, { id, shard, state: 'starting', starts: 0 });
    if (opts.workers > 0) {
      node.main = await opts.actors.spawn<MainMsg>({ name: 'store-main', behaviour: node.mainBehaviour(), thread: 0 });
    }
    try {
      await node.shardsSup.start();
    } catch (err) {
      await node.close();
      throw err;
    }
    node.shardsSup.onExit((reason) => {
      if (!node.closed) node.failStore(new UnavailableError(`store shards gave up: ${describe(reason)}`));
    });
    opts.logger.info({ workers: opts.workers, regions: Object.fromEntries([...node.regions.values()].map((e) => [e.id, e.shard])) }, 'regions placed on shards');
    return node;
  }

  // ---- placement ---------------------------------------------------------------------------------------

  private shardDir(i: number): string {
    return join(this.opts.dataDir, `shard-${i}`);
  }

  /** --workers 0: every region in the role's environment, hosted by shard 0 on this thread. */
  private async placeOnMain(): Promise<Array<[number, number]>> {
    if (existsSync(this.shardDir(1))) {
      throw new FailedPreconditionError(`${this.opts.dataDir} keeps its regions in worker shards (shard-N folders); start this store with --workers N`);
    }
    const storage = this.opts.storage;
    let records = readRecords(storage);
    if (records.length === 0) records = await this.bootstrap(storage, this.freshDescriptors());
    const links: ShardLinks = {
      send: (items) => {
        for (const i of items) this.transport.send(i.to, i.group, i.msg);
      },
      report: (views, s) => this.onReport(0, views, { drops: s.drops.stats(), counters: s.counters, overlay: s.backend.overlaySize, oldestLock: s.oldestLockTs() }),
      applied: (events) => this.emitApplied(events),
      split: (child) => this.addRegion(child.id, 0),
      failed: (err) => this.failStore(err),
      ...(this.opts.leaderFloorTso ? { floorTso: this.opts.leaderFloorTso } : {}),
    };
    this.shard0 = new Shard(this.shardConfig(0), storage, this.opts.clock, this.opts.prng, this.opts.logger, links);
    registerShard(this.shard0);
    return records.map((r) => [r.desc.id, 0]);
  }

  /** --workers N: shard i keeps its regions in <dataDir>/shard-i; a fresh store spreads its regions round-robin. */
  private async placeOnShards(): Promise<Array<[number, number]>> {
    if (readRecords(this.opts.storage).length > 0) {
      throw new FailedPreconditionError(`${this.opts.dataDir} keeps its regions on the main thread; start this store with --workers 0`);
    }
    const beyond = this.opts.workers + 1;
    if (existsSync(this.shardDir(beyond))) throw new FailedPreconditionError(`${this.opts.dataDir} has regions in shard-${beyond}; start this store with --workers ${beyond} or more`);
    const placed: Array<[number, number]> = [];
    for (const i of this.shardIndexes) {
      if (!existsSync(this.shardDir(i))) continue;
      const st = openStorage({ path: this.shardDir(i) });
      try {
        for (const r of readRecords(st)) placed.push([r.desc.id, i]);
      } finally {
        await st.close();
      }
    }
    if (placed.length > 0) return placed;
    const fresh = this.freshDescriptors();
    for (const [k, d] of fresh.entries()) {
      const i = this.shardIndexes[k % this.shardIndexes.length]!;
      const st = openStorage({ path: this.shardDir(i) });
      try {
        await this.bootstrap(st, [d]);
      } finally {
        await st.close();
      }
      placed.push([d.id, i]);
    }
    return placed;
  }

  private freshDescriptors(): RegionDescriptor[] {
    return bootstrapRegions([...this.opts.stores.keys()]).filter((d) => d.peers.includes(this.opts.storeId));
  }

  private async bootstrap(storage: Storage, descs: RegionDescriptor[]): Promise<RegionRecord[]> {
    const db = storage.db(DB_NAMES.appState);
    const recs = descs.map((d) => ({ desc: descriptorToJson(d), applied: 0 }));
    await storage.write(() => {
      for (const r of recs) db.put(regionRecordKey(r.desc.id), encodeRegionRecord(r));
    });
    this.opts.logger.info({ regions: recs.map((r) => r.desc.id) }, 'store bootstrapped its regions');
    return recs;
  }

  private shardConfig(i: number): ShardConfig {
    return {
      index: i,
      dir: i === 0 ? this.opts.dataDir : this.shardDir(i),
      storeId: this.opts.storeId,
      stores: [...this.opts.stores],
      tickMs: this.opts.tickMs,
      timing: this.timing,
      ...(i > 0 && this.main ? { main: this.main } : {}),
    };
  }

  // ---- supervision -------------------------------------------------------------------------------------

  /** Shard i as a child of `shards`: a fresh one_for_one supervisor over the shard's regions at each start. */
  private shardSpec(i: number): ChildSpec {
    return {
      id: `shard-${i}`,
      type: 'supervisor',
      restart: 'permanent',
      shutdown: 'infinity',
      start: async () => {
        const ids = [...this.regions.values()].filter((e) => e.shard === i).map((e) => e.id);
        const sup = new Supervisor({
          id: `shard-${i}-regions`,
          strategy: 'one_for_one',
          intensity: REGION_RESTART_INTENSITY,
          periodMs: REGION_RESTART_PERIOD_MS,
          clock: this.opts.clock,
          logger: this.opts.logger,
          children: ids.map((id) => this.regionSpec(id, i)),
        });
        this.regionSups.set(i, sup);
        return sup.asChildSpec().start();
      },
    };
  }

  private regionSpec(id: number, shard: number, create?: DescriptorJson): ChildSpec {
    const entry = this.regions.get(id)!;
    const args = { shard: this.shardConfig(shard), regionId: id, ...(create ? { create } : {}) };
    const spec = actorChildSpec<RegionMsg>(
      this.opts.actors,
      { name: `region-${id}`, module: REGION_MODULE, export: 'shardRegion', args, thread: shard },
      {
        id: `region-${id}`,
        onStart: (ref) => {
          entry.ref = ref;
          entry.state = 'running';
          entry.starts++;
        },
      },
    );
    return {
      ...spec,
      start: async () => {
        entry.state = 'starting';
        const inst = await spec.start();
        inst.onExit((reason) => {
          entry.state = 'down';
          entry.ref = undefined;
          entry.lastExit = describe(reason);
          if (!this.closed && reason !== 'shutdown' && reason !== 'normal') this.opts.logger.warn({ region: id, shard, reason: entry.lastExit }, 'region actor exited; its supervisor decides');
        });
        return inst;
      },
    };
  }

  /**
   * A region created here by a split (placed on its parent's shard: its data is in that environment), or a
   * replica replica repair asked for (`create`: its descriptor until the leader's snapshot arrives).
   */
  private addRegion(id: number, shard: number, create?: DescriptorJson): void {
    if (this.regions.has(id) || this.closed) return;
    this.regions.set(id, { id, shard, state: 'starting', starts: 0 });
    const sup = this.regionSups.get(shard);
    if (!sup) return;
    const p = sup
      .startChild(this.regionSpec(id, shard, create))
      .catch((err) => this.opts.logger.error({ err, region: id }, create ? 'cannot start a new replica' : 'cannot start split child region'))
      .finally(() => this.opening.delete(p));
    this.opening.add(p);
  }

  private failStore(err: unknown): void {
    this.opts.onFailure?.(err);
  }

  /** The main-thread actor worker shards report to. */
  private mainBehaviour(): Behaviour<MainMsg> {
    return {
      receive: (msg: MainMsg, ctx: ActorContext<MainMsg>) => {
        switch (msg.t) {
          case 'send':
            for (const i of msg.items) this.transport.send(i.to, i.group, i.msg);
            return;
          case 'report':
            return this.onReport(msg.shard, asBuffers(msg.views), { drops: msg.drops, counters: msg.counters, overlay: msg.overlay, oldestLock: msg.oldestLock });
          case 'applied':
            return this.emitApplied(asBuffers(msg.events));
          case 'split':
            return this.addRegion(msg.child.id, msg.shard);
          case 'failed':
            // The shard's environment failed: its thread goes, and the supervisors bring it back with its regions.
            ctx.log.error({ shard: msg.shard, err: msg.message }, 'shard storage failed; restarting the shard');
            void this.opts.actors.killThread(msg.shard);
            return;
          case 'floorTso': {
            const r = ctx.deferReply();
            const fetch = this.opts.leaderFloorTso;
            if (!fetch) return r.fail(new UnavailableError('no TSO source'));
            fetch().then((ts) => r.reply(ts), (err) => r.fail(err));
            return;
          }
        }
      },
    };
  }

  private onReport(shard: number, views: Array<[number, RegionView]>, report: ShardReport): void {
    for (const [id, view] of views) {
      const e = this.regions.get(id);
      if (e && e.shard === shard) e.view = view;
    }
    this.reports.set(shard, report);
  }

  private emitApplied(events: ApplyEvent[]): void {
    for (const ev of events) for (const l of this.listeners) l(ev);
  }

  // ---- routing -----------------------------------------------------------------------------------------

  private tell(e: RegionEntry, msg: RegionMsg): void {
    if (!e.ref || e.state !== 'running') return;
    try {
      e.ref.tell(msg);
    } catch {
      // A full mailbox: raft tolerates a lost message (the sender retries).
      this.drops.drop(this.opts.storeId, 'region-busy', { group: e.id });
    }
  }

  /**
   * Transport handler: an inbound batch split per group (transport/raft/codec.ts), nothing decoded here. Each
   * group's bytes go to its region as one message; the region decodes them on its own thread, validates each
   * message and checks its sender against the membership before its core sees it (a frame that does not
   * decode is dropped and counted there). A frame for a worker shard is copied out of the gRPC buffer: a view
   * would make the structured clone copy the whole buffer behind it. The runtime sends a turn's messages for
   * one thread in one postMessage.
   */
  route = (fromNode: number, frames: RaftFrame[]): void => {
    for (const f of frames) {
      const e = this.regions.get(f.group);
      if (!e) {
        this.drops.drop(fromNode, 'unknown-group', { group: f.group });
        continue;
      }
      if (e.state !== 'running') {
        this.drops.drop(fromNode, 'region-down', { group: f.group });
        continue;
      }
      this.tell(e, { t: 'raft', from: fromNode, bytes: e.shard === 0 ? f.bytes : new Uint8Array(f.bytes) });
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

  /** Terminates a shard's worker thread (fault injection): its regions come back with a new thread. */
  killShard(shard: number): boolean {
    if (shard <= 0 || !this.shardIndexes.includes(shard)) return false;
    void this.opts.actors.killThread(shard);
    return true;
  }

  onApplied(listener: (ev: ApplyEvent) => void): () => void {
    if (this.listeners.size >= MAX_APPLY_LISTENERS) throw new UnavailableError(`too many apply watchers (limit ${MAX_APPLY_LISTENERS})`);
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  descriptors(): RegionDescriptor[] {
    const out: RegionDescriptor[] = [];
    for (const e of this.regions.values()) if (e.view) out.push(e.view.desc);
    return out;
  }

  addrOf(storeId: number): string {
    return this.opts.stores.get(storeId) ?? '';
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

  private async ask<T>(ctx: RequestContext, msg: RegionMsg, trace?: TraceContext): Promise<T> {
    const e = this.entryFor(ctx);
    try {
      const v = await e.ref.ask<T>(msg, { timeoutMs: this.timing.proposeTimeoutMs + ASK_SLACK_MS, ...(trace ? { trace } : {}) });
      return e.shard === 0 ? v : asBuffers(v);
    } catch (err) {
      // A region knows only its shard's descriptors; the answer carries every region of the store.
      if (err instanceof EpochNotMatchError) err.details.regions = this.descriptors().map(descriptorToJson);
      throw err;
    }
  }

  /**
   * Linearizable read: ReadIndex on the leader, wait for apply, then `op` over the region's MVCC view inside
   * its actor. With `at` (the read's timestamp and what it covers) the read also waits for one-phase commits
   * in flight that it must see, and no later one-phase commit can take a commit ts at or below it.
   */
  read(ctx: RequestContext, keys: Buffer[], op: ReadOp, at?: ReadAt, trace?: TraceContext): Promise<unknown> {
    return this.ask(ctx, { t: 'read', req: { ctx, keys, op, ...(at ? { at } : {}) } }, trace);
  }

  /** A one-phase commit through the region's guard (see RegionActor.onePc). commitTs 0n lets the guard pick. */
  onePhaseCommit(
    ctx: RequestContext,
    keys: Buffer[],
    writes: Buffer[],
    startTs: bigint,
    commitTs: bigint,
    cmd: Extract<RegionCommand, { t: 'one_pc' }>,
    trace?: TraceContext,
  ): Promise<{ errors: KeyError[]; commitTs: bigint }> {
    return this.ask(ctx, { t: 'onePc', req: { ctx, keys, writes, startTs, commitTs, cmd } }, trace);
  }

  /** Proposes a command (its epoch version set by the region) and returns what apply produced. */
  propose(ctx: RequestContext, keys: Buffer[], cmd: RegionCommand, trace?: TraceContext): Promise<unknown> {
    return this.ask(ctx, { t: 'propose', req: { ctx, keys, cmd } }, trace);
  }

  /** Splits a region at splitKey; the new region id is chosen above every id this store knows if not given. */
  async split(ctx: RequestContext, splitKey: Buffer, newId: number, trace?: TraceContext): Promise<{ left: RegionDescriptor; right: RegionDescriptor }> {
    if (splitKey.length === 0) throw new InvalidArgumentError('split key must not be empty');
    const id = newId > 0 ? newId : Math.max(0, ...this.regions.keys()) + 1;
    if (this.regions.has(id)) throw new InvalidArgumentError(`region id ${id} is already in use`);
    const v = (await this.propose(ctx, [], { t: 'split', v: 0, splitKey, newId: id }, trace)) as { left: any; right: any };
    return { left: descriptorFromJson(v.left), right: descriptorFromJson(v.right) };
  }

  /**
   * Starts a raft leader transfer of `regionId` to store `to` (a scheduler's hint). True when the region is
   * hosted here, running, led by this store at that epoch version; the region checks again when it gets it.
   */
  transferLeader(regionId: number, to: number, epochVersion: number): boolean {
    const e = this.regions.get(regionId);
    if (!e?.ref || e.state !== 'running' || !e.view?.isLeader || e.view.desc.epoch.version !== epochVersion) return false;
    try {
      e.ref.tell({ t: 'transferLeader', to, epochVersion });
      return true;
    } catch {
      return false; // mailbox full: the hint comes again with the next heartbeat
    }
  }

  /**
   * A store of the cluster this one did not know at start (one added to a running cluster), or a known one at a
   * new address: the transport can reach it and take its streams from now on. Worker shards keep the store list
   * they started with (only a group with no membership yet consults it, for a replica created here whose leader
   * is a store that joined later); the main-thread shard learns it.
   */
  learnStore(storeId: number, addr: string): boolean {
    if (this.closed || storeId === this.opts.storeId || !addr || this.opts.stores.get(storeId) === addr) return false;
    this.opts.stores.set(storeId, addr);
    this.transport.addPeer(storeId, addr);
    this.shard0?.learnStore(storeId, addr);
    this.opts.logger.info({ store: storeId, addr }, 'learned a store of the cluster');
    return true;
  }

  /**
   * Replica repair on the region's leader: the next membership step toward adding or removing `store` (see
   * RegionActor.changePeer). True when the hint reached the region's leader at that epoch version.
   */
  changePeer(regionId: number, kind: 'add' | 'remove', store: number, epochVersion: number): boolean {
    const e = this.regions.get(regionId);
    if (!e?.ref || e.state !== 'running' || !e.view?.isLeader || e.view.desc.epoch.version !== epochVersion) return false;
    // A store this one cannot reach yet (it joined after this store started and the store list has not been read
    // since): adding it now would send its snapshot nowhere. The hint comes again after the list is read.
    if (kind === 'add' && !this.opts.stores.has(store)) return false;
    try {
      e.ref.tell({ t: 'changePeer', kind, store, epochVersion });
      return true;
    } catch {
      return false; // mailbox full: the hint comes again with the next heartbeat
    }
  }

  /**
   * Replica repair on the target store: hosts an empty replica of region `desc.id` (its range and voters before
   * this store joins), which waits for the leader's snapshot; placed on the shard hosting the fewest regions.
   * False when the region is hosted here already. Its record is written when the snapshot is installed, so a
   * restart before that forgets it, and the coordinator's next hint creates it again.
   */
  createPeer(desc: RegionDescriptor): boolean {
    if (this.closed || this.regions.has(desc.id) || desc.peers.includes(this.opts.storeId)) return false;
    const load = new Map(this.shardIndexes.map((i) => [i, 0]));
    for (const e of this.regions.values()) load.set(e.shard, (load.get(e.shard) ?? 0) + 1);
    const shard = [...load.entries()].sort((a, b) => a[1] - b[1] || a[0] - b[0])[0]![0];
    this.opts.logger.info({ region: desc.id, shard, voters: desc.peers }, 'creating a replica for replica repair');
    this.addRegion(desc.id, shard, descriptorToJson(desc));
    return true;
  }

  /** This node's requests, each carrying `trace` into the region actor (a gRPC call's trace; see service.ts). */
  traced(trace: TraceContext | undefined): StoreRequests {
    if (!trace) return this;
    return {
      regions: this.regions,
      read: (ctx, keys, op, at) => this.read(ctx, keys, op, at, trace),
      propose: (ctx, keys, cmd) => this.propose(ctx, keys, cmd, trace),
      onePhaseCommit: (ctx, keys, writes, startTs, commitTs, cmd) => this.onePhaseCommit(ctx, keys, writes, startTs, commitTs, cmd, trace),
      split: (ctx, splitKey, newId) => this.split(ctx, splitKey, newId, trace),
    };
  }

  /** Applied Percolator commands per type, over every shard. */
  get counters(): ApplyCounters {
    const out: ApplyCounters = {};
    for (const r of this.reports.values()) for (const [k, n] of Object.entries(r.counters)) out[k] = (out[k] ?? 0) + n;
    return out;
  }

  /** The oldest start ts of any lock on this store (every shard's last report), or undefined when there is none. */
  oldestLockTs(): bigint | undefined {
    let min: bigint | undefined;
    for (const r of this.reports.values()) {
      if (r.oldestLock === '') continue;
      const ts = BigInt(r.oldestLock);
      if (min === undefined || ts < min) min = ts;
    }
    return min;
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
      workers: this.opts.workers,
      shards: Object.fromEntries(this.shardIndexes.map((i) => [i, [...this.regions.values()].filter((e) => e.shard === i).map((e) => e.id)])),
      overlay_entries: [...this.reports.values()].reduce((n, r) => n + r.overlay, 0),
      one_pc_in_flight: views.reduce((n, v) => n + v.onePcInFlight, 0),
      /** Regions whose current leader floor came from the TSO (the rest use the wall-clock fallback). */
      leader_floor_from_tso: views.filter((v) => v.floorFromTso && v.isLeader).map((v) => v.desc.id),
      watchers: this.listeners.size,
      multi: { groups: this.regions.size, inboundDrops: mergeDrops([this.drops.stats(), ...[...this.reports.values()].map((r) => r.drops)]) },
      regions_down: this.health().down,
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([...this.opening]);
    await this.shardsSup.stop();
    this.shard0?.close();
    if (this.main) await this.opts.actors.stop(this.main).catch(() => undefined);
    await this.transport.close();
  }
}

function readRecords(storage: Storage): RegionRecord[] {
  const db = storage.db(DB_NAMES.appState);
  const end = Buffer.from(REGION_RECORD_PREFIX);
  end[end.length - 1]!++;
  const out: RegionRecord[] = [];
  for (const { value } of db.getRange({ start: REGION_RECORD_PREFIX, end })) out.push(decodeRegionRecord(value));
  return out;
}

function mergeDrops(all: DropStats[]): DropStats {
  const out: DropStats = { total: 0, byReason: {}, bySource: {} };
  for (const d of all) {
    out.total += d.total;
    for (const [k, n] of Object.entries(d.byReason)) out.byReason[k] = (out.byReason[k] ?? 0) + n;
    for (const [k, v] of Object.entries(d.bySource)) {
      const cur = out.bySource[k];
      out.bySource[k] = cur ? { drops: cur.drops + v.drops, lastReason: v.lastReason } : { ...v };
    }
  }
  return out;
}

function describe(reason: ExitReason): string {
  if (typeof reason === 'string') return reason;
  const e = (reason as { error?: { message?: string } }).error;
  return e?.message ?? JSON.stringify(reason);
}
