// Owns the coordinator role process: `nokv coordinator --coordinator-id ID [--config FILE] [overrides]`.
// Children in start order: the meta-root clients, the rooted view actor (snapshot + tail: root-view.ts), the
// catalog actor (store registry and routing: catalog-actor.ts), the Coordinator gRPC front, and the lease
// supervisor, whose one child is the lease holder actor. Stop runs in reverse, so the holder releases its
// tenure first and a standby takes over while this process is still closing its server. /debug/vars
// publishes `nokv_coordinator`, built from asks to the actors.
//
// Every piece of state is an actor's: the view's rooted state, the catalog's registry, the holder's lease and
// windows. The front is grpc-js's own event loop and asks them; the holder and the catalog hear every advance
// of the view as a message. A crash of the holder is restarted by the lease supervisor (it comes back as a
// standby); any other failure ends the process, which the process supervisor restarts whole.
import { InvalidArgumentError } from '../common/errors.js';
import { addrFlag, tokenFileFlag, topologyFlag, workersFlag, workersOf, tlsFlags, useTlsFlags } from '../roles/flags.js';
import { UsageError, type FlagSpecs, type Parsed } from '../cli/flags.js';
import { defaultPrng } from '../common/prng.js';
import { MetaRootClient } from '../metaroot/client.js';
import { runRoleProcess, type RoleContext } from '../roles/runtime.js';
import { serviceChildSpec } from '../roles/service-child.js';
import { Supervisor } from '../supervisor/supervisor.js';
import { createClient, startGrpcServer, unaryCall } from '../transport/index.js';
import { leaseTiming, type LeaseTiming } from './lease.js';
import { LEASE_RESTART_INTENSITY, LEASE_RESTART_PERIOD_MS, LeaseHolder } from './holder.js';
import { RootViewHandle } from './root-view.js';
import { CatalogHandle } from './catalog-actor.js';
import { DEFAULT_GC_LIFETIME_MS } from './gc-safe-point.js';
import { DEFAULT_STORE_DOWN_MS } from './repair.js';
import { COORDINATOR_SERVICE, coordinatorHandlers, coordinatorProto } from './service.js';

/** A peer coordinator gets this long to take over a sealed era during a planned handover. */
export const TAKE_OVER_DEADLINE_MS = 5_000;

export interface CoordinatorSettings {
  id: string;
  addr: string;
  metricsAddr: string;
  rootEndpoints: string[];
  token?: string;
  timing: LeaseTiming;
  /** coordinator id → client address, for holder hints and handover. */
  peers: Map<string, string>;
  /** Worker threads of the process's actor system (--workers). */
  workers: number;
  /** How far the MVCC GC safe point stays behind now (gc-safe-point.ts). */
  gcLifetimeMs: number;
  /** A store silent this long has its replicas replaced (repair.ts). */
  storeDownMs: number;
}

export const coordinatorRoleFlags: FlagSpecs = {
  'coordinator-id': { type: 'string', help: 'this coordinator\'s id (one of topology coordinators; stable across restarts)' },
  config: { type: 'string', help: 'topology JSON file (default: the standard local topology)' },
  addr: { type: 'string', help: 'client gRPC address (default: from the topology)' },
  'metrics-addr': { type: 'string', help: '/debug/vars address (default: from the topology)' },
  'root-peers': { type: 'list', help: 'meta-root client addresses (default: from the topology)' },
  'token-file': { type: 'string', help: 'file holding the cluster token for meta-root mutations and handover' },
  'lease-ttl': { type: 'duration', help: 'tenure length (default: topology lease.ttl_ms)', min: 200 },
  'lease-renew-before': { type: 'duration', help: 'renew this long before expiry (default: topology lease.renew_before_ms)', min: 1 },
  'gc-life-time': { type: 'duration', help: `how long old MVCC versions stay readable (default: topology gc.life_time_ms, else ${DEFAULT_GC_LIFETIME_MS / 60_000} min)`, min: 100 },
  'store-down': {
    type: 'duration',
    help: `a store silent this long has its replicas replaced on other stores (default: topology schedule.store_down_ms, else ${DEFAULT_STORE_DOWN_MS / 60_000} min)`,
    min: 100,
  },
  workers: workersFlag,
  ...tlsFlags,
};


