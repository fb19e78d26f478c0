// Owns the store role process: `nokv store --store-id N [--config FILE] [overrides]`. Two supervised children
// (rest_for_one): the data plane in start order — LMDB, the regions' raft groups (StoreNode), then one gRPC
// server that serves StoreKV and the raft transport on the same port — and the control plane (join, publish
// descriptors, heartbeat the coordinators), which never holds up the data plane. /debug/vars publishes
// `nokv_store` with `control_plane`; with NOKV_FAULTS set, `/debug/faults` controls raft-link faults at run
// time (faults-route.ts).
import { addrFlag, tokenFileFlag, topologyFlag, workersFlag, workersOf, tlsFlags, useTlsFlags } from '../roles/flags.js';
import { statfs } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Command } from '../cli/command.js';
import { UsageError, type FlagSpecs, type Parsed } from '../cli/flags.js';
import { defaultPrng } from '../common/prng.js';
import { runRoleProcess, type RoleContext } from '../roles/runtime.js';
import { serviceChildSpec } from '../roles/service-child.js';
import { openStorage } from '../storage/index.js';
import { faultInjectorFromEnv, startGrpcServer } from '../transport/index.js';
import { ControlPlane, type LocalView, type SchedulingHint } from './control/plane.js';
import { registerFaultRoutes } from './faults-route.js';
import { coordinatorPort, floorTsoSource } from './control/coordinator-port.js';
import { StoreNode } from './server/node.js';
import { UnavailableError } from '../common/errors.js';
import { AutoSplitter, DEFAULT_SPLIT_BYTES, DEFAULT_SPLIT_CHECK_MS, DEFAULT_SPLIT_KEYS, type SplitterNode } from './split/splitter.js';
import { storeKvService } from './server/service.js';
import { DEFAULT_GC_CHECK_MS, GcDriver, type GcNode } from './gc/driver.js';

export const DEFAULT_STORE_TICK_MS = 50;
export const DEFAULT_STORE_ELECTION_TICKS = 10;
export const DEFAULT_STORE_HEARTBEAT_TICKS = 2;

export interface StoreSettings {
  storeId: number;
  addr: string;
  metricsAddr: string;
  dataDir: string;
  /** Worker threads of the process's actor system (--workers). */
  workers: number;
  token?: string;
  tickMs: number;
  electionTicks: number;
  heartbeatTicks: number;
  snapshotEveryEntries: number;
  /** Every store id → KV+raft address. */
  stores: Map<number, string>;
  /** Coordinator client addresses the control plane joins, publishes and heartbeats through. */
  coordinatorAddrs: string[];
  /** Split thresholds and check period (the splitter runs only with coordinators). */
  split: { maxKeys: number; maxBytes: number; checkIntervalMs: number };
  /** How often led regions are collected below the coordinator's safe point (the driver runs only with coordinators). */
  gc: { checkIntervalMs: number };
}

export const storeFlags: FlagSpecs = {
  'store-id': { type: 'int', help: 'this store\'s id (one of topology stores[].store_id)', required: true, min: 1 },
  config: { type: 'string', help: 'topology JSON file (default: the standard local topology)' },
  addr: { type: 'string', help: 'KV + raft gRPC address (default: from the topology)' },
  'metrics-addr': { type: 'string', help: '/debug/vars address (default: from the topology)' },
  'data-dir': { type: 'string', help: 'LMDB folder (default: data/store-N)' },
  'token-file': { type: 'string', help: 'file holding the cluster token that mutations must present' },
  'tick-ms': { type: 'int', help: 'raft tick', default: DEFAULT_STORE_TICK_MS, min: 5, max: 1000 },
  'election-ticks': { type: 'int', help: 'ticks without a leader before campaigning', default: DEFAULT_STORE_ELECTION_TICKS, min: 3, max: 1000 },
  'heartbeat-ticks': { type: 'int', help: 'leader heartbeat period in ticks', default: DEFAULT_STORE_HEARTBEAT_TICKS, min: 1, max: 100 },
  'snapshot-every': { type: 'int', help: 'snapshot a region every N applied entries', default: 10_000, min: 2 },
  workers: workersFlag,
  ...tlsFlags,
  'coordinator-addr': { type: 'list', help: 'coordinator addresses to join and heartbeat (default: from the topology)' },
  'split-keys': { type: 'int', help: `split a led region holding more user keys than this (default: topology split.keys, else ${DEFAULT_SPLIT_KEYS})`, min: 2 },
  'split-size': { type: 'int', help: `split a led region estimated above this many bytes (default: topology split.size_bytes, else ${DEFAULT_SPLIT_BYTES})`, min: 2 },
  'split-check-ms': { type: 'int', help: `how often led regions are checked for a split (default: topology split.check_ms, else ${DEFAULT_SPLIT_CHECK_MS})`, min: 100 },
  'gc-check-ms': { type: 'int', help: `how often led regions are collected below the GC safe point (default: topology gc.check_ms, else ${DEFAULT_GC_CHECK_MS})`, min: 100 },
};

