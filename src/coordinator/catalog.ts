// Owns the coordinator's catalog answers: routing by key and the store, mount and quota listings, read from
// the rooted view, plus the runtime store registry that heartbeats fill (not rooted: rebuilt by the next
// heartbeats after a restart or failover).
import { FailedPreconditionError, NotFoundError } from './errors.js';
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

export interface StoreHeartbeat {
  store_id: number;
  client_addr: string;
  region_count: number;
  leader_count: number;
  capacity_bytes: number;
  available_bytes: number;
  leader_region_ids: number[];
}

export interface StoreInfo {
  store_id: number;
  address: string;
  state: 'UP' | 'DOWN' | 'UNKNOWN' | 'TOMBSTONE';
  last_heartbeat_unix_ms: number;
  region_count: number;
  leader_count: number;
  capacity_bytes: number;
  available_bytes: number;
}

export class StoreRegistry {
  private readonly beats = new Map<number, { hb: StoreHeartbeat; atMs: number }>();
  /** Region id → store that last claimed its leadership. */
  private readonly leaders = new Map<number, number>();

  heartbeat(state: RootState, hb: StoreHeartbeat, nowMs: number): void {
    const rec = state.stores[String(hb.store_id)];
    if (!rec) throw new FailedPreconditionError(`store ${hb.store_id} has not joined the cluster`, { store_id: hb.store_id });
    if (rec.state === 'retired') throw new FailedPreconditionError(`store ${hb.store_id} is retired`, { store_id: hb.store_id });
    if (!this.beats.has(hb.store_id) && this.beats.size >= MAX_TRACKED_STORES) {
      throw new FailedPreconditionError(`more than ${MAX_TRACKED_STORES} stores`);
    }
    this.beats.set(hb.store_id, { hb, atMs: nowMs });
    for (const r of hb.leader_region_ids) this.leaders.set(r, hb.store_id);
  }

  leaderOf(regionId: number): number {
    return this.leaders.get(regionId) ?? 0;
  }

  info(rec: StoreRecord, nowMs: number): StoreInfo {
    const b = this.beats.get(rec.store_id);
    const state = rec.state === 'retired' ? 'TOMBSTONE' : !b ? 'UNKNOWN' : nowMs - b.atMs > STORE_DOWN_AFTER_MS ? 'DOWN' : 'UP';
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

/** The region holding raw `key`, or null in a gap; refused while a range change covering it is pending. */
export function routeKey(state: RootState, key: Uint8Array): RegionDescriptor | null {
  const r = regionByKey(state, hexKey(key));
  if (r && r.state !== 'running' && r.state !== 'changing_peers') {
    throw new FailedPreconditionError(`rooted range change still pending for region ${r.region_id}`, { region_id: r.region_id });
  }
  return r;
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
