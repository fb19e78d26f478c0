// Owns the cluster topology: which role replicas exist and where they listen. One JSON file describes the
// 333 layout; every field has the default from the port table, so `{}` is the standard local cluster and a
// test can pass a file with other ports to run beside a demo cluster.
import { readFileSync } from 'node:fs';
import { InvalidArgumentError } from '../common/errors.js';

export interface MetaRootPeer {
  node_id: number;
  /** Client gRPC (MetadataRoot). */
  addr: string;
  /** Raft transport between meta-root peers. */
  raft_addr: string;
  metrics_addr: string;
}

export interface CoordinatorNode {
  id: string;
  addr: string;
  metrics_addr: string;
}

export interface StoreNode {
  store_id: number;
  /** KV and raft share one port. */
  addr: string;
  metrics_addr: string;
}

export interface FsmetaNode {
  addr: string;
  metrics_addr: string;
}

export interface LeaseSettings {
  ttl_ms: number;
  renew_before_ms: number;
}

/** Worker threads of a role's processes: a count, or `auto` (see workersOf in src/roles/flags.ts). */
export type WorkersSetting = number | 'auto';
export type WorkersRole = 'meta_root' | 'coordinator' | 'store' | 'fsmeta';

export interface Topology {
  meta_root: { peers: MetaRootPeer[]; tick_ms: number };
  coordinators: CoordinatorNode[];
  stores: StoreNode[];
  fsmeta: FsmetaNode[];
  lease: LeaseSettings;
  /** Where `nokv cluster up` serves the live dashboard page (port 0: a free port, reported by `cluster status`). */
  dashboard_addr: string;
  /** Per role, the worker threads of its processes when --workers is not given (absent: 0). */
  workers?: Partial<Record<WorkersRole, WorkersSetting>>;
  /** Store split thresholds when the store's flags do not set them (absent: the store's defaults). */
  split?: SplitSettings;
  /** MVCC GC when the roles' flags do not set it (absent: the defaults; docs/store.md, MVCC garbage collection). */
  gc?: GcSettings;
  /** The coordinators' scheduling when their flags do not set it (docs/coordinator.md, replica repair). */
  schedule?: ScheduleSettings;
}

/** How the active coordinator schedules replicas. */
export interface ScheduleSettings {
  /** A store silent this long has its replicas replaced on other stores. */
  store_down_ms?: number;
}

/** How long old versions stay readable (the coordinator's safe point) and how often a store collects. */
export interface GcSettings {
  /** The safe point stays this far behind now: reads and transactions older than this may be refused. */
  life_time_ms?: number;
  /** How often a store proposes a GC pass on the regions it leads whose safe point moved. */
  check_ms?: number;
}

/** When a store splits a region it leads (docs/store.md, size- and key-triggered split). */
export interface SplitSettings {
  /** Split a region holding more user keys than this. */
  keys?: number;
  /** Split a region whose estimated size is above this many bytes. */
  size_bytes?: number;
  /** How often a store checks the regions it leads. */
  check_ms?: number;
}

export const DEFAULT_HOST = '127.0.0.1';
export const DEFAULT_DASHBOARD_PORT = 9500;

export function defaultTopology(host = DEFAULT_HOST): Topology {
  const at = (port: number) => `${host}:${port}`;
  return {
    meta_root: {
      tick_ms: 50,
      peers: [1, 2, 3].map((id) => ({
        node_id: id,
        addr: at(2379 + id),
        raft_addr: at(3379 + id),
        metrics_addr: at(9379 + id),
      })),
    },
    coordinators: [1, 2, 3].map((n) => ({ id: `coord-${n}`, addr: at(2389 + n), metrics_addr: at(9099 + n) })),
    stores: [1, 2, 3].map((id) => ({ store_id: id, addr: at(20169 + id), metrics_addr: at(9199 + id) })),
    fsmeta: [{ addr: at(8090), metrics_addr: at(9400) }],
    lease: { ttl_ms: 3000, renew_before_ms: 1000 },
    dashboard_addr: at(DEFAULT_DASHBOARD_PORT),
  };
}

const ADDR = /^(\[[^\]]+\]|[^:\s]+):(\d{1,5})$/;

function fail(msg: string): never {
  throw new InvalidArgumentError(`topology: ${msg}`);
}