export function storeSettings(args: Parsed): StoreSettings {
  const f = args.flags;
  if (args.positionals.length > 0) throw new UsageError(`unexpected argument "${args.positionals[0]}"`);
  const topo = topologyFlag(f.config as string | undefined);
  const storeId = f['store-id'] as number;
  const me = topo.stores.find((s) => s.store_id === storeId);
  if (!me) throw new UsageError(`--store-id ${storeId} is not in the topology (stores: ${topo.stores.map((s) => s.store_id).join(', ')})`);
  if ((f['heartbeat-ticks'] as number) >= (f['election-ticks'] as number)) throw new UsageError('--heartbeat-ticks must be below --election-ticks');
  const token = tokenFileFlag(f['token-file'] as string | undefined);
  const addr = addrFlag('addr', (f.addr as string | undefined) ?? me.addr);
  const stores = new Map(topo.stores.map((s) => [s.store_id, s.addr]));
  stores.set(storeId, addr);
  return {
    storeId,
    addr,
    metricsAddr: addrFlag('metrics-addr', (f['metrics-addr'] as string | undefined) ?? me.metrics_addr),
    dataDir: resolve((f['data-dir'] as string | undefined) ?? `data/store-${storeId}`),
    ...(token ? { token } : {}),
    tickMs: f['tick-ms'] as number,
    electionTicks: f['election-ticks'] as number,
    heartbeatTicks: f['heartbeat-ticks'] as number,
    snapshotEveryEntries: f['snapshot-every'] as number,
    workers: workersOf(f.workers, { topology: topo, role: 'store', addr }),
    stores,
    coordinatorAddrs: ((f['coordinator-addr'] as string[] | undefined) ?? topo.coordinators.map((c) => c.addr)).map((a) => addrFlag('coordinator-addr', a)),
    split: {
      maxKeys: (f['split-keys'] as number | undefined) ?? topo.split?.keys ?? DEFAULT_SPLIT_KEYS,
      maxBytes: (f['split-size'] as number | undefined) ?? topo.split?.size_bytes ?? DEFAULT_SPLIT_BYTES,
      checkIntervalMs: (f['split-check-ms'] as number | undefined) ?? topo.split?.check_ms ?? DEFAULT_SPLIT_CHECK_MS,
    },
    gc: { checkIntervalMs: (f['gc-check-ms'] as number | undefined) ?? topo.gc?.check_ms ?? DEFAULT_GC_CHECK_MS },
  };
}

interface Parts {
  node?: StoreNode;
  plane?: ControlPlane;
  splitter?: AutoSplitter;
  gc?: GcDriver;
  /** Region ids from the coordinators (while the control plane runs). */
  allocId?: () => Promise<number>;
  /** Starts of the data plane: every one after the first followed a failure (a region group's, or a start's). */
  dataPlaneStarts: number;
  lastFailure?: string;
}

