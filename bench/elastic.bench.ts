// Benchmark of the self-managing data tier on one real `nokv cluster` (free ports, topology split.keys small):
// 1. leader balance: time from `cluster up --detach` returning until the two bootstrap regions are led by two
//    stores, and the time `cluster up` itself took;
// 2. load during splits vs steady state, in one run: PHASE_MS of one-key transactions inserting new keys (regions
//    split under the load), then, once splits have settled, PHASE_MS overwriting those keys (no split: key count
//    and sizes stay), same clients; throughput and p99 of each and their ratio. The phases differ in region
//    count too (the steady phase runs on the split key space), which the printed region counts show;
// 3. replica repair, on a second cluster of four stores (schedule.store_down_ms REPAIR_DOWN_MS, four regions of
//    three replicas spread 3/3/3/3 by replica balance, a key per region written first): time from SIGKILL of store 2 until every region is back on
//    three replicas on live stores at the rooted epoch, and until the first peer change was rooted (at least
//    store_down_ms plus a heartbeat: the rest is add learner, snapshot install, promote, remove, each one or two
//    heartbeat periods). ELASTIC_ONLY=repair runs this part alone; ELASTIC_ONLY=split the first two.
import { loadavg } from 'node:os';
import { connectStoreClient } from '../src/store/client/connect.js';
import { clusterCmd, clusterDown, clusterUp, debugVars, nokv, type DrillCluster } from '../test/fixtures/coordinator-drills.js';
import { sleep, waitFor } from '../test/support/env.js';
import { percentile } from './stats.js';
import { notRepaired, rootedSnapshot } from '../test/fixtures/replica-repair.js';

const SPLIT_KEYS = Number(process.env.ELASTIC_SPLIT_KEYS ?? 16);
const PHASE_MS = Number(process.env.ELASTIC_PHASE_MS ?? 15_000);
const CLIENTS = 4;
const REPAIR_DOWN_MS = Number(process.env.ELASTIC_REPAIR_DOWN_MS ?? 3_000);
const ONLY = process.env.ELASTIC_ONLY ?? '';

async function leaders(c: DrillCluster): Promise<number[][]> {
  return Promise.all(
    c.topo.stores.map(async (s) => (((await debugVars(s.metrics_addr))?.nokv_store?.regions ?? []) as Array<{ id: number; role: string }>).filter((r) => r.role === 'leader').map((r) => r.id)),
  );
}

async function regionCount(c: DrillCluster): Promise<number> {
  return JSON.parse(await nokv(['config', 'snapshot', '--json', '--config', c.topoFile])).regions.length;
}

async function main(): Promise<void> {
  const t0 = Date.now();
  const c = await clusterUp(undefined, { split: { keys: SPLIT_KEYS, check_ms: 500 } });
  const upMs = Date.now() - t0;
  const client = connectStoreClient({ coordinatorAddrs: c.coordAddrs, token: c.token });
  try {
    const t1 = Date.now();
    await waitFor('the two regions led by two stores', async () => (await leaders(c)).filter((l) => l.length === 1).length === 2, 60_000, 50);
    const balanceMs = Date.now() - t1;

    const keys: Buffer[] = [];
    const phase = async (name: string, next: (w: number, n: number) => Buffer) => {
      const lat: number[] = [];
      let errors = 0;
      const end = Date.now() + PHASE_MS;
      await Promise.all(
        Array.from({ length: CLIENTS }, async (_, w) => {
          for (let n = 0; Date.now() < end; n++) {
            const k = next(w, n);
            const s = performance.now();
            try {
              const txn = await client.begin();
              txn.put(k, Buffer.from(`${name}-${n}`));
              await txn.commit();
              lat.push(performance.now() - s);
            } catch {
              errors++;
            }
          }
        }),
      );
      return { name, txns: lat.length, tps: lat.length / (PHASE_MS / 1000), p50: percentile(lat, 0.5), p99: percentile(lat, 0.99), errors };
    };
    const before = await regionCount(c);
    const growing = await phase('inserts (splitting)', (w, n) => {
      const k = Buffer.from(`${String.fromCharCode(97 + ((n * 7 + w * 3) % 26))}/${w}/${n}`);
      keys.push(k);
      return k;
    });
    const during = await regionCount(c);
    await sleep(5_000); // splits settle
    const settled = await regionCount(c);
    let i = 0;
    const steady = await phase('overwrites (steady)', () => keys[i++ % keys.length]!);
    const after = await regionCount(c);
    const fmt = (r: Awaited<ReturnType<typeof phase>>) =>
      `| ${r.name} | ${CLIENTS} | ${r.tps.toFixed(0)} | ${r.p50.toFixed(1)} ms | ${r.p99.toFixed(1)} ms | ${r.errors} |`;
    process.stdout.write(
      [
        `elastic bench: split.keys ${SPLIT_KEYS}, ${PHASE_MS} ms per phase, load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}`,
        `cluster up --detach took ${upMs} ms; leaders of regions 1 and 2 on two stores ${balanceMs} ms after it returned`,
        `regions: ${before} before, ${during} after the insert phase, ${settled} settled, ${after} after the steady phase`,
        '| phase | clients | txn/s | p50 | p99 | errors |',
        '|---|---|---|---|---|---|',
        fmt(growing),
        fmt(steady),
        `ratio during splits / steady: throughput ${(growing.tps / steady.tps).toFixed(2)}, p99 ${(growing.p99 / steady.p99).toFixed(2)}`,
        '',
      ].join('\n'),
    );
  } finally {
    client.close();
    await clusterDown(c);
  }
}

