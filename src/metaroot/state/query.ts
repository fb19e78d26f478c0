// Owns read-only views of rooted state for its users: routing lookups by key, listings, and the
// node-independent summary served on /debug/vars. Nothing here changes state.
import type { MountRecord, QuotaFence, RegionDescriptor, RootState, StoreRecord } from './types.js';
import { keyInRange, type HexKey } from './keys.js';
import { tenureView } from './eunomia.js';

// Regions sorted by start key, memoised per regions map. Maps are copy-on-write (a change makes a new object),
// so the identity of the map is a valid cache key and the cache never goes stale.
const sortedCache = new WeakMap<object, RegionDescriptor[]>();

/** All descriptors ordered by start key. */
export function regionsByStartKey(s: RootState): RegionDescriptor[] {
  let sorted = sortedCache.get(s.regions);
  if (!sorted) {
    sorted = Object.values(s.regions).sort((a, b) => (a.start_key < b.start_key ? -1 : a.start_key > b.start_key ? 1 : 0));
    sortedCache.set(s.regions, sorted);
  }
  return sorted;
}

/** The descriptor whose range holds `key` (hex), by binary search over start keys; null in a gap. */
export function regionByKey(s: RootState, key: HexKey): RegionDescriptor | null {
  const sorted = regionsByStartKey(s);
  let lo = 0;
  let hi = sorted.length; // find the last region with start_key <= key
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid].start_key <= key) lo = mid + 1;
    else hi = mid;
  }
  if (lo === 0) return null;
  const r = sorted[lo - 1];
  return keyInRange(key, r.start_key, r.end_key) ? r : null;
}

export function regionById(s: RootState, regionId: number): RegionDescriptor | null {
  return Object.hasOwn(s.regions, String(regionId)) ? s.regions[String(regionId)] : null;
}

/** Highest root_epoch of any descriptor: the region_lookup frontier a coordinator has covered. */
export function maxDescriptorRootEpoch(s: RootState): number {
  let max = 0;
  for (const r of Object.values(s.regions)) max = Math.max(max, r.root_epoch);
  return max;
}

export function listStores(s: RootState, opts: { includeRetired?: boolean } = {}): StoreRecord[] {
  return Object.values(s.stores)
    .filter((st) => opts.includeRetired || st.state !== 'retired')
    .sort((a, b) => a.store_id - b.store_id);
}

export function listMounts(s: RootState, opts: { includeRetired?: boolean } = {}): MountRecord[] {
  return Object.values(s.mounts)
    .filter((m) => opts.includeRetired || m.state === 'registered')
    .sort((a, b) => (a.mount_id < b.mount_id ? -1 : a.mount_id > b.mount_id ? 1 : 0));
}

export function listQuotaFences(s: RootState): QuotaFence[] {
  return Object.values(s.quotas).sort((a, b) => (a.subject < b.subject ? -1 : a.subject > b.subject ? 1 : 0));
}

export interface StateSummary {
  cluster_epoch: number;
  membership_epoch: number;
  last_applied: { term: number; index: number };
  id_fence: string;
  tso_fence: string;
  tenure: { holder_id: string; era: number; expires_unix_ms: number; sealed: boolean };
  legacy_era: number;
  handover_stage: string;
  counts: {
    stores: number;
    regions: number;
    pending_peer_changes: number;
    pending_range_changes: number;
    mounts: number;
    subtrees: number;
    snapshot_epochs: number;
    quotas: number;
  };
}

/** Fields that are the same on every replica at the same applied index (no clock, no node identity). */
export function stateSummary(s: RootState): StateSummary {
  const v = tenureView(s, 0);
  return {
    cluster_epoch: s.cluster_epoch,
    membership_epoch: s.membership_epoch,
    last_applied: { ...s.last_applied },
    id_fence: s.id_fence,
    tso_fence: s.tso_fence,
    tenure: { holder_id: v.holder_id, era: v.era, expires_unix_ms: v.expires_unix_ms, sealed: v.sealed },
    legacy_era: s.legacy?.era ?? 0,
    handover_stage: s.handover?.stage ?? 'none',
    counts: {
      stores: Object.keys(s.stores).length,
      regions: Object.keys(s.regions).length,
      pending_peer_changes: Object.keys(s.pending_peer_changes).length,
      pending_range_changes: Object.keys(s.pending_range_changes).length,
      mounts: Object.keys(s.mounts).length,
      subtrees: Object.keys(s.subtrees).length,
      snapshot_epochs: Object.keys(s.snapshot_epochs).length,
      quotas: Object.keys(s.quotas).length,
    },
  };
}
