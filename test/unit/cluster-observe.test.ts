// The human lines for role-state changes are a pure function of two sampled views: a new raft leader with its
// term, a new lease holder with its era, handover phases, a process up or down, a region's new leader — and
// nothing when nothing changed. `nokv-config tail` hides lease renewals unless asked and filters by kind.
import { expect } from 'chai';
import { clusterView, stateChanges, summarise, type RoleSample } from '../../src/cluster/observe.js';
import { TailFilter } from '../../src/metaroot/config-cli.js';
import { summaryLine } from '../../src/cluster/report.js';
import type { RootEvent } from '../../src/metaroot/state/events.js';

const meta = (n: number, leader: boolean, term: number, holder: string, era: number, handover = 'none') =>
  summarise({ name: `meta-root-${n}`, role: 'meta-root' }, {
    pid: 100 + n,
    nokv_meta_root: { is_leader: leader, term, leader_id: 1, commit_index: 5, tenure: { holder_id: holder, era }, handover_stage: handover },
  });
const coord = (n: number, up: boolean, active: boolean, holder: string, era: number) =>
  summarise({ name: `coordinator-${n}`, role: 'coordinator' }, up ? { pid: 200 + n, nokv_coordinator: { coordinator_id: `coord-${n}`, lease: { held_by_self: active, holder_id: holder, era } } } : undefined);
const store = (n: number, regions: Array<[number, string, number]>) =>
  summarise({ name: `store-${n}`, role: 'store' }, { pid: 300 + n, nokv_store: { store_id: n, regions: regions.map(([id, role, term]) => ({ id, role, term })) } });

const view = (t: number, roles: RoleSample[]) => clusterView(t, roles);

