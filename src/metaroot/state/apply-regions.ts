// Owns how region events change rooted state: descriptors, splits, merges and peer changes. Each handler checks
// its preconditions against the draft (throwing FailedPreconditionError) and then edits it; a handler never
// edits before its last check, so a refusal leaves the draft as it was.
//
// Invariants kept here (asserted by the tests): descriptor ranges never overlap; a region in an open range
// change ('splitting'/'merging') cannot be republished, replanned or tombstoned until the change is committed
// or cancelled; every descriptor change bumps cluster_epoch and stamps root_epoch with the new value.
import type { Peer, RegionDescriptor, RegionEpoch, RegionState } from './types.js';
import type {
  MergeCancelled,
  MergeCommitted,
  MergePlanned,
  PeerAdditionPlanned,
  PeerRemovalPlanned,
  RegionBootstrap,
  RegionDescriptorPublished,
  RegionInput,
  RegionTombstoned,
  SplitCancelled,
  SplitCommitted,
  SplitPlanned,
} from './events.js';
import { MAX_PEERS } from './events.js';
import { isValidRange, rangesOverlap } from './keys.js';
import { Draft, refuse } from './draft.js';

function describe(input: RegionInput, rootEpoch: number, state: RegionState): RegionDescriptor {
  return {
    region_id: input.region_id,
    start_key: input.start_key,
    end_key: input.end_key,
    epoch: { version: input.epoch.version, conf_version: input.epoch.conf_version },
    peers: input.peers.map((p) => ({ store_id: p.store_id, peer_id: p.peer_id })),
    root_epoch: rootEpoch,
    state,
  };
}

function restamp(d: RegionDescriptor, rootEpoch: number, state: RegionState): RegionDescriptor {
  return { ...d, root_epoch: rootEpoch, state };
}

function checkInput(input: RegionInput): void {
  const id = input.region_id;
  if (!isValidRange(input.start_key, input.end_key)) refuse(`region ${id} has an empty key range`, { region_id: id });
  if (input.peers.length === 0) refuse(`region ${id} has no peers`, { region_id: id });
  const stores = new Set(input.peers.map((p) => p.store_id));
  const peers = new Set(input.peers.map((p) => p.peer_id));
  if (stores.size !== input.peers.length || peers.size !== input.peers.length) {
    refuse(`region ${id} repeats a store or peer id`, { region_id: id });
  }
}

function checkNoOverlap(d: Draft, input: RegionInput, ignore: readonly number[]): void {
  for (const other of Object.values(d.s.regions)) {
    if (other.region_id === input.region_id || ignore.includes(other.region_id)) continue;
    if (rangesOverlap(input.start_key, input.end_key, other.start_key, other.end_key)) {
      refuse(`region ${input.region_id} overlaps region ${other.region_id}`, {
        region_id: input.region_id,
        overlaps: other.region_id,
      });
    }
  }
}

function sameEpoch(a: RegionEpoch, b: RegionEpoch): boolean {
  return a.version === b.version && a.conf_version === b.conf_version;
}

function isStale(next: RegionEpoch, cur: RegionEpoch): boolean {
  return next.version < cur.version || next.conf_version < cur.conf_version;
}

function samePeers(a: readonly Peer[], b: readonly Peer[]): boolean {
  return a.length === b.length && a.every((p, i) => p.store_id === b[i].store_id && p.peer_id === b[i].peer_id);
}

function mustGet(d: Draft, id: number): RegionDescriptor {
  const r = d.get('regions', id);
  if (!r) refuse(`region ${id} not found`, { region_id: id });
  return r;
}

function mustBeRunning(r: RegionDescriptor): void {
  if (r.state !== 'running') refuse(`region ${r.region_id} has an open ${r.state} change`, { region_id: r.region_id });
}

function mustMatchEpoch(r: RegionDescriptor, expected: RegionEpoch): void {
  if (!sameEpoch(r.epoch, expected)) {
    refuse(`stale region epoch for region ${r.region_id}`, { region_id: r.region_id, current: r.epoch, expected });
  }
}

export function applyRegionBootstrap(d: Draft, ev: RegionBootstrap): void {
  const input = ev.region;
  checkInput(input);
  if (d.get('regions', input.region_id)) refuse(`region ${input.region_id} already exists`, { region_id: input.region_id });
  checkNoOverlap(d, input, []);
  d.put('regions', input.region_id, describe(input, d.bumpClusterEpoch(), 'running'));
}

