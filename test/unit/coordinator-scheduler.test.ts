// The leader balancer as a pure function of rooted regions, leader claims and live stores: it spreads leaders
// until every live store is within one of every other, sends each transfer to the store that leads the region,
// never targets a store that is not a voter of the region or not live, caps transfers in flight, retires a
// transfer once a claim shows it done (or overtaken, or timed out), and picks up a store that comes back.
import { expect } from 'chai';
import type { RegionDescriptor } from '../../src/metaroot/state/index.js';
import { LeaderBalancer, MAX_PENDING_PER_SOURCE, MAX_PENDING_TRANSFERS, TRANSFER_TIMEOUT_MS, type BalanceInput } from '../../src/coordinator/scheduler.js';

const region = (id: number, stores = [1, 2, 3], version = 1): RegionDescriptor => ({
  region_id: id,
  start_key: id === 1 ? '' : id.toString(16).padStart(4, '0'),
  end_key: '',
  epoch: { version, conf_version: 1 },
  peers: stores.map((s) => ({ store_id: s, peer_id: s })),
  root_epoch: 1,
  state: 'running',
});

type Claims = Map<number, { store_id: number; term: number }>;

function allOn(store: number, n: number, term = 2): Claims {
  return new Map(Array.from({ length: n }, (_, i) => [i + 1, { store_id: store, term }]));
}

function perStore(claims: Claims, live: number[]): number[] {
  return live.map((s) => [...claims.values()].filter((c) => c.store_id === s).length);
}

/** Runs plans, applying every transfer as the target winning at term + 1, until nothing more is planned. */
function converge(b: LeaderBalancer, input: BalanceInput & { leaders: Claims }, maxRounds = 50): number {
  for (let round = 1; round <= maxRounds; round++) {
    b.plan(input);
    const ops = [...input.live].flatMap((s) => b.hintsFor(s));
    if (ops.length === 0) return round;
    for (const op of ops) input.leaders.set(op.region_id, { store_id: op.to_store, term: op.term + 1 });
    input.nowMs += 1_000;
  }
  throw new Error('did not converge');
}

