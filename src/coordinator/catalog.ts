// Owns the coordinator's catalog answers: routing by key and the store, mount and quota listings, read from
// the rooted view, plus the runtime store registry that heartbeats fill (not rooted: rebuilt by the next
// heartbeats after a restart or failover).
import { FailedPreconditionError, NotFoundError } from './errors.js';
import type { StoreLocks } from './gc-safe-point.js';
import {
  hexKey,
  listMounts,
  listQuotaFences,
  listStores,
  regionByKey,
  type MountRecord,
  type QuotaFence,
  type RegionDescriptor,
  type RootState,
  type StoreRecord,
} from '../metaroot/state/index.js';

/** A store whose last heartbeat is older than this is reported DOWN. */
export const STORE_DOWN_AFTER_MS = 10_000;
/** Most stores the runtime registry tracks (bounds memory against a misbehaving caller). */
export const MAX_TRACKED_STORES = 4_096;

/** One region a store says it leads, with the raft term that makes claims comparable. */
export interface LeaderClaim {
  region_id: number;
  term: number;
  epoch_version: number;
  conf_version: number;
}

export interface StoreHeartbeat {
  store_id: number;
  client_addr: string;
  region_count: number;
  leader_count: number;
  capacity_bytes: number;
  available_bytes: number;
  leader_region_ids: number[];
  /** When empty, `leader_region_ids` count as claims at term 0 (heartbeats of older stores). */
  leader_claims?: LeaderClaim[];
  /** The oldest start ts of the locks the store holds; 0n or absent: none. */
  oldest_lock_ts?: bigint;
}

/** The leader a region is routed to: the freshest claim, with the claimant's client address. */
export interface RegionLeader {
  store_id: number;
  addr: string;
  term: number;
}

export interface StoreInfo {
  store_id: number;
  address: string;
  state: 'UP' | 'DOWN' | 'UNKNOWN' | 'OFFLINE' | 'TOMBSTONE';
  last_heartbeat_unix_ms: number;
  region_count: number;
  leader_count: number;
  capacity_bytes: number;
  available_bytes: number;
}

export class StoreRegistry {
  private readonly beats = new Map<number, { hb: StoreHeartbeat; atMs: number }>();
  /** When this registry heard its first heartbeat: a store never heard from has been silent since then. */
  private listeningSinceMs: number | undefined;
  /** Region id → the claim with the highest term (ties: the latest heartbeat). */
  private readonly leaders = new Map<number, LeaderClaim & { store_id: number }>();

  heartbeat(state: RootState, hb: StoreHeartbeat, nowMs: number): void {
    const rec = state.stores[String(hb.store_id)];
    if (!rec) throw new FailedPreconditionError(`store ${hb.store_id} has not joined the cluster`, { store_id: hb.store_id });
    if (rec.state === 'retired') throw new FailedPreconditionError(`store ${hb.store_id} is retired`, { store_id: hb.store_id });
    if (!this.beats.has(hb.store_id) && this.beats.size >= MAX_TRACKED_STORES) {
      throw new FailedPreconditionError(`more than ${MAX_TRACKED_STORES} stores`);
    }
    this.beats.set(hb.store_id, { hb, atMs: nowMs });
    this.listeningSinceMs ??= nowMs;
    const claims = hb.leader_claims?.length
      ? hb.leader_claims
      : hb.leader_region_ids.map((region_id) => ({ region_id, term: 0, epoch_version: 0, conf_version: 0 }));
    const claimed = new Set(claims.map((c) => c.region_id));
    // A store that stopped claiming a region (it stepped down) withdraws its old claim.
    for (const [region, c] of this.leaders) if (c.store_id === hb.store_id && !claimed.has(region)) this.leaders.delete(region);
    for (const c of claims) {
      const cur = this.leaders.get(c.region_id);
      if (!cur || c.term >= cur.term) this.leaders.set(c.region_id, { ...c, store_id: hb.store_id });
    }
  }

  /** Store id of the region's freshest leader claim; 0 when none. */
  leaderOf(regionId: number): number {
    return this.leaders.get(regionId)?.store_id ?? 0;
  }

