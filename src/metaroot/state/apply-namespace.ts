// Owns how store-membership and namespace events change rooted state: stores, mounts, subtree authorities,
// snapshot epochs and quota fences. Same contract as apply-regions.ts: check everything, then edit.
//
// Decisions stricter than upstream: a retired mount or store is terminal, so registering or joining it again is
// refused rather than silently ignored; a subtree's era and frontier never go back; a quota fence only moves to
// a strictly higher era.
import type { Cursor, SubtreeAuthority } from './types.js';
import { snapshotEpochId, subtreeId } from './types.js';
import type {
  MountRegistered,
  MountRetired,
  QuotaFenceUpdated,
  SnapshotEpochPublished,
  SnapshotEpochRetired,
  StoreDraining,
  StoreJoined,
  StoreRetired,
  SubtreeAuthorityDeclared,
  SubtreeHandoffCompleted,
  SubtreeHandoffStarted,
} from './events.js';
import { compareU64 } from './u64.js';
import { Draft, refuse } from './draft.js';

export function applyStoreJoined(d: Draft, ev: StoreJoined, cursor: Cursor): void {
  const cur = d.get('stores', ev.store_id);
  if (cur?.state === 'retired') refuse(`store ${ev.store_id} is retired; store ids are not reused`, { store_id: ev.store_id });
  if (cur && cur.address === ev.address) return; // a rejoin after restart changes nothing
  d.s.membership_epoch += 1;
  d.put('stores', ev.store_id, {
    store_id: ev.store_id,
    address: ev.address,
    // A draining store that restarts at a new address goes on draining.
    state: cur?.state === 'draining' ? 'draining' : 'joined',
    joined_at: cur ? cur.joined_at : cursor,
    retired_at: null,
  });
}

/** Marks a joined store as draining (idempotent); only retiring it ends that. */
export function applyStoreDraining(d: Draft, ev: StoreDraining): void {
  const cur = d.get('stores', ev.store_id);
  if (!cur) refuse(`store ${ev.store_id} never joined`, { store_id: ev.store_id });
  if (cur.state === 'retired') refuse(`store ${ev.store_id} is retired`, { store_id: ev.store_id });
  if (cur.state === 'draining') return;
  d.s.membership_epoch += 1;
  d.put('stores', ev.store_id, { ...cur, state: 'draining' });
}

export function applyStoreRetired(d: Draft, ev: StoreRetired, cursor: Cursor): void {
  const cur = d.get('stores', ev.store_id);
  if (!cur) refuse(`store ${ev.store_id} never joined`, { store_id: ev.store_id });
  if (cur.state === 'retired') return;
  d.s.membership_epoch += 1;
  d.put('stores', ev.store_id, { ...cur, state: 'retired', retired_at: cursor });
}

export function applyMountRegistered(d: Draft, ev: MountRegistered, cursor: Cursor): void {
  const cur = d.get('mounts', ev.mount_id);
  if (cur) {
    if (cur.state === 'retired') refuse(`mount ${ev.mount_id} is retired; a retired mount cannot be registered again`, { mount_id: ev.mount_id });
    if (cur.root_inode !== ev.root_inode) {
      refuse(`mount ${ev.mount_id} is registered with root inode ${cur.root_inode}`, { mount_id: ev.mount_id, root_inode: cur.root_inode });
    }
    if (ev.schema_version < cur.schema_version) {
      refuse(`mount ${ev.mount_id} schema version regression ${cur.schema_version} -> ${ev.schema_version}`, { mount_id: ev.mount_id });
    }
    if (ev.schema_version === cur.schema_version) return;
    d.put('mounts', ev.mount_id, { ...cur, schema_version: ev.schema_version });
    return;
  }
  d.put('mounts', ev.mount_id, {
    mount_id: ev.mount_id,
    root_inode: ev.root_inode,
    schema_version: ev.schema_version,
    state: 'registered',
    registered_at: cursor,
    retired_at: null,
  });
  const sid = subtreeId(ev.mount_id, ev.root_inode);
  if (!d.get('subtrees', sid)) {
    d.put('subtrees', sid, {
      subtree_id: sid,
      mount_id: ev.mount_id,
      root_inode: ev.root_inode,
      authority_id: '',
      era: 0,
      frontier: '0',
      handoff: null,
    });
  }
}

export function applyMountRetired(d: Draft, ev: MountRetired, cursor: Cursor): void {
  const cur = d.get('mounts', ev.mount_id);
  if (!cur) refuse(`mount ${ev.mount_id} was never registered`, { mount_id: ev.mount_id });
  if (cur.state === 'retired') return;
  d.put('mounts', ev.mount_id, { ...cur, state: 'retired', retired_at: cursor });
}

function mustBeRegistered(d: Draft, mountId: string): void {
  const m = d.get('mounts', mountId);
  if (!m || m.state !== 'registered') refuse(`mount ${mountId} is not registered`, { mount_id: mountId });
}