function expvarOf(s: StoreSettings, parts: Parts): () => unknown {
  return () => {
    const node = parts.node;
    const control_plane = parts.plane ? { ...parts.plane.stats, coordinators: s.coordinatorAddrs } : null;
    const splits = parts.splitter ? { ...parts.splitter.stats, max_keys: s.split.maxKeys, max_bytes: s.split.maxBytes, check_ms: s.split.checkIntervalMs } : null;
    const gc = parts.gc ? { ...parts.gc.stats, check_ms: s.gc.checkIntervalMs } : null;
    const health = { data_plane_restarts: Math.max(0, parts.dataPlaneStarts - 1), last_failure: parts.lastFailure ?? null };
    if (!node) return { store_id: s.storeId, addr: s.addr, starting: true, control_plane, ...health };
    return {
      store_id: s.storeId,
      addr: s.addr,
      control_plane,
      splits,
      gc,
      ...health,
      regions: [...node.regions.values()].map((e) => {
        const v = e.view;
        return {
          id: e.id,
          ...(v
            ? {
                range: { start: v.desc.start.toString('hex'), end: v.desc.end.toString('hex') },
                epoch: v.desc.epoch,
                peers: v.desc.peers,
                leader: v.leaderId,
                role: v.role,
                term: v.term,
                applied: v.applied,
                commit: v.commit,
                gc_safe_point: v.gcSafePoint,
              }
            : {}),
          // The region actor's own state: running, starting (being restarted) or down (exited, not back).
          state: e.state,
          restarts: Math.max(0, e.starts - 1),
          ...(e.lastExit ? { last_exit: e.lastExit } : {}),
        };
      }),
      region_health: node.health(),
      ...countersOf(node.counters),
      node: node.stats(),
      transport: node.transport.stats(),
    };
  };
}

/**
 * The shards' counters split for /debug/vars: applied Percolator commands per type, and the region leaders'
 * reads and the ReadIndex rounds they shared (read_index_reads / read_index_rounds = reads per round).
 */
function countersOf(all: Record<string, number>): { percolator: Record<string, number>; reads: { requests: number; read_index_rounds: number } } {
  const percolator: Record<string, number> = {};
  for (const [k, n] of Object.entries(all)) if (!k.startsWith('read_index_')) percolator[k] = n;
  return { percolator, reads: { requests: all.read_index_reads ?? 0, read_index_rounds: all.read_index_rounds ?? 0 } };
}

/** The data plane as the control plane reports it: descriptors and the regions this store leads. */
function localView(node: StoreNode | undefined): LocalView | undefined {
  if (!node) return undefined;
  const views = [...node.regions.values()].flatMap((e) => (e.view ? [e.view] : []));
  return {
    descriptors: views.map((v) => v.desc),
    leaders: views
      .filter((v) => v.isLeader)
      .map((v) => ({ region_id: v.desc.id, term: v.term, epoch_version: v.desc.epoch.version, conf_version: v.desc.epoch.confVersion })),
    ...optional('oldestLockTs', node.oldestLockTs()),
  };
}

/** One coordinator hint on the data plane: a leader transfer, or a step of replica repair. */
function executeHint(node: StoreNode, h: SchedulingHint): boolean {
  switch (h.kind) {
    case 'transfer_leader':
      return node.transferLeader(h.region_id, h.to_store_id, h.epoch_version);
    case 'add_peer':
    case 'remove_peer':
      return node.changePeer(h.region_id, h.kind === 'add_peer' ? 'add' : 'remove', h.store_id, h.epoch_version);
    case 'create_peer':
      return node.createPeer({ id: h.region_id, start: h.start, end: h.end, epoch: { version: h.epoch_version, confVersion: h.conf_version }, peers: h.peers });
  }
}

function optional<K extends string, V>(k: K, v: V | undefined): Partial<Record<K, V>> {
  return v === undefined ? {} : ({ [k]: v } as Record<K, V>);
}

