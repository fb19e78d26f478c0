// A store's control plane against the real rooted state machine (a fake coordinator port that applies events
// with meta-root's own validation): three stores racing to bootstrap the same regions all settle, a split is
// published parent-first whatever order the store lists it in, a lagging replica's stale descriptor is not an
// error, a conflicting descriptor is counted once and not retried, an unreachable control plane is retried with
// backoff on the clock, and the coordinator registry routes to the claim with the highest term.
import { expect } from 'chai';
import { ManualClock } from '../../src/common/clock.js';
import { UnavailableError } from '../../src/common/errors.js';
import { silentLogger } from '../../src/common/log.js';
import { SeededPrng } from '../../src/common/prng.js';
import { STORE_DOWN_AFTER_MS, StoreRegistry, routeKey, type StoreHeartbeat } from '../../src/coordinator/catalog.js';
import { applyEvent, emptyState, events, type RootEvent, type RootState } from '../../src/metaroot/state/index.js';
import { ControlPlane, CONTROL_RETRY_MAX_MS, type ControlPlanePort, type HeartbeatBody, type LocalView, type SchedulingHint } from '../../src/store/control/plane.js';
import { hintsOf } from '../../src/store/control/coordinator-port.js';
import { regionInputOf } from '../../src/store/control/descriptors.js';
import { bootstrapRegions, type RegionDescriptor } from '../../src/store/region/descriptor.js';

/** Rooted truth in memory: every publish applies with meta-root's validation, refusals are thrown typed. */
class FakeRootedPort {
  state: RootState = emptyState();
  index = 0;
  reachable = true;
  publishes = 0;
  readonly beats: HeartbeatBody[] = [];

  port(): ControlPlanePort {
    return {
      publish: async (ev: RootEvent) => {
        if (!this.reachable) throw new UnavailableError('no coordinator answered');
        this.publishes++;
        this.state = applyEvent(this.state, ev, { term: 1, index: ++this.index });
      },
      heartbeat: async (hb) => {
        if (!this.reachable) return { accepted: 0, notJoined: false, errors: ['unreachable'] };
        if (!this.state.stores[String(hb.store_id)]) return { accepted: 0, notJoined: true, errors: ['has not joined'] };
        this.beats.push(hb);
        return { accepted: 3, notJoined: false, errors: [] };
      },
      close: () => undefined,
    };
  }
}

function plane(root: FakeRootedPort, storeId: number, local: () => LocalView | undefined, clock = new ManualClock(1_000)): ControlPlane {
  return new ControlPlane({
    storeId,
    clientAddr: `127.0.0.1:${20_000 + storeId}`,
    port: root.port(),
    local,
    clock,
    prng: new SeededPrng(storeId),
    logger: silentLogger(),
  });
}

const view = (descriptors: RegionDescriptor[], leaders: number[] = [], term = 2): LocalView => ({
  descriptors,
  leaders: leaders.map((id) => ({ region_id: id, term, epoch_version: 1, conf_version: 1 })),
});