function mustGetSubtree(d: Draft, mountId: string, rootInode: number): SubtreeAuthority {
  const s = d.get('subtrees', subtreeId(mountId, rootInode));
  if (!s) refuse(`subtree ${subtreeId(mountId, rootInode)} has no authority record`, { subtree_id: subtreeId(mountId, rootInode) });
  return s;
}

export function applySubtreeDeclared(d: Draft, ev: SubtreeAuthorityDeclared): void {
  mustBeRegistered(d, ev.mount_id);
  const sid = subtreeId(ev.mount_id, ev.root_inode);
  const cur = d.get('subtrees', sid);
  if (cur) {
    if (cur.handoff) refuse(`subtree ${sid} has a handoff in progress`, { subtree_id: sid });
    if (ev.era < cur.era) refuse(`subtree ${sid} era regression ${cur.era} -> ${ev.era}`, { subtree_id: sid, era: cur.era });
    if (ev.era === cur.era && cur.authority_id !== ev.authority_id) {
      refuse(`subtree ${sid} era ${cur.era} is held by ${cur.authority_id}`, { subtree_id: sid, era: cur.era, authority_id: cur.authority_id });
    }
    if (compareU64(ev.frontier, cur.frontier) < 0) refuse(`subtree ${sid} frontier regression`, { subtree_id: sid, frontier: cur.frontier });
  }
  d.put('subtrees', sid, {
    subtree_id: sid,
    mount_id: ev.mount_id,
    root_inode: ev.root_inode,
    authority_id: ev.authority_id,
    era: ev.era,
    frontier: ev.frontier,
    handoff: null,
  });
}

export function applySubtreeHandoffStarted(d: Draft, ev: SubtreeHandoffStarted, cursor: Cursor): void {
  mustBeRegistered(d, ev.mount_id);
  const cur = mustGetSubtree(d, ev.mount_id, ev.root_inode);
  const sid = cur.subtree_id;
  if (cur.handoff) refuse(`subtree ${sid} has a handoff in progress`, { subtree_id: sid });
  if (cur.authority_id === '' || cur.authority_id !== ev.from_authority) {
    refuse(`subtree ${sid} is held by ${JSON.stringify(cur.authority_id)}, not ${ev.from_authority}`, { subtree_id: sid, authority_id: cur.authority_id });
  }
  if (ev.to_authority === ev.from_authority) refuse(`subtree ${sid} handoff to its own holder`, { subtree_id: sid });
  if (ev.era <= cur.era) refuse(`subtree ${sid} handoff era ${ev.era} does not exceed ${cur.era}`, { subtree_id: sid, era: cur.era });
  d.put('subtrees', sid, {
    ...cur,
    handoff: { from_authority: ev.from_authority, to_authority: ev.to_authority, era: ev.era, started_at: cursor },
  });
}

export function applySubtreeHandoffCompleted(d: Draft, ev: SubtreeHandoffCompleted): void {
  const cur = mustGetSubtree(d, ev.mount_id, ev.root_inode);
  const sid = cur.subtree_id;
  const h = cur.handoff;
  if (!h || h.to_authority !== ev.to_authority || h.era !== ev.era) {
    refuse(`subtree ${sid} has no open handoff to ${ev.to_authority} at era ${ev.era}`, { subtree_id: sid });
  }
  if (compareU64(ev.frontier, cur.frontier) < 0) refuse(`subtree ${sid} frontier regression`, { subtree_id: sid, frontier: cur.frontier });
  d.put('subtrees', sid, { ...cur, authority_id: h.to_authority, era: h.era, frontier: ev.frontier, handoff: null });
}

export function applySnapshotEpochPublished(d: Draft, ev: SnapshotEpochPublished, cursor: Cursor): void {
  mustBeRegistered(d, ev.mount_id);
  const id = snapshotEpochId(ev.mount_id, ev.root_inode, ev.read_version);
  if (d.get('snapshot_epochs', id)) return;
  d.put('snapshot_epochs', id, {
    snapshot_id: id,
    mount_id: ev.mount_id,
    root_inode: ev.root_inode,
    read_version: ev.read_version,
    published_at: cursor,
  });
}

/** Retiring an unknown snapshot epoch is a no-op so a retried retire succeeds. */
export function applySnapshotEpochRetired(d: Draft, ev: SnapshotEpochRetired): void {
  d.del('snapshot_epochs', snapshotEpochId(ev.mount_id, ev.root_inode, ev.read_version));
}

export function applyQuotaFenceUpdated(d: Draft, ev: QuotaFenceUpdated): void {
  const cur = d.get('quotas', ev.subject);
  if (cur && ev.era <= cur.era) {
    refuse(`quota fence era for ${ev.subject} must increase beyond ${cur.era}`, { subject: ev.subject, era: cur.era });
  }
  d.put('quotas', ev.subject, { subject: ev.subject, limit_bytes: ev.limit_bytes, limit_inodes: ev.limit_inodes, era: ev.era });
}
