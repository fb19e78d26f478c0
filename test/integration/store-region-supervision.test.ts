// Supervision of store regions on real processes, with every region on the main thread and on two worker
// shards: a crash injected into one region actor (through the store's fault route) restarts that region alone —
// the store process, its gRPC server and its other region keep serving throughout, and the crashed region
// recovers from its log with every acknowledged write — and /debug/vars reports the restart. With shards, a
// terminated shard thread comes back with its regions, and no acknowledged write is lost.
import { expect } from 'chai';
import { REGION_CRASH_PATH, SHARD_KILL_PATH } from '../../src/store/faults-route.js';
import { startChaosStoreCluster, type ChaosStoreCluster } from '../fixtures/chaos-store-cluster.js';
import { storePlacements } from '../fixtures/store-cluster.js';
import { sleep, waitFor } from '../support/env.js';

const b = (s: string) => Buffer.from(s);

async function vars(addr: string): Promise<any> {
  const res = await fetch(`http://${addr}/debug/vars`, { signal: AbortSignal.timeout(2_000) });
  return ((await res.json()) as any).nokv_store;
}

async function post(addr: string, path: string, body: unknown): Promise<Response> {
  return fetch(`http://${addr}${path}`, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' }, signal: AbortSignal.timeout(2_000) });
}

async function put(c: ChaosStoreCluster, key: string, value: string): Promise<void> {
  const t = await c.client.begin();
  t.put(b(key), b(value));
  await t.commit();
}

for (const workers of storePlacements([2])) describe(`store: one region actor crashes, only it restarts (--workers ${workers})`, function () {
  this.timeout(120_000);
  let c: ChaosStoreCluster;

  before(async () => {
    c = await startChaosStoreCluster(['--workers', String(workers)]);
  });

  after(async () => {
    await c?.stop();
  });

  it('restarts the crashed region from its log while the other region and the process keep serving', async () => {
    // Region 1 holds keys below "m", region 2 the rest (the bootstrap split).
    for (let i = 0; i < 5; i++) {
      await put(c, `a-${i}`, `v${i}`);
      await put(c, `z-${i}`, `v${i}`);
    }
    const leader = await c.leaderOf(1);
    expect(leader, 'a leader of region 1').to.be.greaterThan(0);
    const metricsAddr = c.topo.stores.find((s) => s.store_id === leader)!.metrics_addr;
    const before = await vars(metricsAddr);
    const region2Before = before.regions.find((r: any) => r.id === 2);

    // Region 2 is written all through the crash and restart of region 1; none of these may fail.
    let stop = false;
    let region2Writes = 0;
    const load = (async () => {
      while (!stop) {
        await put(c, `z-load-${region2Writes}`, 'x');
        region2Writes++;
      }
    })();

    const res = await post(metricsAddr, REGION_CRASH_PATH, { region: 1 });
    expect(res.status, await res.clone().text()).to.equal(200);

    const after = await waitFor('region 1 restarted and running', async () => {
      const v = await vars(metricsAddr);
      const r1 = v.regions.find((r: any) => r.id === 1);
      return r1?.restarts === 1 && r1.state === 'running' ? v : undefined;
    }, 30_000, 100);
    // Region 1 serves again, with what was acknowledged before the crash.
    await put(c, 'a-after', 'yes');
    stop = true;
    await load;

    expect(c.running(leader), 'the store process is the same one').to.equal(true);
    expect(after.data_plane_restarts, 'no data-plane restart').to.equal(before.data_plane_restarts);
    const region2After = after.regions.find((r: any) => r.id === 2);
    expect(region2After.restarts, 'region 2 never restarted').to.equal(0);
    expect(region2After.state).to.equal('running');
    expect(region2After.term, 'region 2 kept its term').to.equal(region2Before.term);
    expect(region2Writes, 'region 2 kept taking writes').to.be.greaterThan(0);
    for (let i = 0; i < 5; i++) {
      expect((await c.client.get(b(`a-${i}`)))?.toString()).to.equal(`v${i}`);
      expect((await c.client.get(b(`z-${i}`)))?.toString()).to.equal(`v${i}`);
    }
    expect((await c.client.get(b('a-after')))?.toString()).to.equal('yes');
    for (let i = 0; i < region2Writes; i++) expect((await c.client.get(b(`z-load-${i}`)))?.toString(), `z-load-${i}`).to.equal('x');
  });

  it('refuses a crash request for a region the store does not host', async () => {
    const addr = c.topo.stores[0]!.metrics_addr;
    const res = await post(addr, REGION_CRASH_PATH, { region: 99 });
    expect(res.status).to.equal(404);
  });

  if (workers > 0) {
    it('brings a terminated shard thread back with its regions, losing no acknowledged write', async () => {
      const leader = await c.leaderOf(1);
      const metricsAddr = c.topo.stores.find((s) => s.store_id === leader)!.metrics_addr;
      const before = await vars(metricsAddr);
      const shardOf1 = Number(Object.entries(before.node.shards as Record<string, number[]>).find(([, ids]) => ids.includes(1))![0]);
      const startsBefore = before.regions.find((r: any) => r.id === 1).restarts;

      // Writes to both regions run through the kill; every one acknowledged must read back afterwards.
      let stop = false;
      const acked: string[] = [];
      const load = Promise.all(
        ['a', 'z'].map(async (p) => {
          for (let i = 0; !stop; i++) {
            const k = `${p}-shard-${i}`;
            try {
              await put(c, k, k);
              acked.push(k);
            } catch {
              // unacknowledged: may or may not have landed
            }
          }
        }),
      );
      await sleep(300);
      const res = await post(metricsAddr, SHARD_KILL_PATH, { shard: shardOf1 });
      expect(res.status, await res.clone().text()).to.equal(200);
      await waitFor('the shard\'s regions running again', async () => {
        const v = await vars(metricsAddr);
        const r1 = v.regions.find((r: any) => r.id === 1);
        return r1.restarts > startsBefore && v.regions.every((r: any) => r.state === 'running') ? v : undefined;
      }, 30_000, 100);
      await put(c, 'a-after-shard', 'yes');
      stop = true;
      await load;

      const after = await vars(metricsAddr);
      expect(c.running(leader), 'the store process is the same one').to.equal(true);
      expect(after.data_plane_restarts, 'no data-plane restart').to.equal(before.data_plane_restarts);
      expect(acked.length, 'writes were acknowledged during the run').to.be.greaterThan(0);
      for (const k of acked) expect((await c.client.get(b(k)))?.toString(), k).to.equal(k);
      expect((await c.client.get(b('a-after-shard')))?.toString()).to.equal('yes');
    });
  }
});
