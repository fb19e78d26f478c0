// MVCC GC end to end on a real cluster (`nokv cluster up` on free ports, topology gc.life_time_ms 3 s and
// gc.check_ms 500): the active coordinator computes the safe point from the TSO, the rooted open snapshot epochs
// and the locks the stores report in their heartbeats, and publishes it in heartbeat replies; each region's
// leader proposes the GC command and every replica applies it.
//   1. A transaction prewrites (its lock) before keys are overwritten many times and a snapshot epoch opens:
//      the safe point stops one below its start ts, and every replica applies that point while nothing is
//      collected (every version is above it).
//   2. The transaction commits after that GC round; then the point rises to the snapshot epoch and stops there:
//      every store removed the same number of versions, a read below the point is refused with
//      FAILED_PRECONDITION, the snapshot's version and the latest values read back.
//   3. The snapshot epoch retires: the point follows now minus the lifetime, the snapshot's old version goes
//      on every replica and a read at the snapshot's version is refused too.
import { expect } from 'chai';
import { CoordinatorClient } from '../../src/coordinator/client.js';
import { events } from '../../src/metaroot/state/index.js';
import { connectStoreClient, type CoordinatedStoreClient } from '../../src/store/client/connect.js';
import { clusterDown, clusterUp, debugVars, type DrillCluster } from '../fixtures/coordinator-drills.js';
import { waitFor } from '../support/env.js';

const LIFE_MS = 3_000;
/** Each phase waits for the lifetime, a heartbeat, a GC check and the apply on every replica. */
const PHASE_WITHIN_MS = 20_000;
const B = (s: string) => Buffer.from(s);

