// Replica repair and replica balance on a real cluster (`nokv cluster up` on free ports, three replicas per
// region, topology schedule.store_down_ms small), three steps on one cluster:
// 1. the topology names four stores, the bootstrap regions live on the first three: once split into four regions
//    the coordinator moves replicas until every store holds three;
// 2. a store is SIGKILLed for good while a transactional load runs; the active coordinator — itself SIGKILLed
//    once the first plan is rooted, so its successor carries the repair on — plans a new peer on a live store for
//    every region that had one on the dead store, the region leaders add it (learner, snapshot install,
//    promotion), then the dead peer is removed: every region back on three live replicas at the rooted epoch,
//    conf versions up by two, every acknowledged write read back through a fresh client;
// 3. `nokv cluster add store` starts a fifth store in the running cluster; the others learn its address and the
//    coordinator moves replicas onto it until the live stores are within one replica of each other;
// 4. `nokv cluster remove store-5` drains it (its replicas move away while it serves), retires and stops it.
//
// Counted, not timed: each step waits for the events (plans rooted, changes finished) with generous bounds for a
// shared two-core machine; NOKV_TEST_REPORT=1 prints how long each took.
import { expect } from 'chai';
import { connectStoreClient, type CoordinatedStoreClient } from '../../src/store/client/connect.js';
import { clusterCmd, clusterDown, clusterUp, debugVars, nokv, type DrillCluster } from '../fixtures/coordinator-drills.js';
import { notRepaired, rootedSnapshot as rooted } from '../fixtures/replica-repair.js';
import { sleep, waitFor } from '../support/env.js';

const STORE_DOWN_MS = 3_000;
const SPLIT_KEYS = ['f', 's'];
const SETTLE_WITHIN_MS = 90_000;
const DEAD = 2;

async function activeCoordinator(c: DrillCluster): Promise<{ name: string; vars: any }> {
  return waitFor<{ name: string; vars: any } | null>('the active coordinator', async () => {
    for (const [i, co] of c.topo.coordinators.entries()) {
      const v = (await debugVars(co.metrics_addr))?.nokv_coordinator;
      if (v?.lease?.held_by_self) return { name: `coordinator-${i + 1}`, vars: v };
    }
    return null;
  }, 20_000, 200) as Promise<{ name: string; vars: any }>;
}

/** Rooted peers per store id. */
function perStore(snap: any): Map<number, number> {
  const out = new Map<number, number>();
  for (const r of snap.regions) for (const p of r.peers) out.set(p.store_id, (out.get(p.store_id) ?? 0) + 1);
  return out;
}

/** Waits until every region is on three live replicas at the rooted epoch and `stores` hold within one of each other. */
async function settled(c: DrillCluster, what: string, stores: number[], dead: number): Promise<any> {
  let why = '';
  return waitFor(what, async () => {
    const s = await rooted(c);
    why = await notRepaired(c, s, dead);
    if (why) return null;
    const counts = stores.map((id) => perStore(s).get(id) ?? 0);
    why = `peers per store ${JSON.stringify(Object.fromEntries(stores.map((id, i) => [id, counts[i]])))}`;
    return Math.max(...counts) - Math.min(...counts) <= 1 ? s : null;
  }, SETTLE_WITHIN_MS, 500).catch((err: Error) => {
    throw new Error(`${err.message}; last seen: ${why}`);
  });
}

function report(what: string, ms: number): void {
  if (process.env.NOKV_TEST_REPORT) console.log(`${what}: ${ms} ms`);
}

