// Owns replica repair: a pure planner that replaces the peers of a store that has been down longer than
// `storeDownMs`, or that is draining (rooted `store_draining`: live, but to be emptied before it is retired). For each region with a peer there it plans, in rooted truth, one peer change at a time: first a
// new peer on a live store that does not host the region (the fewest rooted peers wins), then — once the region
// has its full count of live replicas again — the removal of the dead peer. Each plan is a rooted
// `peer_addition_planned` / `peer_removal_planned` against the region's current epoch, so two coordinators (a
// deposed one still planning, the next one) can never open two changes for one region: meta-root refuses the
// second. The plan is finished (`peer_added` / `peer_removed`) when the region's leader reports the target's conf
// version, and an addition whose target store went down before raft took it is cancelled. Once no region needs
// repair, the same two steps move replicas (MAX_CONCURRENT_MOVES at a time) from the live store with the most
// rooted peers to the one with the fewest (a store added to a running cluster fills up this way).
//
// What carries a plan out lives in rooted state, not here: hintsFor() derives the heartbeat hints from the
// pending changes every time, so a coordinator that takes over mid-change simply continues it. The only memory
// kept is which regions this coordinator has just written an event for (so three heartbeats a second do not
// append it three times); losing it costs one refused duplicate.
//
// No clock, no I/O: the catalog actor feeds it the rooted state, the leader claims, liveness and `nowMs`.
import { events, keyBytes, type Peer, type RegionDescriptor, type RootEvent, type RootState } from '../metaroot/state/index.js';

/** A store silent this long is replaced (TiKV's max-store-down-time default); tests set it small. */
export const DEFAULT_STORE_DOWN_MS = 30 * 60_000;
/** Replicas a region is repaired back to. */
export const REPAIR_REPLICAS = 3;
/** Most peer changes open at once over the cluster (each new peer is a snapshot install). */
export const MAX_PENDING_PEER_CHANGES = 8;
/** Replica moves (balance, not repair) open at once: each is a snapshot install and two membership changes. */
export const MAX_CONCURRENT_MOVES = 2;
/**
 * An open change raft has not taken (the leader's conf version is still the base's) for this long, as this
 * coordinator saw it, is cancelled and planned again: a learner installing a big snapshot stays a learner, and
 * the next plan, if it picks the same store, promotes it once caught up.
 */
export const PEER_CHANGE_TIMEOUT_MS = 10 * 60_000;
/** An event this coordinator appended for a region is not appended again for this long. */
export const REPAIR_APPEND_RETRY_MS = 3_000;

/** A region leader's freshest claim, as the store registry keeps it. */
export interface RepairClaim {
  store_id: number;
  term: number;
  epoch_version: number;
  conf_version: number;
}

export interface RepairInput {
  state: RootState;
  /** Region id → its freshest leader claim. */
  claims: ReadonlyMap<number, RepairClaim>;
  /** Stores heartbeating recently (a region leader must be one of them for a change to be planned). */
  live: ReadonlySet<number>;
  /** How long a store has been silent: since its last heartbeat, or since this coordinator started listening. */
  silentMs: (storeId: number) => number;
  storeDownMs: number;
  nowMs: number;
}

/** One peer operation for the store a heartbeat came from. */
export type PeerHint =
  /** To the region leader: bring `store_id` in (as a learner, then a voter once it caught up). */
  | { kind: 'add_peer'; region_id: number; epoch_version: number; conf_version: number; store_id: number }
  /** To the region leader: take `store_id` out of the region. */
  | { kind: 'remove_peer'; region_id: number; epoch_version: number; conf_version: number; store_id: number }
  /** To the target store: host an empty replica of the region that waits for the leader's snapshot. */
  | { kind: 'create_peer'; region_id: number; epoch_version: number; conf_version: number; start_key: Uint8Array; end_key: Uint8Array; peers: number[] };

export interface RepairStats {
  planned_adds: number;
  /** Additions that move a replica to a store with fewer (balance), a subset of planned_adds. */
  moves: number;
  planned_removals: number;
  finished: number;
  cancelled: number;
}

