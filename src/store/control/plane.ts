// Owns a store's side of the control plane: join the cluster (`store_joined`), publish the store's region
// descriptors (bootstrap, then whatever changed, e.g. after a split), and heartbeat every coordinator with the
// store's address, region count, leader claims (region, term, epoch) and disk stats. One step at a time on
// the injected clock: a step that could not reach the coordinators is retried with jittered backoff, and the
// data plane never waits for any of it (a store serves KV with or without coordinators).
import type { Clock, TimerHandle } from '../../common/clock.js';
import type { Logger } from '../../common/log.js';
import type { Prng } from '../../common/prng.js';
import { Backoff } from '../../common/retry.js';
import { events, type RootEvent } from '../../metaroot/state/index.js';
import type { LeaderClaim, StoreHeartbeat } from '../../coordinator/catalog.js';
import type { RegionDescriptor } from '../region/descriptor.js';
import { bootstrapEvent, classifyRefusal, descriptorKey, publishedEvent } from './descriptors.js';

/** Period of heartbeats (and of the descriptor check that publishes splits). */
export const HEARTBEAT_INTERVAL_MS = 1_000;
/** Backoff after a step that could not reach the control plane: doubling from base to max, ±25 % jitter. */
export const CONTROL_RETRY_BASE_MS = 100;
export const CONTROL_RETRY_MAX_MS = 2_000;
/** Ordering refusals (a child published before its shrunk parent) are retried this many passes per step. */
export const PUBLISH_PASSES = 2;
/** Stop waits at most this long for a step in flight (its RPCs have their own deadlines). */
export const CONTROL_STOP_WAIT_MS = 1_000;

/** What a store sends in StoreHeartbeat: the coordinator's shape, with claims always present. */
export type HeartbeatBody = StoreHeartbeat & { leader_claims: LeaderClaim[] };

interface HintBase {
  region_id: number;
  /** The region epoch the operation was planned against. */
  epoch_version: number;
  conf_version: number;
}

/** A scheduling operation a heartbeat reply carried (see proto SchedulingHint). */
export type SchedulingHint =
  | (HintBase & { kind: 'transfer_leader'; to_store_id: number })
  /** Replica repair, for the region's leader: bring `store_id` in, or take it out. */
  | (HintBase & { kind: 'add_peer' | 'remove_peer'; store_id: number })
  /** Replica repair, for the target store: host an empty replica of the region (its range and voters before the change). */
  | (HintBase & { kind: 'create_peer'; start: Buffer; end: Buffer; peers: number[] });

export interface HeartbeatOutcome {
  /** Coordinators that accepted the heartbeat. */
  accepted: number;
  /** Hints of the reply with the highest era that carried any (only the active coordinator sends them). */
  hints?: SchedulingHint[];
  hintEra?: number;
  /** The highest MVCC GC safe point a reply carried (only the active coordinator sends one); 0n: none. */
  gcSafePoint?: bigint;
  /** Some coordinator refused because its rooted view has no record of this store. */
  notJoined: boolean;
  errors: string[];
}

/** How the plane reaches the coordinators (a fake in unit tests). */
export interface ControlPlanePort {
  /** Publishes one rooted event through a coordinator; throws the typed refusal. */
  publish(ev: RootEvent): Promise<void>;
  /** One heartbeat to every coordinator. */
  heartbeat(hb: HeartbeatBody): Promise<HeartbeatOutcome>;
  /** One id from the coordinator's allocator (new region ids of splits). */
  allocId?(): Promise<number>;
  /** The joined stores and their addresses (stores added to a running cluster are learned this way). */
  listStores?(): Promise<Array<{ store_id: number; address: string }>>;
  close(): void;
}

/** What the data plane looks like right now; undefined while the store node is not running. */
export interface LocalView {
  descriptors: RegionDescriptor[];
  leaders: LeaderClaim[];
  /** The oldest start ts of any lock on this store (undefined: none), reported for the GC safe point. */
  oldestLockTs?: bigint;
}

export interface ControlPlaneOptions {
  storeId: number;
  clientAddr: string;
  port: ControlPlanePort;
  local: () => LocalView | undefined;
  disk?: () => Promise<{ capacity_bytes: number; available_bytes: number }>;
  clock: Clock;
  prng: Prng;
  logger: Logger;
  heartbeatIntervalMs?: number;
  /** Carries out one scheduling hint on the data plane; false when it did not apply (not leader, epoch moved, nothing to do). */
  execute?: (hint: SchedulingHint) => boolean;
  /** Told every MVCC GC safe point above the highest one so far (the GC driver's trigger). */
  onSafePoint?: (sp: bigint) => void;
  /** Told the cluster's joined stores after every heartbeat, so the data plane can reach one that joined later. */
  onStores?: (stores: Array<{ store_id: number; address: string }>) => void;
}

