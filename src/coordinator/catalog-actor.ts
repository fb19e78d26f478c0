// Owns the catalog actor: the only owner of the runtime store registry (catalog.ts), which heartbeats fill,
// and of the rooted state it answers against, told by the rooted view actor on every advance. Routing by key
// and the store listings are asks to it, so the registry is never read outside its mailbox. Also owns the
// handle the gRPC front uses and the actor's child spec.
import { actorChildSpec, type ActorContext, type ActorRef, type ActorSystem, type Behaviour } from '../actors/index.js';
import { NokvError, UnavailableError } from '../common/errors.js';
import type { RegionDescriptor, RootState } from '../metaroot/state/index.js';
import type { ChildSpec } from '../supervisor/types.js';
import { FailedPreconditionError } from './errors.js';
import { StoreRegistry, routeKey, type RegionLeader, type StoreHeartbeat, type StoreInfo } from './catalog.js';
import { GcSafePointTracker, type GcSafePointView } from './gc-safe-point.js';
import { LeaderBalancer, SCHEDULE_LIVE_WITHIN_MS, type TransferLeaderOp } from './scheduler.js';
import { DEFAULT_STORE_DOWN_MS, ReplicaRepairer, peerHintsFor, type PeerHint, type RepairView } from './repair.js';
import type { RootEvent } from '../metaroot/state/index.js';
import { VIEW_ASK_TIMEOUT_MS, type RootedNotice, type ViewMsg } from './root-view.js';

/** The actor's name in logs, in the supervisor and on /debug/vars. */
export const CATALOG_ACTOR = 'catalog';
/** Asks to the catalog answer from memory; this bounds a stuck mailbox. */
export const CATALOG_ASK_TIMEOUT_MS = 5_000;

export interface Route {
  region: RegionDescriptor | null;
  leader: RegionLeader | null;
  root_index: number;
}

export type CatalogMsg =
  | RootedNotice
  /** Ask → void; fails FAILED_PRECONDITION for an unknown or retired store. */
  | { t: 'heartbeat'; hb: StoreHeartbeat; nowMs: number }
  /** Ask → Route. */
  | { t: 'route'; key: Uint8Array }
  /** Ask → StoreInfo | null. */
  | { t: 'store'; storeId: number; nowMs: number }
  /** Ask → StoreInfo[]. */
  | { t: 'stores'; includeRetired: boolean; nowMs: number }
  /**
   * Ask → Schedule: plans leader transfers and replica repair over the whole cluster and answers the operations
   * `storeId` should run, with the rooted events repair wants appended. Sent only by the active coordinator's
   * front (a standby never plans).
   */
  | { t: 'schedule'; storeId: number; nowMs: number }
  /** Ask → SchedulerView: the balancer's view (leaders per store, transfers in flight) and replica repair's. */
  | { t: 'scheduler' }
  /**
   * Ask → the MVCC GC safe point to publish (decimal; '0' while some joined store has not reported): from
   * `nowTs` (a TSO timestamp), the lifetime, the rooted open snapshot epochs and the stores' oldest locks.
   * Sent only by the active coordinator's front.
   */
  | { t: 'gcSafePoint'; nowTs: bigint; lifetimeMs: number; nowMs: number }
  /** Ask → GcSafePointView. */
  | { t: 'gcView' };

type Ctx = ActorContext<CatalogMsg>;

/** What one heartbeat's scheduling produced. */
export interface Schedule {
  transfers: TransferLeaderOp[];
  peers: PeerHint[];
  /** Rooted events of replica repair (plans, finishes, cancellations), appended by the front one by one. */
  append: RootEvent[];
}

export type SchedulerView = ReturnType<LeaderBalancer['view']> & { repair: RepairView };

export interface CatalogOptions {
  /** A store silent this long has its replicas replaced (default DEFAULT_STORE_DOWN_MS). */
  storeDownMs?: number;
}

export class CatalogActor implements Behaviour<CatalogMsg> {
  private readonly registry = new StoreRegistry();
  private readonly balancer = new LeaderBalancer();
  private readonly repairer: ReplicaRepairer;
  private readonly gc = new GcSafePointTracker();
  private state: RootState | null = null;
  private self: ActorRef<CatalogMsg> | undefined;

  constructor(private readonly d: { view: { readonly current: ActorRef<ViewMsg> | undefined } } & CatalogOptions) {
    this.repairer = new ReplicaRepairer(d.storeDownMs ?? DEFAULT_STORE_DOWN_MS);
  }

  async init(ctx: Ctx): Promise<void> {
    this.self = ctx.self;
    const view = this.d.view.current;
    if (!view) throw new UnavailableError('catalog started before the rooted view');
    this.state = await ctx.ask<RootState | null>(view, { t: 'subscribe', to: ctx.self as ActorRef<RootedNotice> }, { timeoutMs: VIEW_ASK_TIMEOUT_MS });
  }

  receive(msg: CatalogMsg, ctx: Ctx): void {
    if (msg.t === 'rooted') {
      if (!this.state || msg.state.last_applied.index >= this.state.last_applied.index) this.state = msg.state;
      return;
    }
    try {
      this.answer(msg, ctx);
    } catch (err) {
      // A refusal (unknown store, pending range change, view not loaded) answers the asker; the actor goes on.
      if (err instanceof NokvError) return ctx.fail(err);
      throw err;
    }
  }

