// The fix for the lost update the KV chaos test found (a read above a one-phase commit's ts served before the
// commit applied, then a CAS committing over it): the leader-side guard orders reads and one-phase commits,
// and a transaction retried in another form learns it already committed instead of "conflict". Also the
// loopback fault route that drives the chaos nemesis.
import { expect } from 'chai';
import { UnavailableError } from '../../src/common/errors.js';
import { ManualClock } from '../../src/common/clock.js';
import { ExpvarRegistry, startExpvarServer } from '../../src/expvar/server.js';
import { tsoFromPhysicalMs } from '../../src/store/client/tso.js';
import { memoryMvccStore } from '../../src/store/mvcc/families.js';
import { onePhaseCommit, prewrite } from '../../src/store/percolator/txn.js';
import { LEADER_FLOOR_RETRY_MS, LEADER_TS_MARGIN_MS, TsGuard } from '../../src/store/server/ts-guard.js';
import { FAULTS_ROUTE_PATH, registerFaultRoutes } from '../../src/store/faults-route.js';
import { FaultInjector } from '../../src/transport/faults.js';

const k = (s: string) => Buffer.from(s);
const settle = () => new Promise((r) => setImmediate(r));

describe('one-phase commit guard (store leader)', () => {
  it('a read at or above an in-flight one-phase commit waits for it; a read below does not', async () => {
    const g = new TsGuard();
    const lock = g.lockOnePc([k('a')], 1n, 100n);
    if (!('ticket' in lock)) throw new Error('refused');
    let above = false;
    const waiting = g.waitForWriters(100n, { keys: [k('a')] }).then(() => (above = true));
    await g.waitForWriters(99n, { keys: [k('a')] });
    await g.waitForWriters(200n, { keys: [k('b')] });
    await g.waitForWriters(200n, { start: k('b'), end: Buffer.alloc(0) });
    await settle();
    expect(above).to.equal(false);
    lock.ticket.release(true);
    await waiting;
    expect(above).to.equal(true);
  });

  it('a read fails UNAVAILABLE when the commit it waited for ends without a known outcome', async () => {
    const g = new TsGuard();
    const lock = g.lockOnePc([k('a')], 1n, 100n);
    if (!('ticket' in lock)) throw new Error('refused');
    const waiting = g.waitForWriters(150n, { start: Buffer.alloc(0), end: Buffer.alloc(0) });
    lock.ticket.release(false);
    let err: unknown;
    await waiting.catch((e) => (err = e));
    expect(err).to.be.instanceOf(UnavailableError);
  });

  it('refuses a one-phase commit at or below a ts already read, and names the lowest acceptable one', () => {
    const g = new TsGuard();
    g.noteRead(500n);
    expect(g.lockOnePc([k('a')], 1n, 500n)).to.deep.equal({ minCommitTs: 501n });
    expect(g.inFlight, 'a refusal holds no lock').to.equal(0);
    expect('ticket' in g.lockOnePc([k('a')], 1n, 501n)).to.equal(true);
  });

  it('without a commit ts from the client the leader picks max(start, highest read, floor) + 1, never on a wall-clock floor still ahead of the start', () => {
    const now = 3_000_000;
    const g = new TsGuard();
    g.observeLeader(2, now);
    const wallFloor = g.maxRead;
    const early = tsoFromPhysicalMs(now + 10);
    expect(g.lockOnePc([k('a')], early), 'wall-clock floor ahead of the start').to.deep.equal({ minCommitTs: wallFloor + 1n });
    const late = wallFloor + 5n;
    const past = g.lockOnePc([k('a')], late);
    expect('commitTs' in past && past.commitTs, 'the start has passed the wall-clock floor').to.equal(late + 1n);
    if ('ticket' in past) past.ticket.release(true);
    g.floorFetched(g.floorToFetch(now)!, tsoFromPhysicalMs(now + 1), now + 20);
    g.noteRead(early + 50n);
    const picked = g.lockOnePc([k('a')], early);
    expect('commitTs' in picked && picked.commitTs, 'above the highest read').to.equal(early + 51n);
    if ('ticket' in picked) picked.ticket.release(true);
    const fresh = g.lockOnePc([k('a')], early + 100n);
    expect('commitTs' in fresh && fresh.commitTs, 'above the start').to.equal(early + 101n);
  });

  it('a new leader term starts above every ts an earlier leader can have served', () => {
    const clock = new ManualClock(1_000_000);
    const g = new TsGuard();
    g.observeLeader(3, clock.now());
    expect(g.maxRead).to.equal(tsoFromPhysicalMs(1_000_000 + LEADER_TS_MARGIN_MS));
    g.noteRead(g.maxRead + 7n);
    const before = g.maxRead;
    g.observeLeader(3, clock.now() + 10);
    expect(g.maxRead, 'same term: unchanged').to.equal(before);
  });

  it('a TSO timestamp taken after the election replaces the wall-clock floor, and reads served meanwhile still count', () => {
    const now = 1_000_000;
    const g = new TsGuard();
    g.observeLeader(4, now);
    expect(g.floorIsFromTso).to.equal(false);
    const term = g.floorToFetch(now);
    expect(term).to.equal(4);
    expect(g.floorToFetch(now), 'one request per term at a time').to.equal(undefined);
    const readTs = tsoFromPhysicalMs(now + 10);
    g.noteRead(readTs);
    const fromTso = tsoFromPhysicalMs(now + 1);
    g.floorFetched(term!, fromTso, now + 20);
    expect(g.floorIsFromTso).to.equal(true);
    expect(g.maxRead, 'the read served under the wall-clock floor is kept').to.equal(readTs);
    expect('ticket' in g.lockOnePc([k('a')], 1n, readTs + 1n), 'accepted long before wall clock + margin').to.equal(true);
    expect(g.floorToFetch(now + 30), 'known for this term').to.equal(undefined);
  });

  it('a TSO answer for an older term is dropped, and no answer keeps the wall-clock floor until a retry', () => {
    const now = 2_000_000;
    const g = new TsGuard();
    g.observeLeader(5, now);
    const stale = g.floorToFetch(now)!;
    g.observeLeader(7, now + 100);
    g.floorFetched(stale, tsoFromPhysicalMs(now), now + 150);
    expect(g.floorIsFromTso).to.equal(false);
    expect(g.maxRead).to.equal(tsoFromPhysicalMs(now + 100 + LEADER_TS_MARGIN_MS));
    const t7 = g.floorToFetch(now + 200)!;
    expect(t7).to.equal(7);
    g.floorFetched(t7, undefined, now + 300);
    expect(g.maxRead, 'still the fallback').to.equal(tsoFromPhysicalMs(now + 100 + LEADER_TS_MARGIN_MS));
    expect(g.floorToFetch(now + 300 + LEADER_FLOOR_RETRY_MS - 1), 'backing off').to.equal(undefined);
    expect(g.floorToFetch(now + 300 + LEADER_FLOOR_RETRY_MS)).to.equal(7);
  });

  it('a two-phase retry of a one-phase commit that applied late reports committed, not a conflict with itself', () => {
    const s = memoryMvccStore();
    const put = { op: 'put' as const, key: k('a'), value: k('1') };
    expect(onePhaseCommit(s, { mutations: [put], startTs: 10n, commitTs: 11n })).to.deep.equal([]);
    onePhaseCommit(s, { mutations: [{ ...put, value: k('2') }], startTs: 20n, commitTs: 21n });
    const errs = prewrite(s, { mutations: [put], primary: k('a'), startTs: 10n, lockTtlMs: 3_000, minCommitTs: 0n, nowMs: 0 });
    expect(errs.map((e) => e.kind)).to.deep.equal(['committed']);
    if (errs[0]!.kind === 'committed') expect(errs[0]!.commitTs).to.equal(11n);
    expect(onePhaseCommit(s, { mutations: [put], startTs: 10n, commitTs: 15n }).map((e) => e.kind), 'a retry with a fresh commit ts').to.deep.equal(['committed']);
  });
});

