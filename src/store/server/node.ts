// Owns one store process's data plane: the LMDB environment's MVCC families, one raft group per hosted region
// (group id = region id, node id = store id) ticked by one MultiRaft over one raft transport, admission of
// requests (store, region, epoch, range, leadership), linearizable reads (ReadIndex, then local MVCC) and
// proposals of Percolator commands. A region is a RaftGroup plus its RegionStateMachine; both run on this
// thread and the group's Ready loop serialises everything a region does (see docs/store.md for why no
// worker-thread actors).
import type { Clock } from '../../common/clock.js';
import { InvalidArgumentError, NotLeaderError, UnavailableError } from '../../common/errors.js';
import type { Logger } from '../../common/log.js';
import type { Prng } from '../../common/prng.js';
import { RaftGroup } from '../../raft/host/group.js';
import { MultiRaft } from '../../raft/host/multi.js';
import { DB_NAMES, openRaftLogStore, type RaftLogStore, type Storage } from '../../storage/index.js';
import { RaftTransport, type FaultInjector } from '../../transport/index.js';
import { LmdbMvccBackend } from '../mvcc/lmdb.js';
import { findOwnWrite } from '../percolator/txn.js';
import type { KeyError } from '../percolator/types.js';
import { TsGuard } from './ts-guard.js';
import type { FamilyMvccStore } from '../mvcc/families.js';
import { encodeCommand, type RegionCommand } from '../region/command.js';
import { bootstrapRegions, checkRequest, descriptorToJson, descriptorFromJson, type RegionDescriptor, type RegionEpoch } from '../region/descriptor.js';
import { EpochNotMatchError, RegionNotFoundError, StoreNotMatchError } from '../region/errors.js';
import {
  decodeRegionRecord,
  encodeRegionRecord,
  regionRecordKey,
  REGION_RECORD_PREFIX,
  RegionStateMachine,
  type ApplyCounters,
  type ApplyEvent,
  type ApplyResult,
  type RegionRecord,
} from '../region/state-machine.js';

/** Deadline of a proposal or read barrier inside the store (below the client's per-attempt deadline). */
export const DEFAULT_STORE_PROPOSE_TIMEOUT_MS = 3_000;
/** Apply-event listeners per store (watch streams); more are refused. */
export const MAX_APPLY_LISTENERS = 256;

export interface StoreNodeOptions {
  storeId: number;
  storage: Storage;
  /** Every store id → its KV+raft address (this one included). */
  stores: Map<number, string>;
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

export interface Region {
  readonly group: RaftGroup<ApplyResult>;
  readonly sm: RegionStateMachine;
}

export interface RequestContext {
  regionId: number;
  epoch?: RegionEpoch;
  storeId?: number;
}

export class StoreNode {
  readonly regions = new Map<number, Region>();
  readonly multi: MultiRaft;
  readonly transport: RaftTransport;
  readonly counters: ApplyCounters = {};
  private readonly raftStore: RaftLogStore;
  private readonly backend: LmdbMvccBackend;
  private readonly listeners = new Set<(ev: ApplyEvent) => void>();
  private readonly opening = new Map<number, Promise<void>>();
  private readonly guards = new Map<number, TsGuard>();
  private closed = false;

  private constructor(private readonly opts: StoreNodeOptions) {
    const others = new Map([...opts.stores].filter(([id]) => id !== opts.storeId));
    this.multi = new MultiRaft({ clock: opts.clock, tickMs: opts.tickMs, logger: opts.logger, isConfiguredPeer: (id) => others.has(id) });
    this.transport = new RaftTransport({
      nodeId: opts.storeId,
      peers: others,
      onMessages: opts.faults ? this.inboundFilter(opts.faults) : this.multi.deliver,
      onPeerUnreachable: this.multi.peerUnreachable,
      ...(opts.token ? { token: opts.token } : {}),
      peerName: (id) => `store-${id}`,
      clock: opts.clock,
      prng: opts.prng.fork(),
      logger: opts.logger,
      ...(opts.faults ? { faults: opts.faults } : {}),
    });
    this.raftStore = openRaftLogStore(opts.storage);
    this.backend = new LmdbMvccBackend(opts.storage, opts.logger, (err) => opts.onFailure?.(err));
  }

