// Owns the shape of the rooted state: the plain-data record every meta-root replica rebuilds by applying the
// same commands in log order, and that a snapshot carries whole.
//
// Representation choices (all state is plain objects, arrays, strings and numbers; no bigint, Map or class):
// - Field names are snake_case because these records are wire data (snapshots, tail reads, /debug/vars).
// - u64 values that may exceed 2^53 (allocator fences, TSO, frontiers) are canonical decimal strings (u64.ts).
//   Everything else numeric (epochs, eras, ids, inode numbers, limits, unix milliseconds, raft term/index) is a
//   JS number and is checked to be a safe integer where it enters.
// - Region keys are lowercase hex strings of the raw bytes (keys.ts); '' as end key means unbounded.
// - Maps are plain objects keyed by a decimal id or a name. Records inside the state are never mutated after
//   they are stored: every change builds a new record and a new map (copy on write), so an older state object
//   stays valid and can be compared or discarded (batches are atomic that way).
import type { HexKey } from './keys.js';
import type { U64 } from './u64.js';

export const STATE_VERSION = 1;

/** Position of an applied raft entry; the same on every replica. */
export interface Cursor {
  term: number;
  index: number;
}

export const ZERO_CURSOR: Cursor = Object.freeze({ term: 0, index: 0 });

// ---- Eunomia records -------------------------------------------------------------------------------------------

/** Mandate bits: which singleton duties a tenure covers. */
export const MANDATE_ALLOC_ID = 1;
export const MANDATE_TSO = 2;
export const MANDATE_REGION_LOOKUP = 4;
export const MANDATE_DEFAULT = MANDATE_ALLOC_ID | MANDATE_TSO | MANDATE_REGION_LOOKUP;
export const MANDATE_BITS = [MANDATE_ALLOC_ID, MANDATE_TSO, MANDATE_REGION_LOOKUP] as const;

/**
 * The highest value consumed (or promised) per duty: alloc_id → id fence, tso → TSO fence, region_lookup → the
 * highest descriptor root_epoch observed.
 */
export interface Frontiers {
  alloc_id: U64;
  tso: U64;
  region_lookup: U64;
}

export interface Tenure {
  /** '' when no tenure was ever issued. */
  holder_id: string;
  /** 0 before the first Issue; every takeover bumps it. */
  era: number;
  expires_unix_ms: number;
  /** Cursor of the event that started this era. */
  issued_at: Cursor;
  mandate: number;
  /** Digest of the legacy this era inherited from ('' when none). */
  lineage_digest: string;
  /** Frontiers the holder presented when the era began (inherited coverage). */
  frontiers: Frontiers;
}

/** A sealed era and the frontiers it consumed. */
export interface Legacy {
  holder_id: string;
  era: number;
  mandate: number;
  frontiers: Frontiers;
  sealed_at: Cursor;
}

export type HandoverStage = 'confirmed' | 'closed' | 'reattached';
export const HANDOVER_STAGES: readonly HandoverStage[] = ['confirmed', 'closed', 'reattached'];

export interface Handover {
  /** The successor's holder id. */
  holder_id: string;
  legacy_era: number;
  successor_era: number;
  legacy_digest: string;
  stage: HandoverStage;
  confirmed_at: Cursor;
  closed_at: Cursor | null;
  reattached_at: Cursor | null;
}

// ---- Cluster topology ------------------------------------------------------------------------------------------

export interface StoreRecord {
  store_id: number;
  address: string;
  /** draining: being emptied before it is retired (no new peers; its peers are moved away). */
  state: 'joined' | 'draining' | 'retired';
  joined_at: Cursor;
  retired_at: Cursor | null;
}

export interface RegionEpoch {
  /** Bumped by splits and merges. */
  version: number;
  /** Bumped by membership changes. */
  conf_version: number;
}

export interface Peer {
  store_id: number;
  peer_id: number;
}

/**
 * 'running': settled. 'splitting'/'merging': a child or merged region of an open range change.
 * 'changing_peers': the target of an open peer change.
 */
export type RegionState = 'running' | 'splitting' | 'merging' | 'changing_peers';

export interface RegionDescriptor {
  region_id: number;
  start_key: HexKey;
  /** '' = unbounded. */
  end_key: HexKey;
  epoch: RegionEpoch;
  peers: Peer[];
  /** cluster_epoch at which this descriptor was last published; region_lookup frontiers compare against it. */
  root_epoch: number;
  state: RegionState;
}

export interface PendingPeerChange {
  kind: 'add' | 'remove';
  region_id: number;
  peer: Peer;
  base: RegionDescriptor;
  target: RegionDescriptor;
}

