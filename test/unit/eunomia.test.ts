import { expect } from 'chai';
import { FailedPreconditionError, InvalidArgumentError } from '../../src/common/errors.js';
import {
  applyFence,
  applyHandover,
  applyTenure,
  decideFence,
  digestOfLegacy,
  emptyState,
  holdsLiveEra,
  tenureView,
  type CommandOutcome,
  type Cursor,
  type Frontiers,
  type RootState,
} from '../../src/metaroot/state/index.js';

let index = 0;
const at = (): Cursor => ({ term: 1, index: ++index });
const F = (alloc_id: string, tso: string, region_lookup = '0'): Frontiers => ({ alloc_id, tso, region_lookup });

type Step = { state: RootState; outcome: CommandOutcome };

function issue(s: RootState, holder_id: string, now_ms: number, ttl = 100, extra: { lineage_digest?: string; frontiers?: Frontiers } = {}): Step {
  return applyTenure(s, { op: 'issue', holder_id, now_ms, expires_unix_ms: now_ms + ttl, ...extra }, at());
}

function expectRefusal(step: Step, reason: string, holder: string, era: number): void {
  expect(step.outcome.accepted).to.equal(false);
  expect(step.outcome.error).to.be.instanceOf(FailedPreconditionError);
  expect(step.outcome.error!.details).to.include({ reason, holder_id: holder, era });
  expect(step.outcome.events).to.deep.equal([]);
}

describe('eunomia: tenure', () => {
  it('first issue starts era 1; a same-holder issue while live renews in the same era', () => {
    let { state, outcome } = issue(emptyState(), 'c1', 1000);
    expect(outcome.accepted).to.equal(true);
    expect(state.tenure).to.deep.include({ holder_id: 'c1', era: 1, expires_unix_ms: 1100, mandate: 7 });
    expect(outcome.tenure).to.deep.include({ active: true, era: 1 });
    ({ state } = issue(state, 'c1', 1050));
    expect(state.tenure).to.deep.include({ era: 1, expires_unix_ms: 1150 });
  });

  it('a different holder is refused while the tenure is live, told who holds which era', () => {
    const { state } = issue(emptyState(), 'c1', 1000);
    const refused = issue(state, 'c2', 1099);
    expectRefusal(refused, 'primacy', 'c1', 1);
    expect(refused.outcome.error!.message).to.match(/not holder: held by c1 era 1/);
    expect(refused.state.tenure).to.deep.equal(state.tenure);
  });

  it('takeover after expiry bumps the era, even for the same holder', () => {
    let { state } = issue(emptyState(), 'c1', 1000);
    ({ state } = issue(state, 'c2', 1100));
    expect(state.tenure).to.deep.include({ holder_id: 'c2', era: 2 });
    ({ state } = issue(state, 'c2', 1300));
    expect(state.tenure).to.deep.include({ holder_id: 'c2', era: 3 });
  });

  it('release sets expires to now and keeps the era; a standby then takes over with era+1', () => {
    let { state } = issue(emptyState(), 'c1', 1000);
    ({ state } = applyTenure(state, { op: 'release', holder_id: 'c1', era: 1, now_ms: 1010 }, at()));
    expect(state.tenure).to.deep.include({ holder_id: 'c1', era: 1, expires_unix_ms: 1010 });
    expect(tenureView(state, 1010).active).to.equal(false);
    ({ state } = issue(state, 'c2', 1010));
    expect(state.tenure).to.deep.include({ holder_id: 'c2', era: 2 });
  });

  it('refuses an issue that expires at or before now with InvalidArgumentError', () => {
    const step = applyTenure(emptyState(), { op: 'issue', holder_id: 'c1', now_ms: 5, expires_unix_ms: 5 }, at());
    expect(step.outcome.error).to.be.instanceOf(InvalidArgumentError);
  });

  it('renew is compare-and-set on (holder, era): a stale holder cannot renew after a successor exists', () => {
    let { state } = issue(emptyState(), 'c1', 1000);
    const renewed = applyTenure(state, { op: 'renew', holder_id: 'c1', era: 1, now_ms: 1050, expires_unix_ms: 1200 }, at());
    expect(renewed.outcome.accepted).to.equal(true);
    expect(renewed.state.tenure.expires_unix_ms).to.equal(1200);
    ({ state } = issue(renewed.state, 'c2', 1200));
    const stale = applyTenure(state, { op: 'renew', holder_id: 'c1', era: 1, now_ms: 1201, expires_unix_ms: 1400 }, at());
    expectRefusal(stale, 'silence', 'c2', 2);
    const wrongEra = applyTenure(state, { op: 'renew', holder_id: 'c2', era: 1, now_ms: 1201, expires_unix_ms: 1400 }, at());
    expectRefusal(wrongEra, 'silence', 'c2', 2);
    const expired = applyTenure(state, { op: 'renew', holder_id: 'c2', era: 2, now_ms: 1300, expires_unix_ms: 1400 }, at());
    expectRefusal(expired, 'silence', 'c2', 2);
  });
});