/** Upserts a reported descriptor. Supersedes an open peer change; refused during an open split or merge. */
export function applyDescriptorPublished(d: Draft, ev: RegionDescriptorPublished): void {
  const input = ev.region;
  checkInput(input);
  const cur = d.get('regions', input.region_id);
  if (cur) {
    if (cur.state === 'splitting' || cur.state === 'merging') mustBeRunning(cur);
    if (isStale(input.epoch, cur.epoch)) {
      refuse(`stale region epoch for region ${cur.region_id}`, { region_id: cur.region_id, current: cur.epoch, got: input.epoch });
    }
    if (sameEpoch(input.epoch, cur.epoch)) {
      const same = input.start_key === cur.start_key && input.end_key === cur.end_key && samePeers(input.peers, cur.peers);
      if (!same) refuse(`region ${cur.region_id} changed without an epoch bump`, { region_id: cur.region_id });
      if (cur.state === 'running') return; // an idempotent republish
    }
  }
  checkNoOverlap(d, input, []);
  d.del('pending_peer_changes', input.region_id);
  d.put('regions', input.region_id, describe(input, d.bumpClusterEpoch(), 'running'));
}

export function applyRegionTombstoned(d: Draft, ev: RegionTombstoned): void {
  const cur = mustGet(d, ev.region_id);
  if (cur.state === 'splitting' || cur.state === 'merging') mustBeRunning(cur);
  d.bumpClusterEpoch();
  d.del('regions', ev.region_id);
  d.del('pending_peer_changes', ev.region_id);
}

function checkFreshChild(d: Draft, child: RegionInput, reusable: readonly number[]): void {
  checkInput(child);
  if (!reusable.includes(child.region_id) && d.get('regions', child.region_id)) {
    refuse(`region ${child.region_id} already exists`, { region_id: child.region_id });
  }
}

function mustHaveNoPendingRange(d: Draft, key: number): void {
  if (d.get('pending_range_changes', key)) refuse(`region ${key} already keys an open range change`, { region_id: key });
}

export function applySplitPlanned(d: Draft, ev: SplitPlanned): void {
  const parent = mustGet(d, ev.parent_id);
  mustBeRunning(parent);
  mustMatchEpoch(parent, ev.base_epoch);
  mustHaveNoPendingRange(d, ev.parent_id);
  const { left, right } = ev;
  if (left.region_id === right.region_id) refuse('split children must have distinct ids', { region_id: ev.parent_id });
  checkFreshChild(d, left, [ev.parent_id]);
  checkFreshChild(d, right, [ev.parent_id]);
  const covers = left.start_key === parent.start_key && left.end_key === right.start_key && right.end_key === parent.end_key;
  if (!covers) refuse(`split children must exactly cover region ${ev.parent_id}`, { region_id: ev.parent_id });
  for (const child of [left, right]) {
    if (child.epoch.version <= parent.epoch.version || child.epoch.conf_version < parent.epoch.conf_version) {
      refuse(`split child ${child.region_id} must have a newer epoch than its parent`, { region_id: child.region_id });
    }
  }
  const rootEpoch = d.bumpClusterEpoch();
  d.del('regions', ev.parent_id);
  d.put('regions', left.region_id, describe(left, rootEpoch, 'splitting'));
  d.put('regions', right.region_id, describe(right, rootEpoch, 'splitting'));
  d.put('pending_range_changes', ev.parent_id, {
    kind: 'split',
    region_id: ev.parent_id,
    base: [parent],
    target_ids: [left.region_id, right.region_id],
  });
}

export function applyMergePlanned(d: Draft, ev: MergePlanned): void {
  if (ev.left_id === ev.right_id) refuse('cannot merge a region with itself', { region_id: ev.left_id });
  const left = mustGet(d, ev.left_id);
  const right = mustGet(d, ev.right_id);
  mustBeRunning(left);
  mustBeRunning(right);
  mustMatchEpoch(left, ev.left_epoch);
  mustMatchEpoch(right, ev.right_epoch);
  const m = ev.merged;
  mustHaveNoPendingRange(d, m.region_id);
  if (left.end_key === '' || left.end_key !== right.start_key) {
    refuse(`regions ${ev.left_id} and ${ev.right_id} are not adjacent`, { left_id: ev.left_id, right_id: ev.right_id });
  }
  if (m.region_id !== ev.left_id && m.region_id !== ev.right_id) {
    refuse('the merged region must keep the id of one side', { region_id: m.region_id });
  }
  checkInput(m);
  if (m.start_key !== left.start_key || m.end_key !== right.end_key) {
    refuse(`merged region ${m.region_id} must cover exactly both sides`, { region_id: m.region_id });
  }
  const minConf = Math.max(left.epoch.conf_version, right.epoch.conf_version);
  if (m.epoch.version <= Math.max(left.epoch.version, right.epoch.version) || m.epoch.conf_version < minConf) {
    refuse(`merged region ${m.region_id} must have a newer epoch than both sides`, { region_id: m.region_id });
  }
  const rootEpoch = d.bumpClusterEpoch();
  d.del('regions', ev.left_id);
  d.del('regions', ev.right_id);
  d.put('regions', m.region_id, describe(m, rootEpoch, 'merging'));
  d.put('pending_range_changes', m.region_id, { kind: 'merge', region_id: m.region_id, base: [left, right], target_ids: [m.region_id] });
}