  /**
   * The transport applies faults where messages are sent; a partition must also hold for what peers send
   * here, or isolating one store through its own injector would cut only one direction (a follower that
   * still hears its leader never campaigns, a leader that still hears acks keeps committing).
   */
  private inboundFilter(faults: FaultInjector) {
    return (from: number, items: Parameters<MultiRaft['deliver']>[1]) => {
      if (!faults.blocks(from, this.opts.storeId)) this.multi.deliver(from, items);
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
    for (const r of records) await node.openRegion(r);
    node.multi.start();
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

  private async openRegion(record: RegionRecord): Promise<void> {
    const id = record.desc.id;
    if (this.regions.has(id) || this.closed) return;
    const log = this.opts.logger.child({ actor: `region/${id}` });
    const sm = new RegionStateMachine(
      this.backend,
      this.opts.storage,
      record,
      {
        onSplit: (_parent, child) => this.onSplit(child),
        onApplied: (ev) => {
          for (const l of this.listeners) l(ev);
        },
      },
      this.counters,
      log,
    );
    const group = await RaftGroup.open<ApplyResult>({
      groupId: id,
      nodeId: this.opts.storeId,
      bootstrapVoters: [...record.desc.peers],
      store: this.raftStore,
      stateMachine: sm,
      send: MultiRaft.sender(this.transport, id),
      clock: this.opts.clock,
      prng: this.opts.prng.fork(),
      logger: log,
      electionTimeoutTicks: this.opts.electionTicks,
      heartbeatTimeoutTicks: this.opts.heartbeatTicks,
      ...(this.opts.snapshotEveryEntries ? { snapshotEveryEntries: this.opts.snapshotEveryEntries } : {}),
      ...(this.opts.compactionSlackEntries !== undefined ? { compactionSlackEntries: this.opts.compactionSlackEntries } : {}),
      onFailed: (err) => this.opts.onFailure?.(err),
    });
    if (this.closed) {
      await group.close();
      return;
    }
    this.regions.set(id, { group, sm });
    // Ask for the new term's floor as soon as leadership is won, not at the first request, so one-phase
    // commits are accepted again as early as possible after a leader change.
    group.onLeaderChange((leaderId) => {
      const region = this.regions.get(id);
      if (leaderId === this.opts.storeId && region?.group.isLeader && !this.closed) this.guardOf(region);
    });
    this.multi.add(group);
  }

  /** A split applied on this replica: open the child's group (its data is already in the shared families). */
  private onSplit(child: RegionDescriptor): void {
    const p = this.openRegion({ desc: descriptorToJson(child), applied: 0 })
      .catch((err) => this.opts.logger.error({ err, region: child.id }, 'cannot open split child region'))
      .finally(() => this.opening.delete(child.id));
    this.opening.set(child.id, p);
  }

  descriptors(): RegionDescriptor[] {
    return [...this.regions.values()].map((r) => r.sm.desc);
  }

  onApplied(listener: (ev: ApplyEvent) => void): () => void {
    if (this.listeners.size >= MAX_APPLY_LISTENERS) throw new UnavailableError(`too many apply watchers (limit ${MAX_APPLY_LISTENERS})`);
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  addrOf(storeId: number): string {
    return this.opts.stores.get(storeId) ?? '';
  }

  // ---- admission ---------------------------------------------------------------------------------------

  private admit(ctx: RequestContext, keys: Buffer[]): Region {
    if (this.closed) throw new UnavailableError('store is stopping');
    if (ctx.storeId && ctx.storeId !== this.opts.storeId) {
      throw new StoreNotMatchError(`request for store ${ctx.storeId} reached store ${this.opts.storeId}`, { storeId: this.opts.storeId });
    }
    const region = this.regions.get(ctx.regionId);
    if (!region) throw new RegionNotFoundError(`store ${this.opts.storeId} hosts no region ${ctx.regionId}`, { regionId: ctx.regionId, storeId: this.opts.storeId });
    checkRequest(region.sm.desc, ctx.epoch, keys, () => this.descriptors());
    if (!region.group.isLeader) throw this.notLeader(region);
    return region;
  }

  private notLeader(region: Region): NotLeaderError {
    const leaderId = region.group.status().leaderId;
    const err = new NotLeaderError(`store ${this.opts.storeId} is not the leader of region ${region.sm.desc.id}`, {
      leaderId,
      leaderAddr: leaderId ? this.addrOf(leaderId) : '',
    });
    err.details.regionId = region.sm.desc.id;
    return err;
  }

  private timeout(): number {
    return this.opts.proposeTimeoutMs ?? DEFAULT_STORE_PROPOSE_TIMEOUT_MS;
  }

  /** The region's one-phase-commit guard, told about this leader's term (see ts-guard.ts). */
  private guardOf(region: Region): TsGuard {
    const id = region.sm.desc.id;
    let guard = this.guards.get(id);
    if (!guard) this.guards.set(id, (guard = new TsGuard()));
    const now = this.opts.clock.now();
    guard.observeLeader(region.group.status().term, now);
    const fetch = this.opts.leaderFloorTso;
    const term = fetch ? guard.floorToFetch(now) : undefined;
    if (fetch && term !== undefined) {
      const g = guard;
      fetch().then(
        (ts) => g.floorFetched(term, ts, this.opts.clock.now()),
        (err) => {
          this.opts.logger.debug({ err, region: id, term }, 'no TSO answer for the leader floor; wall-clock floor stays');
          g.floorFetched(term, undefined, this.opts.clock.now());
        },
      );
    }
    return guard;
  }

  /**
   * Linearizable read: ReadIndex on the leader, wait for apply, then read the local MVCC families. With
   * `at` (the read's timestamp and what it covers) the read also waits for one-phase commits in flight that
   * it must see, and no later one-phase commit can take a commit ts at or below it.
   */
  async read<T>(
    ctx: RequestContext,
    keys: Buffer[],
    fn: (mvcc: FamilyMvccStore, desc: RegionDescriptor) => T,
    at?: { readTs: bigint; range?: { start: Buffer; end: Buffer } },
  ): Promise<T> {
    const region = this.admit(ctx, keys);
    const guard = at ? this.guardOf(region) : undefined;
    guard?.noteRead(at!.readTs);
    try {
      await region.group.readBarrier({ timeoutMs: this.timeout() });
      await guard?.waitForWriters(at!.readTs, at!.range ?? { keys });
    } catch (err) {
      if (err instanceof NotLeaderError) throw this.notLeader(region);
      throw err;
    }
    // A split may have applied while we waited: admit again against the descriptor now in force.
    checkRequest(region.sm.desc, ctx.epoch, keys, () => this.descriptors());
    return fn(region.sm.mvcc, region.sm.desc);
  }

  /**
   * A one-phase commit through the region's guard: `keys` are admitted, `writes` (its puts and deletes) are
   * locked in memory. commitTs 0n lets the guard pick the commit ts. Refused with CommitTsExpired (nothing
   * proposed) when a read at or above the commit ts may already have been served, unless it already applied.
   */
  async onePhaseCommit(
    ctx: RequestContext,
    keys: Buffer[],
    writes: Buffer[],
    startTs: bigint,
    commitTs: bigint,
    build: (version: number, commitTs: bigint) => RegionCommand,
  ): Promise<{ errors: KeyError[]; commitTs: bigint }> {
    const region = this.admit(ctx, keys);
    const lock = this.guardOf(region).lockOnePc(writes, startTs, commitTs > 0n ? commitTs : undefined);
    if ('minCommitTs' in lock) {
      const own = writes.map((k) => findOwnWrite(region.sm.mvcc, k, startTs));
      if (own.length > 0 && own.every((w) => w && w.write.kind !== 'rollback')) {
        const at = own[0]!.commitTs;
        return { errors: at === commitTs ? [] : [{ kind: 'committed', key: writes[0]!, startTs, commitTs: at }], commitTs: at };
      }
      return { errors: [{ kind: 'commit_ts_expired', key: keys[0]!, startTs, commitTs, minCommitTs: lock.minCommitTs }], commitTs: 0n };
    }
    try {
      const errs = (await this.propose(ctx, keys, (v) => build(v, lock.commitTs))) as KeyError[];
      lock.ticket.release(true);
      return { errors: errs, commitTs: lock.commitTs };
    } catch (err) {
      lock.ticket.release(false);
      throw err;
    }
  }

  /** Proposes a command built for the region's current epoch version and returns what apply produced. */
  async propose(ctx: RequestContext, keys: Buffer[], build: (version: number, nowMs: number) => RegionCommand): Promise<unknown> {
    const region = this.admit(ctx, keys);
    const cmd = build(region.sm.desc.epoch.version, this.opts.clock.now());
    let out: { result: ApplyResult };
    try {
      out = await region.group.propose(encodeCommand(cmd), { timeoutMs: this.timeout() });
    } catch (err) {
      if (err instanceof NotLeaderError) throw this.notLeader(region);
      throw err;
    }
    const r = out.result;
    if (r.kind === 'epoch_not_match') {
      throw new EpochNotMatchError(`region ${ctx.regionId} changed epoch while the command was in flight`, {
        regionId: ctx.regionId,
        regions: this.descriptors().map(descriptorToJson),
      });
    }
    if (r.kind === 'split_refused') throw new InvalidArgumentError(r.message);
    if (r.kind === 'skipped') throw new UnavailableError('command applied during recovery; retry');
    return r.value;
  }

  /** Splits a region at splitKey; the new region id is chosen above every id this store knows if not given. */
  async split(ctx: RequestContext, splitKey: Buffer, newId: number): Promise<{ left: RegionDescriptor; right: RegionDescriptor }> {
    if (splitKey.length === 0) throw new InvalidArgumentError('split key must not be empty');
    const id = newId > 0 ? newId : Math.max(0, ...this.regions.keys()) + 1;
    if (this.regions.has(id)) throw new InvalidArgumentError(`region id ${id} is already in use`);
    const v = (await this.propose(ctx, [], (version) => ({ t: 'split', v: version, splitKey, newId: id }))) as { left: any; right: any };
    return { left: descriptorFromJson(v.left), right: descriptorFromJson(v.right) };
  }

  stats() {
    return {
      overlay_entries: this.backend.overlaySize,
      one_pc_in_flight: [...this.guards.values()].reduce((n, g) => n + g.inFlight, 0),
      /** Regions whose current leader floor came from the TSO (the rest use the wall-clock fallback). */
      leader_floor_from_tso: [...this.guards.entries()].filter(([id, g]) => g.floorIsFromTso && this.regions.get(id)?.group.isLeader).map(([id]) => id),
      watchers: this.listeners.size,
      multi: this.multi.stats(),
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([...this.opening.values()]);
    await this.multi.stop();
    await this.transport.close();
  }
}