describe('eunomia: allocator fences', () => {
  it('a live holder raises a fence; a fence already high enough is accepted with no event', () => {
    let { state } = issue(emptyState(), 'c1', 1000);
    const tso = '1800000000000000000';
    let step = applyFence(state, { kind: 'tso', minimum: tso, holder_id: 'c1', era: 1, now_ms: 1001 }, at());
    expect(step.outcome.accepted).to.equal(true);
    expect(step.state.tso_fence).to.equal(tso);
    state = step.state;
    step = applyFence(state, { kind: 'tso', minimum: '5', holder_id: 'c1', era: 1, now_ms: 1002 }, at());
    expect(step.outcome).to.deep.include({ accepted: true, events: [], tso_fence: tso });
  });

  it('a stale holder cannot advance a fence after a successor exists, nor after its expiry', () => {
    let { state } = issue(emptyState(), 'c1', 1000);
    const late = applyFence(state, { kind: 'id', minimum: '10000', holder_id: 'c1', era: 1, now_ms: 1100 }, at());
    expectRefusal(late, 'silence', 'c1', 1);
    ({ state } = issue(late.state, 'c2', 1100));
    ({ state } = applyFence(state, { kind: 'id', minimum: '20000', holder_id: 'c2', era: 2, now_ms: 1101 }, at()));
    const stale = applyFence(state, { kind: 'id', minimum: '30000', holder_id: 'c1', era: 1, now_ms: 1101 }, at());
    expectRefusal(stale, 'silence', 'c2', 2);
    expect(stale.state.id_fence).to.equal('20000');
  });

  it('a holder without the mandate bit cannot fence that allocator', () => {
    const { state } = applyTenure(emptyState(), { op: 'issue', holder_id: 'c1', now_ms: 0, expires_unix_ms: 50, mandate: 1 }, at());
    expect(decideFence(state, { kind: 'id', minimum: '1', holder_id: 'c1', era: 1, now_ms: 1 }).accepted).to.equal(true);
    const tso = decideFence(state, { kind: 'tso', minimum: '1', holder_id: 'c1', era: 1, now_ms: 1 });
    expect(tso.accepted).to.equal(false);
  });
});

