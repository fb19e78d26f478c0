// Replica repair's planning rule (src/coordinator/repair.ts) against the real rooted state machine: which store
// gets the new peer, one open change per region, the whole add-then-remove walk with the conf version rising,
// a plan that outlives the coordinator that made it, and that only the coordinator serving the era plans.
import { expect } from 'chai';
import { ManualClock } from '../../src/common/clock.js';
import { FailedPreconditionError } from '../../src/common/errors.js';
import { silentLogger } from '../../src/common/log.js';
import { StoreRegistry } from '../../src/coordinator/catalog.js';
import { PEER_CHANGE_TIMEOUT_MS, ReplicaRepairer, peerHintsFor, type RepairClaim, type RepairInput } from '../../src/coordinator/repair.js';
import { coordinatorHandlers } from '../../src/coordinator/service.js';
import { classifyRefusal } from '../../src/store/control/descriptors.js';
import { applyBatch, events as E, hexKey, regionInput, emptyState, type RootEvent, type RootState } from '../../src/metaroot/state/index.js';

let index = 0;
const apply = (s: RootState, ...evs: RootEvent[]): RootState => applyBatch(s, evs, { term: 1, index: ++index });
const P = (s: number) => ({ store_id: s, peer_id: s });
const DOWN_MS = 5_000;

/** Stores 1..n joined; regions given as [id, start, end, peer stores]. */
function cluster(n: number, regions: Array<[number, string, string, number[]]>): RootState {
  let s = emptyState();
  for (let i = 1; i <= n; i++) s = apply(s, E.storeJoined(i, `127.0.0.1:${20000 + i}`));
  for (const [id, start, end, stores] of regions) s = apply(s, E.regionBootstrap(regionInput(id, hexKey(start), hexKey(end), { version: 1, conf_version: 1 }, stores.map(P))));
  return s;
}

/** Every region led by `leader` at its rooted epoch (what a settled store reports). */
function claimsAt(s: RootState, leader: (regionId: number) => number): Map<number, RepairClaim> {
  return new Map(Object.values(s.regions).map((r) => [r.region_id, { store_id: leader(r.region_id), term: 2, epoch_version: r.epoch.version, conf_version: r.epoch.conf_version }]));
}

function input(s: RootState, claims: Map<number, RepairClaim>, dead: number[], nowMs = 100_000): RepairInput {
  const stores = Object.values(s.stores).map((st) => st.store_id);
  return {
    state: s,
    claims,
    live: new Set(stores.filter((id) => !dead.includes(id))),
    silentMs: (id) => (dead.includes(id) ? DOWN_MS : 0),
    storeDownMs: DOWN_MS,
    nowMs,
  };
}

