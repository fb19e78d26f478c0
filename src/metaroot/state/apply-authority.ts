// Owns how Eunomia and allocator-fence events change rooted state. These events are produced only by the
// Eunomia commands (eunomia.ts), which also check holder, era and liveness at the caller's time; the checks
// here are the time-free part of the same rules, kept so no event sequence (whatever produced it) can make an
// era go back, reopen a sealed era, skip a handover stage, or let a successor skip its inheritance.
import type { Cursor, Frontiers, HandoverStage, RootState } from './types.js';
import { HANDOVER_STAGES, MANDATE_BITS } from './types.js';
import type { HandoverSet, IdFenceAdvanced, LegacySealed, TenureSet, TsoFenceAdvanced } from './events.js';
import { compareU64, maxU64 } from './u64.js';
import { digestOfLegacy, frontierForBit } from './lineage.js';
import { Draft, refuse } from './draft.js';

/** Whether the current tenure's era has been sealed into the legacy record. */
export function isSealed(s: RootState): boolean {
  return s.legacy !== null && s.tenure.era !== 0 && s.legacy.era === s.tenure.era && s.legacy.holder_id === s.tenure.holder_id;
}

/** The first mandate bit whose legacy frontier `f` does not reach, or 0 if `f` covers the legacy. */
export function uncoveredBit(s: RootState, f: Frontiers): number {
  const legacy = s.legacy;
  if (!legacy) return 0;
  for (const bit of MANDATE_BITS) {
    if ((legacy.mandate & bit) === 0) continue;
    if (compareU64(frontierForBit(f, bit), frontierForBit(legacy.frontiers, bit)) < 0) return bit;
  }
  return 0;
}

function maxFrontiers(a: Frontiers, b: Frontiers): Frontiers {
  return { alloc_id: maxU64(a.alloc_id, b.alloc_id), tso: maxU64(a.tso, b.tso), region_lookup: maxU64(a.region_lookup, b.region_lookup) };
}

/** Consumed or inherited frontiers are values someone may have served: the rooted fences must cover them. */
function raiseFences(d: Draft, f: Frontiers): void {
  d.s.id_fence = maxU64(d.s.id_fence, f.alloc_id);
  d.s.tso_fence = maxU64(d.s.tso_fence, f.tso);
}

export function applyIdFence(d: Draft, ev: IdFenceAdvanced): void {
  d.s.id_fence = maxU64(d.s.id_fence, ev.minimum);
}

export function applyTsoFence(d: Draft, ev: TsoFenceAdvanced): void {
  d.s.tso_fence = maxU64(d.s.tso_fence, ev.minimum);
}

export function applyTenureEvent(d: Draft, ev: TenureSet, cursor: Cursor): void {
  const t = d.s.tenure;
  if (ev.era < t.era) refuse(`tenure era regression ${t.era} -> ${ev.era}`, { era: t.era, holder_id: t.holder_id });
  const sameEra = ev.era === t.era;
  if (sameEra && ev.holder_id !== t.holder_id) {
    refuse(`tenure era ${t.era} belongs to ${t.holder_id}`, { era: t.era, holder_id: t.holder_id });
  }
  if (sameEra && isSealed(d.s) && ev.expires_unix_ms > t.expires_unix_ms) {
    refuse(`tenure era ${t.era} is sealed and cannot be extended`, { era: t.era, holder_id: t.holder_id });
  }
  if (!sameEra && isSealed(d.s)) {
    const legacy = d.s.legacy!;
    if (ev.lineage_digest !== digestOfLegacy(legacy)) {
      refuse(`successor of sealed era ${legacy.era} must present its lineage digest`, { legacy_era: legacy.era });
    }
    const bit = uncoveredBit(d.s, ev.frontiers);
    if (bit !== 0) refuse(`successor frontiers do not cover sealed era ${legacy.era} (mandate bit ${bit})`, { legacy_era: legacy.era, bit });
  }
  d.s.tenure = {
    holder_id: ev.holder_id,
    era: ev.era,
    expires_unix_ms: ev.expires_unix_ms,
    issued_at: sameEra ? t.issued_at : cursor,
    mandate: ev.mandate,
    lineage_digest: ev.lineage_digest !== '' ? ev.lineage_digest : sameEra ? t.lineage_digest : '',
    frontiers: sameEra ? maxFrontiers(t.frontiers, ev.frontiers) : { ...ev.frontiers },
  };
  raiseFences(d, ev.frontiers);
}

export function applyLegacyEvent(d: Draft, ev: LegacySealed, cursor: Cursor): void {
  const t = d.s.tenure;
  if (ev.era !== t.era || ev.holder_id !== t.holder_id) {
    refuse(`only the current era can be sealed (era ${t.era} held by ${t.holder_id})`, { era: t.era, holder_id: t.holder_id });
  }
  if (d.s.legacy?.era === ev.era) refuse(`era ${ev.era} is already sealed`, { era: ev.era });
  d.s.legacy = { holder_id: ev.holder_id, era: ev.era, mandate: ev.mandate, frontiers: { ...ev.frontiers }, sealed_at: cursor };
  d.s.handover = null;
  raiseFences(d, ev.frontiers);
}

export function applyHandoverEvent(d: Draft, ev: HandoverSet, cursor: Cursor): void {
  const { legacy, tenure: t, handover: h } = d.s;
  if (!legacy || legacy.era !== ev.legacy_era) refuse(`no sealed legacy at era ${ev.legacy_era}`, { legacy_era: legacy?.era ?? 0 });
  if (ev.successor_era !== t.era || t.era <= legacy.era || ev.holder_id !== t.holder_id) {
    refuse(`handover successor must be the current tenure after era ${legacy.era}`, { era: t.era, holder_id: t.holder_id });
  }
  if (ev.legacy_digest !== digestOfLegacy(legacy) || t.lineage_digest !== ev.legacy_digest) {
    refuse(`handover digest does not match the legacy of era ${legacy.era}`, { legacy_era: legacy.era });
  }
  if (uncoveredBit(d.s, t.frontiers) !== 0) refuse(`successor era ${t.era} does not cover its legacy`, { era: t.era });
  const next = HANDOVER_STAGES.indexOf(ev.stage);
  const sameHandover = h !== null && h.legacy_era === ev.legacy_era && h.successor_era === ev.successor_era;
  const cur = sameHandover ? HANDOVER_STAGES.indexOf(h.stage) : -1;
  if (next < cur) refuse(`handover stage regression ${h!.stage} -> ${ev.stage}`, { stage: h!.stage });
  if (next > cur + 1) refuse(`handover stage ${ev.stage} requires ${HANDOVER_STAGES[cur + 1]} first`, { stage: sameHandover ? h.stage : null });
  if (next === cur) return;
  const at = (stage: HandoverStage): Cursor | null => (stage === ev.stage ? cursor : null);
  d.s.handover = {
    holder_id: ev.holder_id,
    legacy_era: ev.legacy_era,
    successor_era: ev.successor_era,
    legacy_digest: ev.legacy_digest,
    stage: ev.stage,
    confirmed_at: sameHandover ? h.confirmed_at : cursor,
    closed_at: sameHandover && h.closed_at ? h.closed_at : at('closed'),
    reattached_at: at('reattached'),
  };
}
