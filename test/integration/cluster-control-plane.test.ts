// The data plane joined to the control plane on one real cluster (`nokv cluster up` on free ports: three
// meta-roots, three coordinators, three stores): stores join, publish their regions and heartbeat; routing
// comes from the coordinator holder with the freshest leader; mount `default` is registered at start; and a
// client that knows only the coordinator addresses runs transactions through a store leader kill and an active
// coordinator stop without losing an acknowledged write or a timestamp going backwards.
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { CoordinatorClient } from '../../src/coordinator/client.js';
import { connectStoreClient, type CoordinatedStoreClient } from '../../src/store/client/connect.js';
import { clusterCmd, clusterDown, clusterUp, debugVars, nokv, waitForHolder, type DrillCluster } from '../fixtures/coordinator-drills.js';
import { sleep, waitFor } from '../support/env.js';

/** How long each load phase runs around a failure. */
const LOAD_BEFORE_MS = 1_500;
const LOAD_AFTER_MS = 5_000;
const WORKERS = 3;

interface Acked {
  key: Buffer;
  value: Buffer;
}

/** Workers that each commit one transaction at a time over both regions ("a…" in region 1, "z…" in 2). */
class TxnLoad {
  readonly acked: Acked[] = [];
  /** Per worker: commit timestamps in the order the worker saw them. */
  readonly commits: bigint[][] = [];
  readonly eras: Array<{ atMs: number; era: number }> = [];
  readonly errors: string[] = [];
  private running = true;
  private readonly loops: Promise<void>[];

  constructor(
    private readonly client: CoordinatedStoreClient,
    private readonly tag: string,
  ) {
    this.loops = Array.from({ length: WORKERS }, (_, w) => this.worker(w));
  }

  private async worker(w: number): Promise<void> {
    const mine: bigint[] = [];
    this.commits.push(mine);
    for (let n = 0; this.running; n++) {
      const a = Buffer.from(`a/${this.tag}/${w}/${n}`);
      const z = Buffer.from(`z/${this.tag}/${w}/${n}`);
      const value = Buffer.from(`v${n}`);
      try {
        const txn = await this.client.begin();
        txn.put(a, value);
        txn.put(z, value);
        const ts = await txn.commit();
        mine.push(ts);
        this.acked.push({ key: a, value }, { key: z, value });
        this.eras.push({ atMs: Date.now(), era: this.client.coordinator.era });
      } catch (err) {
        this.errors.push((err as Error).message);
      }
    }
  }

  commitsAfter(ms: number, minEra = 0): number {
    return this.eras.filter((e) => e.atMs > ms && e.era >= minEra).length;
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
  }

  /** Problems: a worker's commit ts that did not increase, or one ts handed to two commits. */
  violations(): string[] {
    const out: string[] = [];
    const seen = new Set<bigint>();
    this.commits.forEach((seq, w) => {
      for (let i = 0; i < seq.length; i++) {
        if (i > 0 && seq[i]! <= seq[i - 1]!) out.push(`worker ${w}: commit ${i} at ${seq[i]} after ${seq[i - 1]}`);
        if (seen.has(seq[i]!)) out.push(`commit ts ${seq[i]} used twice`);
        seen.add(seq[i]!);
      }
    });
    return out;
  }

  /** Acknowledged writes whose value cannot be read back. */
  async missing(): Promise<string[]> {
    const out: string[] = [];
    for (const { key, value } of this.acked) {
      const got = await this.client.get(key);
      if (!got || !got.equals(value)) out.push(`${key.toString()}: ${got?.toString() ?? 'absent'}`);
    }
    return out;
  }
}

/** With NOKV_TEST_REPORT=1, prints what a load phase did (commits, errors, the longest commit gap). */
function report(what: string, load: TxnLoad, t0: number): void {
  if (!process.env.NOKV_TEST_REPORT) return;
  const times = load.eras.map((e) => e.atMs).sort((a, b) => a - b);
  let gap = 0;
  let gapAt = 0;
  for (let i = 1; i < times.length; i++) {
    if (times[i - 1]! >= t0 - 1_000 && times[i]! - times[i - 1]! > gap) {
      gap = times[i]! - times[i - 1]!;
      gapAt = times[i - 1]! - t0;
    }
  }
  console.log(`${what}: ${times.length} commits (${load.commitsAfter(t0)} after), ${load.errors.length} errors, longest gap ${gap} ms starting ${gapAt} ms after the failure`, load.errors.slice(0, 3));
}