function checkAddr(where: string, value: unknown): string {
  if (typeof value !== 'string' || !ADDR.test(value) || Number(ADDR.exec(value)![2]) > 65535) {
    fail(`${where} must be host:port, got ${JSON.stringify(value)}`);
  }
  return value;
}

/** Validates a full topology: ids unique and positive, addresses well formed and never reused. */
export function validateTopology(t: Topology): Topology {
  const seen = new Map<string, string>();
  const claim = (where: string, addr: unknown) => {
    const a = checkAddr(where, addr);
    const port = a.slice(a.lastIndexOf(':') + 1);
    if (port !== '0') {
      const prev = seen.get(a);
      if (prev) fail(`${where} reuses ${a} (already ${prev})`);
      seen.set(a, where);
    }
  };
  if (t.meta_root.peers.length !== 3) fail(`meta_root.peers must list exactly 3 peers, got ${t.meta_root.peers.length}`);
  if (!Number.isInteger(t.meta_root.tick_ms) || t.meta_root.tick_ms < 5 || t.meta_root.tick_ms > 1000) fail('meta_root.tick_ms must be 5..1000');
  const ids = new Set<number>();
  for (const [i, p] of t.meta_root.peers.entries()) {
    if (!Number.isInteger(p.node_id) || p.node_id <= 0 || ids.has(p.node_id)) fail(`meta_root.peers[${i}].node_id must be a unique positive integer`);
    ids.add(p.node_id);
    claim(`meta_root.peers[${i}].addr`, p.addr);
    claim(`meta_root.peers[${i}].raft_addr`, p.raft_addr);
    claim(`meta_root.peers[${i}].metrics_addr`, p.metrics_addr);
  }
  const coordIds = new Set<string>();
  for (const [i, c] of t.coordinators.entries()) {
    if (typeof c.id !== 'string' || !/^[a-zA-Z0-9._-]{1,64}$/.test(c.id) || coordIds.has(c.id)) fail(`coordinators[${i}].id must be a unique name of [a-zA-Z0-9._-]`);
    coordIds.add(c.id);
    claim(`coordinators[${i}].addr`, c.addr);
    claim(`coordinators[${i}].metrics_addr`, c.metrics_addr);
  }
  const storeIds = new Set<number>();
  for (const [i, s] of t.stores.entries()) {
    if (!Number.isInteger(s.store_id) || s.store_id <= 0 || storeIds.has(s.store_id)) fail(`stores[${i}].store_id must be a unique positive integer`);
    storeIds.add(s.store_id);
    claim(`stores[${i}].addr`, s.addr);
    claim(`stores[${i}].metrics_addr`, s.metrics_addr);
  }
  for (const [i, f] of t.fsmeta.entries()) {
    claim(`fsmeta[${i}].addr`, f.addr);
    claim(`fsmeta[${i}].metrics_addr`, f.metrics_addr);
  }
  claim('dashboard_addr', t.dashboard_addr);
  if (t.split !== undefined) {
    if (t.split === null || typeof t.split !== 'object' || Array.isArray(t.split)) fail('split must be an object {keys, size_bytes, check_ms}');
    for (const [k, v] of Object.entries(t.split)) {
      if (!['keys', 'size_bytes', 'check_ms'].includes(k)) fail(`split.${k}: unknown field (keys, size_bytes, check_ms)`);
      if (!Number.isSafeInteger(v) || (v as number) < (k === 'check_ms' ? 100 : 2)) fail(`split.${k} must be an integer of at least ${k === 'check_ms' ? 100 : 2}`);
    }
  }
  if (t.gc !== undefined) {
    if (t.gc === null || typeof t.gc !== 'object' || Array.isArray(t.gc)) fail('gc must be an object {life_time_ms, check_ms}');
    for (const [k, v] of Object.entries(t.gc)) {
      if (!['life_time_ms', 'check_ms'].includes(k)) fail(`gc.${k}: unknown field (life_time_ms, check_ms)`);
      if (!Number.isSafeInteger(v) || (v as number) < 100) fail(`gc.${k} must be an integer of at least 100`);
    }
  }
  if (t.schedule !== undefined) {
    if (t.schedule === null || typeof t.schedule !== 'object' || Array.isArray(t.schedule)) fail('schedule must be an object {store_down_ms}');
    for (const [k, v] of Object.entries(t.schedule)) {
      if (k !== 'store_down_ms') fail(`schedule.${k}: unknown field (store_down_ms)`);
      if (!Number.isSafeInteger(v) || (v as number) < 100) fail(`schedule.${k} must be an integer of at least 100`);
    }
  }
  if (t.workers !== undefined) {
    if (t.workers === null || typeof t.workers !== 'object' || Array.isArray(t.workers)) fail('workers must be an object of role → count or "auto"');
    for (const [role, v] of Object.entries(t.workers)) {
      if (!['meta_root', 'coordinator', 'store', 'fsmeta'].includes(role)) fail(`workers.${role}: unknown role (meta_root, coordinator, store, fsmeta)`);
      if (v !== 'auto' && !(Number.isInteger(v) && (v as number) >= 0 && (v as number) <= 16)) fail(`workers.${role} must be 0..16 or "auto"`);
    }
  }
  const { ttl_ms, renew_before_ms } = t.lease;
  if (!Number.isInteger(ttl_ms) || ttl_ms < 200 || ttl_ms > 600_000) fail('lease.ttl_ms must be 200..600000');
  if (!Number.isInteger(renew_before_ms) || renew_before_ms <= 0 || renew_before_ms >= ttl_ms) fail('lease.renew_before_ms must be positive and below lease.ttl_ms');
  return t;
}