describe('store fault route (/debug/faults)', () => {
  it('replaces, reports and heals the rules of the injector, and refuses a bad spec with 400', async () => {
    const registry = new ExpvarRegistry();
    const faults = new FaultInjector({ seed: 1, clock: new ManualClock(0) });
    const remove = registerFaultRoutes(registry, faults);
    const server = await startExpvarServer('127.0.0.1:0', registry);
    const url = `http://127.0.0.1:${server.port}${FAULTS_ROUTE_PATH}`;
    try {
      const spec = { rules: [{ from: 2, to: '*', block: true }, { from: '*', to: 2, block: true }] };
      const posted = await fetch(url, { method: 'POST', body: JSON.stringify(spec) });
      expect(posted.status).to.equal(200);
      expect(((await posted.json()) as any).rules).to.have.length(2);
      expect(faults.blocks(1, 2), 'inbound to the isolated store').to.equal(true);
      expect(faults.blocks(2, 3), 'outbound from it').to.equal(true);
      expect(faults.blocks(1, 3)).to.equal(false);
      const bad = await fetch(url, { method: 'POST', body: '{"rules":[{"from":1,"to":2,"drop":7}]}' });
      expect(bad.status).to.equal(400);
      await bad.text();
      expect(faults.rules(), 'a refused spec changes nothing').to.have.length(2);
      const healed = await fetch(url, { method: 'DELETE' });
      expect(((await healed.json()) as any).rules).to.deep.equal([]);
      const got = (await (await fetch(url)).json()) as any;
      expect(got.links['1->2'].blocked).to.equal(1);
      const vars = await fetch(`http://127.0.0.1:${server.port}/debug/vars`);
      expect(vars.status, '/debug/vars still served').to.equal(200);
      await vars.text();
    } finally {
      remove();
      await server.close();
    }
  });
});