export interface PendingRangeChange {
  kind: 'split' | 'merge';
  /** Key of this change in pending_range_changes: the split parent, or the merged region. */
  region_id: number;
  /** Descriptors replaced by the change, restored if it is cancelled. */
  base: RegionDescriptor[];
  /** Region ids installed by the change. */
  target_ids: number[];
}

// ---- Namespace metadata ------------------------------------------------------------------------------------------

export interface MountRecord {
  mount_id: string;
  root_inode: number;
  schema_version: number;
  state: 'registered' | 'retired';
  registered_at: Cursor;
  retired_at: Cursor | null;
}

export interface SubtreeHandoff {
  from_authority: string;
  to_authority: string;
  /** Era the subtree will have once the handoff completes. */
  era: number;
  started_at: Cursor;
}

/** Who serves a subtree (`mount/rootInode`) of the namespace, fenced by era and frontier. */
export interface SubtreeAuthority {
  subtree_id: string;
  mount_id: string;
  root_inode: number;
  /** '' until declared. */
  authority_id: string;
  era: number;
  frontier: U64;
  handoff: SubtreeHandoff | null;
}

/** MVCC-GC retention floor of a subtree snapshot. */
export interface SnapshotEpoch {
  snapshot_id: string;
  mount_id: string;
  root_inode: number;
  read_version: U64;
  published_at: Cursor;
}

export interface QuotaFence {
  subject: string;
  /** 0 = unlimited. */
  limit_bytes: number;
  /** 0 = unlimited. */
  limit_inodes: number;
  era: number;
}

// ---- The state ----------------------------------------------------------------------------------------------------

export interface RootState {
  v: typeof STATE_VERSION;
  /** Bumped by every change to region descriptors. */
  cluster_epoch: number;
  /** Bumped by every change to store membership. */
  membership_epoch: number;
  last_applied: Cursor;
  id_fence: U64;
  tso_fence: U64;
  tenure: Tenure;
  legacy: Legacy | null;
  handover: Handover | null;
  /** By decimal store id. */
  stores: Record<string, StoreRecord>;
  /** By decimal region id. */
  regions: Record<string, RegionDescriptor>;
  /** By decimal region id. */
  pending_peer_changes: Record<string, PendingPeerChange>;
  /** By decimal region id (split parent or merged region). */
  pending_range_changes: Record<string, PendingRangeChange>;
  /** By mount id. */
  mounts: Record<string, MountRecord>;
  /** By `mount/rootInode`. */
  subtrees: Record<string, SubtreeAuthority>;
  /** By `mount/rootInode/readVersion`. */
  snapshot_epochs: Record<string, SnapshotEpoch>;
  /** By subject. */
  quotas: Record<string, QuotaFence>;
}

export type MapName =
  | 'stores'
  | 'regions'
  | 'pending_peer_changes'
  | 'pending_range_changes'
  | 'mounts'
  | 'subtrees'
  | 'snapshot_epochs'
  | 'quotas';

export const MAP_NAMES: readonly MapName[] = [
  'stores',
  'regions',
  'pending_peer_changes',
  'pending_range_changes',
  'mounts',
  'subtrees',
  'snapshot_epochs',
  'quotas',
];

export const ZERO_FRONTIERS: Frontiers = Object.freeze({ alloc_id: '0', tso: '0', region_lookup: '0' });

export function emptyState(): RootState {
  return {
    v: STATE_VERSION,
    cluster_epoch: 0,
    membership_epoch: 0,
    last_applied: { term: 0, index: 0 },
    id_fence: '0',
    tso_fence: '0',
    tenure: {
      holder_id: '',
      era: 0,
      expires_unix_ms: 0,
      issued_at: { term: 0, index: 0 },
      mandate: 0,
      lineage_digest: '',
      frontiers: { ...ZERO_FRONTIERS },
    },
    legacy: null,
    handover: null,
    stores: {},
    regions: {},
    pending_peer_changes: {},
    pending_range_changes: {},
    mounts: {},
    subtrees: {},
    snapshot_epochs: {},
    quotas: {},
  };
}

export function subtreeId(mountId: string, rootInode: number): string {
  return `${mountId}/${rootInode}`;
}

export function snapshotEpochId(mountId: string, rootInode: number, readVersion: U64): string {
  return `${mountId}/${rootInode}/${readVersion}`;
}

export function compareCursors(a: Cursor, b: Cursor): number {
  return a.index !== b.index ? a.index - b.index : a.term - b.term;
}