export interface RepairView {
  store_down_ms: number;
  /** Stores silent longer than store_down_ms at the last plan. */
  down_stores: number[];
  /** Stores being drained, with the rooted peers they still hold. */
  draining_stores: Array<{ store_id: number; peers: number }>;
  /** Rooted peer changes still open, as the last plan saw them. */
  pending_peer_changes: Array<{ region_id: number; kind: 'add' | 'remove'; store_id: number; conf_version: number }>;
  stats: RepairStats;
}

export class ReplicaRepairer {
  private readonly appending = new Map<number, number>();
  /** When this coordinator first saw each open change (its plan's age, as far as this coordinator can tell). */
  private readonly firstSeen = new Map<string, number>();
  readonly stats: RepairStats = { planned_adds: 0, moves: 0, planned_removals: 0, finished: 0, cancelled: 0 };
  private last: Omit<RepairView, 'stats'>;

  constructor(readonly storeDownMs: number) {
    this.last = { store_down_ms: storeDownMs, down_stores: [], draining_stores: [], pending_peer_changes: [] };
  }

  /** The rooted events to append now: finishes and cancellations of open changes, then new plans. */
  plan(i: RepairInput): RootEvent[] {
    for (const [id, at] of this.appending) if (i.nowMs - at >= REPAIR_APPEND_RETRY_MS) this.appending.delete(id);
    const s = i.state;
    const down = (storeId: number) => {
      const rec = s.stores[String(storeId)];
      return !rec || rec.state === 'retired' || i.silentMs(storeId) >= i.storeDownMs;
    };
    // Peers on a leaving store are replaced: a down one, or a draining one (live, but being emptied).
    const leaving = (storeId: number) => s.stores[String(storeId)]?.state === 'draining' || down(storeId);
    const out: Array<[number, RootEvent]> = [];
    const pending = Object.values(s.pending_peer_changes);
    const open = new Set(pending.map((p) => `${p.region_id}/${p.kind}/${p.peer.store_id}/${p.target.epoch.conf_version}`));
    for (const k of this.firstSeen.keys()) if (!open.has(k)) this.firstSeen.delete(k);
    for (const p of pending) {
      const key = `${p.region_id}/${p.kind}/${p.peer.store_id}/${p.target.epoch.conf_version}`;
      if (!this.firstSeen.has(key)) this.firstSeen.set(key, i.nowMs);
      if (this.appending.has(p.region_id)) continue;
      const c = i.claims.get(p.region_id);
      const stale = i.nowMs - this.firstSeen.get(key)! >= PEER_CHANGE_TIMEOUT_MS;
      if (c && c.conf_version >= p.target.epoch.conf_version) {
        out.push([p.region_id, p.kind === 'add' ? events.peerAdded(p.region_id) : events.peerRemoved(p.region_id)]);
        this.stats.finished++;
      } else if (c && c.conf_version <= p.base.epoch.conf_version && ((p.kind === 'add' && leaving(p.peer.store_id)) || c.epoch_version > p.base.epoch.version || stale)) {
        // Raft has not taken the change, and it cannot be carried out as planned: the new peer's store died (a
        // learner there does not count), the region split under the plan (its leader ignores a hint for an older
        // epoch version, and its split waits to be published until the change is settled), or nothing came of it
        // for PEER_CHANGE_TIMEOUT_MS (an open change holds its region and all balancing back). Choose again.
        out.push([p.region_id, p.kind === 'add' ? events.peerAdditionCancelled(p.region_id) : events.peerRemovalCancelled(p.region_id)]);
        this.stats.cancelled++;
      }
    }
    let openCount = pending.length;
    const load = peersPerStore(s);
    let unhealthy = false;
    for (const r of Object.values(s.regions).sort((a, b) => a.region_id - b.region_id)) {
      // Down peers go first: a draining one still serves.
      const dead = r.peers.filter((p) => leaving(p.store_id)).sort((a, b) => Number(down(b.store_id)) - Number(down(a.store_id)));
      if (dead.length === 0 && r.peers.length <= REPAIR_REPLICAS) continue;
      unhealthy = true;
      if (openCount >= MAX_PENDING_PEER_CHANGES) break;
      if (r.state !== 'running' || this.appending.has(r.region_id) || s.pending_peer_changes[String(r.region_id)]) continue;
      const c = this.settledLeader(r, i, down);
      if (!c) continue;
      const ev = this.next(r, dead, c.store_id, i, load, down);
      if (!ev) continue;
      out.push([r.region_id, ev]);
      openCount++;
    }
    // Balance only a healthy cluster (every joined store heartbeating or given up as down, no region to repair),
    // MAX_CONCURRENT_MOVES at a time: a store that joined later gets its share of replicas.
    const allLive = Object.values(s.stores).every((st) => st.state === 'retired' || i.live.has(st.store_id) || down(st.store_id));
    if (!unhealthy && allLive && out.length === 0) {
      for (let moves = openCount; moves < MAX_CONCURRENT_MOVES; moves++) {
        const move = this.rebalance(i, load, down);
        if (!move) break;
        out.push(move);
        this.appending.set(move[0], i.nowMs);
      }
    }
    for (const [id] of out) this.appending.set(id, i.nowMs);
    this.last = {
      store_down_ms: i.storeDownMs,
      down_stores: Object.values(s.stores).filter((st) => st.state !== 'retired' && down(st.store_id)).map((st) => st.store_id),
      draining_stores: Object.values(s.stores).filter((st) => st.state === 'draining').map((st) => ({ store_id: st.store_id, peers: load.get(st.store_id) ?? 0 })),
      pending_peer_changes: pending.map((p) => ({ region_id: p.region_id, kind: p.kind, store_id: p.peer.store_id, conf_version: p.target.epoch.conf_version })),
    };
    return out.map(([, ev]) => ev);
  }

