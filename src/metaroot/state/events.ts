// Owns the vocabulary of the rooted log: the versioned, discriminated union of events that change rooted state,
// their named limits, and the shape check that runs before any semantic validation. Semantics live in apply.ts.
import { Packr } from 'msgpackr';
import { InvalidArgumentError } from '../../common/errors.js';
import type { HexKey } from './keys.js';
import type { U64 } from './u64.js';
import type { Frontiers, HandoverStage, Peer, RegionEpoch } from './types.js';
import {
  array,
  hexKey,
  isPlainObject,
  literal,
  name,
  object,
  posInt,
  text,
  u64,
  uint,
  type Check,
} from './schema.js';

/** Every event carries `v`; a replica refuses versions it does not know instead of guessing. */
export const EVENT_VERSION = 1;
/** Most events one command (one raft entry) may carry. */
export const MAX_EVENTS_PER_BATCH = 256;
/** Largest msgpack encoding of one event. */
export const MAX_EVENT_BYTES = 64 * 1024;
/** Most peers in one region descriptor. */
export const MAX_PEERS = 16;
/** Longest lineage digest accepted (hex SHA-256 is 64). */
export const MAX_DIGEST_CHARS = 128;

/** A region descriptor as events carry it; root_epoch and state are assigned by apply. */
export interface RegionInput {
  region_id: number;
  start_key: HexKey;
  end_key: HexKey;
  epoch: RegionEpoch;
  peers: Peer[];
}

interface V {
  v: typeof EVENT_VERSION;
}

export type StoreJoined = V & { kind: 'store_joined'; store_id: number; address: string };
export type StoreRetired = V & { kind: 'store_retired'; store_id: number };
/** The store is being emptied before it is retired: no new peers go there, and its peers are moved away. */
export type StoreDraining = V & { kind: 'store_draining'; store_id: number };
export type RegionBootstrap = V & { kind: 'region_bootstrap'; region: RegionInput };
export type RegionDescriptorPublished = V & { kind: 'region_descriptor_published'; region: RegionInput };
export type RegionTombstoned = V & { kind: 'region_tombstoned'; region_id: number };
export type SplitPlanned = V & {
  kind: 'split_planned';
  parent_id: number;
  /** The parent's epoch the plan was made against; a moved parent refuses the plan. */
  base_epoch: RegionEpoch;
  left: RegionInput;
  right: RegionInput;
};
export type SplitCommitted = V & { kind: 'split_committed'; parent_id: number };
export type SplitCancelled = V & { kind: 'split_cancelled'; parent_id: number };
export type MergePlanned = V & {
  kind: 'merge_planned';
  left_id: number;
  right_id: number;
  left_epoch: RegionEpoch;
  right_epoch: RegionEpoch;
  merged: RegionInput;
};
export type MergeCommitted = V & { kind: 'merge_committed'; region_id: number };
export type MergeCancelled = V & { kind: 'merge_cancelled'; region_id: number };
export type PeerAdditionPlanned = V & { kind: 'peer_addition_planned'; region_id: number; base_epoch: RegionEpoch; peer: Peer };
export type PeerAdded = V & { kind: 'peer_added'; region_id: number };
export type PeerAdditionCancelled = V & { kind: 'peer_addition_cancelled'; region_id: number };
export type PeerRemovalPlanned = V & { kind: 'peer_removal_planned'; region_id: number; base_epoch: RegionEpoch; peer: Peer };
export type PeerRemoved = V & { kind: 'peer_removed'; region_id: number };
export type PeerRemovalCancelled = V & { kind: 'peer_removal_cancelled'; region_id: number };
export type IdFenceAdvanced = V & { kind: 'id_fence_advanced'; minimum: U64 };
export type TsoFenceAdvanced = V & { kind: 'tso_fence_advanced'; minimum: U64 };
export type TenureSet = V & {
  kind: 'tenure';
  holder_id: string;
  era: number;
  expires_unix_ms: number;
  mandate: number;
  /** '' keeps the current digest within the same era. */
  lineage_digest: string;
  frontiers: Frontiers;
};
export type LegacySealed = V & { kind: 'legacy'; holder_id: string; era: number; mandate: number; frontiers: Frontiers };
export type HandoverSet = V & {
  kind: 'handover';
  holder_id: string;
  legacy_era: number;
  successor_era: number;
  legacy_digest: string;
  stage: HandoverStage;
};
export type MountRegistered = V & { kind: 'mount_registered'; mount_id: string; root_inode: number; schema_version: number };
export type MountRetired = V & { kind: 'mount_retired'; mount_id: string };
export type SubtreeAuthorityDeclared = V & {
  kind: 'subtree_authority_declared';
  mount_id: string;
  root_inode: number;
  authority_id: string;
  era: number;
  frontier: U64;
};
export type SubtreeHandoffStarted = V & {
  kind: 'subtree_handoff_started';
  mount_id: string;
  root_inode: number;
  from_authority: string;
  to_authority: string;
  era: number;
};
export type SubtreeHandoffCompleted = V & {
  kind: 'subtree_handoff_completed';
  mount_id: string;
  root_inode: number;
  to_authority: string;
  era: number;
  frontier: U64;
};
export type SnapshotEpochPublished = V & { kind: 'snapshot_epoch_published'; mount_id: string; root_inode: number; read_version: U64 };
export type SnapshotEpochRetired = V & { kind: 'snapshot_epoch_retired'; mount_id: string; root_inode: number; read_version: U64 };
export type QuotaFenceUpdated = V & {
  kind: 'quota_fence_updated';
  subject: string;
  limit_bytes: number;
  limit_inodes: number;
  era: number;
};

