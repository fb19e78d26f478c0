// The gateway's subtree-handoff publisher against the real rooted state machine (behind a stand-in for the
// coordinators that applies each published event as meta-root would, and can answer from a stale view):
// the first handoff declares then hands off, concurrent handoffs of one subtree queue, a handoff left open is
// completed before the next one, and a refusal from a lagging view is retried after re-reading.
import { expect } from 'chai';
import { applyEvent, checkEventShape, emptyState, events, subtreeId, type RootState } from '../../src/metaroot/state/index.js';
import { SubtreeHandoffs } from '../../src/gateway/adapters/subtree-handoff.js';

const M = 'm1';
const SID = subtreeId(M, 1);

/** Applies published events to a rooted state; `staleReads` answers that many reads from an older state. */
class RootedStandIn {
  state: RootState;
  private index = 1;
  staleReads = 0;
  private stale: RootState;
  published: string[] = [];

  constructor() {
    this.state = applyEvent(emptyState(), events.mountRegistered(M, 1, 1), { term: 1, index: this.index++ });
    this.stale = this.state;
  }

  async getSubtreeAuthority(mount: string, rootInode: number) {
    const s = this.staleReads > 0 ? (this.staleReads--, this.stale) : this.state;
    const a = s.subtrees[subtreeId(mount, rootInode)];
    return a ? { authority: a, not_found: false } : { authority: null, not_found: true };
  }

  async publishRootEvent(ev: unknown) {
    checkEventShape(ev);
    this.stale = this.state;
    this.state = applyEvent(this.state, ev, { term: 1, index: this.index++ });
    this.published.push(ev.kind);
    return { accepted: true };
  }
}

const noSleep = async () => undefined;

describe('subtree handoff publisher against the rooted state machine', () => {
  it('declares an undeclared authority, then hands it to the next era and completes with the frontier', async () => {
    const root = new RootedStandIn();
    const h = new SubtreeHandoffs(root, 'fsmeta-1', noSleep);
    await h.start(M, 1, 100n);
    expect(root.state.subtrees[SID]!.handoff).to.deep.include({ from_authority: 'fsmeta-1@1', to_authority: 'fsmeta-1@2', era: 2 });
    await h.complete(M, 1, 150n);
    expect(root.state.subtrees[SID]).to.deep.include({ authority_id: 'fsmeta-1@2', era: 2, frontier: '150', handoff: null });
    expect(root.published).to.deep.equal(['subtree_authority_declared', 'subtree_handoff_started', 'subtree_handoff_completed']);
  });

  it('a second handoff of the same subtree waits until the first completes', async () => {
    const root = new RootedStandIn();
    const h = new SubtreeHandoffs(root, 'fsmeta-1', noSleep);
    await h.start(M, 1, 10n);
    let secondStarted = false;
    const second = h.start(M, 1, 20n).then(() => (secondStarted = true));
    await new Promise((r) => setTimeout(r, 20));
    expect(secondStarted).to.equal(false);
    await h.complete(M, 1, 15n);
    await second;
    await h.complete(M, 1, 25n);
    expect(root.state.subtrees[SID]).to.deep.include({ era: 3, frontier: '25', handoff: null });
  });

  it('a handoff left open by a stopped gateway is completed before the next one opens', async () => {
    const root = new RootedStandIn();
    const crashed = new SubtreeHandoffs(root, 'fsmeta-1', noSleep);
    await crashed.start(M, 1, 10n); // never completed
    const next = new SubtreeHandoffs(root, 'fsmeta-2', noSleep);
    await next.start(M, 1, 40n);
    await next.complete(M, 1, 50n);
    expect(root.state.subtrees[SID]).to.deep.include({ authority_id: 'fsmeta-2@3', era: 3, frontier: '50', handoff: null });
  });

  it('a refusal from a stale view is retried after re-reading', async () => {
    const root = new RootedStandIn();
    const h = new SubtreeHandoffs(root, 'fsmeta-1', noSleep);
    await h.start(M, 1, 1n);
    await h.complete(M, 1, 2n);
    root.staleReads = 1; // the next read sees the state before the completion: era 1 with a handoff open
    await h.start(M, 1, 3n);
    await h.complete(M, 1, 4n);
    expect(root.state.subtrees[SID]).to.deep.include({ era: 3, frontier: '4', handoff: null });
  });

  it('a subtree without an authority record is refused', async () => {
    const h = new SubtreeHandoffs(new RootedStandIn(), 'fsmeta-1', noSleep);
    const err = await h.start('unknown', 1, 1n).then(() => null, (e: Error) => e);
    expect(err?.message).to.match(/no authority record/);
  });
});
