// Owns the Eunomia command rules: Tenure Issue/Renew/Release, Handover Seal/Confirm/Close/Reattach and the
// compare-and-set allocator fence. Each `decide*` function reads the state at the caller-supplied now_ms and
// returns either the events to append or a typed refusal; it never changes anything. The same decision runs on
// the leader (to answer early) and again on every replica when the command is applied (commands.ts), so a
// command that went stale while in flight is refused deterministically everywhere.
//
// Stricter than upstream: fences and renewals name (holder, era) and are refused unless that pair holds the
// current, live, unsealed era at now_ms, so a deposed holder can neither renew nor refill an allocator window.
import { FailedPreconditionError, InvalidArgumentError, type NokvError } from '../../common/errors.js';
import type { Frontiers, RootState } from './types.js';
import { MANDATE_ALLOC_ID, MANDATE_DEFAULT, MANDATE_TSO, ZERO_FRONTIERS } from './types.js';
import type { RootEvent } from './events.js';
import { EVENT_VERSION } from './events.js';
import { compareU64, type U64 } from './u64.js';
import { digestOfLegacy } from './lineage.js';
import { isSealed, uncoveredBit } from './apply-authority.js';

export type TenureCommand =
  | {
      op: 'issue';
      holder_id: string;
      expires_unix_ms: number;
      now_ms: number;
      /** Required after a Seal: digestOfLegacy(state.legacy). Otherwise '' or the current digest. */
      lineage_digest?: string;
      /** What the candidate has already covered; after a Seal it must reach the legacy's frontiers. */
      frontiers?: Frontiers;
      /** Defaults to MANDATE_DEFAULT (7). */
      mandate?: number;
    }
  | { op: 'renew'; holder_id: string; era: number; expires_unix_ms: number; now_ms: number }
  | { op: 'release'; holder_id: string; era: number; now_ms: number; frontiers?: Frontiers };

export type HandoverCommand =
  | { op: 'seal'; holder_id: string; era: number; now_ms: number; frontiers: Frontiers }
  | { op: 'confirm'; holder_id: string; era: number; now_ms: number }
  | { op: 'close'; holder_id: string; era: number; now_ms: number }
  | { op: 'reattach'; holder_id: string; era: number; now_ms: number };

export interface FenceRequest {
  kind: 'id' | 'tso';
  minimum: U64;
  holder_id: string;
  era: number;
  now_ms: number;
}

/** Why Eunomia refused, in its own vocabulary; carried in error.details.reason. */
export type RefusalReason = 'primacy' | 'inheritance' | 'silence' | 'finality';

export type Decision = { accepted: true; events: RootEvent[] } | { accepted: false; error: NokvError };

/** A tenure view at a given time: who holds which era, and whether that holder may serve now. */
export interface TenureView {
  holder_id: string;
  era: number;
  expires_unix_ms: number;
  mandate: number;
  sealed: boolean;
  /** holder set, not expired at now, and not sealed. */
  active: boolean;
}

export function tenureView(s: RootState, nowMs: number): TenureView {
  const t = s.tenure;
  const sealed = isSealed(s);
  return {
    holder_id: t.holder_id,
    era: t.era,
    expires_unix_ms: t.expires_unix_ms,
    mandate: t.mandate,
    sealed,
    active: t.holder_id !== '' && t.expires_unix_ms > nowMs && !sealed,
  };
}

/** Whether (holder, era) is the current live, unsealed tenure at nowMs: the compare-and-set condition. */
export function holdsLiveEra(s: RootState, holderId: string, era: number, nowMs: number): boolean {
  const v = tenureView(s, nowMs);
  return v.active && v.holder_id === holderId && v.era === era && era !== 0;
}

function refused(reason: RefusalReason, message: string, s: RootState, nowMs: number): Decision {
  const v = tenureView(s, nowMs);
  const error = new FailedPreconditionError(message, {
    reason,
    holder_id: v.holder_id,
    era: v.era,
    expires_unix_ms: v.expires_unix_ms,
    sealed: v.sealed,
  });
  return { accepted: false, error };
}

function invalid(message: string): Decision {
  return { accepted: false, error: new InvalidArgumentError(message) };
}

const accept = (...events: RootEvent[]): Decision => ({ accepted: true, events });

function notHolder(s: RootState, holderId: string, era: number, nowMs: number): Decision {
  const t = s.tenure;
  const held = `held by ${t.holder_id === '' ? 'nobody' : t.holder_id} era ${t.era}`;
  const why = isSealed(s) ? 'sealed' : t.expires_unix_ms <= nowMs ? 'expired' : 'live';
  return refused('silence', `not holder: ${holderId} era ${era} is not the live era (${held}, ${why})`, s, nowMs);
}

