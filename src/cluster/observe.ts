// Owns reading the cluster's state from what each role publishes on /debug/vars: a per-role summary, the
// cluster view built from them (raft leaders and terms, lease holder and era, regions), and — as a pure
// function of two views — the human lines for what changed (a new raft leader with its term, a new lease
// holder with its era, handover phases, a process up or down). The manager samples every role each
// OBSERVE_INTERVAL_MS, logs those lines, and serves the view to `cluster up`'s table and the dashboard.
import type { RoleKind, RoleProcess } from './layout.js';

export const OBSERVE_INTERVAL_MS = 1_000;
/** A role that does not answer /debug/vars within this is counted as down for this sample. */
export const SAMPLE_TIMEOUT_MS = 800;

export interface RoleSample {
  name: string;
  role: RoleKind;
  up: boolean;
  pid?: number;
  /** One line for the ROLE STATE column. */
  state: string;
  metaRoot?: { isLeader: boolean; term: number; leaderId: number; commit: number; holder: string; era: number; handover: string };
  coordinator?: {
    id: string;
    active: boolean;
    holder: string;
    era: number;
    pendingTransfers: number;
    /** Replica repair: rooted peer changes still open, and the stores it counts as down (as of its last plan). */
    pendingPeerChanges: Array<{ region_id: number; kind: string; store_id: number }>;
    downStores: number[];
  };
  store?: { storeId: number; regions: Array<{ id: number; role: string; term: number }> };
  fsmeta?: { ops: number };
  /** Calls served so far (all gRPC methods), for request rates. */
  calls: number;
}

export interface ClusterView {
  atMs: number;
  roles: RoleSample[];
  metaLeader?: { name: string; term: number };
  lease?: { holder: string; era: number; handover: string };
  regions: Array<{ id: number; leader?: string; term: number }>;
  /** Store name → regions it leads (every store sampled, zero included). */
  leadersPerStore: Array<{ store: string; leaders: number }>;
  /** Leader transfers the active coordinator has in flight (undefined: no active coordinator sampled). */
  pendingTransfers?: number;
  /** Store name → regions it hosts (every store sampled). */
  regionsPerStore: Array<{ store: string; regions: number }>;
  /** Replica repair's open peer changes and down stores, from the active coordinator (undefined: none sampled). */
  repair?: { pending: Array<{ region_id: number; kind: string; store_id: number }>; down: number[] };
}

type Vars = Record<string, any>;