  /** The region's leader claim when it is on a live store at the rooted epoch: that leader carries a change out. */
  private settledLeader(r: RegionDescriptor, i: RepairInput, down: (s: number) => boolean): RepairClaim | undefined {
    const c = i.claims.get(r.region_id);
    if (!c || !i.live.has(c.store_id) || down(c.store_id) || c.epoch_version !== r.epoch.version || c.conf_version !== r.epoch.conf_version) return undefined;
    return c;
  }

  /**
   * Add a replica while fewer than REPAIR_REPLICAS are live; with enough live ones, remove a dead peer, else (a
   * region with one replica too many, after a move) the peer on the store holding the most, not the leader's if
   * another will do.
   */
  private next(r: RegionDescriptor, dead: Peer[], leader: number, i: RepairInput, load: Map<number, number>, down: (s: number) => boolean): RootEvent | undefined {
    if (r.peers.length - dead.length >= REPAIR_REPLICAS) {
      const victim =
        dead[0] ??
        [...r.peers].sort((a, b) => Number(a.store_id === leader) - Number(b.store_id === leader) || (load.get(b.store_id) ?? 0) - (load.get(a.store_id) ?? 0) || b.store_id - a.store_id)[0]!;
      load.set(victim.store_id, (load.get(victim.store_id) ?? 0) - 1);
      this.stats.planned_removals++;
      return events.peerRemovalPlanned(r.region_id, r.epoch, victim);
    }
    const target = pickTarget(r, i, load, down);
    if (target === undefined) return undefined;
    load.set(target, (load.get(target) ?? 0) + 1);
    this.stats.planned_adds++;
    return events.peerAdditionPlanned(r.region_id, r.epoch, { store_id: target, peer_id: target });
  }