describe('coordinator leader balancer', () => {
  it('moves leaders off one store until every live store is within one of even, hinting the leading store', () => {
    const regions = Array.from({ length: 16 }, (_, i) => region(i + 1));
    const leaders = allOn(1, 16);
    const b = new LeaderBalancer();
    const first = b.plan({ regions, leaders, live: new Set([1, 2, 3]), nowMs: 0 });
    expect(first.length).to.equal(MAX_PENDING_PER_SOURCE);
    expect(first.every((op) => op.from_store === 1 && op.to_store !== 1 && op.term === 2)).to.equal(true);
    expect(b.hintsFor(1).map((op) => op.region_id)).to.deep.equal(first.map((op) => op.region_id));
    expect(b.hintsFor(2)).to.deep.equal([]);
    const input = { regions, leaders, live: new Set([1, 2, 3]), nowMs: 1_000 };
    converge(b, input);
    const counts = perStore(leaders, [1, 2, 3]);
    expect(Math.max(...counts) - Math.min(...counts)).to.be.at.most(1);
    expect(counts.reduce((a, n) => a + n, 0)).to.equal(16);
    expect(b.view().pending_transfers).to.deep.equal([]);
    expect(b.view().leaders_per_store).to.deep.equal({ 1: counts[0], 2: counts[1], 3: counts[2] });
    expect(b.stats.completed).to.equal(b.stats.planned);
  });

  it('does nothing when leaders are already balanced (two regions on three stores: 1/1/0)', () => {
    const b = new LeaderBalancer();
    const leaders: Claims = new Map([[1, { store_id: 1, term: 2 }], [2, { store_id: 2, term: 2 }]]);
    expect(b.plan({ regions: [region(1), region(2)], leaders, live: new Set([1, 2, 3]), nowMs: 0 })).to.deep.equal([]);
  });

  it('never targets a store that is not live or not a voter of the region', () => {
    const b = new LeaderBalancer();
    // Regions 1-4 have replicas on 1,2,4 only; store 3 is live but holds no replica of them; store 4 is down.
    const regions = [1, 2, 3, 4].map((id) => region(id, [1, 2, 4]));
    const leaders = allOn(1, 4);
    const ops = b.plan({ regions, leaders, live: new Set([1, 2, 3]), nowMs: 0 });
    expect(ops.map((op) => op.to_store)).to.deep.equal([2, 2]); // 4/0/0 → 2/2/0: store 3 can lead none of them
    expect(ops.every((op) => op.to_store !== 3 && op.to_store !== 4)).to.equal(true);
  });

  it('caps transfers in flight over the cluster', () => {
    const b = new LeaderBalancer();
    const regions = Array.from({ length: 200 }, (_, i) => region(i + 1, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]));
    const leaders = new Map(regions.map((r) => [r.region_id, { store_id: (r.region_id % 5) + 1, term: 2 }])); // stores 1-5 lead, 6-10 lead nothing
    b.plan({ regions, leaders, live: new Set([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]), nowMs: 0 });
    expect(b.view().pending_transfers.length).to.equal(MAX_PENDING_TRANSFERS);
  });

  it('retires a transfer overtaken by an election, or not seen done within the timeout, and plans again', () => {
    const b = new LeaderBalancer();
    const regions = [region(1), region(2), region(3)];
    const leaders = allOn(1, 3);
    const live = new Set([1, 2, 3]);
    const ops = b.plan({ regions, leaders, live, nowMs: 0 });
    expect(ops.length).to.equal(2); // 3/0/0 → 1/1/1
    expect(b.plan({ regions, leaders, live, nowMs: TRANSFER_TIMEOUT_MS })).to.deep.equal([]); // still in flight
    // Nothing happens for longer than the timeout: the transfers are forgotten and planned afresh.
    const again = b.plan({ regions, leaders, live, nowMs: TRANSFER_TIMEOUT_MS + 1 });
    expect(b.stats.expired).to.equal(2);
    expect(again.length).to.be.greaterThan(0);
    // An election elsewhere (a higher term on another store) overtakes it.
    const r = again[0]!.region_id;
    const other = [1, 2, 3].find((s) => s !== again[0]!.to_store && s !== 1)!;
    leaders.set(r, { store_id: other, term: 9 });
    b.plan({ regions, leaders, live, nowMs: TRANSFER_TIMEOUT_MS + 2 });
    expect(b.stats.overtaken).to.equal(1);
  });

  it('forgets a transfer whose region split meanwhile (epoch moved)', () => {
    const b = new LeaderBalancer();
    const leaders = allOn(1, 3);
    const ops = b.plan({ regions: [region(1), region(2), region(3)], leaders, live: new Set([1, 2, 3]), nowMs: 0 });
    const moved = [region(1), region(2), region(3)].map((r) => (r.region_id === ops[0]!.region_id ? region(r.region_id, [1, 2, 3], 2) : r));
    b.plan({ regions: moved, leaders, live: new Set([1, 2, 3]), nowMs: 1 });
    expect(b.stats.overtaken).to.equal(1);
  });

  it('gives leaders to a store that comes back', () => {
    const b = new LeaderBalancer();
    const regions = Array.from({ length: 9 }, (_, i) => region(i + 1));
    // Store 3 was down: its leaders moved to 1 and 2 by elections.
    const leaders: Claims = new Map(regions.map((r) => [r.region_id, { store_id: (r.region_id % 2) + 1, term: 5 }]));
    expect(b.plan({ regions, leaders, live: new Set([1, 2]), nowMs: 0 })).to.deep.equal([]);
    converge(b, { regions, leaders, live: new Set([1, 2, 3]), nowMs: 1 });
    expect(perStore(leaders, [1, 2, 3])).to.deep.equal([3, 3, 3]);
  });
});