describe('store control plane', () => {
  it('three stores racing to publish the same bootstrap regions all join and settle; rooted truth has one copy', async () => {
    const root = new FakeRootedPort();
    const boot = bootstrapRegions([1, 2, 3]);
    const planes = [1, 2, 3].map((id) => plane(root, id, () => view(boot, id === 1 ? [1, 2] : [])));
    expect(await Promise.all(planes.map((p) => p.step()))).to.deep.equal([true, true, true]);
    expect(Object.keys(root.state.stores).sort()).to.deep.equal(['1', '2', '3']);
    expect(Object.values(root.state.regions).map((r) => [r.region_id, r.start_key, r.end_key])).to.deep.equal([
      [1, '', '6d'],
      [2, '6d', ''],
    ]);
    for (const p of planes) expect(p.stats).to.include({ joined: true, descriptors_pending: 0, conflicts: 0, errors: 0, heartbeats: 1 });
    const leader = root.beats.find((b) => b.store_id === 1)!;
    expect(leader).to.include({ region_count: 2, leader_count: 2, client_addr: '127.0.0.1:20001' });
    expect(leader.leader_claims.map((c) => c.region_id)).to.deep.equal([1, 2]);
    // A settled descriptor is not published again.
    const before = root.publishes;
    await planes[0]!.step();
    expect(root.publishes).to.equal(before);
  });

  it('a split is published whatever order the store lists the regions in; a lagging replica is not an error', async () => {
    const root = new FakeRootedPort();
    const boot = bootstrapRegions([1, 2, 3]);
    let local = view(boot);
    const p = plane(root, 1, () => local);
    await p.step();
    const left: RegionDescriptor = { ...boot[0]!, end: Buffer.from('g'), epoch: { version: 2, confVersion: 1 } };
    const child: RegionDescriptor = { id: 3, start: Buffer.from('g'), end: Buffer.from('m'), epoch: { version: 2, confVersion: 1 }, peers: [1, 2, 3] };
    local = view([child, boot[1]!, left]);
    expect(await p.step()).to.equal(true);
    expect(Object.values(root.state.regions).map((r) => [r.region_id, r.start_key, r.end_key, r.epoch.version])).to.deep.equal([
      [1, '', '67', 2],
      [2, '6d', '', 1],
      [3, '67', '6d', 2],
    ]);
    // Store 2 has not applied the split yet: its epoch-1 parent is stale, which is settled without an error.
    const lagging = plane(root, 2, () => view(boot));
    expect(await lagging.step()).to.equal(true);
    expect(lagging.stats).to.include({ descriptors_pending: 0, conflicts: 0, errors: 0 });
    expect(root.state.regions['1']!.end_key).to.equal('67');
  });

  it('a descriptor that conflicts with rooted truth at the same epoch is counted once and not retried', async () => {
    const root = new FakeRootedPort();
    const theirs = bootstrapRegions([1, 2, 4]);
    root.state = applyEvent(root.state, events.regionBootstrap(regionInputOf(theirs[0]!)), { term: 1, index: ++root.index });
    const p = plane(root, 1, () => view(bootstrapRegions([1, 2, 3])));
    expect(await p.step()).to.equal(true);
    expect(p.stats.conflicts).to.equal(1);
    expect(p.stats.last_error).to.match(/changed without an epoch bump/);
    const before = root.publishes;
    await p.step();
    expect(root.publishes).to.equal(before);
    expect(root.state.regions['1']!.peers.map((x) => x.store_id)).to.deep.equal([1, 2, 4]);
  });

  it('an unreachable control plane is retried with backoff on the clock until it answers; then heartbeats run every period', async () => {
    const root = new FakeRootedPort();
    root.reachable = false;
    const clock = new ManualClock(0);
    const p = plane(root, 1, () => view(bootstrapRegions([1, 2, 3]), [1]), clock);
    const settle = async () => {
      for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
    };
    p.start();
    for (let i = 0; i < 8; i++) {
      clock.advance(CONTROL_RETRY_MAX_MS * 1.25);
      await settle();
    }
    expect(p.stats.joined).to.equal(false);
    expect(p.stats.errors).to.be.at.least(4);
    root.reachable = true;
    clock.advance(CONTROL_RETRY_MAX_MS * 1.25);
    await settle();
    expect(p.stats).to.include({ joined: true, descriptors_pending: 0, heartbeats: 1 });
    for (let i = 0; i < 3; i++) {
      clock.advance(1_000);
      await settle();
    }
    expect(p.stats.heartbeats).to.equal(4);
    await p.stop();
  });
});