  /**
   * One replica move when the live stores' rooted peer counts differ by more than one: a peer for a region on the
   * most loaded store is added on the least loaded one (the region then has one too many, and next() removes the
   * one on the most loaded store). Regions led from the source store are moved last (removing the leader's own
   * peer costs a leader transfer first).
   */
  private rebalance(i: RepairInput, load: Map<number, number>, down: (s: number) => boolean): [number, RootEvent] | undefined {
    const stores = Object.values(i.state.stores)
      .filter((st) => st.state === 'joined' && i.live.has(st.store_id) && !down(st.store_id))
      .map((st) => st.store_id)
      .sort((a, b) => (load.get(a) ?? 0) - (load.get(b) ?? 0) || a - b);
    if (stores.length < 2) return undefined;
    const dst = stores[0]!;
    const src = stores[stores.length - 1]!;
    if ((load.get(src) ?? 0) - (load.get(dst) ?? 0) <= 1) return undefined;
    const candidates = Object.values(i.state.regions)
      .filter((r) => r.state === 'running' && !this.appending.has(r.region_id) && r.peers.some((p) => p.store_id === src) && !r.peers.some((p) => p.store_id === dst))
      .map((r) => ({ r, c: this.settledLeader(r, i, down) }))
      .filter((x): x is { r: RegionDescriptor; c: RepairClaim } => x.c !== undefined)
      .sort((a, b) => Number(a.c.store_id === src) - Number(b.c.store_id === src) || a.r.region_id - b.r.region_id);
    const pick = candidates[0];
    if (!pick) return undefined;
    load.set(dst, (load.get(dst) ?? 0) + 1);
    this.stats.planned_adds++;
    this.stats.moves++;
    return [pick.r.region_id, events.peerAdditionPlanned(pick.r.region_id, pick.r.epoch, { store_id: dst, peer_id: dst })];
  }

  view(): RepairView {
    return {
      ...this.last,
      down_stores: [...this.last.down_stores],
      draining_stores: this.last.draining_stores.map((d) => ({ ...d })),
      pending_peer_changes: [...this.last.pending_peer_changes],
      stats: { ...this.stats },
    };
  }
}

/** The live store without a peer of `r` that holds the fewest rooted peers (ties: the lowest id). */
export function pickTarget(r: RegionDescriptor, i: Pick<RepairInput, 'state' | 'live'>, load: ReadonlyMap<number, number>, down: (s: number) => boolean): number | undefined {
  const hosts = new Set(r.peers.map((p) => p.store_id));
  const candidates = Object.values(i.state.stores)
    .filter((st) => st.state === 'joined' && i.live.has(st.store_id) && !hosts.has(st.store_id) && !down(st.store_id))
    .map((st) => st.store_id)
    .sort((a, b) => (load.get(a) ?? 0) - (load.get(b) ?? 0) || a - b);
  return candidates[0];
}

/** Rooted peers per store (targets of open changes included). */
export function peersPerStore(s: RootState): Map<number, number> {
  const out = new Map<number, number>();
  for (const r of Object.values(s.regions)) for (const p of r.peers) out.set(p.store_id, (out.get(p.store_id) ?? 0) + 1);
  return out;
}

/**
 * The peer operations `storeId` should run for the open rooted changes: the region leader gets add/remove, the
 * store a peer is being added on gets create_peer (the region's range and voters before the change).
 */
export function peerHintsFor(storeId: number, s: RootState, claims: ReadonlyMap<number, RepairClaim>): PeerHint[] {
  const out: PeerHint[] = [];
  for (const p of Object.values(s.pending_peer_changes)) {
    const base = { region_id: p.region_id, epoch_version: p.base.epoch.version, conf_version: p.base.epoch.conf_version };
    if (claims.get(p.region_id)?.store_id === storeId) {
      out.push({ ...base, kind: p.kind === 'add' ? 'add_peer' : 'remove_peer', store_id: p.peer.store_id });
    }
    if (p.kind === 'add' && p.peer.store_id === storeId) {
      out.push({
        ...base,
        kind: 'create_peer',
        start_key: keyBytes(p.base.start_key),
        end_key: keyBytes(p.base.end_key),
        peers: p.base.peers.map((q) => q.store_id),
      });
    }
  }
  return out;
}