/** Merges a partial topology (as read from JSON) over the defaults, then validates it. */
export function resolveTopology(partial: unknown): Topology {
  if (partial === null || typeof partial !== 'object' || Array.isArray(partial)) fail('the file must hold a JSON object');
  const p = partial as Record<string, any>;
  const known = new Set(['meta_root', 'coordinators', 'stores', 'fsmeta', 'lease', 'dashboard_addr', 'workers', 'split', 'gc', 'schedule']);
  for (const k of Object.keys(p)) if (!known.has(k)) fail(`unknown field "${k}"`);
  const d = defaultTopology();
  const t: Topology = {
    meta_root: { tick_ms: p.meta_root?.tick_ms ?? d.meta_root.tick_ms, peers: p.meta_root?.peers ?? d.meta_root.peers },
    coordinators: p.coordinators ?? d.coordinators,
    stores: p.stores ?? d.stores,
    fsmeta: p.fsmeta ?? d.fsmeta,
    lease: { ...d.lease, ...(p.lease ?? {}) },
    dashboard_addr: p.dashboard_addr ?? d.dashboard_addr,
    ...(p.workers !== undefined ? { workers: p.workers } : {}),
    ...(p.split !== undefined ? { split: p.split } : {}),
    ...(p.gc !== undefined ? { gc: p.gc } : {}),
    ...(p.schedule !== undefined ? { schedule: p.schedule } : {}),
  };
  for (const list of ['coordinators', 'stores', 'fsmeta'] as const) if (!Array.isArray(t[list])) fail(`${list} must be an array`);
  if (!Array.isArray(t.meta_root.peers)) fail('meta_root.peers must be an array');
  return validateTopology(t);
}

export function loadTopology(file: string | undefined): Topology {
  if (!file) return validateTopology(defaultTopology());
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new InvalidArgumentError(`cannot read topology file ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new InvalidArgumentError(`topology file ${file} is not valid JSON: ${(e as Error).message}`);
  }
  return resolveTopology(json);
}

/** A topology whose every port is consecutive from base (tests run clusters side by side this way). */
export function topologyOnPorts(ports: number[], host = DEFAULT_HOST): Topology {
  const need = 3 * 3 + 3 * 2 + 3 * 2 + 2;
  if (ports.length < need) throw new Error(`topologyOnPorts needs ${need} ports, got ${ports.length}`);
  let i = 0;
  const next = () => `${host}:${ports[i++]}`;
  return validateTopology({
    meta_root: { tick_ms: 50, peers: [1, 2, 3].map((id) => ({ node_id: id, addr: next(), raft_addr: next(), metrics_addr: next() })) },
    coordinators: [1, 2, 3].map((n) => ({ id: `coord-${n}`, addr: next(), metrics_addr: next() })),
    stores: [1, 2, 3].map((id) => ({ store_id: id, addr: next(), metrics_addr: next() })),
    fsmeta: [{ addr: next(), metrics_addr: next() }],
    lease: { ttl_ms: 3000, renew_before_ms: 1000 },
    // Side-by-side clusters must not race for one fixed port: the kernel picks it.
    dashboard_addr: `${host}:0`,
  });
}