export function coordinatorSettings(args: Parsed): CoordinatorSettings {
  const f = args.flags;
  const id = f['coordinator-id'] as string | undefined;
  if (!id) throw new UsageError('--coordinator-id is required');
  const topo = topologyFlag(f.config as string | undefined);
  const me = topo.coordinators.find((c) => c.id === id);
  const addr = (f.addr as string | undefined) ?? me?.addr;
  const metricsAddr = (f['metrics-addr'] as string | undefined) ?? me?.metrics_addr;
  if (!addr || !metricsAddr) throw new UsageError(`--coordinator-id ${id} is not in the topology; give --addr and --metrics-addr`);
  const ttl = (f['lease-ttl'] as number | undefined) ?? topo.lease.ttl_ms;
  const renewBefore = (f['lease-renew-before'] as number | undefined) ?? topo.lease.renew_before_ms;
  if (renewBefore >= ttl) throw new UsageError('--lease-renew-before must be below --lease-ttl');
  const peers = new Map(topo.coordinators.map((c) => [c.id, c.addr]));
  peers.set(id, addr);
  const token = tokenFileFlag(f['token-file'] as string | undefined);
  return {
    id,
    addr: addrFlag('addr', addr),
    metricsAddr: addrFlag('metrics-addr', metricsAddr),
    rootEndpoints: (f['root-peers'] as string[] | undefined) ?? topo.meta_root.peers.map((p) => p.addr),
    ...(token ? { token } : {}),
    timing: leaseTiming(ttl, renewBefore),
    peers,
    workers: workersOf(f.workers, { topology: topo, role: 'coordinator', addr }),
    gcLifetimeMs: (f['gc-life-time'] as number | undefined) ?? topo.gc?.life_time_ms ?? DEFAULT_GC_LIFETIME_MS,
    storeDownMs: (f['store-down'] as number | undefined) ?? topo.schedule?.store_down_ms ?? DEFAULT_STORE_DOWN_MS,
  };
}

function expvarOf(s: CoordinatorSettings, view: RootViewHandle, holder: LeaseHolder, catalog: CatalogHandle, ctx: RoleContext): () => Promise<unknown> {
  return async () => {
    const now = ctx.clock.now();
    const [st, root, scheduler, gc] = await Promise.all([holder.status(), view.stats().catch(() => null), catalog.scheduler().catch(() => null), catalog.gcView().catch(() => null)]);
    const t = st.tenure;
    return {
      coordinator_id: s.id,
      addr: s.addr,
      lease: {
        holder_id: t.holder_id,
        era: t.era,
        expires_unix_ms: t.expires_unix_ms,
        held_by_self: st.serving,
        active: t.holder_id !== '' && t.expires_unix_ms > now && !t.sealed,
        sealed: t.sealed,
        my_era: st.era,
        ttl_ms: s.timing.ttlMs,
        renew_before_ms: s.timing.renewBeforeMs,
        skew_margin_ms: s.timing.skewMarginMs,
      },
      allocator: {
        id_current: st.ids.current,
        id_window_high: st.ids.window_high,
        tso_current: st.tso.current,
        tso_window_high: st.tso.window_high,
      },
      root,
      eunomia: holder.metrics,
      // Leader balance as this coordinator last planned it (only the active one plans; a standby's stays empty).
      scheduler,
      // The MVCC GC safe point this coordinator last published (only the active one computes one).
      gc: gc ? { ...gc, life_time_ms: s.gcLifetimeMs } : null,
    };
  };
}