describe('cluster observe: one human line per role-state change', () => {
  const before = view(0, [meta(1, true, 2, 'coord-1', 1), meta(2, false, 2, 'coord-1', 1), coord(1, true, true, 'coord-1', 1), coord(2, true, false, 'coord-1', 1), store(1, [[1, 'leader', 2]]), store(2, [[1, 'follower', 2]])]);

  it('reports nothing when nothing changed, and fills the summary fields', () => {
    expect(stateChanges(before, view(1, before.roles))).to.deep.equal([]);
    expect(before.metaLeader).to.deep.equal({ name: 'meta-root-1', term: 2 });
    expect(before.lease).to.deep.equal({ holder: 'coord-1', era: 1, handover: 'none' });
    expect(before.regions).to.deep.equal([{ id: 1, leader: 'store-1', term: 2 }]);
    expect(before.roles.find((r) => r.name === 'coordinator-1')!.state).to.equal('ACTIVE holder=coord-1 era=1 transfers=0');
    expect(before.roles.find((r) => r.name === 'coordinator-2')!.state).to.equal('standby holder=coord-1 era=1');
    expect(before.leadersPerStore).to.deep.equal([{ store: 'store-1', leaders: 1 }, { store: 'store-2', leaders: 0 }]);
    expect(before.pendingTransfers).to.equal(0);
  });

  it('the active coordinator names what holds the GC safe point and how far behind it is; a store its removed versions', () => {
    const gc = (g: Record<string, unknown>) =>
      summarise({ name: 'coordinator-1', role: 'coordinator' }, { nokv_coordinator: { coordinator_id: 'coord-1', lease: { held_by_self: true, holder_id: 'coord-1', era: 1 }, gc: g } }).state;
    expect(gc({ safe_point: (90_000n << 18n).toString(), advanced_ms: 100_000, held_by: 'snapshot', waiting_for: [] })).to.equal('ACTIVE holder=coord-1 era=1 transfers=0 gc=snapshot:10.0s');
    expect(gc({ safe_point: '0', advanced_ms: 0, held_by: '', waiting_for: [2, 3] })).to.equal('ACTIVE holder=coord-1 era=1 transfers=0 gc=waiting-for-stores:2,3');
    const st = summarise({ name: 'store-1', role: 'store' }, { nokv_store: { store_id: 1, regions: [{ id: 1, role: 'leader', term: 2 }], percolator: { gc_writes_removed: 28 } } });
    expect(st.state).to.equal('regions=1 leading=[1] gc-removed=28');
  });

  it('replica repair: the active coordinator\'s row and the summary show open peer changes, down stores and regions per store', () => {
    const c = summarise({ name: 'coordinator-1', role: 'coordinator' }, {
      nokv_coordinator: {
        coordinator_id: 'coord-1',
        lease: { held_by_self: true, holder_id: 'coord-1', era: 3 },
        scheduler: { pending_transfers: [], repair: { down_stores: [2], pending_peer_changes: [{ region_id: 5, kind: 'add', store_id: 4, conf_version: 2 }] } },
      },
    });
    expect(c.state).to.equal('ACTIVE holder=coord-1 era=3 transfers=0 peer-changes=1 down-stores=[2]');
    const v = view(0, [meta(1, true, 2, 'coord-1', 3), c, store(1, [[5, 'leader', 2], [6, 'follower', 2]]), store(4, [[5, 'learner', 2]])]);
    expect(v.regionsPerStore).to.deep.equal([{ store: 'store-1', regions: 2 }, { store: 'store-4', regions: 1 }]);
    expect(summaryLine(v)).to.match(/regions per store store-1=2 store-4=1 · peer changes in flight 1 \(region 5: add store-4\) · down stores store-2\n$/);
  });

  it('names the new raft leader with its term, the new holder with its era, handover phases and processes going down', () => {
    const after = view(1, [meta(1, false, 3, 'coord-2', 2, 'confirmed'), meta(2, true, 3, 'coord-2', 2, 'confirmed'), coord(1, false, false, '', 0), coord(2, true, true, 'coord-2', 2), store(1, [[1, 'follower', 3]]), store(2, [[1, 'leader', 3]])]);
    expect(stateChanges(before, after)).to.deep.equal([
      'coordinator-1 is down (not answering)',
      'meta-root raft leader: meta-root-2 (term 3)',
      'coordinator lease: coord-2 holds era 2 (was coord-1 era 1)',
      'handover: confirmed',
      'region 1 raft leader: store-2 (term 3)',
    ]);
    const back = view(2, after.roles.map((r) => (r.name === 'coordinator-1' ? coord(1, true, false, 'coord-2', 2) : r)));
    expect(stateChanges(after, back)).to.deep.equal(['coordinator-1 is up (pid 201)']);
  });

  it('says a lease was released only when someone held it', () => {
    const none = view(0, [meta(1, true, 2, '', 0)]);
    expect(stateChanges(undefined, none)).to.deep.equal(['meta-root raft leader: meta-root-1 (term 2)']);
    const held = view(1, [meta(1, true, 2, 'coord-1', 1)]);
    expect(stateChanges(held, view(2, [meta(1, true, 2, '', 1)]))).to.deep.equal(['coordinator lease: released by coord-1 (era 1)']);
  });

  it('reports a lost root leader', () => {
    const lost = view(1, before.roles.map((r) => (r.name === 'meta-root-1' ? summarise({ name: 'meta-root-1', role: 'meta-root' }, undefined) : r)));
    expect(stateChanges(before, lost)).to.include('meta-root has no raft leader (was meta-root-1, term 2)');
  });
});

describe('nokv-config tail filter', () => {
  const tenure = (holder: string, era: number, expires: number) => ({ kind: 'tenure', v: 1, holder_id: holder, era, expires_unix_ms: expires }) as unknown as RootEvent;
  const fence = { kind: 'id_fence_advanced', v: 1, minimum: '10' } as unknown as RootEvent;
  const events = [tenure('c1', 1, 10), tenure('c1', 1, 20), fence, tenure('c1', 1, 30), tenure('c2', 2, 40), tenure('c2', 2, 50)];

  it('hides renewals (same holder and era) by default and shows them when asked', () => {
    const f = new TailFilter(undefined, false);
    expect(events.filter((e) => f.keep(e))).to.deep.equal([events[0], fence, events[4]]);
    const all = new TailFilter(undefined, true);
    expect(events.filter((e) => all.keep(e))).to.have.length(events.length);
  });

  it('keeps only the kinds asked for', () => {
    const f = new TailFilter(new Set(['id_fence_advanced']), false);
    expect(events.filter((e) => f.keep(e))).to.deep.equal([fence]);
  });
});