  /** The freshest claim with the claimant's client address (heartbeat, else rooted), or null. */
  leaderFor(state: RootState, regionId: number): RegionLeader | null {
    const c = this.leaders.get(regionId);
    if (!c) return null;
    const addr = this.beats.get(c.store_id)?.hb.client_addr || state.stores[String(c.store_id)]?.address || '';
    return { store_id: c.store_id, addr, term: c.term };
  }

  /** Region id → its freshest leader claim (the scheduler's input). */
  claims(): ReadonlyMap<number, { store_id: number; term: number }> {
    return this.leaders;
  }

  /** Region id → its freshest leader claim with the epoch it was made at (replica repair's input). */
  leaderClaims(): ReadonlyMap<number, LeaderClaim & { store_id: number }> {
    return this.leaders;
  }

  /**
   * How long `storeId` has been silent: since its last heartbeat here, else since this registry heard its first
   * heartbeat from anyone (a coordinator that just started or took over does not call a store it never heard
   * from dead at once; it waits the full down time too). 0 before any heartbeat.
   */
  silentMs(storeId: number, nowMs: number): number {
    const at = this.beats.get(storeId)?.atMs ?? this.listeningSinceMs ?? nowMs;
    return Math.max(0, nowMs - at);
  }

  /** Every joined, not retired store: whether it reported to this coordinator, and its oldest lock (GC input). */
  locks(state: RootState): StoreLocks[] {
    return listStores(state, { includeRetired: false }).map((rec) => {
      const hb = this.beats.get(rec.store_id)?.hb;
      const oldest = hb?.oldest_lock_ts ?? 0n;
      return { store_id: rec.store_id, reported: hb !== undefined, ...(oldest > 0n ? { oldestLockTs: oldest } : {}) };
    });
  }

  /** Joined, not retired stores whose last heartbeat is at most `withinMs` old. */
  live(state: RootState, nowMs: number, withinMs: number): Set<number> {
    const out = new Set<number>();
    for (const [id, b] of this.beats) {
      const rec = state.stores[String(id)];
      if (rec && rec.state !== 'retired' && nowMs - b.atMs <= withinMs) out.add(id);
    }
    return out;
  }

  info(rec: StoreRecord, nowMs: number): StoreInfo {
    const b = this.beats.get(rec.store_id);
    const beating = !b ? 'UNKNOWN' : nowMs - b.atMs > STORE_DOWN_AFTER_MS ? 'DOWN' : rec.state === 'draining' ? 'OFFLINE' : 'UP';
    const state = rec.state === 'retired' ? 'TOMBSTONE' : beating;
    return {
      store_id: rec.store_id,
      address: b?.hb.client_addr || rec.address,
      state,
      last_heartbeat_unix_ms: b?.atMs ?? 0,
      region_count: b?.hb.region_count ?? 0,
      leader_count: b?.hb.leader_count ?? 0,
      capacity_bytes: b?.hb.capacity_bytes ?? 0,
      available_bytes: b?.hb.available_bytes ?? 0,
    };
  }

  list(state: RootState, includeRetired: boolean, nowMs: number): StoreInfo[] {
    return listStores(state, { includeRetired }).map((s) => this.info(s, nowMs));
  }

  get(state: RootState, storeId: number, nowMs: number): StoreInfo | null {
    const rec = state.stores[String(storeId)];
    return rec ? this.info(rec, nowMs) : null;
  }
}

/**
 * The region holding raw `key`, or null in a gap. While a split or merge covering it is open (planned, not yet
 * committed or cancelled) the answer is the planned descriptor, `state` saying so: the stores either serve it
 * already, or answer EpochNotMatch with the descriptor still in force, so a client is never left without a
 * route for the moment a change is open. (The pre-change descriptor would not do: a client that already heard
 * of the new epoch from a store keeps the newer one and would still have a hole in its routes.)
 */
export function routeKey(state: RootState, key: Uint8Array): RegionDescriptor | null {
  return regionByKey(state, hexKey(key));
}

export function mountsOf(state: RootState, includeRetired: boolean): MountRecord[] {
  return listMounts(state, { includeRetired });
}

export function quotasOf(state: RootState): QuotaFence[] {
  return listQuotaFences(state);
}

export function requireMount(state: RootState, mountId: string): MountRecord {
  const m = state.mounts[mountId];
  if (!m) throw new NotFoundError(`mount ${mountId} is not registered`, { mount_id: mountId });
  return m;
}
