// Owns replica repair: a pure planner that replaces the peers of a store that has been down longer than
// `storeDownMs`. For each region with a peer there it plans, in rooted truth, one peer change at a time: first a
// new peer on a live store that does not host the region (the fewest rooted peers wins), then — once the region
// has its full count of live replicas again — the removal of the dead peer. Each plan is a rooted
// `peer_addition_planned` / `peer_removal_planned` against the region's current epoch, so two coordinators (a
// deposed one still planning, the next one) can never open two changes for one region: meta-root refuses the
// second. The plan is finished (`peer_added` / `peer_removed`) when the region's leader reports the target's conf
// version, and an addition whose target store went down before raft took it is cancelled.
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
  planned_removals: number;
  finished: number;
  cancelled: number;
}

export interface RepairView {
  store_down_ms: number;
  /** Stores silent longer than store_down_ms at the last plan. */
  down_stores: number[];
  /** Rooted peer changes still open, as the last plan saw them. */
  pending_peer_changes: Array<{ region_id: number; kind: 'add' | 'remove'; store_id: number; conf_version: number }>;
  stats: RepairStats;
}

export class ReplicaRepairer {
  private readonly appending = new Map<number, number>();
  readonly stats: RepairStats = { planned_adds: 0, planned_removals: 0, finished: 0, cancelled: 0 };
  private last: Omit<RepairView, 'stats'>;

  constructor(readonly storeDownMs: number) {
    this.last = { store_down_ms: storeDownMs, down_stores: [], pending_peer_changes: [] };
  }

  /** The rooted events to append now: finishes and cancellations of open changes, then new plans. */
  plan(i: RepairInput): RootEvent[] {
    for (const [id, at] of this.appending) if (i.nowMs - at >= REPAIR_APPEND_RETRY_MS) this.appending.delete(id);
    const s = i.state;
    const down = (storeId: number) => {
      const rec = s.stores[String(storeId)];
      return !rec || rec.state === 'retired' || i.silentMs(storeId) >= i.storeDownMs;
    };
    const out: Array<[number, RootEvent]> = [];
    const pending = Object.values(s.pending_peer_changes);
    for (const p of pending) {
      if (this.appending.has(p.region_id)) continue;
      const c = i.claims.get(p.region_id);
      if (c && c.conf_version >= p.target.epoch.conf_version) {
        out.push([p.region_id, p.kind === 'add' ? events.peerAdded(p.region_id) : events.peerRemoved(p.region_id)]);
        this.stats.finished++;
      } else if (p.kind === 'add' && down(p.peer.store_id) && c && c.conf_version <= p.base.epoch.conf_version) {
        // Raft has not taken the new voter (a learner on the dead store does not count): choose again.
        out.push([p.region_id, events.peerAdditionCancelled(p.region_id)]);
        this.stats.cancelled++;
      }
    }
    let open = pending.length;
    const load = peersPerStore(s);
    for (const r of Object.values(s.regions).sort((a, b) => a.region_id - b.region_id)) {
      if (open >= MAX_PENDING_PEER_CHANGES) break;
      if (r.state !== 'running' || this.appending.has(r.region_id) || s.pending_peer_changes[String(r.region_id)]) continue;
      const dead = r.peers.filter((p) => down(p.store_id));
      if (dead.length === 0) continue;
      // The region must be led from a live store that has applied the rooted epoch: that leader carries it out.
      const c = i.claims.get(r.region_id);
      if (!c || !i.live.has(c.store_id) || down(c.store_id) || c.epoch_version !== r.epoch.version || c.conf_version !== r.epoch.conf_version) continue;
      const ev = this.next(r, dead, i, load, down);
      if (!ev) continue;
      out.push([r.region_id, ev]);
      open++;
    }
    for (const [id] of out) this.appending.set(id, i.nowMs);
    this.last = {
      store_down_ms: i.storeDownMs,
      down_stores: Object.values(s.stores).filter((st) => st.state !== 'retired' && down(st.store_id)).map((st) => st.store_id),
      pending_peer_changes: pending.map((p) => ({ region_id: p.region_id, kind: p.kind, store_id: p.peer.store_id, conf_version: p.target.epoch.conf_version })),
    };
    return out.map(([, ev]) => ev);
  }

  /** Add a replica while fewer than REPAIR_REPLICAS are live; with enough live ones, remove a dead peer. */
  private next(r: RegionDescriptor, dead: Peer[], i: RepairInput, load: Map<number, number>, down: (s: number) => boolean): RootEvent | undefined {
    if (r.peers.length - dead.length >= REPAIR_REPLICAS) {
      this.stats.planned_removals++;
      return events.peerRemovalPlanned(r.region_id, r.epoch, dead[0]!);
    }
    const target = pickTarget(r, i, load, down);
    if (target === undefined) return undefined;
    load.set(target, (load.get(target) ?? 0) + 1);
    this.stats.planned_adds++;
    return events.peerAdditionPlanned(r.region_id, r.epoch, { store_id: target, peer_id: target });
  }

  view(): RepairView {
    return { ...this.last, down_stores: [...this.last.down_stores], pending_peer_changes: [...this.last.pending_peer_changes], stats: { ...this.stats } };
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