describe('replica repair planning (coordinator)', () => {
  it('a store down for store_down_ms gets each of its peers replaced on the live store with the fewest peers (ties: lowest id)', () => {
    const s = cluster(5, [
      [1, '', 'g', [1, 2, 3]],
      [2, 'g', 'p', [1, 2, 3]],
      [3, 'p', '', [2, 3, 4]],
    ]);
    const r = new ReplicaRepairer(DOWN_MS);
    // Silent, but not yet for store_down_ms: nothing.
    expect(r.plan({ ...input(s, claimsAt(s, () => 1), [3]), silentMs: (id) => (id === 3 ? DOWN_MS - 1 : 0) })).to.deep.equal([]);
    const evs = r.plan(input(s, claimsAt(s, (id) => (id === 3 ? 2 : 1)), [3]));
    // Region 1: store 5 (0 peers) over store 4 (1); region 2: 4 and 5 now tie at 1, the lower id; region 3: 5 (1) over 1 (2).
    expect(evs).to.deep.equal([
      E.peerAdditionPlanned(1, { version: 1, conf_version: 1 }, P(5)),
      E.peerAdditionPlanned(2, { version: 1, conf_version: 1 }, P(4)),
      E.peerAdditionPlanned(3, { version: 1, conf_version: 1 }, P(5)),
    ]);
    expect(r.view()).to.deep.include({ down_stores: [3] });
    expect(r.view().stats.planned_adds).to.equal(3);
  });

  it('plans nothing for a region whose leader is on a dead store, unknown, or behind the rooted epoch', () => {
    const s = cluster(4, [[1, '', '', [1, 2, 3]]]);
    const r = new ReplicaRepairer(DOWN_MS);
    expect(r.plan(input(s, new Map(), [3]))).to.deep.equal([]);
    expect(r.plan(input(s, claimsAt(s, () => 3), [3]))).to.deep.equal([]);
    const behind = new Map([[1, { store_id: 1, term: 2, epoch_version: 1, conf_version: 0 }]]);
    expect(r.plan(input(s, behind, [3]))).to.deep.equal([]);
    // No live store without a peer of the region (a three-store cluster): nothing to add, and never a removal down to two.
    const three = cluster(3, [[1, '', '', [1, 2, 3]]]);
    expect(r.plan(input(three, claimsAt(three, () => 1), [3]))).to.deep.equal([]);
  });

  it('never two changes at once per region: not planned again while open, and meta-root refuses a second plan', () => {
    let s = cluster(5, [[1, '', '', [1, 2, 3]]]);
    const r = new ReplicaRepairer(DOWN_MS);
    const [plan] = r.plan(input(s, claimsAt(s, () => 1), [3]));
    // Appended but not yet in this coordinator's view: not appended twice.
    expect(r.plan(input(s, claimsAt(s, () => 1), [3], 100_500))).to.deep.equal([]);
    s = apply(s, plan!);
    expect(s.regions['1']!.state).to.equal('changing_peers');
    // Open in rooted truth, raft has not taken it yet: a fresh planner (no memory) plans nothing new either.
    const claims = new Map([[1, { store_id: 1, term: 2, epoch_version: 1, conf_version: 1 }]]);
    expect(new ReplicaRepairer(DOWN_MS).plan(input(s, claims, [3]))).to.deep.equal([]);
    // A deposed coordinator's plan for another store, made against the old epoch, is refused by meta-root.
    expect(() => apply(s, E.peerAdditionPlanned(1, { version: 1, conf_version: 1 }, P(5)))).to.throw(FailedPreconditionError);
    expect(() => apply(s, E.peerRemovalPlanned(1, { version: 1, conf_version: 2 }, P(3)))).to.throw(FailedPreconditionError);
  });

  it('the whole repair: add on a live store, finished on the leader\'s claim, then the dead peer removed; conf version +2, peers sorted', () => {
    let s = cluster(4, [[1, '', '', [2, 3, 4]]]);
    const r = new ReplicaRepairer(DOWN_MS);
    let now = 100_000;
    const step = (claims: Map<number, RepairClaim>) => {
      now += 3_000; // past the append memory, as after a few heartbeats
      const evs = r.plan(input(s, claims, [3], now));
      for (const ev of evs) s = apply(s, ev);
      return evs.map((e) => e.kind);
    };
    expect(step(claimsAt(s, () => 2))).to.deep.equal(['peer_addition_planned']);
    // The target gets create_peer with the region before the change; the leader gets add_peer.
    const claimsBase = new Map([[1, { store_id: 2, term: 2, epoch_version: 1, conf_version: 1 }]]);
    expect(peerHintsFor(1, s, claimsBase)).to.deep.equal([
      { kind: 'create_peer', region_id: 1, epoch_version: 1, conf_version: 1, start_key: new Uint8Array(0), end_key: new Uint8Array(0), peers: [2, 3, 4] },
    ]);
    expect(peerHintsFor(2, s, claimsBase)).to.deep.equal([{ kind: 'add_peer', region_id: 1, epoch_version: 1, conf_version: 1, store_id: 1 }]);
    expect(peerHintsFor(4, s, claimsBase)).to.deep.equal([]);
    expect(step(claimsBase)).to.deep.equal([]); // the learner is catching up
    // The leader applied the promotion: conf version 2, and the rooted target (peers sorted by store) is what the store publishes.
    expect(step(claimsAt(s, () => 2))).to.deep.equal(['peer_added']);
    expect(s.regions['1']).to.deep.include({ state: 'running', epoch: { version: 1, conf_version: 2 }, peers: [P(1), P(2), P(3), P(4)] });
    expect(step(claimsAt(s, () => 2))).to.deep.equal(['peer_removal_planned']);
    expect(peerHintsFor(2, s, claimsAt(s, () => 2))).to.deep.equal([{ kind: 'remove_peer', region_id: 1, epoch_version: 1, conf_version: 2, store_id: 3 }]);
    expect(step(new Map([[1, { store_id: 2, term: 2, epoch_version: 1, conf_version: 3 }]]))).to.deep.equal(['peer_removed']);
    expect(s.regions['1']).to.deep.include({ state: 'running', epoch: { version: 1, conf_version: 3 }, peers: [P(1), P(2), P(4)] });
    expect(step(claimsAt(s, () => 2))).to.deep.equal([]);
    expect(s.pending_peer_changes).to.deep.equal({});
    expect(r.view().stats).to.deep.equal({ planned_adds: 1, moves: 0, planned_removals: 1, finished: 2, cancelled: 0 });
  });

  it('a rooted plan outlives its coordinator: the next one hands out its hints and finishes it, or cancels an addition whose target died first', () => {
    let s = cluster(5, [[1, '', '', [1, 2, 3]]]);
    s = apply(s, ...new ReplicaRepairer(DOWN_MS).plan(input(s, claimsAt(s, () => 1), [3])));
    const target = s.pending_peer_changes['1']!.peer.store_id;
    expect(target).to.equal(4);
    // The next active coordinator has no memory of it; the hints come from rooted state alone.
    const claims = new Map([[1, { store_id: 1, term: 3, epoch_version: 1, conf_version: 1 }]]);
    expect(peerHintsFor(1, s, claims).map((h) => h.kind)).to.deep.equal(['add_peer']);
    expect(peerHintsFor(4, s, claims).map((h) => h.kind)).to.deep.equal(['create_peer']);
    const next = new ReplicaRepairer(DOWN_MS);
    expect(next.plan(input(s, new Map([[1, { store_id: 1, term: 3, epoch_version: 1, conf_version: 2 }]]), [3]))).to.deep.equal([E.peerAdded(1)]);
    // Had the target died before raft took the voter, the next coordinator cancels and plans elsewhere.
    const other = new ReplicaRepairer(DOWN_MS);
    const cancelled = other.plan(input(s, claims, [3, 4]));
    expect(cancelled).to.deep.equal([E.peerAdditionCancelled(1)]);
    s = apply(s, ...cancelled);
    expect(s.regions['1']).to.deep.include({ state: 'running', epoch: { version: 1, conf_version: 1 } });
    expect(other.plan(input(s, claims, [3, 4], 104_000))).to.deep.equal([E.peerAdditionPlanned(1, { version: 1, conf_version: 1 }, P(5))]);
  });

  it('a store that joined later gets its share: moves two at a time, add on the emptiest store, then remove from the fullest (never the leader)', () => {
    let s = cluster(3, [
      [1, '', 'g', [1, 2, 3]],
      [2, 'g', 'p', [1, 2, 3]],
      [3, 'p', '', [1, 2, 3]],
    ]);
    s = apply(s, E.storeJoined(4, '127.0.0.1:20004'));
    const r = new ReplicaRepairer(DOWN_MS);
    let now = 100_000;
    const leaderOf = (id: number) => (id === 1 ? 3 : 1); // region 1 is led from store 3, the source of the first moves
    // Each step the leaders have applied whatever was rooted before it (they report the rooted conf version).
    const step = () => {
      now += 3_000;
      const evs = r.plan(input(s, claimsAt(s, leaderOf), [], now));
      for (const ev of evs) s = apply(s, ev);
      return evs;
    };
    // Loads 3/3/3/0: two moves from store 3 (the fullest, highest id) to store 4; region 1 is led from store 3, so 2 and 3 go.
    expect(step()).to.deep.equal([E.peerAdditionPlanned(2, { version: 1, conf_version: 1 }, P(4)), E.peerAdditionPlanned(3, { version: 1, conf_version: 1 }, P(4))]);
    expect(step()).to.deep.equal([E.peerAdded(2), E.peerAdded(3)]);
    // Four replicas each: the one on the fullest store goes (ties: the higher id), never store 1, their leader.
    expect(step()).to.deep.equal([E.peerRemovalPlanned(2, { version: 1, conf_version: 2 }, P(3)), E.peerRemovalPlanned(3, { version: 1, conf_version: 2 }, P(2))]);
    expect(step()).to.deep.equal([E.peerRemoved(2), E.peerRemoved(3)]);
    // 9 replicas over 4 stores, 3/2/2/2: within one, nothing more.
    expect(step()).to.deep.equal([]);
    const perStore = new Map<number, number>();
    for (const g of Object.values(s.regions)) for (const p of g.peers) perStore.set(p.store_id, (perStore.get(p.store_id) ?? 0) + 1);
    expect([...perStore.entries()].sort((a, b) => a[0] - b[0])).to.deep.equal([[1, 3], [2, 2], [3, 2], [4, 2]]);
    expect(r.view().stats).to.include({ moves: 2, planned_adds: 2, planned_removals: 2, finished: 4 });
    // A store silent but not yet down holds balancing back (it may be back in a moment).
    s = apply(s, E.storeJoined(5, '127.0.0.1:20005'));
    expect(r.plan({ ...input(s, claimsAt(s, leaderOf), [], now + 3_000), live: new Set([1, 2, 3, 4]) })).to.deep.equal([]);
  });

  it('a draining store is emptied like a dead one while it serves: replaced first, then removed, its leadership included', () => {
    let s = cluster(4, [
      [1, '', 'm', [1, 2, 3]],
      [2, 'm', '', [2, 3, 4]],
    ]);
    s = apply(s, E.storeDraining(3));
    const r = new ReplicaRepairer(DOWN_MS);
    let now = 100_000;
    const step = (leader: (id: number) => number) => {
      now += 3_000;
      const evs = r.plan(input(s, claimsAt(s, leader), [], now));
      for (const ev of evs) s = apply(s, ev);
      return evs;
    };
    // Region 1 led from the draining store itself: still planned (the store is live); region 2 has no store to go to but 1.
    expect(step(() => 3)).to.deep.equal([E.peerAdditionPlanned(1, { version: 1, conf_version: 1 }, P(4)), E.peerAdditionPlanned(2, { version: 1, conf_version: 1 }, P(1))]);
    expect(r.view().draining_stores).to.deep.equal([{ store_id: 3, peers: 2 }]);
    expect(step(() => 3).map((e) => e.kind)).to.deep.equal(['peer_added', 'peer_added']);
    expect(step(() => 3)).to.deep.equal([E.peerRemovalPlanned(1, { version: 1, conf_version: 2 }, P(3)), E.peerRemovalPlanned(2, { version: 1, conf_version: 2 }, P(3))]);
    // The leader moved away before removing its own peer (the region actor does that); the removal finishes.
    expect(step(() => 2).map((e) => e.kind)).to.deep.equal(['peer_removed', 'peer_removed']);
    expect(Object.values(s.regions).map((g) => g.peers.map((p) => p.store_id))).to.deep.equal([[1, 2, 4], [1, 2, 4]]);
    // Nothing on the draining store, nothing left to plan, and no balancing onto it.
    expect(step(() => 2)).to.deep.equal([]);
    expect(r.view().draining_stores).to.deep.equal([{ store_id: 3, peers: 0 }]);
  });

  it('a plan the region split under (its leader reports a newer epoch version, raft has not taken it) is cancelled', () => {
    let s = cluster(5, [[1, '', '', [1, 2, 3]]]);
    s = apply(s, ...new ReplicaRepairer(DOWN_MS).plan(input(s, claimsAt(s, () => 1), [3])));
    const r = new ReplicaRepairer(DOWN_MS);
    expect(r.plan(input(s, new Map([[1, { store_id: 1, term: 2, epoch_version: 1, conf_version: 1 }]]), [3]))).to.deep.equal([]);
    expect(r.plan(input(s, new Map([[1, { store_id: 1, term: 2, epoch_version: 2, conf_version: 1 }]]), [3]))).to.deep.equal([E.peerAdditionCancelled(1)]);
    // A store's split descriptor refused only because rooted conf is ahead is retried, not settled as stale.
    const refusal = new FailedPreconditionError('stale region epoch for region 1', { region_id: 1, current: { version: 1, conf_version: 2 }, got: { version: 2, conf_version: 1 } });
    const desc = { id: 1, start: Buffer.alloc(0), end: Buffer.from('m'), epoch: { version: 2, confVersion: 1 }, peers: [1, 2, 3] };
    expect(classifyRefusal(refusal, desc)).to.equal('retry');
    expect(classifyRefusal(new FailedPreconditionError('stale region epoch for region 1', { current: { version: 3, conf_version: 1 } }), desc)).to.equal('stale');
  });

  it('an open change raft has not taken for PEER_CHANGE_TIMEOUT_MS, as this coordinator saw it, is cancelled', () => {
    let s = cluster(5, [[1, '', '', [1, 2, 3]]]);
    s = apply(s, ...new ReplicaRepairer(DOWN_MS).plan(input(s, claimsAt(s, () => 1), [3])));
    const r = new ReplicaRepairer(DOWN_MS);
    const base = new Map([[1, { store_id: 1, term: 2, epoch_version: 1, conf_version: 1 }]]);
    expect(r.plan(input(s, base, [3], 200_000))).to.deep.equal([]);
    expect(r.plan(input(s, base, [3], 200_000 + PEER_CHANGE_TIMEOUT_MS - 1))).to.deep.equal([]);
    expect(r.plan(input(s, base, [3], 200_000 + PEER_CHANGE_TIMEOUT_MS))).to.deep.equal([E.peerAdditionCancelled(1)]);
  });

  it('a store never heard from counts as silent from the first heartbeat the registry got, not from the epoch', () => {
    const s = cluster(3, []);
    const reg = new StoreRegistry();
    expect(reg.silentMs(3, 50_000)).to.equal(0);
    const hb = (id: number) => ({ store_id: id, client_addr: '', region_count: 0, leader_count: 0, capacity_bytes: 0, available_bytes: 0, leader_region_ids: [] });
    reg.heartbeat(s, hb(1), 50_000);
    reg.heartbeat(s, hb(2), 50_500);
    expect(reg.silentMs(3, 58_000)).to.equal(8_000);
    expect(reg.silentMs(2, 58_000)).to.equal(7_500);
    reg.heartbeat(s, hb(3), 58_000);
    expect(reg.silentMs(3, 58_100)).to.equal(100);
  });

  it('only the coordinator serving the era schedules: a standby\'s heartbeat reply has no hints and appends nothing', async () => {
    for (const serving of [false, true]) {
      const scheduled: number[] = [];
      const appended: RootEvent[][] = [];
      const plan = E.peerAdditionPlanned(1, { version: 1, conf_version: 1 }, P(4));
      const handlers = coordinatorHandlers({
        selfId: 'coord-1',
        holder: {
          status: async () => ({ serving, tenure: { holder_id: 'coord-1', era: 2, expires_unix_ms: 0, sealed: false } }),
          allocate: async () => ({ first: 1n, era: 2 }),
        } as never,
        view: { get: async () => ({ state: null, lagMs: 0 }), waitFor: async () => ({ state: null }) } as never,
        root: { append: async (evs: RootEvent[]) => (appended.push(evs), { accepted: true, cursor: { term: 1, index: 1 } }) } as never,
        catalog: {
          heartbeat: async () => undefined,
          schedule: async (storeId: number) => (scheduled.push(storeId), { transfers: [], peers: [{ kind: 'add_peer', region_id: 1, epoch_version: 1, conf_version: 1, store_id: 4 }], append: [plan] }),
          gcSafePoint: async () => 0n,
        } as never,
        clock: new ManualClock(1_000),
        logger: silentLogger(),
      });
      const reply = await new Promise<any>((resolve, reject) =>
        (handlers.StoreHeartbeat as any)({ request: { store_id: '1', leader_claims: [] } }, (err: unknown, res: unknown) => (err ? reject(err) : resolve(res))),
      );
      await new Promise((r) => setImmediate(r));
      if (serving) {
        expect(scheduled).to.deep.equal([1]);
        expect(reply.hints).to.deep.equal([{ region_id: 1, epoch_version: 1, conf_version: 1, add_peer: { store_id: 4 } }]);
        expect(appended).to.deep.equal([[plan]]);
      } else {
        expect(scheduled).to.deep.equal([]);
        expect(reply.hints).to.deep.equal([]);
        expect(appended).to.deep.equal([]);
      }
    }
  });
});