export type RootEvent =
  | StoreJoined
  | StoreRetired
  | StoreDraining
  | RegionBootstrap
  | RegionDescriptorPublished
  | RegionTombstoned
  | SplitPlanned
  | SplitCommitted
  | SplitCancelled
  | MergePlanned
  | MergeCommitted
  | MergeCancelled
  | PeerAdditionPlanned
  | PeerAdded
  | PeerAdditionCancelled
  | PeerRemovalPlanned
  | PeerRemoved
  | PeerRemovalCancelled
  | IdFenceAdvanced
  | TsoFenceAdvanced
  | TenureSet
  | LegacySealed
  | HandoverSet
  | MountRegistered
  | MountRetired
  | SubtreeAuthorityDeclared
  | SubtreeHandoffStarted
  | SubtreeHandoffCompleted
  | SnapshotEpochPublished
  | SnapshotEpochRetired
  | QuotaFenceUpdated;

export type RootEventKind = RootEvent['kind'];

/**
 * Kinds that only Eunomia commands may produce: a raw append of these would bypass the (holder, era)
 * compare-and-set, so the append command refuses them.
 */
export const AUTHORITY_EVENT_KINDS: ReadonlySet<RootEventKind> = new Set<RootEventKind>([
  'id_fence_advanced',
  'tso_fence_advanced',
  'tenure',
  'legacy',
  'handover',
]);

// ---- shapes ---------------------------------------------------------------------------------------------------

const epochShape = object({ version: uint, conf_version: uint });
const peerShape = object({ store_id: posInt, peer_id: posInt });
export const regionInputShape = object({
  region_id: posInt,
  start_key: hexKey,
  end_key: hexKey,
  epoch: epochShape,
  peers: array(peerShape, MAX_PEERS),
});
export const frontiersShape = object({ alloc_id: u64, tso: u64, region_lookup: u64 });
const digest: Check = (v, p) => {
  text(v, p);
  if ((v as string).length > MAX_DIGEST_CHARS) throw new InvalidArgumentError(`malformed ${p}: digest too long`);
};
const mandate: Check = (v, p) => {
  posInt(v, p);
  if (((v as number) & ~7) !== 0) throw new InvalidArgumentError(`malformed ${p}: unknown mandate bits`, { path: p });
};
const regionRef = { region_id: posInt };
const subtreeRef = { mount_id: name, root_inode: uint };
const snapshotRef = { ...subtreeRef, read_version: u64 };