describe('store control plane: scheduling hints', () => {
  it('runs the hints of a heartbeat reply and ignores hints from an era below one it already acted on', async () => {
    const root = new FakeRootedPort();
    const replies: Array<{ era: number; hints: SchedulingHint[] }> = [];
    const base = root.port();
    const port: ControlPlanePort = {
      ...base,
      heartbeat: async (hb) => {
        const out = await base.heartbeat(hb);
        const r = replies.shift();
        return r ? { ...out, hints: r.hints, hintEra: r.era } : out;
      },
    };
    const ran: SchedulingHint[] = [];
    const p = new ControlPlane({
      storeId: 1,
      clientAddr: '127.0.0.1:20001',
      port,
      local: () => view(bootstrapRegions([1, 2, 3]), [1, 2]),
      clock: new ManualClock(0),
      prng: new SeededPrng(1),
      logger: silentLogger(),
      // Region 2's transfer does not apply here (say its epoch moved): not counted as executed.
      execute: (h) => (ran.push(h), h.region_id === 1),
    });
    const hint = (region: number, to: number): SchedulingHint => ({ kind: 'transfer_leader', region_id: region, epoch_version: 1, conf_version: 1, to_store_id: to });
    replies.push({ era: 3, hints: [hint(1, 2), hint(2, 3)] });
    expect(await p.step()).to.equal(true);
    expect(ran.map((h) => [h.region_id, h.kind === 'transfer_leader' ? h.to_store_id : 0])).to.deep.equal([[1, 2], [2, 3]]);
    expect(p.stats).to.include({ hints_received: 2, hints_executed: 1, hints_stale_era: 0 });
    replies.push({ era: 2, hints: [hint(1, 3)] }); // a deposed holder still talking
    await p.step();
    expect(ran.length).to.equal(2);
    expect(p.stats).to.include({ hints_received: 3, hints_stale_era: 1 });
    replies.push({ era: 4, hints: [hint(1, 3)] });
    await p.step();
    expect(ran.length).to.equal(3);
    await p.stop();
  });

  it('reports its oldest lock, and hands the GC driver only safe points above the highest one so far', async () => {
    const root = new FakeRootedPort();
    const sps: bigint[] = [];
    const base = root.port();
    const port: ControlPlanePort = {
      ...base,
      heartbeat: async (hb) => ({ ...(await base.heartbeat(hb)), ...(sps.length > 0 ? { gcSafePoint: sps.shift()! } : {}) }),
    };
    const told: bigint[] = [];
    let oldest: bigint | undefined = 500n;
    const p = new ControlPlane({
      storeId: 1,
      clientAddr: '127.0.0.1:20001',
      port,
      local: () => ({ ...view(bootstrapRegions([1, 2, 3]), [1]), ...(oldest !== undefined ? { oldestLockTs: oldest } : {}) }),
      clock: new ManualClock(0),
      prng: new SeededPrng(1),
      logger: silentLogger(),
      onSafePoint: (sp) => told.push(sp),
    });
    // 300 from the active coordinator, then 200 from a successor that computed a lower one, then 0 (none), then 400.
    sps.push(300n, 200n, 0n, 400n);
    for (let i = 0; i < 4; i++) {
      expect(await p.step()).to.equal(true);
      if (i === 1) oldest = undefined;
    }
    expect(told).to.deep.equal([300n, 400n]);
    expect(p.stats).to.include({ gc_safe_point: '400', oldest_lock_ts: '0' });
    expect(root.beats.map((b) => b.oldest_lock_ts)).to.deep.equal([500n, 500n, 0n, 0n]);
    await p.stop();
  });

  it('reads hints off the wire reply: transfer_leader with a target and region, anything else skipped', () => {
    expect(
      hintsOf([
        { region_id: '7', epoch_version: '2', conf_version: '1', transfer_leader: { to_store_id: '3' }, op: 'transfer_leader' },
        { region_id: '8', epoch_version: '1', conf_version: '1' },
        { region_id: '0', transfer_leader: { to_store_id: '3' } },
      ]),
    ).to.deep.equal([{ kind: 'transfer_leader', region_id: 7, epoch_version: 2, conf_version: 1, to_store_id: 3 }]);
    expect(hintsOf(undefined)).to.deep.equal([]);
  });

  it('reads replica repair hints: add_peer and remove_peer for the leader, create_peer with the range and voters', () => {
    expect(
      hintsOf([
        { region_id: '3', epoch_version: '2', conf_version: '4', add_peer: { store_id: '4' } },
        { region_id: '3', epoch_version: '2', conf_version: '5', remove_peer: { store_id: '2' } },
        { region_id: '3', epoch_version: '2', conf_version: '4', create_peer: { start_key: Buffer.from('a'), end_key: Buffer.alloc(0), peer_store_ids: ['1', '2', '3'] } },
        { region_id: '3', create_peer: { start_key: Buffer.from('a'), peer_store_ids: [] } },
      ]),
    ).to.deep.equal([
      { kind: 'add_peer', region_id: 3, epoch_version: 2, conf_version: 4, store_id: 4 },
      { kind: 'remove_peer', region_id: 3, epoch_version: 2, conf_version: 5, store_id: 2 },
      { kind: 'create_peer', region_id: 3, epoch_version: 2, conf_version: 4, start: Buffer.from('a'), end: Buffer.alloc(0), peers: [1, 2, 3] },
    ]);
  });
});

