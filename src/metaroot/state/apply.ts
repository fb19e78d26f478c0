// Owns the deterministic transition function of the rooted state: validate and apply events, alone or as an
// atomic batch. Pure: the result depends only on (state, events, cursor), so every replica that applies the
// same log in the same order holds a deep-equal state. The input state is never modified.
import { FailedPreconditionError, InvalidArgumentError, type NokvError } from '../../common/errors.js';
import type { Cursor, RootState } from './types.js';
import { compareCursors } from './types.js';
import type { RootEvent } from './events.js';
import { MAX_EVENTS_PER_BATCH, checkEventShape } from './events.js';
import { Draft } from './draft.js';
import * as regions from './apply-regions.js';
import * as ns from './apply-namespace.js';
import * as auth from './apply-authority.js';

export type Validation = { ok: true } | { ok: false; error: NokvError };

function step(d: Draft, ev: RootEvent, cursor: Cursor): void {
  switch (ev.kind) {
    case 'store_joined': return ns.applyStoreJoined(d, ev, cursor);
    case 'store_retired': return ns.applyStoreRetired(d, ev, cursor);
    case 'store_draining': return ns.applyStoreDraining(d, ev);
    case 'region_bootstrap': return regions.applyRegionBootstrap(d, ev);
    case 'region_descriptor_published': return regions.applyDescriptorPublished(d, ev);
    case 'region_tombstoned': return regions.applyRegionTombstoned(d, ev);
    case 'split_planned': return regions.applySplitPlanned(d, ev);
    case 'split_committed': return regions.applySplitCommitted(d, ev);
    case 'split_cancelled': return regions.applySplitCancelled(d, ev);
    case 'merge_planned': return regions.applyMergePlanned(d, ev);
    case 'merge_committed': return regions.applyMergeCommitted(d, ev);
    case 'merge_cancelled': return regions.applyMergeCancelled(d, ev);
    case 'peer_addition_planned': return regions.applyPeerAdditionPlanned(d, ev);
    case 'peer_added': return regions.finishPeerChange(d, ev.region_id, 'add', 'done');
    case 'peer_addition_cancelled': return regions.finishPeerChange(d, ev.region_id, 'add', 'cancel');
    case 'peer_removal_planned': return regions.applyPeerRemovalPlanned(d, ev);
    case 'peer_removed': return regions.finishPeerChange(d, ev.region_id, 'remove', 'done');
    case 'peer_removal_cancelled': return regions.finishPeerChange(d, ev.region_id, 'remove', 'cancel');
    case 'id_fence_advanced': return auth.applyIdFence(d, ev);
    case 'tso_fence_advanced': return auth.applyTsoFence(d, ev);
    case 'tenure': return auth.applyTenureEvent(d, ev, cursor);
    case 'legacy': return auth.applyLegacyEvent(d, ev, cursor);
    case 'handover': return auth.applyHandoverEvent(d, ev, cursor);
    case 'mount_registered': return ns.applyMountRegistered(d, ev, cursor);
    case 'mount_retired': return ns.applyMountRetired(d, ev, cursor);
    case 'subtree_authority_declared': return ns.applySubtreeDeclared(d, ev);
    case 'subtree_handoff_started': return ns.applySubtreeHandoffStarted(d, ev, cursor);
    case 'subtree_handoff_completed': return ns.applySubtreeHandoffCompleted(d, ev);
    case 'snapshot_epoch_published': return ns.applySnapshotEpochPublished(d, ev, cursor);
    case 'snapshot_epoch_retired': return ns.applySnapshotEpochRetired(d, ev);
    case 'quota_fence_updated': return ns.applyQuotaFenceUpdated(d, ev);
    default: {
      const never: never = ev;
      throw new InvalidArgumentError(`unknown event kind ${JSON.stringify((never as { kind?: unknown }).kind)}`);
    }
  }
}

function checkCursor(state: RootState, cursor: Cursor): void {
  const ok = Number.isSafeInteger(cursor?.term) && Number.isSafeInteger(cursor?.index) && cursor.term >= 0 && cursor.index >= 0;
  if (!ok) throw new InvalidArgumentError('malformed cursor', { cursor });
  if (compareCursors(cursor, state.last_applied) < 0 || cursor.term < state.last_applied.term) {
    throw new FailedPreconditionError(`cursor ${cursor.term}/${cursor.index} is behind last applied`, {
      last_applied: state.last_applied,
    });
  }
}

function checkBatchSize(events: unknown): asserts events is unknown[] {
  if (!Array.isArray(events)) throw new InvalidArgumentError('malformed batch: expected an array of events');
  if (events.length > MAX_EVENTS_PER_BATCH) {
    throw new InvalidArgumentError(`batch of ${events.length} events exceeds ${MAX_EVENTS_PER_BATCH}`, { count: events.length });
  }
}

/**
 * Applies `events` as one atomic step at `cursor` and returns the new state, or throws the first refusal
 * (InvalidArgumentError for malformed input, FailedPreconditionError for an invalid transition) having changed
 * nothing. All events of a batch share the cursor of the raft entry that carried them.
 */
export function applyBatch(state: RootState, events: readonly RootEvent[], cursor: Cursor): RootState {
  checkBatchSize(events);
  events.forEach((ev, i) => checkEventShape(ev, `events[${i}]`));
  checkCursor(state, cursor);
  const d = new Draft(state);
  for (const ev of events) step(d, ev, cursor);
  d.s.last_applied = { term: cursor.term, index: cursor.index };
  return d.s;
}

/** applyBatch of one event. */
export function applyEvent(state: RootState, event: RootEvent, cursor: Cursor): RootState {
  return applyBatch(state, [event], cursor);
}

/** Whether `event` would apply to `state` now, and if not, the typed reason. Never throws for bad input. */
export function validateEvent(state: RootState, event: unknown): Validation {
  return validateBatch(state, [event]);
}

export function validateBatch(state: RootState, events: readonly unknown[]): Validation {
  try {
    applyBatch(state, events as RootEvent[], state.last_applied);
    return { ok: true };
  } catch (err) {
    if (err instanceof InvalidArgumentError || err instanceof FailedPreconditionError) return { ok: false, error: err };
    throw err;
  }
}

/** Advances last_applied for a raft entry that carries no command (a leader's empty entry, a conf change). */
export function noteApplied(state: RootState, cursor: Cursor): RootState {
  checkCursor(state, cursor);
  return { ...state, last_applied: { term: cursor.term, index: cursor.index } };
}