export function coordinatorChildren(s: CoordinatorSettings, ctx: RoleContext) {
  const log = ctx.logger;
  // Reads and catalog writes may wait; lease commands must fail fast, inside the renew window.
  const rootClient = new MetaRootClient({ endpoints: s.rootEndpoints, ...(s.token ? { token: s.token } : {}), logger: log });
  const leaseRoot = new MetaRootClient({
    endpoints: s.rootEndpoints,
    ...(s.token ? { token: s.token } : {}),
    logger: log,
    deadlineMs: s.timing.renewBeforeMs,
    attemptTimeoutMs: Math.max(100, Math.floor(s.timing.renewBeforeMs / 2)),
  });
  const view = new RootViewHandle(ctx.actors, rootClient);
  const peerCtor = coordinatorProto().clientConstructor(COORDINATOR_SERVICE);
  const holder = new LeaseHolder({
    selfId: s.id,
    timing: s.timing,
    root: leaseRoot,
    view,
    actors: ctx.actors,
    prng: defaultPrng(),
    addrOf: (id) => s.peers.get(id),
    peers: s.peers,
    takeOverPeer: async (to, legacyEra, trace) => {
      const addr = s.peers.get(to);
      if (!addr) throw new InvalidArgumentError(`unknown coordinator ${to}`);
      const client = createClient(peerCtor, addr);
      try {
        const r = await unaryCall<unknown, { era: string; stage: string }>(client, 'TakeOver', { legacy_era: legacyEra, from: s.id }, {
          deadlineMs: TAKE_OVER_DEADLINE_MS,
          ...(s.token ? { token: s.token } : {}),
          ...(trace ? { trace } : {}),
        });
        return { era: Number(r.era), stage: r.stage };
      } finally {
        client.close();
      }
    },
  });
  const catalog = new CatalogHandle(ctx.actors, view, { storeDownMs: s.storeDownMs });
  ctx.expvar.publish('nokv_coordinator', expvarOf(s, view, holder, catalog, ctx));
  return [
    // First to start, last to stop: the meta-root clients every other child calls through.
    serviceChildSpec({
      id: 'root-clients',
      start: async () => ({
        stop: async () => {
          rootClient.close();
          leaseRoot.close();
        },
      }),
    }),
    view.childSpec(),
    catalog.childSpec(),
    serviceChildSpec({
      id: 'grpc',
      start: async () => {
        const server = await startGrpcServer({
          addr: s.addr,
          services: [
            {
              service: coordinatorProto().service(COORDINATOR_SERVICE),
              impl: coordinatorHandlers({ selfId: s.id, holder, view, root: rootClient, catalog, clock: ctx.clock, logger: log, gcLifetimeMs: s.gcLifetimeMs }),
            },
          ],
          ...(s.token ? { token: s.token } : {}),
        });
        log.info({ addr: server.addr }, 'coordinator gRPC listening');
        return { stop: () => server.close() };
      },
    }),
    leaseSupervisor(s, ctx, holder).asChildSpec(),
  ];
}

/**
 * The holder actor's own supervisor: a crash of the actor is restarted here (as a standby) without taking the
 * gRPC front and the view down with it; crashing more than LEASE_RESTART_INTENSITY times in
 * LEASE_RESTART_PERIOD_MS escalates to the role's root, which ends the process.
 */
function leaseSupervisor(s: CoordinatorSettings, ctx: RoleContext, holder: LeaseHolder): Supervisor {
  ctx.logger.info({ ttl_ms: s.timing.ttlMs, renew_before_ms: s.timing.renewBeforeMs, skew_margin_ms: s.timing.skewMarginMs }, 'lease holder configured');
  return new Supervisor({
    id: 'lease',
    strategy: 'one_for_one',
    intensity: LEASE_RESTART_INTENSITY,
    periodMs: LEASE_RESTART_PERIOD_MS,
    clock: ctx.clock,
    logger: ctx.logger,
    children: [holder.childSpec()],
  });
}

export async function runCoordinatorRole(args: Parsed): Promise<number> {
  const s = coordinatorSettings(args);
  useTlsFlags(args.flags, undefined);
  // Any child failure ends the process (intensity 0): the process supervisor above restarts it whole, with
  // fresh clients and a fresh view, and it rejoins as a standby.
  return runRoleProcess({ role: 'coordinator', node: s.id, metricsAddr: s.metricsAddr, strategy: 'one_for_all', intensity: 0, workers: s.workers, children: (ctx) => coordinatorChildren(s, ctx) });
}

