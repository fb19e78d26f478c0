// The raft host's ordering and failure rules, on three in-process replicas with real LMDB stores whose
// persists a test can hold back or fail, on a ManualClock (ticks only when a test says so).
import { expect } from 'chai';
import { ManualClock } from '../../src/common/clock.js';
import { RaftGroupFailedError } from '../../src/raft/host/errors.js';
import { MultiRaft } from '../../src/raft/host/multi.js';
import { KvStateMachine } from '../support/kv-state-machine.js';
import { LocalCluster } from '../fixtures/raft-local-cluster.js';

const put = (k: string) => KvStateMachine.encode(k, `v-${k}`);

describe('raft host: Ready ordering and failures', function () {
  this.timeout(20_000);
  let c: LocalCluster | undefined;

  afterEach(async () => {
    await c?.close();
    c = undefined;
  });

  it('a leader sends appends while its own persist is in flight, but acknowledges only after it is durable', async () => {
    c = await LocalCluster.open();
    const leader = await c.elect(1);
    await c.settle();
    leader.store.hold = true;
    let done = false;
    const p = leader.group.propose(put('a')).then((r) => ((done = true), r));
    await c.settle();
    const apps = leader.sent.filter((m) => m.type === 'app' && m.entries.some((e) => e.data.length > 0));
    expect(apps.map((m) => m.to).sort(), 'the entry went to both followers before the leader persisted it').to.deep.equal([2, 3]);
    const index = apps[0]!.entries.at(-1)!.index;
    expect(leader.store.heldCount, 'leader persist still held').to.be.greaterThan(0);
    expect(c.node(2).sm.data.size + c.node(3).sm.data.size, 'nothing applied anywhere yet').to.equal(0);
    expect(done, 'not acknowledged before the leader persisted').to.equal(false);
    expect(leader.sent.every((m) => m.commit < index), 'commit of the entry not advertised before the leader persisted').to.equal(true);
    leader.store.release();
    const r = await p;
    expect(r.index).to.equal(index);
    expect(leader.sm.data.get('a')).to.equal('v-a');
    expect(leader.group.stats().earlySends).to.be.greaterThan(0);
  });

  it('with parallel leader append off, no append leaves the leader before its persist', async () => {
    c = await LocalCluster.open({ group: { parallelLeaderAppend: false } });
    const leader = await c.elect(1);
    await c.settle();
    leader.store.hold = true;
    const p = leader.group.propose(put('b'));
    await c.settle();
    expect(leader.sent.filter((m) => m.type === 'app' && m.entries.some((e) => e.data.length > 0))).to.have.length(0);
    leader.store.release();
    await p;
    expect(leader.group.stats().earlySends).to.equal(0);
  });

  it('a vote is on disk before the messages that depend on it leave the node', async () => {
    c = await LocalCluster.open();
    const cand = c.node(2);
    cand.store.hold = true;
    cand.group.campaign();
    await c.settle();
    // Pre-votes change no durable state and may go; the real vote request follows the term bump's persist.
    expect(cand.sent.some((m) => m.type === 'preVote'), 'pre-votes sent').to.equal(true);
    expect(cand.sent.some((m) => m.type === 'vote'), 'no vote request before term and vote are durable').to.equal(false);
    expect(cand.store.heldCount).to.be.greaterThan(0);
    cand.store.release();
    await c.elect(2);
    expect(cand.sent.some((m) => m.type === 'vote')).to.equal(true);
  });

  it('a failed persist stops the group: pending and later callers get RaftGroupFailedError, the owner is told once', async () => {
    const failures: Error[] = [];
    c = await LocalCluster.open({ group: { onFailed: (e) => failures.push(e) } });
    const leader = await c.elect(1);
    await leader.group.propose(put('ok'));
    leader.store.failWith = new Error('disk gone');
    const err = await leader.group.propose(put('lost')).then(() => undefined, (e: unknown) => e);
    expect(err).to.be.instanceOf(RaftGroupFailedError);
    expect((err as RaftGroupFailedError).code).to.equal('UNAVAILABLE');
    expect((err as Error).message).to.contain('disk gone');
    expect(failures).to.have.length(1);
    expect(leader.group.failure).to.equal(failures[0]);
    const later = await leader.group.propose(put('later')).then(() => undefined, (e: unknown) => e);
    expect(later).to.equal(failures[0]);
    const read = await leader.group.readBarrier().then(() => undefined, (e: unknown) => e);
    expect(read).to.equal(failures[0]);
    leader.group.tick(); // a stopped group ignores its inputs
    expect(failures).to.have.length(1);
  });

  it('an unreachable peer reported by the transport makes the leader stop pipelining to it', async () => {
    c = await LocalCluster.open();
    const leader = await c.elect(1);
    for (let i = 0; i < 3; i++) await leader.group.propose(put(`p${i}`));
    expect(leader.group.progressOf(2)?.state).to.equal('replicate');
    const multi = new MultiRaft({ clock: c.clock, tickMs: 10 });
    multi.add(leader.group);
    multi.peerUnreachable(2);
    expect(leader.group.progressOf(2)?.state).to.equal('probe');
    expect(leader.group.progressOf(3)?.state).to.equal('replicate');
  });

  it('requestSnapshot takes a snapshot after the next Ready however few entries were applied', async () => {
    const clock = new ManualClock();
    c = await LocalCluster.open({ clock, group: { snapshotEveryEntries: 1_000 } });
    const leader = await c.elect(1);
    for (let i = 0; i < 4; i++) await leader.group.propose(put(`r${i}`));
    await c.settle();
    const before = leader.group.snapshotIndexValue;
    leader.group.requestSnapshot();
    for (let i = 0; i < 20 && leader.group.snapshotIndexValue === before; i++) {
      clock.advance(10);
      c.tickAll();
      await c.settle(4);
    }
    expect(leader.group.snapshotIndexValue).to.be.greaterThan(before + 3);
    // Taken once: without a new request, the next Readies take none.
    const after = leader.group.snapshotIndexValue;
    await leader.group.propose(put('r4'));
    await c.settle();
    expect(leader.group.snapshotIndexValue).to.equal(after);
  });

  it('a snapshot in flight to a peer that became unreachable is reported failed', async () => {
    const clock = new ManualClock();
    c = await LocalCluster.open({ clock, group: { snapshotEveryEntries: 5, compactionSlackEntries: 1 } });
    const leader = await c.elect(1);
    c.cut.add('1->3').add('3->1');
    for (let i = 0; i < 12; i++) await leader.group.propose(put(`s${i}`));
    await c.settle();
    expect(leader.group.snapshotIndexValue, 'leader compacted past what node 3 has').to.be.greaterThan(5);
    // Node 3 comes back but cannot finish installing (its disk is held), so the leader waits in snapshot state.
    c.node(3).store.hold = true;
    c.cut.clear();
    for (let i = 0; i < 40 && leader.group.progressOf(3)?.state !== 'snapshot'; i++) {
      clock.advance(10);
      c.tickAll();
      await c.settle(4);
    }
    expect(leader.group.progressOf(3)?.state).to.equal('snapshot');
    leader.group.reportUnreachable(3);
    expect(leader.group.progressOf(3)?.state).to.equal('probe');
    // Once node 3's disk recovers it catches up (from a fresh snapshot or the log).
    c.node(3).store.release();
    for (let i = 0; i < 100 && c.node(3).sm.data.get('s11') !== 'v-s11'; i++) {
      clock.advance(10);
      c.tickAll();
      await c.settle(4);
    }
    expect(c.node(3).sm.data.get('s11')).to.equal('v-s11');
  });

  it('concurrent proposals are batched into few persists and fsyncs', async () => {
    c = await LocalCluster.open();
    const leader = await c.elect(1);
    await c.settle();
    const before = leader.storage.stats();
    await Promise.all(Array.from({ length: 50 }, (_, i) => leader.group.propose(put(`g${i}`))));
    const after = leader.storage.stats();
    expect(after.writes - before.writes, 'fewer persists than proposals: Readys batch entries').to.be.lessThan(50);
    expect(after.batches - before.batches).to.be.at.most(after.writes - before.writes);
  });

  it('driven by its owner (externalDrive): the same replication, one Ready per turn, and a failed persist stops the group', async () => {
    // An owner like the meta-root peer actor: woken when there is work, it begins a Ready and finishes it on a
    // later turn once the persist resolved (here a macrotask stands in for the message to self).
    const pumps = { begun: 0, finished: 0 };
    let cluster: LocalCluster | undefined;
    const pump = () => {
      for (const n of cluster?.nodes.values() ?? []) {
        const persisted = n.group.beginReady();
        if (!persisted) continue;
        pumps.begun++;
        persisted.then(
          () => setImmediate(() => {
            pumps.finished++;
            void n.group.finishReady();
          }),
          (err: unknown) => setImmediate(() => n.group.failReady(err)),
        );
      }
    };
    const failures: Error[] = [];
    c = cluster = await LocalCluster.open({ group: { externalDrive: { wake: () => setImmediate(pump) }, onFailed: (e) => failures.push(e) } });
    const leader = await c.elect(1);
    for (let i = 0; i < 20; i++) await leader.group.propose(put(`k${i}`));
    await c.until('every replica applied the 20 entries', () => [...c!.nodes.values()].every((n) => n.sm.data.size === 20));
    for (const n of c.nodes.values()) expect(n.sm.data.get('k19')).to.equal('v-k19');
    expect(pumps.begun).to.be.greaterThan(20);
    // A persist that fails stops the leader's group for good, through failReady.
    leader.store.failWith = new Error('disk gone');
    const err = await leader.group.propose(put('lost')).then(() => undefined, (e: unknown) => e);
    expect(err).to.be.instanceOf(RaftGroupFailedError);
    expect(failures).to.have.length(1);
    expect((failures[0] as Error).message).to.contain('disk gone');
  });
});