  private answer(msg: Exclude<CatalogMsg, RootedNotice>, ctx: Ctx): void {
    switch (msg.t) {
      case 'heartbeat':
        this.registry.heartbeat(this.rooted(), msg.hb, msg.nowMs);
        return ctx.reply(undefined);
      case 'route': {
        const s = this.rooted();
        const region = routeKey(s, msg.key);
        return ctx.reply({ region, leader: region ? this.registry.leaderFor(s, region.region_id) : null, root_index: s.last_applied.index } satisfies Route);
      }
      case 'store':
        return ctx.reply(this.registry.get(this.rooted(), msg.storeId, msg.nowMs));
      case 'stores':
        return ctx.reply(this.registry.list(this.rooted(), msg.includeRetired, msg.nowMs));
      case 'schedule': {
        const s = this.rooted();
        const live = this.registry.live(s, msg.nowMs, SCHEDULE_LIVE_WITHIN_MS);
        // A draining store is given no leaders (its own leaderships move away as its peers are removed).
        const leadable = new Set([...live].filter((id) => s.stores[String(id)]?.state !== 'draining'));
        const planned = this.balancer.plan({ regions: Object.values(s.regions), leaders: this.registry.claims(), live: leadable, nowMs: msg.nowMs });
        for (const op of planned) ctx.log.info({ region: op.region_id, from: op.from_store, to: op.to_store, term: op.term }, 'leader transfer planned');
        const claims = this.registry.leaderClaims();
        const append = this.repairer.plan({
          state: s,
          claims,
          live,
          silentMs: (id) => this.registry.silentMs(id, msg.nowMs),
          storeDownMs: this.repairer.storeDownMs,
          nowMs: msg.nowMs,
        });
        return ctx.reply({ transfers: this.balancer.hintsFor(msg.storeId), peers: peerHintsFor(msg.storeId, s, claims), append } satisfies Schedule);
      }
      case 'scheduler':
        return ctx.reply({ ...this.balancer.view(), repair: this.repairer.view() } satisfies SchedulerView);
      case 'gcSafePoint': {
        const s = this.rooted();
        const sp = this.gc.next(
          {
            nowTs: msg.nowTs,
            lifetimeMs: msg.lifetimeMs,
            snapshotReadVersions: Object.values(s.snapshot_epochs).map((e) => BigInt(e.read_version)),
            stores: this.registry.locks(s),
          },
          msg.nowMs,
        );
        return ctx.reply((sp ?? 0n).toString());
      }
      case 'gcView':
        return ctx.reply({ ...this.gc.view, waiting_for: [...this.gc.view.waiting_for] } satisfies GcSafePointView);
    }
  }

  terminate(): void {
    try {
      const view = this.d.view.current;
      if (view && this.self) view.tell({ t: 'unsubscribe', to: this.self as ActorRef<RootedNotice> });
    } catch {
      // The view is gone or full; it forgets subscribers when it restarts.
    }
  }

  inspect(): unknown {
    return { root_index: this.state?.last_applied.index ?? 0 };
  }

  /** The rooted state; a refusal (not a crash) before the view has loaded one. */
  private rooted(): RootState {
    if (!this.state) throw new FailedPreconditionError('rooted view not loaded yet');
    return this.state;
  }
}

/** What the gRPC front holds: asks to the running catalog actor (UNAVAILABLE while there is none). */
export class CatalogHandle {
  private ref: ActorRef<CatalogMsg> | undefined;

  constructor(
    private readonly actors: ActorSystem,
    private readonly view: { readonly current: ActorRef<ViewMsg> | undefined },
    private readonly options: CatalogOptions = {},
  ) {}

  childSpec(): ChildSpec {
    return actorChildSpec<CatalogMsg>(
      this.actors,
      { name: CATALOG_ACTOR, thread: 0, behaviour: () => new CatalogActor({ view: this.view, ...this.options }) },
      {
        onStart: (ref) => {
          this.ref = ref;
          this.actors.onExit(ref, () => {
            if (this.ref === ref) this.ref = undefined;
          });
        },
      },
    );
  }

  private ask<R>(msg: CatalogMsg): Promise<R> {
    const ref = this.ref;
    if (!ref) return Promise.reject(new UnavailableError('catalog is not running'));
    return ref.ask<R>(msg, { timeoutMs: CATALOG_ASK_TIMEOUT_MS });
  }

  heartbeat(hb: StoreHeartbeat, nowMs: number): Promise<void> {
    return this.ask({ t: 'heartbeat', hb, nowMs });
  }

  route(key: Uint8Array): Promise<Route> {
    return this.ask({ t: 'route', key });
  }

  store(storeId: number, nowMs: number): Promise<StoreInfo | null> {
    return this.ask({ t: 'store', storeId, nowMs });
  }

  stores(includeRetired: boolean, nowMs: number): Promise<StoreInfo[]> {
    return this.ask({ t: 'stores', includeRetired, nowMs });
  }

  schedule(storeId: number, nowMs: number): Promise<Schedule> {
    return this.ask({ t: 'schedule', storeId, nowMs });
  }

  scheduler(): Promise<SchedulerView> {
    return this.ask({ t: 'scheduler' });
  }

  /** The MVCC GC safe point to publish now (0n: none yet); see CatalogMsg gcSafePoint. */
  async gcSafePoint(nowTs: bigint, lifetimeMs: number, nowMs: number): Promise<bigint> {
    return BigInt(await this.ask<string>({ t: 'gcSafePoint', nowTs, lifetimeMs, nowMs }));
  }

  gcView(): Promise<GcSafePointView> {
    return this.ask({ t: 'gcView' });
  }
}