/** Published on /debug/vars as `nokv_store.control_plane`. */
export interface ControlPlaneStats {
  joined: boolean;
  descriptors_published: number;
  /** Local descriptors not yet settled in rooted truth. */
  descriptors_pending: number;
  /** Unix ms of the last heartbeat some coordinator accepted; 0 before the first. */
  last_heartbeat_ms: number;
  heartbeats: number;
  conflicts: number;
  errors: number;
  last_error: string;
  /** Scheduling hints received and carried out (a leader transfer started), and the ones skipped. */
  hints_received: number;
  hints_executed: number;
  /** Hints from an era below one this store already heard hints from. */
  hints_stale_era: number;
  /** The highest MVCC GC safe point a coordinator published to this store (decimal), and the oldest lock reported. */
  gc_safe_point: string;
  oldest_lock_ts: string;
}

export class ControlPlane {
  readonly stats: ControlPlaneStats = {
    joined: false,
    descriptors_published: 0,
    descriptors_pending: 0,
    last_heartbeat_ms: 0,
    heartbeats: 0,
    conflicts: 0,
    errors: 0,
    last_error: '',
    hints_received: 0,
    hints_executed: 0,
    hints_stale_era: 0,
    gc_safe_point: '0',
    oldest_lock_ts: '0',
  };
  private gcSafePoint = 0n;
  /** Highest era whose hints this store has acted on: an older era's hints are ignored (it was deposed). */
  private hintEra = 0;
  /** Region id → descriptorKey settled in rooted truth (published, or superseded by a newer rooted one). */
  private readonly settled = new Map<number, string>();
  private timer?: TimerHandle;
  private inFlight?: Promise<void>;
  /** After a step that failed; reset by one that worked. */
  private readonly backoff: Backoff;
  private stopped = false;
  private retired = false;

  constructor(private readonly o: ControlPlaneOptions) {
    this.backoff = new Backoff({ backoffBaseMs: CONTROL_RETRY_BASE_MS, backoffMaxMs: CONTROL_RETRY_MAX_MS, jitter: 0.25 }, o.prng);
  }