async function repair(): Promise<void> {
  const dead = 2;
  const c = await clusterUp(undefined, { extraStores: 1, schedule: { store_down_ms: REPAIR_DOWN_MS } });
  const client = connectStoreClient({ coordinatorAddrs: c.coordAddrs, token: c.token });
  try {
    for (const k of ['f', 's']) await client.onRegion(Buffer.from(k), 'SplitRegion', () => ({ split_key: Buffer.from(k), new_region_id: 0 }));
    for (const k of ['b', 'h', 'p', 'x']) {
      const txn = await client.begin();
      txn.put(Buffer.from(k), Buffer.from('v'));
      await txn.commit();
    }
    // The fourth store fills up first (replica balance): the kill comes once no change is open and every store holds three.
    const snap = await waitFor('four regions spread 3/3/3/3, nothing open', async () => {
      const s = await rootedSnapshot(c);
      if (s.regions.length !== 4 || (await notRepaired(c, s, 0)) !== '') return null;
      const per = new Map<number, number>();
      for (const r of s.regions) for (const p of r.peers) per.set(p.store_id, (per.get(p.store_id) ?? 0) + 1);
      return [...per.values()].every((n) => n === 3) && per.size === 4 ? s : null;
    }, 90_000, 100);
    const confAtKill = new Map<number, number>(snap.regions.map((r: any) => [r.region_id, r.epoch.conf_version]));
    const affected = snap.regions.filter((r: any) => r.peers.some((p: any) => p.store_id === dead)).length;
    const load0 = loadavg()[0]!;
    const t0 = Date.now();
    await clusterCmd(c, 'kill', `store-${dead}`);
    let firstPlanMs = 0;
    await waitFor('every region on three live replicas', async () => {
      const s = await rootedSnapshot(c);
      const moved = s.regions.some((r: any) => r.epoch.conf_version > (confAtKill.get(r.region_id) ?? Infinity));
      if (!firstPlanMs && ((s.pending_peer_changes ?? []).length > 0 || moved)) firstPlanMs = Date.now() - t0;
      return (await notRepaired(c, s, dead)) === '' || null;
    }, 120_000, 100);
    const repairedMs = Date.now() - t0;
    process.stdout.write(
      [
        `replica repair: 4 stores, ${affected} regions with a peer on the killed store, store_down_ms ${REPAIR_DOWN_MS}; load average ${load0.toFixed(1)} at the kill, ${loadavg()[0]!.toFixed(1)} after`,
        `| store kill → first peer change rooted | store kill → every region on 3 live replicas | after store_down_ms |`,
        '|---|---|---|',
        `| ${firstPlanMs} ms | ${repairedMs} ms | ${repairedMs - REPAIR_DOWN_MS} ms |`,
        '',
      ].join('\n'),
    );
  } finally {
    client.close();
    await clusterDown(c);
  }
}

if (ONLY !== 'repair') await main();
if (ONLY !== 'split') await repair();