/** What one role's /debug/vars says, in the terms the cluster view needs. */
export function summarise(p: Pick<RoleProcess, 'name' | 'role'>, vars: Vars | undefined): RoleSample {
  const s: RoleSample = { name: p.name, role: p.role, up: vars !== undefined, state: vars ? '' : 'unreachable', calls: 0 };
  if (!vars) return s;
  if (typeof vars.pid === 'number') s.pid = vars.pid;
  s.calls = Number(vars.nokv_rpc?.calls ?? 0);
  const m = vars.nokv_meta_root;
  if (m) {
    s.metaRoot = {
      isLeader: Boolean(m.is_leader),
      term: Number(m.term),
      leaderId: Number(m.leader_id),
      commit: Number(m.commit_index),
      holder: String(m.tenure?.holder_id ?? ''),
      era: Number(m.tenure?.era ?? 0),
      handover: String(m.handover_stage ?? 'none'),
    };
    // A replica whose raft group is down (failed, or restarting) says so: never a silent zombie.
    const raft = m.raft_group === undefined || m.raft_group === 'running' ? (m.is_leader ? 'leader' : 'follower') : `raft=${m.raft_group}`;
    s.state = `${raft} term=${m.term ?? '-'} leader=${m.leader_id ?? '-'} commit=${m.commit_index ?? '-'}${raftRestarts(m.raft_restarts)}`;
  }
  const c = vars.nokv_coordinator;
  if (c?.lease) {
    const pendingTransfers = Array.isArray(c.scheduler?.pending_transfers) ? c.scheduler.pending_transfers.length : 0;
    const repair = c.scheduler?.repair;
    const pendingPeerChanges = Array.isArray(repair?.pending_peer_changes)
      ? repair.pending_peer_changes.map((p: Vars) => ({ region_id: Number(p.region_id), kind: String(p.kind), store_id: Number(p.store_id) }))
      : [];
    const downStores = Array.isArray(repair?.down_stores) ? repair.down_stores.map(Number) : [];
    s.coordinator = { id: String(c.coordinator_id), active: Boolean(c.lease.held_by_self), holder: String(c.lease.holder_id ?? ''), era: Number(c.lease.era), pendingTransfers, pendingPeerChanges, downStores };
    // The active coordinator schedules: it names the leader transfers and peer changes it has in flight.
    const scheduling = ` transfers=${pendingTransfers}${pendingPeerChanges.length > 0 ? ` peer-changes=${pendingPeerChanges.length}` : ''}${downStores.length > 0 ? ` down-stores=[${downStores.join(',')}]` : ''}`;
    s.state = `${c.lease.held_by_self ? 'ACTIVE' : 'standby'} holder=${c.lease.holder_id || '-'} era=${c.lease.era}${c.lease.held_by_self ? `${scheduling}${gcOf(c.gc)}` : ''}`;
  }
  const st = vars.nokv_store;
  if (Array.isArray(st?.regions)) {
    const regions = st.regions.map((r: Vars) => ({ id: Number(r.id), role: String(r.role), term: Number(r.term) }));
    s.store = { storeId: Number(st.store_id), regions };
    // A region whose actor is not running (restarting, or down for good) is named, never silently counted.
    const down = st.regions.filter((r: Vars) => r.state !== undefined && r.state !== 'running').map((r: Vars) => `${r.id}:${r.state}`);
    const regionRestarts = st.regions.reduce((n: number, r: Vars) => n + (typeof r.restarts === 'number' ? r.restarts : 0), 0);
    s.state = `regions=${regions.length} leading=[${regions.filter((r: { role: string }) => r.role === 'leader').map((r: { id: number }) => r.id).join(',')}]${down.length > 0 ? ` DOWN=[${down.join(',')}]` : ''}${regionRestarts > 0 ? ` region-restarts=${regionRestarts}` : ''}${raftRestarts(st.data_plane_restarts)}${gcRemoved(st.percolator)}`;
  }
  const f = vars.nokv_fsmeta_executor;
  if (f?.backend) {
    const ops = Object.values((f.ops ?? {}) as Record<string, { calls: number }>).reduce((n, o) => n + o.calls, 0);
    s.fsmeta = { ops };
    s.state = `backend=${f.backend} ops=${ops} commits=${f.commits} conflicts=${f.conflicts} watches=${vars.nokv_fsmeta_watch?.subscriptions ?? 0}`;
  }
  return s;
}

/** The active coordinator's MVCC GC safe point: what holds it (lifetime, snapshot, lock) and how far behind its TSO time it is. */
function gcOf(gc: Vars | undefined | null): string {
  if (!gc) return '';
  if (Array.isArray(gc.waiting_for) && gc.waiting_for.length > 0) return ` gc=waiting-for-stores:${gc.waiting_for.join(',')}`;
  const sp = BigInt(gc.safe_point ?? '0');
  if (sp === 0n) return ' gc=none';
  // TSO timestamps are physical_ms << 18 | logical: the safe point's wall time, against when it was advanced.
  const behindMs = Number(gc.advanced_ms ?? 0) - Number(sp >> 18n);
  return ` gc=${gc.held_by}:${(behindMs / 1000).toFixed(1)}s`;
}

/** Versions a store's MVCC GC passes removed so far (every replica it hosts). */
function gcRemoved(p: Vars | undefined): string {
  const n = Number(p?.gc_writes_removed ?? 0);
  return n > 0 ? ` gc-removed=${n}` : '';
}

/** In-process restarts of a role's raft part (the RESTARTS column counts process restarts). */
function raftRestarts(n: unknown): string {
  return typeof n === 'number' && n > 0 ? ` raft-restarts=${n}` : '';
}