const SHAPES: Record<RootEventKind, Check> = {
  store_joined: object({ store_id: posInt, address: text }),
  store_retired: object({ store_id: posInt }),
  store_draining: object({ store_id: posInt }),
  region_bootstrap: object({ region: regionInputShape }),
  region_descriptor_published: object({ region: regionInputShape }),
  region_tombstoned: object(regionRef),
  split_planned: object({ parent_id: posInt, base_epoch: epochShape, left: regionInputShape, right: regionInputShape }),
  split_committed: object({ parent_id: posInt }),
  split_cancelled: object({ parent_id: posInt }),
  merge_planned: object({
    left_id: posInt,
    right_id: posInt,
    left_epoch: epochShape,
    right_epoch: epochShape,
    merged: regionInputShape,
  }),
  merge_committed: object(regionRef),
  merge_cancelled: object(regionRef),
  peer_addition_planned: object({ ...regionRef, base_epoch: epochShape, peer: peerShape }),
  peer_added: object(regionRef),
  peer_addition_cancelled: object(regionRef),
  peer_removal_planned: object({ ...regionRef, base_epoch: epochShape, peer: peerShape }),
  peer_removed: object(regionRef),
  peer_removal_cancelled: object(regionRef),
  id_fence_advanced: object({ minimum: u64 }),
  tso_fence_advanced: object({ minimum: u64 }),
  tenure: object({
    holder_id: name,
    era: posInt,
    expires_unix_ms: uint,
    mandate,
    lineage_digest: digest,
    frontiers: frontiersShape,
  }),
  legacy: object({ holder_id: name, era: posInt, mandate, frontiers: frontiersShape }),
  handover: object({
    holder_id: name,
    legacy_era: posInt,
    successor_era: posInt,
    legacy_digest: digest,
    stage: literal('confirmed', 'closed', 'reattached'),
  }),
  mount_registered: object({ ...subtreeRef, schema_version: uint }),
  mount_retired: object({ mount_id: name }),
  subtree_authority_declared: object({ ...subtreeRef, authority_id: name, era: posInt, frontier: u64 }),
  subtree_handoff_started: object({ ...subtreeRef, from_authority: name, to_authority: name, era: posInt }),
  subtree_handoff_completed: object({ ...subtreeRef, to_authority: name, era: posInt, frontier: u64 }),
  snapshot_epoch_published: object(snapshotRef),
  snapshot_epoch_retired: object(snapshotRef),
  quota_fence_updated: object({ subject: name, limit_bytes: uint, limit_inodes: uint, era: posInt }),
};

export const EVENT_KINDS: readonly RootEventKind[] = Object.keys(SHAPES) as RootEventKind[];

const sizer = new Packr({ useRecords: false });

/**
 * Checks that `ev` is a well-formed event of a known kind and version and within MAX_EVENT_BYTES.
 * Throws InvalidArgumentError; says nothing about whether it applies to a given state.
 */
export function checkEventShape(ev: unknown, path = 'event'): asserts ev is RootEvent {
  if (!isPlainObject(ev)) throw new InvalidArgumentError(`malformed ${path}: expected an object`, { path });
  const kind = ev.kind;
  if (typeof kind !== 'string' || !Object.hasOwn(SHAPES, kind)) {
    throw new InvalidArgumentError(`unknown event kind ${JSON.stringify(kind)}`, { path, kind: String(kind) });
  }
  if (ev.v !== EVENT_VERSION) {
    throw new InvalidArgumentError(`unsupported ${kind} event version ${JSON.stringify(ev.v)}`, { path, kind });
  }
  SHAPES[kind as RootEventKind](ev, path);
  const bytes = sizer.pack(ev).length;
  if (bytes > MAX_EVENT_BYTES) {
    throw new InvalidArgumentError(`${path} is ${bytes} bytes, over the ${MAX_EVENT_BYTES}-byte limit`, { path, bytes });
  }
}