describe('cluster: stores joined to the control plane (real processes)', function () {
  this.timeout(60_000);
  let cluster: DrillCluster | undefined;
  let coord: CoordinatorClient | undefined;
  let client: CoordinatedStoreClient | undefined;
  let load: TxnLoad | undefined;

  before(async function () {
    this.timeout(150_000);
    cluster = await clusterUp();
    const token = readFileSync(cluster.tokenFile, 'utf8').trim();
    coord = new CoordinatorClient({ endpoints: cluster.coordAddrs });
    client = connectStoreClient({ coordinatorAddrs: cluster.coordAddrs, token });
  });

  after(async function () {
    this.timeout(120_000);
    await load?.stop().catch(() => undefined);
    client?.close();
    coord?.close();
    if (cluster) await clusterDown(cluster);
  });

  afterEach(async function () {
    await load?.stop();
    load = undefined;
  });

  const storesUp = async () => {
    const r = await coord!.listStores();
    return r.stores.length === 3 && r.stores.every((s: any) => s.state === 'UP') ? r.stores : null;
  };

  it('after cluster up: three stores UP, both regions routed with a leader address, rooted truth has them, mount default exists', async () => {
    const c = cluster!;
    const stores = await waitFor('three stores UP', storesUp, 20_000, 200);
    expect(stores.map((s: any) => Number(s.store_id)).sort()).to.deep.equal([1, 2, 3]);
    for (const s of stores) expect(s.address).to.equal(c.topo.stores.find((t) => t.store_id === Number(s.store_id))!.addr);

    for (const [key, id] of [['a', 1], ['z', 2]] as const) {
      const r = (await waitFor(`a leader for region ${id}`, async () => {
        const got = await coord!.getRegionByKey(Buffer.from(key));
        return Number(got.region?.leader_store_id) > 0 ? got : null;
      }, 20_000, 200))!;
      expect(r.found).to.equal(true);
      expect(Number(r.region.region_id)).to.equal(id);
      const leader = Number(r.region.leader_store_id);
      expect(r.region.leader_addr).to.equal(c.topo.stores.find((s) => s.store_id === leader)!.addr);
      expect(Number(r.region.leader_term)).to.be.greaterThan(0);
    }

    const snap = JSON.parse(await nokv(['config', 'snapshot', '--json', '--config', `${c.dataDir}/topology.json`]));
    expect(snap.stores.filter((s: any) => s.state === 'joined').map((s: any) => s.store_id).sort()).to.deep.equal([1, 2, 3]);
    expect(snap.regions.map((r: any) => [r.region_id, r.start_key, r.end_key])).to.deep.equal([
      [1, '', '6d'],
      [2, '6d', ''],
    ]);
    const mount = snap.mounts.find((m: any) => m.mount_id === 'default');
    expect(mount).to.include({ root_inode: 1, schema_version: 1, state: 'registered' });
    expect((await coord!.getMount('default')).not_found).to.equal(false);

    const vars = (await debugVars(c.topo.stores[0]!.metrics_addr))!.nokv_store.control_plane;
    expect(vars).to.include({ joined: true, descriptors_pending: 0 });
    expect(vars.descriptors_published).to.be.at.least(2);
    expect(Date.now() - vars.last_heartbeat_ms).to.be.lessThan(5_000);
  });

  it('transactions routed by the coordinator and timestamped by its TSO commit across both regions and read back', async () => {
    const c = client!;
    const txn = await c.begin();
    txn.put(Buffer.from('apple'), Buffer.from('1'));
    txn.put(Buffer.from('zebra'), Buffer.from('2'));
    const commitTs = await txn.commit();
    expect(commitTs > txn.startTs).to.equal(true);
    expect((await c.get(Buffer.from('apple')))?.toString()).to.equal('1');
    expect((await c.get(Buffer.from('zebra')))?.toString()).to.equal('2');
    const rows = await c.scan(Buffer.from('a'), Buffer.alloc(0), 10);
    expect(rows.map((r) => r.key.toString())).to.deep.equal(['apple', 'zebra']);
    expect(c.stats.twoPc).to.be.at.least(1);
  });

  it('SIGKILL of a region leader store: the client keeps committing, routing follows the new leader, every acknowledged write reads back', async function () {
    this.timeout(90_000);
    const cl = cluster!;
    const r1 = await coord!.getRegionByKey(Buffer.from('a'));
    const victim = Number(r1.region.leader_store_id);
    expect(victim).to.be.greaterThan(0);
    load = new TxnLoad(client!, 'kill');
    await sleep(LOAD_BEFORE_MS);
    const t0 = Date.now();
    await clusterCmd(cl, 'kill', `store-${victim}`);
    const moved = (await waitFor('the coordinator to route region 1 to a new leader', async () => {
      const r = await coord!.getRegionByKey(Buffer.from('a'));
      const l = Number(r.region.leader_store_id);
      return l > 0 && l !== victim ? r : null;
    }, 20_000, 100))!;
    expect(Number(moved.region.leader_term)).to.be.greaterThan(Number(r1.region.leader_term));
    await waitFor('commits after the kill', () => load!.commitsAfter(t0) >= 5, 30_000, 100);
    await sleep(LOAD_AFTER_MS);
    await load.stop();
    report('store leader kill', load, t0);
    expect(load.violations()).to.deep.equal([]);
    expect(await load.missing()).to.deep.equal([]);
    expect(load.commitsAfter(t0)).to.be.at.least(5);

    // The killed store comes back, rejoins and heartbeats (UP again).
    await clusterCmd(cl, 'start', `store-${victim}`);
    await waitFor('three stores UP again', storesUp, 30_000, 200);
  });

  it('stopping the active coordinator during a load: commits continue with TSO from the new holder, timestamps strictly increase', async function () {
    this.timeout(90_000);
    const cl = cluster!;
    const before = await waitForHolder(cl, 0);
    load = new TxnLoad(client!, 'coord');
    await sleep(LOAD_BEFORE_MS);
    const t0 = Date.now();
    await clusterCmd(cl, 'stop', before.name);
    const after = await waitForHolder(cl, before.era);
    expect(after.id).to.not.equal(before.id);
    await waitFor('commits served by the new era', () => load!.commitsAfter(t0, after.era) >= 5, 30_000, 100);
    await sleep(LOAD_AFTER_MS / 2);
    await load.stop();
    report('coordinator stop', load, t0);
    expect(load.violations()).to.deep.equal([]);
    expect(await load.missing()).to.deep.equal([]);
    expect(client!.coordinator.era).to.be.at.least(after.era);
    await clusterCmd(cl, 'start', before.name);
  });

  it('a split reaches rooted truth and routing: the child region is routed with a leader and serves transactions', async function () {
    this.timeout(60_000);
    const c = client!;
    const { res } = await c.onRegion<any>(Buffer.from('s'), 'SplitRegion', () => ({ split_key: Buffer.from('s'), new_region_id: 0 }));
    const childId = Number(res.right.region_id);
    expect(childId).to.be.greaterThan(2);
    const snap = await waitFor('the split in rooted truth', async () => {
      const doc = JSON.parse(await nokv(['config', 'snapshot', '--json', '--config', `${cluster!.dataDir}/topology.json`]));
      return doc.regions.length === 3 ? doc : null;
    }, 20_000, 250);
    expect(snap.regions.map((r: any) => [r.region_id, r.start_key, r.end_key, r.epoch.version])).to.deep.equal([
      [1, '', '6d', 1],
      [2, '6d', '73', 2],
      [childId, '73', '', 2],
    ]);
    const routed = (await waitFor('the child routed with a leader', async () => {
      const r = await coord!.getRegionByKey(Buffer.from('t'));
      return Number(r.region?.region_id) === childId && Number(r.region.leader_store_id) > 0 ? r : null;
    }, 20_000, 200))!;
    expect(routed.region.leader_addr).to.not.equal('');
    const fresh = connectStoreClient({ coordinatorAddrs: cluster!.coordAddrs, token: readFileSync(cluster!.tokenFile, 'utf8').trim() });
    try {
      const txn = await fresh.begin();
      txn.put(Buffer.from('ant'), Buffer.from('1'));
      txn.put(Buffer.from('panda'), Buffer.from('2'));
      txn.put(Buffer.from('tiger'), Buffer.from('3'));
      await txn.commit();
      expect((await fresh.get(Buffer.from('tiger')))?.toString()).to.equal('3');
      expect(fresh.routes.all().map((d) => d.id).sort()).to.deep.equal([1, 2, childId].sort());
      expect(fresh.stats.regionErrors).to.equal(0);
    } finally {
      fresh.close();
    }
  });
});