/** The cluster as the samples show it: the leader with the highest term, rooted tenure, each region's leader. */
export function clusterView(atMs: number, roles: RoleSample[]): ClusterView {
  const view: ClusterView = { atMs, roles, regions: [], leadersPerStore: [], regionsPerStore: [] };
  let best: RoleSample | undefined;
  for (const r of roles) if (r.metaRoot?.isLeader && (!best || r.metaRoot.term > best.metaRoot!.term)) best = r;
  if (best) {
    view.metaLeader = { name: best.name, term: best.metaRoot!.term };
    view.lease = { holder: best.metaRoot!.holder, era: best.metaRoot!.era, handover: best.metaRoot!.handover };
  } else {
    // No root leader to ask: what the coordinators last saw.
    const c = roles.filter((r) => r.coordinator).sort((a, b) => b.coordinator!.era - a.coordinator!.era)[0];
    if (c) view.lease = { holder: c.coordinator!.holder, era: c.coordinator!.era, handover: 'none' };
  }
  const regions = new Map<number, { id: number; leader?: string; term: number }>();
  for (const r of roles) {
    for (const g of r.store?.regions ?? []) {
      const cur = regions.get(g.id) ?? { id: g.id, term: 0 };
      if (g.term >= cur.term) cur.term = g.term;
      if (g.role === 'leader' && g.term >= cur.term) cur.leader = r.name;
      regions.set(g.id, cur);
    }
  }
  view.regions = [...regions.values()].sort((a, b) => a.id - b.id);
  view.leadersPerStore = roles.filter((r) => r.role === 'store' && r.store).map((r) => ({ store: r.name, leaders: view.regions.filter((g) => g.leader === r.name).length }));
  view.regionsPerStore = roles.filter((r) => r.role === 'store' && r.store).map((r) => ({ store: r.name, regions: r.store!.regions.length }));
  const active = roles.find((r) => r.coordinator?.active);
  if (active) {
    view.pendingTransfers = active.coordinator!.pendingTransfers;
    view.repair = { pending: active.coordinator!.pendingPeerChanges, down: active.coordinator!.downStores };
  }
  return view;
}

/** One human line per role-state change between two views (empty when nothing changed). */
export function stateChanges(prev: ClusterView | undefined, next: ClusterView): string[] {
  const out: string[] = [];
  const before = new Map(prev?.roles.map((r) => [r.name, r]));
  for (const r of next.roles) {
    const b = before.get(r.name);
    if (b && b.up !== r.up) out.push(r.up ? `${r.name} is up${r.pid ? ` (pid ${r.pid})` : ''}` : `${r.name} is down (not answering)`);
  }
  const ml = next.metaLeader;
  const pl = prev?.metaLeader;
  if (ml && (ml.name !== pl?.name || ml.term !== pl?.term)) out.push(`meta-root raft leader: ${ml.name} (term ${ml.term})`);
  if (!ml && pl) out.push(`meta-root has no raft leader (was ${pl.name}, term ${pl.term})`);
  const l = next.lease;
  const pv = prev?.lease;
  if (l && (l.holder !== pv?.holder || l.era !== pv?.era)) {
    if (l.holder) out.push(`coordinator lease: ${l.holder} holds era ${l.era}${pv?.holder ? ` (was ${pv.holder} era ${pv.era})` : ''}`);
    else if (pv?.holder) out.push(`coordinator lease: released by ${pv.holder} (era ${pv.era})`);
  }
  if (l && pv && l.handover !== pv.handover) out.push(`handover: ${l.handover === 'none' ? 'finished' : l.handover}`);
  const regionsBefore = new Map(prev?.regions.map((g) => [g.id, g]));
  for (const g of next.regions) {
    const b = regionsBefore.get(g.id);
    if (g.leader && (g.leader !== b?.leader || g.term !== b?.term)) out.push(`region ${g.id} raft leader: ${g.leader} (term ${g.term})`);
  }
  return out;
}

async function fetchVars(addr: string): Promise<Vars | undefined> {
  try {
    const res = await fetch(`http://${addr}/debug/vars`, { signal: AbortSignal.timeout(SAMPLE_TIMEOUT_MS) });
    return res.ok ? ((await res.json()) as Vars) : undefined;
  } catch {
    return undefined;
  }
}

/** Samples every role once, in parallel. */
export async function sampleCluster(layout: RoleProcess[], nowMs: number): Promise<ClusterView> {
  const roles = await Promise.all(layout.map(async (p) => summarise(p, await fetchVars(p.metricsAddr))));
  return clusterView(nowMs, roles);
}