/** The data plane as the GC driver uses it: the regions this store leads, and the GC command. */
function gcNode(parts: Parts): GcNode {
  return {
    led: () =>
      [...(parts.node?.regions.values() ?? [])].flatMap((e) => (e.state === 'running' && e.view?.isLeader ? [{ desc: e.view.desc, gcSafePoint: BigInt(e.view.gcSafePoint) }] : [])),
    gc: async (desc, safePoint) => {
      if (!parts.node) throw new UnavailableError('the data plane is restarting');
      return (await parts.node.propose({ regionId: desc.id, epoch: desc.epoch }, [], { t: 'gc', v: 0, safePoint })) as { writesRemoved: number; dataRemoved: number };
    },
  };
}

async function diskOf(dir: string): Promise<{ capacity_bytes: number; available_bytes: number }> {
  const st = await statfs(dir);
  return { capacity_bytes: st.blocks * st.bsize, available_bytes: st.bavail * st.bsize };
}

/** The data plane as the splitter uses it: the regions this store leads, their split check, the split itself. */
function splitterNode(parts: Parts): SplitterNode {
  const node = (): StoreNode => {
    if (!parts.node) throw new UnavailableError('the data plane is restarting');
    return parts.node;
  };
  return {
    led: () =>
      [...(parts.node?.regions.values() ?? [])].flatMap((e) => (e.state === 'running' && e.view?.isLeader ? [{ desc: e.view.desc, applied: e.view.applied }] : [])),
    check: async (desc, limits) =>
      (await node().read({ regionId: desc.id, epoch: desc.epoch }, [], { kind: 'splitCheck', limits, readTs: 0n, bypassLocks: [] })) as { keys: number; bytes: number; split_key?: Buffer },
    split: (desc, splitKey, newId) => node().split({ regionId: desc.id, epoch: desc.epoch }, splitKey, newId),
  };
}

/** Allocated ids a split may find taken by a hosted region before it gives up (the bootstrap regions' ids). */
const MAX_REGION_ID_SKIPS = 64;

function controlPlaneChild(s: StoreSettings, ctx: RoleContext, parts: Parts) {
  return serviceChildSpec({
    id: 'control-plane',
    start: async () => {
      const port = coordinatorPort({ coordinatorAddrs: s.coordinatorAddrs, ...(s.token ? { token: s.token } : {}) });
      // New region ids come from the coordinators' ID allocator, which also hands out the ids of the bootstrap
      // regions' era (it starts at 1): an id a region here already has is skipped.
      const allocId = async (): Promise<number> => {
        for (let i = 0; i < MAX_REGION_ID_SKIPS; i++) {
          const id = await port.allocId!();
          if (!parts.node?.regions.has(id)) return id;
        }
        throw new UnavailableError(`no free region id in ${MAX_REGION_ID_SKIPS} allocations`);
      };
      const plane = new ControlPlane({
        storeId: s.storeId,
        clientAddr: s.addr,
        port,
        local: () => localView(parts.node),
        disk: () => diskOf(s.dataDir),
        clock: ctx.clock,
        prng: defaultPrng(),
        logger: ctx.logger.child({ actor: 'control-plane' }),
        execute: (h) => (parts.node ? executeHint(parts.node, h) : false),
        onSafePoint: (sp) => gc.offer(sp),
        onStores: (list) => {
          for (const st of list) parts.node?.learnStore(st.store_id, st.address);
        },
      });
      const gc = new GcDriver({ checkIntervalMs: s.gc.checkIntervalMs, node: gcNode(parts), clock: ctx.clock, logger: ctx.logger.child({ actor: 'gc' }) });
      const splitter = new AutoSplitter({
        ...s.split,
        node: splitterNode(parts),
        port: { publish: (ev) => port.publish(ev), allocId },
        clock: ctx.clock,
        logger: ctx.logger.child({ actor: 'splitter' }),
      });
      parts.plane = plane;
      parts.allocId = allocId;
      parts.splitter = splitter;
      parts.gc = gc;
      plane.start();
      splitter.start();
      gc.start();
      return {
        stop: async () => {
          await gc.stop();
          await splitter.stop();
          await plane.stop();
        },
      };
    },
  });
}