describe('eunomia: planned handover', () => {
  function sealed(): RootState {
    let { state } = issue(emptyState(), 'c1', 1000, 1000);
    ({ state } = applyFence(state, { kind: 'id', minimum: '500', holder_id: 'c1', era: 1, now_ms: 1001 }, at()));
    const step = applyHandover(state, { op: 'seal', holder_id: 'c1', era: 1, now_ms: 1002, frontiers: F('400', '900', '3') }, at());
    expect(step.outcome.accepted).to.equal(true);
    return step.state;
  }

  it('seal records the legacy, raises fences to its frontiers and silences the sealed holder', () => {
    const s = sealed();
    expect(s.legacy).to.deep.include({ holder_id: 'c1', era: 1, mandate: 7 });
    expect(s.id_fence).to.equal('500');
    expect(s.tso_fence).to.equal('900');
    expect(tenureView(s, 1003)).to.deep.include({ sealed: true, active: false });
    expect(holdsLiveEra(s, 'c1', 1, 1003)).to.equal(false);
    expectRefusal(applyTenure(s, { op: 'renew', holder_id: 'c1', era: 1, now_ms: 1003, expires_unix_ms: 3000 }, at()), 'silence', 'c1', 1);
    expectRefusal(applyFence(s, { kind: 'id', minimum: '600', holder_id: 'c1', era: 1, now_ms: 1003 }, at()), 'silence', 'c1', 1);
    const again = applyHandover(s, { op: 'seal', holder_id: 'c1', era: 1, now_ms: 1004, frontiers: F('1', '1') }, at());
    expect(again.outcome).to.deep.include({ accepted: true, events: [] });
    expect(again.state.legacy).to.deep.equal(s.legacy);
  });

  it('a successor must present the legacy digest and frontiers covering the legacy', () => {
    const s = sealed();
    const digest = digestOfLegacy(s.legacy!);
    expect(digest).to.match(/^[0-9a-f]{64}$/);
    expectRefusal(issue(s, 'c2', 1005, 100, { lineage_digest: 'ab'.repeat(32), frontiers: F('500', '900', '3') }), 'inheritance', 'c1', 1);
    expectRefusal(issue(s, 'c2', 1005, 100, { lineage_digest: digest, frontiers: F('500', '899', '3') }), 'inheritance', 'c1', 1);
    const ok = issue(s, 'c2', 1005, 100, { lineage_digest: digest, frontiers: F('500', '900', '3') });
    expect(ok.outcome.accepted).to.equal(true);
    expect(ok.state.tenure).to.deep.include({ holder_id: 'c2', era: 2, lineage_digest: digest });
  });

  it('Seal → Issue → Confirm → Close → Reattach, each idempotent, each stage only after the previous', () => {
    const s0 = sealed();
    const digest = digestOfLegacy(s0.legacy!);
    let { state } = issue(s0, 'c2', 1005, 1000, { lineage_digest: digest, frontiers: F('500', '900', '3') });
    const h = { holder_id: 'c2', era: 2, now_ms: 1010 };
    expectRefusal(applyHandover(state, { op: 'close', ...h }, at()), 'finality', 'c2', 2);
    expectRefusal(applyHandover(state, { op: 'reattach', ...h }, at()), 'finality', 'c2', 2);
    expectRefusal(applyHandover(state, { op: 'confirm', ...h, holder_id: 'c1', era: 1 }, at()), 'silence', 'c2', 2);
    for (const op of ['confirm', 'confirm', 'close', 'close', 'reattach', 'reattach'] as const) {
      const step = applyHandover(state, { op, ...h }, at());
      expect(step.outcome.accepted, op).to.equal(true);
      state = step.state;
    }
    expect(state.handover).to.deep.include({ holder_id: 'c2', legacy_era: 1, successor_era: 2, stage: 'reattached', legacy_digest: digest });
    expect(state.handover!.closed_at).to.not.equal(null);
    expect(state.handover!.reattached_at).to.not.equal(null);
  });

  it('confirm requires finality: a successor that did not inherit from the legacy cannot confirm', () => {
    let { state } = issue(emptyState(), 'c1', 0, 10);
    ({ state } = applyHandover(state, { op: 'seal', holder_id: 'c1', era: 1, now_ms: 1, frontiers: F('1', '1') }, at()));
    ({ state } = applyTenure(state, { op: 'release', holder_id: 'c1', era: 1, now_ms: 2 }, at()));
    // still sealed: a successor must inherit; once it has, a later expiry-takeover era has no lineage to confirm.
    ({ state } = issue(state, 'c2', 3, 10, { lineage_digest: digestOfLegacy(state.legacy!), frontiers: F('1', '1') }));
    ({ state } = issue(state, 'c3', 20, 10));
    expect(state.tenure.era).to.equal(3);
    expectRefusal(applyHandover(state, { op: 'confirm', holder_id: 'c3', era: 3, now_ms: 21 }, at()), 'finality', 'c3', 3);
    expectRefusal(applyHandover(emptyState(), { op: 'confirm', holder_id: 'c3', era: 1, now_ms: 21 }, at()), 'silence', '', 0);
  });
});
