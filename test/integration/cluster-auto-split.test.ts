// Size/keys-triggered splits on a real cluster (`nokv cluster up` on free ports, topology split.keys small):
// loading keys makes the stores that lead regions split them on their own until there are at least 16 regions.
// Every split goes through rooted truth as split_planned → split_committed, so rooted regions tile the key
// space, all `running`, with epochs that moved; leaders spread over the stores (within one of each other); and
// a fresh client that knows only the coordinators reads back every key (routing from rooted truth, and
// EpochNotMatch for the client that loaded through the splits).
//
// Bounds (generous for a shared two-core machine): SPLIT_WITHIN_MS for the splits to settle after the load,
// BALANCE_WITHIN_MS for leader balance after that.
import { expect } from 'chai';
import { createHash } from 'node:crypto';
import { connectStoreClient, type CoordinatedStoreClient } from '../../src/store/client/connect.js';
import { clusterDown, clusterUp, debugVars, nokv, type DrillCluster } from '../fixtures/coordinator-drills.js';
import { waitFor } from '../support/env.js';

const SPLIT_KEYS = 40;
const KEYS = 720;
const BATCH = 20;
const SPLIT_WITHIN_MS = 60_000;
const BALANCE_WITHIN_MS = 30_000;

/**
 * Keys spread over the whole key space (first byte a-z, so both bootstrap regions get their share); keys loaded
 * together share their first byte, so a batch mostly lands in one region and commits in one phase.
 */
const keyOf = (i: number) => Buffer.from(`${String.fromCharCode(97 + Math.floor((i * 26) / KEYS))}/${createHash('sha1').update(String(i)).digest('hex').slice(0, 10)}`);
const valueOf = (i: number) => Buffer.from(`value-${i}`);

async function rooted(c: DrillCluster): Promise<any> {
  return JSON.parse(await nokv(['config', 'snapshot', '--json', '--config', c.topoFile]));
}