export function decideTenure(s: RootState, cmd: TenureCommand): Decision {
  const t = s.tenure;
  switch (cmd.op) {
    case 'issue': {
      if (cmd.expires_unix_ms <= cmd.now_ms) return invalid('tenure must expire after now');
      const digest = cmd.lineage_digest ?? '';
      const frontiers = cmd.frontiers ?? ZERO_FRONTIERS;
      let era: number;
      if (isSealed(s)) {
        const legacy = s.legacy!;
        if (digest !== digestOfLegacy(legacy)) {
          return refused('inheritance', `successor of sealed era ${legacy.era} must present its lineage digest`, s, cmd.now_ms);
        }
        const bit = uncoveredBit(s, frontiers);
        if (bit !== 0) return refused('inheritance', `frontiers do not cover sealed era ${legacy.era} (mandate bit ${bit})`, s, cmd.now_ms);
        era = t.era + 1;
      } else if (t.holder_id !== '' && t.expires_unix_ms > cmd.now_ms) {
        if (t.holder_id !== cmd.holder_id) {
          return refused('primacy', `not holder: held by ${t.holder_id} era ${t.era} until ${t.expires_unix_ms}`, s, cmd.now_ms);
        }
        if (digest !== '' && digest !== t.lineage_digest) {
          return refused('inheritance', `lineage digest does not match era ${t.era}`, s, cmd.now_ms);
        }
        era = t.era;
      } else {
        era = t.era + 1;
      }
      return accept({
        kind: 'tenure',
        v: EVENT_VERSION,
        holder_id: cmd.holder_id,
        era,
        expires_unix_ms: cmd.expires_unix_ms,
        mandate: cmd.mandate ?? MANDATE_DEFAULT,
        lineage_digest: digest,
        frontiers: { ...frontiers },
      });
    }
    case 'renew': {
      if (cmd.expires_unix_ms <= cmd.now_ms) return invalid('tenure must expire after now');
      if (!holdsLiveEra(s, cmd.holder_id, cmd.era, cmd.now_ms)) return notHolder(s, cmd.holder_id, cmd.era, cmd.now_ms);
      return accept(tenureEvent(s, cmd.expires_unix_ms, ZERO_FRONTIERS));
    }
    case 'release': {
      if (t.holder_id !== cmd.holder_id || t.era !== cmd.era || t.era === 0) return notHolder(s, cmd.holder_id, cmd.era, cmd.now_ms);
      // A release never extends: an already expired tenure stays expired at its old instant.
      return accept(tenureEvent(s, Math.min(t.expires_unix_ms, cmd.now_ms), cmd.frontiers ?? ZERO_FRONTIERS));
    }
  }
}

function tenureEvent(s: RootState, expires: number, frontiers: Frontiers): RootEvent {
  const t = s.tenure;
  return {
    kind: 'tenure',
    v: EVENT_VERSION,
    holder_id: t.holder_id,
    era: t.era,
    expires_unix_ms: expires,
    mandate: t.mandate,
    lineage_digest: '',
    frontiers: { ...frontiers },
  };
}

export function decideHandover(s: RootState, cmd: HandoverCommand): Decision {
  const { tenure: t, legacy, handover: h } = s;
  const now = cmd.now_ms;
  if (cmd.op === 'seal') {
    if (legacy && legacy.era === cmd.era && legacy.holder_id === cmd.holder_id && t.era === cmd.era) return accept();
    if (t.holder_id !== cmd.holder_id || t.era !== cmd.era || t.era === 0) return notHolder(s, cmd.holder_id, cmd.era, now);
    return accept({ kind: 'legacy', v: EVENT_VERSION, holder_id: t.holder_id, era: t.era, mandate: t.mandate, frontiers: { ...cmd.frontiers } });
  }
  const mine = h !== null && legacy !== null && h.holder_id === cmd.holder_id && h.successor_era === cmd.era && h.legacy_era === legacy.era;
  const stageEvent = (stage: 'confirmed' | 'closed' | 'reattached'): RootEvent => ({
    kind: 'handover',
    v: EVENT_VERSION,
    holder_id: cmd.holder_id,
    legacy_era: legacy!.era,
    successor_era: cmd.era,
    legacy_digest: digestOfLegacy(legacy!),
    stage,
  });
  switch (cmd.op) {
    case 'confirm': {
      if (mine) return accept();
      if (!holdsLiveEra(s, cmd.holder_id, cmd.era, now)) return notHolder(s, cmd.holder_id, cmd.era, now);
      if (!legacy) return refused('finality', 'no sealed legacy to confirm', s, now);
      if (t.era <= legacy.era) return refused('finality', `era ${t.era} is not a successor of sealed era ${legacy.era}`, s, now);
      if (t.lineage_digest !== digestOfLegacy(legacy)) return refused('finality', `era ${t.era} did not inherit from sealed era ${legacy.era}`, s, now);
      if (uncoveredBit(s, t.frontiers) !== 0) return refused('finality', `era ${t.era} does not cover sealed era ${legacy.era}`, s, now);
      return accept(stageEvent('confirmed'));
    }
    case 'close': {
      if (!mine) return refused('finality', `no confirmed handover for ${cmd.holder_id} era ${cmd.era}`, s, now);
      if (h.stage !== 'confirmed') return accept();
      if (!holdsLiveEra(s, cmd.holder_id, cmd.era, now)) return notHolder(s, cmd.holder_id, cmd.era, now);
      return accept(stageEvent('closed'));
    }
    case 'reattach': {
      if (!mine || h.stage === 'confirmed') return refused('finality', `no closed handover for ${cmd.holder_id} era ${cmd.era}`, s, now);
      if (h.stage === 'reattached') return accept();
      return accept(stageEvent('reattached'));
    }
  }
}

/**
 * Raises the ID or TSO fence to at least `minimum` on behalf of the live holder. Accepted with no events when
 * the fence already reaches `minimum`, so a retried window allocation is free.
 */
export function decideFence(s: RootState, req: FenceRequest): Decision {
  if (!holdsLiveEra(s, req.holder_id, req.era, req.now_ms)) return notHolder(s, req.holder_id, req.era, req.now_ms);
  const bit = req.kind === 'id' ? MANDATE_ALLOC_ID : MANDATE_TSO;
  if ((s.tenure.mandate & bit) === 0) return refused('silence', `era ${s.tenure.era} has no ${req.kind} mandate`, s, req.now_ms);
  const fence = req.kind === 'id' ? s.id_fence : s.tso_fence;
  if (compareU64(fence, req.minimum) >= 0) return accept();
  const kind = req.kind === 'id' ? 'id_fence_advanced' : 'tso_fence_advanced';
  return accept({ kind, v: EVENT_VERSION, minimum: req.minimum });
}