describe('cluster: replica repair and balance (real processes)', function () {
  this.timeout(240_000);
  let cluster: DrillCluster | undefined;
  let client: CoordinatedStoreClient | undefined;
  const acked: Array<[Buffer, Buffer]> = [];

  before(async function () {
    this.timeout(150_000);
    cluster = await clusterUp(undefined, { extraStores: 1, schedule: { store_down_ms: STORE_DOWN_MS } });
    client = connectStoreClient({ coordinatorAddrs: cluster.coordAddrs, token: cluster.token });
  });

  after(async function () {
    this.timeout(120_000);
    client?.close();
    if (cluster) await clusterDown(cluster);
  });

  it('a fourth store of the topology gets its share: four regions end with three replicas on every store', async () => {
    const c = cluster!;
    for (const k of SPLIT_KEYS) await client!.onRegion(Buffer.from(k), 'SplitRegion', () => ({ split_key: Buffer.from(k), new_region_id: 0 }));
    const t0 = Date.now();
    const snap = await settled(c, 'four regions, three replicas on each of the four stores', [1, 2, 3, 4], 0);
    report('four stores balanced', Date.now() - t0);
    expect(snap.regions).to.have.length(4);
    expect([...perStore(snap).values()]).to.deep.equal([3, 3, 3, 3]);
    expect((await activeCoordinator(c)).vars.scheduler.repair.stats.moves).to.be.at.least(1);
  });

  it('SIGKILL a store: every region is back on three live replicas through a coordinator failover; acknowledged writes survive', async () => {
    const c = cluster!;
    const before = await rooted(c);
    const confBefore = new Map<number, number>(before.regions.map((r: any) => [r.region_id, r.epoch.conf_version]));
    const hadDead = new Set<number>(before.regions.filter((r: any) => r.peers.some((p: any) => p.store_id === DEAD)).map((r: any) => r.region_id));
    const errors: string[] = [];
    let running = true;
    const worker = async (w: number) => {
      for (let n = 0; running; n++) {
        const k = Buffer.from(`${'bhpx'[n % 4]}/${w}/${n}`);
        const v = Buffer.from(`v${n}`);
        try {
          const txn = await client!.begin();
          txn.put(k, v);
          await txn.commit();
          acked.push([k, v]);
        } catch (err) {
          errors.push((err as Error).message);
        }
      }
    };
    const loops = [0, 1].map(worker);
    try {
      await waitFor('some acknowledged writes', async () => acked.length >= 20 || null, 30_000, 100);
      const active = await activeCoordinator(c);
      const t0 = Date.now();
      await clusterCmd(c, 'kill', `store-${DEAD}`);
      // The first plan is rooted: the active coordinator dies with the repair under way.
      await waitFor('a peer change rooted', async () => {
        const s = await rooted(c);
        return (s.pending_peer_changes ?? []).length > 0 || s.regions.some((r: any) => r.epoch.conf_version > confBefore.get(r.region_id)!) || null;
      }, 60_000, 200);
      await clusterCmd(c, 'kill', active.name);
      await settled(c, 'every region on three live stores', [1, 3, 4], DEAD);
      report('store kill → every region on 3 live replicas', Date.now() - t0);
      await sleep(500);
    } finally {
      running = false;
      await Promise.all(loops);
    }

    const after = await rooted(c);
    for (const r of after.regions) {
      // One addition and one removal for each region that had a peer on the dead store.
      if (hadDead.has(r.region_id)) expect(r.epoch.conf_version, `region ${r.region_id}`).to.equal(confBefore.get(r.region_id)! + 2);
    }
    expect(hadDead.size).to.be.at.least(1);
    const coord = (await activeCoordinator(c)).vars;
    expect(coord.scheduler.repair.down_stores).to.deep.equal([DEAD]);
    expect(coord.scheduler.repair.pending_peer_changes).to.deep.equal([]);

    expect(acked.length).to.be.greaterThan(20);
    const fresh = connectStoreClient({ coordinatorAddrs: c.coordAddrs, token: c.token });
    try {
      for (const [k, v] of acked) expect((await fresh.get(k))?.toString(), k.toString()).to.equal(v.toString());
    } finally {
      fresh.close();
    }
  });

  it('`nokv cluster add store` starts a fifth store; replicas move onto it; status shows regions per store', async () => {
    const c = cluster!;
    const t0 = Date.now();
    const out = JSON.parse(await nokv(['cluster', 'add', 'store', '--json', '--data-dir', c.dataDir], 120_000));
    expect(out).to.include({ added: 'store-5', store_id: 5 });
    // The cluster's topology file names it now (a later `cluster up` of this data dir starts it too).
    c.topo.stores.push({ store_id: 5, addr: out.addr, metrics_addr: out.metrics_addr });
    const snap = await settled(c, 'replicas spread over stores 1, 3, 4 and 5', [1, 3, 4, 5], DEAD);
    report('store added → balanced', Date.now() - t0);
    expect(perStore(snap).get(5)).to.be.at.least(2);
    const status = await nokv(['cluster', 'status', '--data-dir', c.dataDir]);
    expect(status).to.match(/store-5\s+running/);
    expect(status).to.match(/regions per store .*store-5=\d/);
    expect(status).to.match(/peer changes in flight \d+.* · down stores store-2/);
    const fresh = connectStoreClient({ coordinatorAddrs: c.coordAddrs, token: c.token });
    try {
      for (const [k, v] of acked) expect((await fresh.get(k))?.toString(), k.toString()).to.equal(v.toString());
    } finally {
      fresh.close();
    }
  });

  it('`nokv cluster remove store-5` drains it first (its replicas move while it serves), retires and stops it', async () => {
    const c = cluster!;
    const t0 = Date.now();
    const out = JSON.parse(await nokv(['cluster', 'remove', 'store-5', '--json', '--data-dir', c.dataDir], 180_000));
    expect(out).to.include({ removed: 'store-5', store_id: 5 });
    report('store-5 drained and retired', Date.now() - t0);
    const snap = await rooted(c);
    expect(snap.stores.find((st: any) => st.store_id === 5)?.state).to.equal('retired');
    c.topo.stores.splice(c.topo.stores.findIndex((st) => st.store_id === 5), 1);
    // Drained before it stopped: every region on three of the live stores at the rooted epoch, at once.
    expect(await notRepaired(c, snap, DEAD)).to.equal('');
    expect(snap.regions.every((r: any) => !r.peers.some((p: any) => p.store_id === 5))).to.equal(true);
    const status = await nokv(['cluster', 'status', '--data-dir', c.dataDir]);
    expect(status).to.not.match(/store-5/);
    const fresh = connectStoreClient({ coordinatorAddrs: c.coordAddrs, token: c.token });
    try {
      for (const [k, v] of acked) expect((await fresh.get(k))?.toString(), k.toString()).to.equal(v.toString());
    } finally {
      fresh.close();
    }
  });
});
