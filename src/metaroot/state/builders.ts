// Owns small constructors for rooted events and commands, so callers never spell out `kind` and `v` by hand.
// Each returns plain data exactly as it travels; nothing is validated here (apply and encode do that).
import type { RootCommand } from './commands.js';
import { COMMAND_VERSION } from './commands.js';
import type { FenceRequest, HandoverCommand, TenureCommand } from './eunomia.js';
import type { RegionInput, RootEvent } from './events.js';
import { EVENT_VERSION } from './events.js';
import type { Peer, RegionEpoch } from './types.js';
import type { U64 } from './u64.js';

type Ev<K extends RootEvent['kind']> = Extract<RootEvent, { kind: K }>;
type Body<K extends RootEvent['kind']> = Omit<Ev<K>, 'kind' | 'v'>;

function make<K extends RootEvent['kind']>(kind: K, body: Body<K>): Ev<K> {
  return { kind, v: EVENT_VERSION, ...body } as Ev<K>;
}

export function regionInput(regionId: number, startKey: string, endKey: string, epoch: RegionEpoch, peers: Peer[]): RegionInput {
  return { region_id: regionId, start_key: startKey, end_key: endKey, epoch: { ...epoch }, peers: peers.map((p) => ({ ...p })) };
}

export const events = {
  storeJoined: (store_id: number, address: string) => make('store_joined', { store_id, address }),
  storeRetired: (store_id: number) => make('store_retired', { store_id }),
  storeDraining: (store_id: number) => make('store_draining', { store_id }),
  regionBootstrap: (region: RegionInput) => make('region_bootstrap', { region }),
  descriptorPublished: (region: RegionInput) => make('region_descriptor_published', { region }),
  regionTombstoned: (region_id: number) => make('region_tombstoned', { region_id }),
  splitPlanned: (parent_id: number, base_epoch: RegionEpoch, left: RegionInput, right: RegionInput) =>
    make('split_planned', { parent_id, base_epoch, left, right }),
  splitCommitted: (parent_id: number) => make('split_committed', { parent_id }),
  splitCancelled: (parent_id: number) => make('split_cancelled', { parent_id }),
  mergePlanned: (left_id: number, right_id: number, left_epoch: RegionEpoch, right_epoch: RegionEpoch, merged: RegionInput) =>
    make('merge_planned', { left_id, right_id, left_epoch, right_epoch, merged }),
  mergeCommitted: (region_id: number) => make('merge_committed', { region_id }),
  mergeCancelled: (region_id: number) => make('merge_cancelled', { region_id }),
  peerAdditionPlanned: (region_id: number, base_epoch: RegionEpoch, peer: Peer) => make('peer_addition_planned', { region_id, base_epoch, peer }),
  peerAdded: (region_id: number) => make('peer_added', { region_id }),
  peerAdditionCancelled: (region_id: number) => make('peer_addition_cancelled', { region_id }),
  peerRemovalPlanned: (region_id: number, base_epoch: RegionEpoch, peer: Peer) => make('peer_removal_planned', { region_id, base_epoch, peer }),
  peerRemoved: (region_id: number) => make('peer_removed', { region_id }),
  peerRemovalCancelled: (region_id: number) => make('peer_removal_cancelled', { region_id }),
  mountRegistered: (mount_id: string, root_inode: number, schema_version: number) => make('mount_registered', { mount_id, root_inode, schema_version }),
  mountRetired: (mount_id: string) => make('mount_retired', { mount_id }),
  subtreeDeclared: (mount_id: string, root_inode: number, authority_id: string, era: number, frontier: U64) =>
    make('subtree_authority_declared', { mount_id, root_inode, authority_id, era, frontier }),
  subtreeHandoffStarted: (mount_id: string, root_inode: number, from_authority: string, to_authority: string, era: number) =>
    make('subtree_handoff_started', { mount_id, root_inode, from_authority, to_authority, era }),
  subtreeHandoffCompleted: (mount_id: string, root_inode: number, to_authority: string, era: number, frontier: U64) =>
    make('subtree_handoff_completed', { mount_id, root_inode, to_authority, era, frontier }),
  snapshotEpochPublished: (mount_id: string, root_inode: number, read_version: U64) => make('snapshot_epoch_published', { mount_id, root_inode, read_version }),
  snapshotEpochRetired: (mount_id: string, root_inode: number, read_version: U64) => make('snapshot_epoch_retired', { mount_id, root_inode, read_version }),
  quotaFenceUpdated: (subject: string, limit_bytes: number, limit_inodes: number, era: number) =>
    make('quota_fence_updated', { subject, limit_bytes, limit_inodes, era }),
};

export const commands = {
  append: (evs: RootEvent[]): RootCommand => ({ type: 'append', v: COMMAND_VERSION, events: evs }),
  tenure: (cmd: TenureCommand): RootCommand => ({ type: 'tenure', v: COMMAND_VERSION, cmd }),
  handover: (cmd: HandoverCommand): RootCommand => ({ type: 'handover', v: COMMAND_VERSION, cmd }),
  fence: (req: FenceRequest): RootCommand => ({ type: 'fence', v: COMMAND_VERSION, req }),
};