function finishRange(d: Draft, key: number, kind: 'split' | 'merge', outcome: 'commit' | 'cancel'): void {
  const pending = d.get('pending_range_changes', key);
  if (!pending || pending.kind !== kind) refuse(`no open ${kind} keyed by region ${key}`, { region_id: key });
  const rootEpoch = d.bumpClusterEpoch();
  if (outcome === 'commit') {
    for (const id of pending.target_ids) d.put('regions', id, restamp(mustGet(d, id), rootEpoch, 'running'));
  } else {
    for (const id of pending.target_ids) d.del('regions', id);
    for (const base of pending.base) d.put('regions', base.region_id, restamp(base, rootEpoch, 'running'));
  }
  d.del('pending_range_changes', key);
}

export const applySplitCommitted = (d: Draft, ev: SplitCommitted): void => finishRange(d, ev.parent_id, 'split', 'commit');
export const applySplitCancelled = (d: Draft, ev: SplitCancelled): void => finishRange(d, ev.parent_id, 'split', 'cancel');
export const applyMergeCommitted = (d: Draft, ev: MergeCommitted): void => finishRange(d, ev.region_id, 'merge', 'commit');
export const applyMergeCancelled = (d: Draft, ev: MergeCancelled): void => finishRange(d, ev.region_id, 'merge', 'cancel');

export function applyPeerAdditionPlanned(d: Draft, ev: PeerAdditionPlanned): void {
  const r = mustGet(d, ev.region_id);
  mustBeRunning(r);
  mustMatchEpoch(r, ev.base_epoch);
  const store = d.get('stores', ev.peer.store_id);
  if (!store || store.state !== 'joined') refuse(`store ${ev.peer.store_id} is not a joined store`, { store_id: ev.peer.store_id });
  if (r.peers.some((p) => p.store_id === ev.peer.store_id || p.peer_id === ev.peer.peer_id)) {
    refuse(`region ${r.region_id} already has a peer on store ${ev.peer.store_id} or with id ${ev.peer.peer_id}`, { region_id: r.region_id });
  }
  if (r.peers.length >= MAX_PEERS) refuse(`region ${r.region_id} has the maximum of ${MAX_PEERS} peers`, { region_id: r.region_id });
  // Sorted by store id, as stores publish their descriptors: the store's republish of the finished change then
  // matches the target exactly instead of looking like a different peer set at the same epoch.
  const peers = [...r.peers, { store_id: ev.peer.store_id, peer_id: ev.peer.peer_id }].sort((a, b) => a.store_id - b.store_id);
  planPeerChange(d, r, 'add', ev.peer, peers);
}

export function applyPeerRemovalPlanned(d: Draft, ev: PeerRemovalPlanned): void {
  const r = mustGet(d, ev.region_id);
  mustBeRunning(r);
  mustMatchEpoch(r, ev.base_epoch);
  if (!r.peers.some((p) => p.store_id === ev.peer.store_id && p.peer_id === ev.peer.peer_id)) {
    refuse(`region ${r.region_id} has no peer ${ev.peer.peer_id} on store ${ev.peer.store_id}`, { region_id: r.region_id });
  }
  if (r.peers.length <= 1) refuse(`cannot remove the last peer of region ${r.region_id}`, { region_id: r.region_id });
  const peers = r.peers.filter((p) => p.peer_id !== ev.peer.peer_id);
  planPeerChange(d, r, 'remove', ev.peer, peers);
}

function planPeerChange(d: Draft, base: RegionDescriptor, kind: 'add' | 'remove', peer: Peer, peers: Peer[]): void {
  const rootEpoch = d.bumpClusterEpoch();
  const target: RegionDescriptor = {
    ...base,
    epoch: { version: base.epoch.version, conf_version: base.epoch.conf_version + 1 },
    peers,
    root_epoch: rootEpoch,
    state: 'changing_peers',
  };
  d.put('regions', base.region_id, target);
  d.put('pending_peer_changes', base.region_id, {
    kind,
    region_id: base.region_id,
    peer: { store_id: peer.store_id, peer_id: peer.peer_id },
    base,
    target,
  });
}

export function finishPeerChange(d: Draft, regionId: number, kind: 'add' | 'remove', outcome: 'done' | 'cancel'): void {
  const pending = d.get('pending_peer_changes', regionId);
  if (!pending || pending.kind !== kind) refuse(`no open peer ${kind === 'add' ? 'addition' : 'removal'} for region ${regionId}`, { region_id: regionId });
  const rootEpoch = d.bumpClusterEpoch();
  d.put('regions', regionId, restamp(outcome === 'done' ? pending.target : pending.base, rootEpoch, 'running'));
  d.del('pending_peer_changes', regionId);
}