describe('cluster: MVCC GC below the coordinator safe point (real processes)', function () {
  this.timeout(180_000);
  let cluster: DrillCluster | undefined;
  let client: CoordinatedStoreClient | undefined;
  let coord: CoordinatorClient | undefined;

  before(async function () {
    this.timeout(150_000);
    cluster = await clusterUp(undefined, { gc: { life_time_ms: LIFE_MS, check_ms: 500 } });
    client = connectStoreClient({ coordinatorAddrs: cluster.coordAddrs, token: cluster.token });
    coord = new CoordinatorClient({ endpoints: cluster.coordAddrs, token: cluster.token });
  });

  after(async function () {
    this.timeout(120_000);
    client?.close();
    coord?.close();
    if (cluster) await clusterDown(cluster);
  });

  /** The active coordinator's GC view. */
  async function coordinatorGc(): Promise<{ safe_point: string; held_by: string } | null> {
    for (const co of cluster!.topo.coordinators) {
      const v = (await debugVars(co.metrics_addr))?.nokv_coordinator;
      if (v?.lease?.held_by_self && v.gc) return v.gc;
    }
    return null;
  }

  /** Every store's /debug/vars (null while one does not answer). */
  async function stores(): Promise<Array<Record<string, any>> | null> {
    const out = await Promise.all(cluster!.topo.stores.map(async (s) => (await debugVars(s.metrics_addr))?.nokv_store));
    return out.every((v) => v) ? out : null;
  }

  let why = '';
  /** Waits until the coordinator published `sp` held by `heldBy`, and every replica of every region applied it. */
  async function waitApplied(what: string, ok: (sp: bigint, heldBy: string) => boolean): Promise<bigint> {
    return waitFor<bigint | null>(what, async () => {
      const gc = await coordinatorGc();
      why = `coordinator gc ${JSON.stringify(gc)}`;
      if (!gc || !ok(BigInt(gc.safe_point), gc.held_by)) return null;
      const sp = BigInt(gc.safe_point);
      const all = await stores();
      const regions = (all ?? []).flatMap((s) => (s.regions as Array<{ id: number; gc_safe_point?: string }>).map((r) => `store-${s.store_id}/${r.id}:${r.gc_safe_point}`));
      why += `; regions ${regions.join(' ')}`;
      if (!all || all.some((s) => (s.regions as Array<{ gc_safe_point?: string }>).some((r) => BigInt(r.gc_safe_point ?? '0') < sp))) return null;
      return sp;
    }, PHASE_WITHIN_MS, 200).then((v) => v!, (err: Error) => {
      throw new Error(`${err.message}; last seen: ${why}`);
    });
  }

  /** Every store removed the same number of versions (every replica applied the same passes); that number. */
  async function removedEverywhere(atLeast: number): Promise<number> {
    return waitFor<number | null>(`every store removed the same ${atLeast}+ versions`, async () => {
      const all = await stores();
      const n = (all ?? []).map((s) => Number(s.percolator?.gc_writes_removed ?? 0));
      why = `gc_writes_removed per store ${JSON.stringify(n)}`;
      return all && n.every((x) => x === n[0]) && n[0]! >= atLeast ? n[0]! : null;
    }, PHASE_WITHIN_MS, 200).then((v) => v!, (err: Error) => {
      throw new Error(`${err.message}; last seen: ${why}`);
    });
  }

  async function put(key: string, value: string): Promise<bigint> {
    const txn = await client!.begin();
    txn.put(B(key), B(value));
    return txn.commit();
  }

  async function refusedBelowSafePoint(key: string, ts: bigint): Promise<void> {
    const err = await client!.get(B(key), ts).then(
      () => null,
      (e: Error & { code?: string }) => e,
    );
    expect(err, `a read of ${key} at ${ts} answered`).to.not.equal(null);
    expect(err!.code).to.equal('FAILED_PRECONDITION');
    expect(err!.message).to.match(/below GC safe point/);
  }

  it('collects old versions on every replica, never past a live transaction or an open snapshot epoch; reads below the safe point are refused', async () => {
    const c = client!;
    const t0 = Date.now();
    // 1. A transaction with a lock, started before everything else.
    const tKey = B('gc/t');
    const startTs = await c.tso();
    const { res: pw } = await c.onRegion<any>(tKey, 'Prewrite', () => ({
      mutations: [{ op: 'PUT', key: tKey, value: B('from-T') }],
      primary_lock: tKey,
      start_version: startTs.toString(),
      lock_ttl: 60_000,
    }));
    expect(pw.errors ?? []).to.deep.equal([]);
    const aCommits: bigint[] = [];
    for (let i = 1; i <= 20; i++) aCommits.push(await put('gc/a', `a${i}`));
    for (let i = 1; i <= 10; i++) await put('gc/s', `s${i}`);
    const snapTs = await c.tso();
    await coord!.registerMount('gcm');
    await coord!.publishRootEvent(events.snapshotEpochPublished('gcm', 1, snapTs.toString()));
    let lastS = 0n;
    for (let i = 11; i <= 20; i++) lastS = await put('gc/s', `s${i}`);

    const sp1 = await waitApplied('the safe point held one below the open transaction, applied everywhere', (sp, by) => by === 'lock' && sp === startTs - 1n);
    expect(sp1).to.equal(startTs - 1n);
    expect((await c.get(B('gc/a'), aCommits[0]!))?.toString(), 'versions above the safe point stay').to.equal('a1');

    // 2. The transaction commits after that round; then the point rises to the snapshot epoch and stops.
    const commitTs = await c.tso();
    const { res: cm } = await c.onRegion<any>(tKey, 'Commit', () => ({ start_version: startTs.toString(), commit_version: commitTs.toString(), keys: [tKey] }));
    expect(cm.error ?? null, JSON.stringify(cm.error)).to.equal(null);
    expect((await c.getLatest(tKey))?.toString()).to.equal('from-T');

    await waitApplied('the safe point held at the open snapshot epoch, applied everywhere', (sp, by) => by === 'snapshot' && sp === snapTs);
    // gc/a: 19 older versions; gc/s: the 9 below the snapshot's version.
    const removed = await removedEverywhere(19 + 9);
    await refusedBelowSafePoint('gc/a', aCommits[0]!);
    expect((await c.get(B('gc/s'), snapTs))?.toString(), 'the snapshot epoch still reads its version').to.equal('s10');
    expect((await c.getLatest(B('gc/a')))?.toString()).to.equal('a20');
    expect((await c.getLatest(B('gc/s')))?.toString()).to.equal('s20');

    // 3. The snapshot retires: the point follows the lifetime past the last write of gc/s.
    await coord!.publishRootEvent(events.snapshotEpochRetired('gcm', 1, snapTs.toString()));
    await waitApplied('the safe point past the last write, applied everywhere', (sp, by) => by === 'lifetime' && sp > lastS);
    await removedEverywhere(removed + 10);
    await refusedBelowSafePoint('gc/s', snapTs);
    expect((await c.getLatest(B('gc/s')))?.toString()).to.equal('s20');
    expect((await c.getLatest(tKey))?.toString()).to.equal('from-T');
    expect(Date.now() - t0, 'the drill took too long').to.be.below(60_000);
  });
});
