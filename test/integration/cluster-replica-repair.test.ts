// Replica repair on a real cluster (`nokv cluster up` on free ports, four stores, three replicas per region,
// topology schedule.store_down_ms small): a store is SIGKILLed for good while a transactional load runs; the
// active coordinator — itself SIGKILLed once the first plan is rooted, so its successor carries the repair on —
// plans a new peer on the fourth store for every region that had one on the dead store, the region leaders add it
// (learner, snapshot install, promotion), then the dead peer is removed. Checked: every region is back to three
// replicas, all on live stores that host it at the rooted epoch; conf versions rose by two; nothing is left open;
// and every acknowledged write reads back through a fresh client that knows only the coordinators.
//
// Counted, not timed: the test waits for the events (plans rooted, changes finished) with generous bounds for a
// shared two-core machine; NOKV_TEST_REPORT=1 prints how long the repair took.
import { expect } from 'chai';
import { connectStoreClient, type CoordinatedStoreClient } from '../../src/store/client/connect.js';
import { clusterCmd, clusterDown, clusterUp, debugVars, type DrillCluster } from '../fixtures/coordinator-drills.js';
import { notRepaired, rootedSnapshot as rooted } from '../fixtures/replica-repair.js';
import { sleep, waitFor } from '../support/env.js';

const STORE_DOWN_MS = 3_000;
const SPLIT_KEYS = ['f', 's'];
const REPAIR_WITHIN_MS = 90_000;
const DEAD = 2;

async function activeCoordinator(c: DrillCluster): Promise<string> {
  return waitFor<string | null>('the active coordinator', async () => {
    for (const [i, co] of c.topo.coordinators.entries()) {
      const v = (await debugVars(co.metrics_addr))?.nokv_coordinator;
      if (v?.lease?.held_by_self) return `coordinator-${i + 1}`;
    }
    return null;
  }, 20_000, 200) as Promise<string>;
}

describe('cluster: replica repair of a store that is gone for good (real processes)', function () {
  this.timeout(240_000);
  let cluster: DrillCluster | undefined;
  let client: CoordinatedStoreClient | undefined;

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

  it('SIGKILL a store: every region is back to three live replicas on the others through a coordinator failover; acknowledged writes survive', async () => {
    const c = cluster!;
    for (const k of SPLIT_KEYS) await client!.onRegion(Buffer.from(k), 'SplitRegion', () => ({ split_key: Buffer.from(k), new_region_id: 0 }));
    const before = await waitFor('four rooted regions, all running', async () => {
      const s = await rooted(c);
      return s.regions.length === 4 && s.regions.every((r: any) => r.state === 'running') ? s : null;
    }, 30_000, 250);
    const confBefore = new Map<number, number>(before.regions.map((r: any) => [r.region_id, r.epoch.conf_version]));

    const acked: Array<[Buffer, Buffer]> = [];
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
    let repairMs = 0;
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
      await clusterCmd(c, 'kill', active);
      let why = '';
      await waitFor('every region on three live stores', async () => {
        why = await notRepaired(c, await rooted(c), DEAD);
        return why === '' || null;
      }, REPAIR_WITHIN_MS, 500).catch((err: Error) => {
        throw new Error(`${err.message}; last seen: ${why}`);
      });
      repairMs = Date.now() - t0;
      if (process.env.NOKV_TEST_REPORT) console.log(`store kill → every region on 3 live replicas: ${repairMs} ms`);
      await sleep(500);
    } finally {
      running = false;
      await Promise.all(loops);
    }

    const after = await rooted(c);
    for (const r of after.regions) {
      const was = confBefore.get(r.region_id);
      // Regions that had a peer on the dead store: one addition and one removal, each a conf version.
      if (was !== undefined && before.regions.find((b: any) => b.region_id === r.region_id).peers.some((p: any) => p.store_id === DEAD)) {
        expect(r.epoch.conf_version, `region ${r.region_id}`).to.equal(was + 2);
      }
      expect(r.peers.map((p: any) => p.store_id)).to.include(4);
    }
    const coord = await waitFor('the new active coordinator', async () => {
      for (const co of c.topo.coordinators) {
        const v = (await debugVars(co.metrics_addr))?.nokv_coordinator;
        if (v?.lease?.held_by_self) return v;
      }
      return null;
    }, 20_000, 200);
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
});