describe('cluster: regions split by size and keys on their own (real processes)', function () {
  this.timeout(180_000);
  let cluster: DrillCluster | undefined;
  let client: CoordinatedStoreClient | undefined;

  before(async function () {
    this.timeout(150_000);
    cluster = await clusterUp(undefined, { split: { keys: SPLIT_KEYS, check_ms: 500 } });
    client = connectStoreClient({ coordinatorAddrs: cluster.coordAddrs, token: cluster.token });
  });

  after(async function () {
    this.timeout(120_000);
    client?.close();
    if (cluster) await clusterDown(cluster);
  });

  it('a load of 720 keys splits the key space into 16 or more regions through split_planned / split_committed; leaders spread; a fresh client reads every key', async () => {
    const c = cluster!;
    const t0 = Date.now();
    for (let i = 0; i < KEYS; i += BATCH) {
      const txn = await client!.begin();
      for (let j = i; j < Math.min(KEYS, i + BATCH); j++) txn.put(keyOf(j), valueOf(j));
      await txn.commit();
    }
    const loadMs = Date.now() - t0;

    // Splits settle: at least 16 rooted regions, all running, none left pending, and no store still over the threshold.
    let why = '';
    const snap = await waitFor('16 or more rooted regions, all running, none over the threshold', async () => {
      const s = await rooted(c);
      why = `${s.regions.length} rooted regions, states ${JSON.stringify(s.regions.map((r: any) => r.state).filter((st: string) => st !== 'running'))} not running, ${(s.pending_range_changes ?? []).length} pending range changes`;
      if (s.regions.length < 16 || s.regions.some((r: any) => r.state !== 'running') || (s.pending_range_changes ?? []).length > 0) return null;
      for (const st of c.topo.stores) {
        const vars = (await debugVars(st.metrics_addr))?.nokv_store;
        const sp = vars?.splits;
        why = `store-${st.store_id}: ${sp ? `unfinished splits ${JSON.stringify(sp.unfinished)}` : 'no split stats'}`;
        if (!sp || sp.unfinished.length > 0) return null;
        // Every region the store leads has been checked since its last write, and none is over the threshold.
        const sizes = sp.sizes as Record<string, { keys: number }>;
        const led = ((vars.regions ?? []) as Array<{ id: number; role: string }>).filter((r) => r.role === 'leader');
        why = `store-${st.store_id}: leads ${JSON.stringify(led.map((r) => r.id))}, sizes ${JSON.stringify(sizes)}`;
        if (led.some((r) => !sizes[String(r.id)]) || Object.values(sizes).some((z) => z.keys > SPLIT_KEYS)) return null;
      }
      return s;
    }, SPLIT_WITHIN_MS, 500).catch((err: Error) => {
      throw new Error(`${err.message}; last seen: ${why}`);
    });
    const settledMs = Date.now() - t0;

    // The rooted regions tile the key space in order, and each split moved epochs on.
    const regions = [...snap.regions].sort((a: any, b: any) => (a.start_key < b.start_key ? -1 : 1));
    expect(regions[0].start_key).to.equal('');
    expect(regions[regions.length - 1].end_key).to.equal('');
    for (let i = 1; i < regions.length; i++) expect(regions[i].start_key).to.equal(regions[i - 1].end_key);
    expect(Math.max(...regions.map((r: any) => r.epoch.version))).to.be.at.least(3);

    // Every split was planned and committed by a store (no cancels here), and the rooted log shows the pairs
    // (the tail shows the entries meta-root still retains, so at least some).
    const stats = await Promise.all(c.topo.stores.map(async (st) => (await debugVars(st.metrics_addr))!.nokv_store.splits));
    expect(stats.reduce((n, sp) => n + sp.committed, 0)).to.equal(regions.length - 2);
    expect(stats.reduce((n, sp) => n + sp.planned, 0)).to.equal(regions.length - 2);
    expect(stats.reduce((n, sp) => n + sp.cancelled, 0)).to.equal(0);
    const tail = await nokv(['config', 'tail', '--kind', 'split_planned,split_committed,split_cancelled', '--config', c.topoFile]);
    const count = (kind: string) => tail.split('\n').filter((l) => l.includes(` ${kind} `)).length;
    expect(count('split_planned')).to.be.at.least(1);
    expect(count('split_committed')).to.be.at.least(1);
    expect(count('split_cancelled')).to.equal(0);

    // Leaders spread over the three stores within one of each other.
    let last: unknown;
    const leaders = await waitFor('leaders within one of even', async () => {
      const per: number[] = [];
      const ids: Array<Array<{ id: number; term?: number }>> = [];
      for (const st of c.topo.stores) {
        const rs = ((await debugVars(st.metrics_addr))?.nokv_store?.regions ?? []) as Array<{ id: number; role: string; term?: number }>;
        const led = rs.filter((r) => r.role === 'leader');
        per.push(led.length);
        ids.push(led.map((r) => ({ id: r.id, ...(r.term !== undefined ? { term: r.term } : {}) })));
      }
      last = { per, ids };
      return per.reduce((a, n) => a + n, 0) === regions.length && Math.max(...per) - Math.min(...per) <= 1 ? per : null;
    }, BALANCE_WITHIN_MS, 500).catch(async (err) => {
      const sched = [];
      for (const co of c.topo.coordinators) sched.push((await debugVars(co.metrics_addr))?.nokv_coordinator?.scheduler);
      throw new Error(`${(err as Error).message}: leaders per store ${JSON.stringify(last)} of ${regions.length} regions; schedulers ${JSON.stringify(sched)}`);
    });

    // A fresh client (routing from rooted truth via the coordinator) reads every key; the loading client too.
    const fresh = connectStoreClient({ coordinatorAddrs: c.coordAddrs, token: c.token });
    try {
      for (let i = 0; i < KEYS; i++) expect((await fresh.get(keyOf(i)))?.toString(), keyOf(i).toString()).to.equal(valueOf(i).toString());
      const all = await fresh.scan(Buffer.alloc(0), Buffer.alloc(0), KEYS + 10);
      expect(all.length).to.equal(KEYS);
    } finally {
      fresh.close();
    }
    for (let i = 0; i < KEYS; i += 97) expect((await client!.get(keyOf(i)))?.toString()).to.equal(valueOf(i).toString());
    expect(client!.stats.regionErrors).to.be.greaterThan(0); // it loaded through the splits and was told about them

    if (process.env.NOKV_TEST_REPORT) console.log(`load ${loadMs} ms, settled ${settledMs} ms after the load began, ${regions.length} regions, leaders per store ${leaders}`);
  });
});