function children(s: StoreSettings, ctx: RoleContext) {
  const parts: Parts = { dataPlaneStarts: 0 };
  const log = ctx.logger;
  ctx.expvar.publish('nokv_store', expvarOf(s, parts));
  const faults = faultInjectorFromEnv(ctx.clock);
  if (faults) {
    registerFaultRoutes(ctx.expvar, faults, {
      crashRegion: (id) => parts.node?.crashRegion(id, 'fault injection') ?? false,
      killShard: (i) => parts.node?.killShard(i) ?? false,
      transferLeader: (region, to) => {
        const v = parts.node?.regions.get(region)?.view;
        return v ? parts.node!.transferLeader(region, to, v.desc.epoch.version) : false;
      },
    });
  }
  const dataPlane = serviceChildSpec({
    id: 'store-node',
    start: async (fail) => {
      parts.dataPlaneStarts++;
      const storage = openStorage({ path: s.dataDir });
      const floorTso = s.coordinatorAddrs.length > 0 ? floorTsoSource({ coordinatorAddrs: s.coordinatorAddrs, ...(s.token ? { token: s.token } : {}) }) : undefined;
      let node: StoreNode | undefined;
      try {
        node = await StoreNode.open({
          storeId: s.storeId,
          storage,
          stores: s.stores,
          actors: ctx.actors,
          workers: s.workers,
          dataDir: s.dataDir,
          ...(s.token ? { token: s.token } : {}),
          clock: ctx.clock,
          prng: defaultPrng(),
          logger: log,
          tickMs: s.tickMs,
          electionTicks: s.electionTicks,
          heartbeatTicks: s.heartbeatTicks,
          snapshotEveryEntries: s.snapshotEveryEntries,
          ...(faults ? { faults } : {}),
          ...(floorTso ? { leaderFloorTso: floorTso.next } : {}),
          onFailure: (err) => {
            parts.lastFailure = err instanceof Error ? err.message : String(err);
            fail(err);
          },
        });
        const n = node;
        const kv = storeKvService({
          node: () => parts.node,
          storeId: s.storeId,
          logger: log.child({ actor: 'grpc-front' }),
          ...(s.coordinatorAddrs.length > 0
            ? {
                allocRegionId: () => {
                  if (!parts.allocId) throw new UnavailableError('the control plane is not running yet');
                  return parts.allocId();
                },
              }
            : {}),
        });
        // Raft shares this port, so no reflection here (docs/security.md).
        const server = await startGrpcServer({ addr: s.addr, services: [kv.binding, n.transport.serviceBinding()], reflection: false, ...(s.token ? { token: s.token } : {}) });
        parts.node = n;
        log.info({ addr: server.addr, regions: [...n.regions.keys()], data: s.dataDir }, 'store serving StoreKV and raft');
        return {
          stop: async () => {
            parts.node = undefined;
            kv.endStreams();
            await server.close();
            await n.close();
            floorTso?.close();
            await storage.close();
          },
        };
      } catch (err) {
        await node?.close().catch(() => undefined);
        floorTso?.close();
        await storage.close().catch(() => undefined);
        throw err;
      }
    },
  });
  return s.coordinatorAddrs.length > 0 ? [dataPlane, controlPlaneChild(s, ctx, parts)] : [dataPlane];
}

export async function runStore(s: StoreSettings): Promise<number> {
  return runRoleProcess({ role: 'store', node: String(s.storeId), metricsAddr: s.metricsAddr, workers: s.workers, children: (ctx) => children(s, ctx) });
}

export const storeCommand: Command = {
  name: 'store',
  summary: 'run one store (multi-raft regions with MVCC and Percolator transactions)',
  flags: storeFlags,
  run: async (args) => {
    const settings = storeSettings(args);
    useTlsFlags(args.flags, `store-${settings.storeId}`);
    return runStore(settings);
  },
};
