// Proves that a new region leader takes its one-phase-commit floor from the coordinator TSO: right after a
// leader change, single-region transactions commit in one phase again within well under the 5 s wall-clock
// margin, on three real store processes. The coordinators are stood in for by a loopback server answering
// only Tso from the same timestamp source the test's client uses (join and heartbeats get UNIMPLEMENTED,
// which the stores' control plane only logs), so the floor argument's premise — clients and leaders share
// one TSO — holds as in a cluster.
import { expect } from 'chai';
import { startGrpcServer, type RunningGrpcServer } from '../../src/transport/index.js';
import { COORDINATOR_SERVICE, coordinatorProto } from '../../src/coordinator/service.js';
import { StoreClient } from '../../src/store/client/client.js';
import { LocalTso } from '../../src/store/client/tso.js';
import { LEADER_TS_MARGIN_MS } from '../../src/store/server/ts-guard.js';
import { startStoreCluster, storePlacements, type StoreCluster } from '../fixtures/store-cluster.js';
import { waitFor } from '../support/env.js';

const b = (s: string) => Buffer.from(s);
/** "Well within" the wall-clock margin: a leader change plus one TSO round trip, with room for a busy machine. */
const FIRST_ONE_PC_WITHIN_MS = 2_500;

/** Commits two keys of region 1 until one commit goes through as one phase; answers how long that took. */
async function untilOnePhase(client: StoreClient, tag: string, budgetMs: number): Promise<{ ms: number; twoPcBefore: number }> {
  const t0 = Date.now();
  const twoPcAtStart = client.stats.twoPc;
  for (let i = 0; Date.now() - t0 < budgetMs; i++) {
    const onePc = client.stats.onePc;
    const t = await client.begin();
    t.put(b(`a/${tag}/${i}`), b('v'));
    t.put(b(`b/${tag}/${i}`), b('v'));
    await t.commit();
    if (client.stats.onePc > onePc) return { ms: Date.now() - t0, twoPcBefore: client.stats.twoPc - twoPcAtStart };
  }
  throw new Error(`no one-phase commit within ${budgetMs} ms`);
}

for (const workers of storePlacements([0])) describe(`store: a new region leader takes its one-phase floor from the TSO (--workers ${workers})`, function () {
  this.timeout(90_000);
  const tso = new LocalTso();
  let tsoCalls = 0;
  let server: RunningGrpcServer | undefined;
  let c: StoreCluster | undefined;
  let client: StoreClient | undefined;

  before(async () => {
    const impl = {
      Tso: (call: any, cb: any) => {
        tsoCalls++;
        tso.next().then((ts) => cb(null, { timestamp: ts.toString(), count: 1, era: 1, served_by: 'test-tso' }), cb);
      },
    };
    server = await startGrpcServer({ addr: '127.0.0.1:0', services: [{ service: coordinatorProto().service(COORDINATOR_SERVICE), impl }] });
    c = await startStoreCluster(['--coordinator-addr', `127.0.0.1:${server.port}`, '--workers', String(workers)]);
    // The client draws its timestamps from the same source as the stores' floors.
    client = new StoreClient({ stores: new Map(c.topo.stores.map((s) => [s.store_id, s.addr])), tso });
  });

  after(async () => {
    client?.close();
    await c?.stop();
    await server?.close();
  });

  it('a Get at version 0 reads the latest version at a timestamp the region leader takes from the TSO', async () => {
    const cluster = c!;
    await Promise.all([cluster.leaderOf(1), cluster.leaderOf(2)]);
    // A client of its own that counts the timestamps it draws: a latest-version read must draw none.
    let drawn = 0;
    const counted = new StoreClient({ stores: new Map(cluster.topo.stores.map((s) => [s.store_id, s.addr])), tso: { next: () => (drawn++, tso.next()) } });
    try {
      for (let i = 0; i < 10; i++) {
        const t = await counted.begin();
        t.put(b('latest'), b(`v${i}`));
        await t.commit();
        const [drawnBefore, callsBefore] = [drawn, tsoCalls];
        // Written and acknowledged just before, read with no timestamp of the client's: the read must see it.
        expect((await counted.getLatest(b('latest')))?.toString()).to.equal(`v${i}`);
        expect(drawn, 'timestamps the client drew for the read').to.equal(drawnBefore);
        expect(tsoCalls, 'TSO calls the region leader made for the read').to.be.greaterThan(callsBefore);
      }
      expect(await counted.getLatest(b('never-written'))).to.equal(undefined);
      // A live lock at the leader's version: the leader answers the lock, and the client reads again at a
      // timestamp of its own, bypassing the lock of a transaction that has not committed (the last value).
      const lockTs = await tso.next();
      const { res } = await counted.onRegion<any>(b('latest'), 'Prewrite', () => ({
        mutations: [{ op: 'PUT', key: b('latest'), value: b('uncommitted') }],
        primary_lock: b('latest'),
        start_version: lockTs.toString(),
        lock_ttl: 30_000,
      }));
      expect(res.errors ?? []).to.deep.equal([]);
      const drawnBefore = drawn;
      expect((await counted.getLatest(b('latest')))?.toString()).to.equal('v9');
      expect(drawn, 'the client fell back to a timestamp of its own').to.equal(drawnBefore + 1);
      await counted.onRegion<any>(b('latest'), 'BatchRollback', () => ({ start_version: lockTs.toString(), keys: [b('latest')] }));
    } finally {
      counted.close();
    }
  });

  it('commits in one phase well within the wall-clock margin after the leader of its region is killed', async () => {
    const cluster = c!;
    await Promise.all([cluster.leaderOf(1), cluster.leaderOf(2)]);
    await untilOnePhase(client!, 'warm', 15_000);
    const old = await cluster.leaderOf(1);
    const callsBefore = tsoCalls;
    await cluster.kill(old);
    const fresh = await waitFor('a new leader of region 1', async () => {
      const id = await cluster.leaderOf(1, 10_000);
      return id !== old ? id : 0;
    }, 20_000, 50);
    const { ms, twoPcBefore } = await untilOnePhase(client!, 'after', LEADER_TS_MARGIN_MS + 5_000);
    if (process.env.NOKV_TEST_REPORT) process.stdout.write(`    new leader ${fresh}: first one-phase commit after ${ms} ms, ${twoPcBefore} two-phase before it\n`);
    expect(tsoCalls, 'the new leader asked the TSO').to.be.greaterThan(callsBefore);
    expect(ms, 'first one-phase commit after the leader change (ms)').to.be.below(FIRST_ONE_PC_WITHIN_MS);
  });
});