describe('coordinator routing through an open split', () => {
  it('answers the planned halves while the split is open and once it is committed, the parent again once cancelled', () => {
    let s = emptyState();
    let i = 0;
    const apply = (ev: RootEvent) => (s = applyEvent(s, ev, { term: 1, index: ++i }));
    for (const d of bootstrapRegions([1, 2, 3])) apply(events.regionBootstrap(regionInputOf(d)));
    const [, parent] = bootstrapRegions([1, 2, 3]); // region 2 = ["m", "")
    const next = { version: parent!.epoch.version + 1, confVersion: 1 };
    const left = { ...parent!, end: Buffer.from('t'), epoch: next };
    const right = { id: 9, start: Buffer.from('t'), end: Buffer.alloc(0), epoch: next, peers: [...parent!.peers] };
    const plan = events.splitPlanned(2, { version: parent!.epoch.version, conf_version: 1 }, regionInputOf(left), regionInputOf(right));
    apply(plan);
    expect(routeKey(s, Buffer.from('n'))).to.include({ region_id: 2, end_key: Buffer.from('t').toString('hex'), state: 'splitting' });
    expect(routeKey(s, Buffer.from('x'))).to.include({ region_id: 9, state: 'splitting' });
    expect(routeKey(s, Buffer.from('a'))!.region_id).to.equal(1);
    apply(events.splitCommitted(2));
    expect(routeKey(s, Buffer.from('n'))).to.include({ region_id: 2, end_key: Buffer.from('t').toString('hex') });
    expect(routeKey(s, Buffer.from('x'))).to.include({ region_id: 9, state: 'running' });
    const again = { ...left, end: Buffer.from('w'), epoch: { version: next.version + 1, confVersion: 1 } };
    const right2 = { ...right, id: 10, start: Buffer.from('w'), end: Buffer.from('t'), epoch: again.epoch };
    apply(events.splitPlanned(2, { version: next.version, conf_version: 1 }, regionInputOf({ ...again, end: Buffer.from('p') }), regionInputOf({ ...right2, start: Buffer.from('p') })));
    apply(events.splitCancelled(2));
    expect(routeKey(s, Buffer.from('o'))).to.include({ region_id: 2, end_key: Buffer.from('t').toString('hex'), state: 'running' });
  });
});

describe('coordinator store registry: leader claims', () => {
  const state = (): RootState => {
    let s = emptyState();
    for (const id of [1, 2, 3]) s = applyEvent(s, events.storeJoined(id, `s${id}`), { term: 1, index: id });
    return s;
  };
  const hb = (store: number, claims: Array<[number, number]>): StoreHeartbeat => ({
    store_id: store,
    client_addr: `addr-${store}`,
    region_count: 2,
    leader_count: claims.length,
    capacity_bytes: 0,
    available_bytes: 0,
    leader_region_ids: claims.map(([r]) => r),
    leader_claims: claims.map(([region_id, term]) => ({ region_id, term, epoch_version: 1, conf_version: 1 })),
  });

  it('routes to the claim with the highest term, whatever order heartbeats arrive in', () => {
    const s = state();
    const reg = new StoreRegistry();
    reg.heartbeat(s, hb(2, [[1, 5]]), 10);
    reg.heartbeat(s, hb(1, [[1, 4]]), 20); // a deposed leader that has not noticed yet
    expect(reg.leaderFor(s, 1)).to.deep.equal({ store_id: 2, addr: 'addr-2', term: 5 });
    expect(reg.leaderOf(1)).to.equal(2);
  });

  it('store state is UNKNOWN before a heartbeat, UP while they arrive, DOWN once the last is older than the limit', () => {
    const s = state();
    const reg = new StoreRegistry();
    expect(reg.get(s, 1, 0)!.state).to.equal('UNKNOWN');
    reg.heartbeat(s, hb(1, []), 1_000);
    expect(reg.get(s, 1, 1_000 + STORE_DOWN_AFTER_MS)!.state).to.equal('UP');
    expect(reg.get(s, 1, 1_001 + STORE_DOWN_AFTER_MS)!.state).to.equal('DOWN');
    expect(reg.list(s, false, 1_000).map((x) => x.state)).to.deep.equal(['UP', 'UNKNOWN', 'UNKNOWN']);
  });

  it('a store that stops claiming a region withdraws its claim; claims without terms still count', () => {
    const s = state();
    const reg = new StoreRegistry();
    reg.heartbeat(s, hb(1, [[1, 3], [2, 3]]), 10);
    reg.heartbeat(s, hb(1, [[2, 3]]), 20);
    expect(reg.leaderFor(s, 1)).to.equal(null);
    expect(reg.leaderOf(2)).to.equal(1);
    const legacy = { ...hb(3, []), leader_region_ids: [1] };
    delete (legacy as Partial<StoreHeartbeat>).leader_claims;
    reg.heartbeat(s, legacy, 30);
    expect(reg.leaderFor(s, 1)).to.deep.equal({ store_id: 3, addr: 'addr-3', term: 0 });
  });
});
