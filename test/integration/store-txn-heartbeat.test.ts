// Proves the client keeps a long two-phase commit alive: a transaction whose commit stalls (here the commit
// timestamp is slow to arrive, as during a coordinator failover) past its lock TTL is not rolled back by a
// concurrent reader's CheckTxnStatus while TxnHeartBeat runs, and commits; without heartbeats the reader
// rolls it back and the commit aborts. Three real store processes over loopback.
import { expect } from 'chai';
import { StoreClient, TxnConflictError } from '../../src/store/client/client.js';
import { LocalTso, type TimestampSource } from '../../src/store/client/tso.js';
import { startStoreCluster, storePlacements, type StoreCluster } from '../fixtures/store-cluster.js';
import { sleep } from '../support/env.js';

const b = (s: string) => Buffer.from(s);
/** Short lock TTL so the test outlives it quickly; long enough that a heartbeat RPC on a saturated two-core machine (hundreds of ms) still lands within it. */
const LOCK_TTL_MS = 1_500;
/** How long the commit timestamp is held back: well past the TTL. */
const STALL_MS = LOCK_TTL_MS * 3;
/** When the reader looks: after the TTL has run out, before the stall ends. */
const READ_AFTER_MS = LOCK_TTL_MS * 2;

/** A TSO whose next call can be made to wait. */
class StallableTso implements TimestampSource {
  private readonly inner = new LocalTso();
  stallNextMs = 0;
  async next(): Promise<bigint> {
    const wait = this.stallNextMs;
    this.stallNextMs = 0;
    if (wait > 0) await sleep(wait);
    return this.inner.next();
  }
}

for (const workers of storePlacements([2])) describe(`store: long two-phase commits keep their primary alive with TxnHeartBeat (--workers ${workers})`, function () {
  this.timeout(90_000);
  let c: StoreCluster | undefined;
  const clients: StoreClient[] = [];

  const writer = (txnHeartbeat: boolean) => {
    const tso = new StallableTso();
    const client = new StoreClient({ stores: new Map(c!.topo.stores.map((s) => [s.store_id, s.addr])), tso, lockTtlMs: LOCK_TTL_MS, txnHeartbeat });
    clients.push(client);
    return { client, tso };
  };

  /** Starts a two-region commit whose commit ts stalls, and reads its primary after the TTL has run out. */
  const stalledCommit = async (txnHeartbeat: boolean, tag: string) => {
    const w = writer(txnHeartbeat);
    const t = await w.client.begin();
    t.put(b(`a/${tag}`), b('v'));
    t.put(b(`z/${tag}`), b('v'));
    w.tso.stallNextMs = STALL_MS;
    const commit = t.commit().then(
      (ts) => ({ ts }),
      (err: unknown) => ({ err }),
    );
    await sleep(READ_AFTER_MS);
    const seen = await c!.client.get(b(`a/${tag}`));
    return { seen, outcome: await commit, stats: w.client.stats };
  };

  before(async () => {
    c = await startStoreCluster(['--workers', String(workers)]);
    await Promise.all([c.leaderOf(1), c.leaderOf(2)]);
  });

  after(async () => {
    for (const x of clients) x.close();
    await c?.stop();
  });

  it('a commit held open past its lock TTL with heartbeats survives a concurrent reader and commits', async () => {
    const r = await stalledCommit(true, 'beating');
    expect(r.seen, 'the reader does not see an uncommitted write').to.equal(undefined);
    expect(r.outcome).to.have.property('ts');
    expect(r.stats.txnHeartbeats, 'heartbeats sent').to.be.greaterThan(0);
    expect((await c!.client.get(b('a/beating')))?.toString()).to.equal('v');
    expect((await c!.client.get(b('z/beating')))?.toString()).to.equal('v');
  });

  it('the same commit without heartbeats is rolled back by the reader and aborts', async () => {
    const r = await stalledCommit(false, 'silent');
    expect(r.seen).to.equal(undefined);
    expect(r.stats.txnHeartbeats).to.equal(0);
    expect(r.outcome).to.have.property('err').that.is.instanceOf(TxnConflictError);
    expect(await c!.client.get(b('a/silent'))).to.equal(undefined);
    expect(await c!.client.get(b('z/silent'))).to.equal(undefined);
  });
});