  start(): void {
    this.schedule(0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.timer?.cancel();
    if (this.inFlight) {
      await Promise.race([this.inFlight, new Promise<void>((r) => this.o.clock.setTimer(CONTROL_STOP_WAIT_MS, r))]);
    }
    this.o.port.close();
  }

  private schedule(delayMs: number): void {
    if (this.stopped || this.retired) return;
    this.timer = this.o.clock.setTimer(delayMs, () => {
      this.inFlight = this.step()
        .then((ok) => {
          if (ok) this.backoff.reset();
          this.schedule(ok ? this.o.heartbeatIntervalMs ?? HEARTBEAT_INTERVAL_MS : this.backoff.next());
        })
        .finally(() => (this.inFlight = undefined));
    });
  }

  private fail(what: string, err: unknown): void {
    this.stats.errors++;
    this.stats.last_error = `${what}: ${(err as Error)?.message ?? String(err)}`;
  }

  /** One round: join if needed, publish what changed, heartbeat. Resolves false when it should back off. */
  async step(): Promise<boolean> {
    const local = this.o.local();
    if (!local || this.stopped) return false;
    if (!this.stats.joined && !(await this.join())) return false;
    const published = await this.publishDescriptors(local.descriptors);
    const beat = await this.heartbeat(local);
    await this.learnStores();
    return published && beat;
  }

  /** Best effort: a store list that cannot be read now is read again next step. */
  private async learnStores(): Promise<void> {
    if (!this.o.port.listStores || !this.o.onStores) return;
    try {
      this.o.onStores(await this.o.port.listStores());
    } catch (err) {
      this.o.logger.debug({ err }, 'store list not read this step');
    }
  }

  private async join(): Promise<boolean> {
    try {
      await this.o.port.publish(events.storeJoined(this.o.storeId, this.o.clientAddr));
      this.stats.joined = true;
      this.o.logger.info({ store_id: this.o.storeId, addr: this.o.clientAddr }, 'store joined the cluster');
      return true;
    } catch (err) {
      if (classifyRefusal(err) === 'retired') {
        this.retired = true;
        this.o.logger.error({ err, store_id: this.o.storeId }, 'this store id is retired; it will not join or heartbeat');
      }
      this.fail('join', err);
      return false;
    }
  }

  /** Publishes every local descriptor not settled yet, in region id order; false if any must be retried. */
  private async publishDescriptors(descs: RegionDescriptor[]): Promise<boolean> {
    let todo = [...descs].sort((a, b) => a.id - b.id).filter((d) => this.settled.get(d.id) !== descriptorKey(d));
    for (let pass = 0; pass < PUBLISH_PASSES && todo.length > 0; pass++) {
      const retry: RegionDescriptor[] = [];
      for (const d of todo) if (!(await this.publishOne(d))) retry.push(d);
      if (retry.length === todo.length) break; // no progress: unreachable, or waiting on someone else
      todo = retry;
    }
    this.stats.descriptors_pending = todo.length;
    return todo.length === 0;
  }

  /** True once the descriptor is settled (accepted, identical, superseded, or a logged conflict). */
  private async publishOne(d: RegionDescriptor): Promise<boolean> {
    const key = descriptorKey(d);
    try {
      await this.o.port.publish(bootstrapEvent(d));
      return this.settle(d, key, 'bootstrapped');
    } catch (err) {
      if (classifyRefusal(err) !== 'exists') return this.refused(d, key, err);
    }
    try {
      await this.o.port.publish(publishedEvent(d));
      return this.settle(d, key, 'published');
    } catch (err) {
      return this.refused(d, key, err);
    }
  }

  private settle(d: RegionDescriptor, key: string, how: string): boolean {
    this.settled.set(d.id, key);
    this.stats.descriptors_published++;
    this.o.logger.info({ region: d.id, epoch: d.epoch, how }, 'region descriptor in rooted truth');
    return true;
  }

  private refused(d: RegionDescriptor, key: string, err: unknown): boolean {
    switch (classifyRefusal(err, d)) {
      case 'stale':
        // Rooted truth is ahead of this replica (it has not applied a split yet); nothing to publish.
        this.settled.set(d.id, key);
        return true;
      case 'conflict':
        this.settled.set(d.id, key);
        this.stats.conflicts++;
        this.fail(`region ${d.id}`, err);
        this.o.logger.error(
          { err, region: d.id, epoch: d.epoch, start: d.start.toString('hex'), end: d.end.toString('hex'), peers: d.peers },
          'CONFLICT: rooted truth holds a different descriptor for this region at the same epoch; not publishing it again',
        );
        return true;
      default:
        this.fail(`region ${d.id}`, err);
        return false;
    }
  }

  private runHints(hints: SchedulingHint[], era: number): void {
    this.stats.hints_received += hints.length;
    if (era < this.hintEra) {
      this.stats.hints_stale_era += hints.length;
      return;
    }
    this.hintEra = era;
    for (const h of hints) {
      try {
        if (this.o.execute?.(h)) {
          this.stats.hints_executed++;
          if (h.kind === 'transfer_leader') this.o.logger.info({ region: h.region_id, to: h.to_store_id, era }, 'leader transfer started on a coordinator hint');
          else this.o.logger.info({ region: h.region_id, hint: h.kind, ...(h.kind === 'create_peer' ? {} : { store: h.store_id }), era }, 'replica repair hint carried out');
        }
      } catch (err) {
        this.fail(`hint for region ${h.region_id}`, err);
      }
    }
  }

  private async heartbeat(local: LocalView): Promise<boolean> {
    const disk = await (this.o.disk?.() ?? Promise.resolve({ capacity_bytes: 0, available_bytes: 0 })).catch(() => ({ capacity_bytes: 0, available_bytes: 0 }));
    const out = await this.o.port.heartbeat({
      store_id: this.o.storeId,
      client_addr: this.o.clientAddr,
      region_count: local.descriptors.length,
      leader_count: local.leaders.length,
      ...disk,
      leader_region_ids: local.leaders.map((c) => c.region_id),
      leader_claims: local.leaders,
      oldest_lock_ts: local.oldestLockTs ?? 0n,
    });
    this.stats.oldest_lock_ts = (local.oldestLockTs ?? 0n).toString();
    if (out.gcSafePoint !== undefined && out.gcSafePoint > this.gcSafePoint) {
      // Only ever upwards: a new coordinator may compute a lower point than its predecessor published.
      this.gcSafePoint = out.gcSafePoint;
      this.stats.gc_safe_point = out.gcSafePoint.toString();
      try {
        this.o.onSafePoint?.(out.gcSafePoint);
      } catch (err) {
        this.fail('gc safe point', err);
      }
    }
    if (out.notJoined) {
      // A coordinator's view has no record of this store (a rooted state rebuilt without it): join again.
      this.stats.joined = false;
    }
    if (out.hints && out.hints.length > 0) this.runHints(out.hints, out.hintEra ?? 0);
    if (out.accepted > 0) {
      this.stats.heartbeats++;
      this.stats.last_heartbeat_ms = this.o.clock.now();
    }
    // One coordinator down is normal (it is restarting); only a heartbeat nobody took counts as an error.
    if (out.accepted === 0) this.fail('heartbeat', new Error(out.errors.join('; ') || 'no coordinator accepted'));
    return out.accepted > 0;
  }
}
