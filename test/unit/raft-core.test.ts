// Scenario tests of the raft core named after the Raft paper's properties, plus the features the cluster
// relies on (pre-vote, check-quorum, ReadIndex, snapshots, transfer, membership, flow-control limits).
import { expect } from 'chai';
import { pack, unpack } from 'msgpackr';
import { NotLeaderError } from '../../src/common/errors.js';
import { SeededPrng } from '../../src/common/prng.js';
import {
  ConfChangeType,
  EntryType,
  MemoryLog,
  ProposalDroppedError,
  RaftCore,
  RaftInvariantError,
  type Message,
} from '../../src/raft/index.js';
import { TEST_ELECTION_TICKS, TestCluster, text } from '../sim/raft-cluster.js';

const ctx = (s: string) => text(s);

function founderLog(ids: number[], term: number, extra: { index: number; term: number }[] = []): MemoryLog {
  const log = new MemoryLog({ voters: ids, learners: [] });
  log.append(extra.map((e) => ({ index: e.index, term: e.term, type: EntryType.Normal, data: text(`t${e.term}i${e.index}`) })));
  log.setHardState({ term, vote: 0, commit: 1 });
  return log;
}

describe('raft §5.2 leader election', () => {
  it('elects the node that campaigns and makes every other node follow it in the same term', () => {
    const c = new TestCluster([1, 2, 3]);
    c.elect(1);
    expect(c.leaders()).to.deep.equal([1]);
    for (const id of [2, 3]) {
      expect(c.core(id).role).to.equal('follower');
      expect(c.core(id).leaderId).to.equal(1);
      expect(c.core(id).term).to.equal(c.core(1).term);
    }
  });

  it('elects a leader by election timeout alone, with the timeout randomized in [T, 2T)', () => {
    const c = new TestCluster([1, 2, 3]);
    let ticks = 0;
    while (c.leaders().length === 0 && ticks < 2 * TEST_ELECTION_TICKS + 5) {
      c.tickAll();
      ticks++;
    }
    expect(c.leaders()).to.have.length(1);
    expect(ticks).to.be.within(TEST_ELECTION_TICKS, 2 * TEST_ELECTION_TICKS);
  });

  it('election safety: at most one leader per term when every node campaigns at once (100 delivery orders)', () => {
    let seedsWithLeader = 0;
    for (let seed = 1; seed <= 100; seed++) {
      const c = new TestCluster([1, 2, 3, 4, 5], { preVote: false }, seed);
      const prng = new SeededPrng(seed);
      for (const id of [1, 2, 3, 4, 5]) c.core(id).campaign();
      const leaderOfTerm = new Map<number, number>();
      for (let round = 0; round < 200; round++) {
        c.processReadies();
        // Deliver in a random order, sometimes dropping, to explore interleavings.
        const q = c.pending().splice(0);
        for (let i = q.length - 1; i > 0; i--) {
          const j = prng.int(i + 1);
          [q[i], q[j]] = [q[j], q[i]];
        }
        for (const m of q) if (!prng.chance(0.2)) c.core(m.to).step(m);
        for (const id of c.leaders()) {
          const term = c.core(id).term;
          expect(leaderOfTerm.get(term) ?? id, `two leaders in term ${term}`).to.equal(id);
          leaderOfTerm.set(term, id);
        }
        if (round % 10 === 0) for (const id of [1, 2, 3, 4, 5]) c.core(id).tick();
      }
      if (leaderOfTerm.size > 0) seedsWithLeader++;
    }
    expect(seedsWithLeader, 'the scenario does produce leaders to check').to.be.greaterThan(50);
  });

  it('a node that restarts keeps its vote: it will not vote for a second candidate in the same term', () => {
    const c = new TestCluster([1, 2, 3], { preVote: false });
    c.isolate(3);
    c.elect(1); // node 2 votes for 1 in term 2
    const term = c.core(2).term;
    expect(c.node(2).storage.hardState()).to.include({ term, vote: 1 });
    c.crash(2);
    c.restart(2);
    c.heal();
    c.crash(1);
    // Node 3 campaigns in the same term node 2 already voted in: node 2 must refuse.
    const vote: Message = { type: 'vote', from: 3, to: 2, term, logTerm: 99, index: 99, commit: 0, entries: [], reject: false, rejectHint: 0 };
    c.core(2).step(vote);
    const rd = c.core(2).ready();
    expect(rd.messages.find((m) => m.type === 'voteResp')?.reject).to.equal(true);
  });
});

describe('raft §5.3 log replication', () => {
  it('commits and applies a proposal on every node in the same order', () => {
    const c = new TestCluster([1, 2, 3]);
    c.elect(1);
    for (const s of ['a', 'b', 'c']) c.propose(1, s);
    c.tickAll(2); // heartbeats carry the final commit index to followers
    for (const id of [1, 2, 3]) expect(c.appliedTexts(id)).to.deep.equal(['a', 'b', 'c']);
  });

  it('log matching: a follower with conflicting uncommitted entries ends with exactly the leader log', () => {
    const ids = [1, 2, 3];
    const stale = founderLog(ids, 2, [{ index: 2, term: 2 }, { index: 3, term: 2 }, { index: 4, term: 2 }]);
    const c = new TestCluster(ids, {}, 1, { 1: founderLog(ids, 2), 2: founderLog(ids, 2), 3: stale });
    c.isolate(3);
    c.elect(1);
    c.propose(1, 'x');
    c.heal();
    c.propose(1, 'y');
    c.tickAll(2);
    const leaderLog = c.node(1).storage.entries(2, c.node(1).storage.lastIndex() + 1);
    const followerLog = c.node(3).storage.entries(2, c.node(3).storage.lastIndex() + 1);
    expect(followerLog.map((e) => [e.index, e.term])).to.deep.equal(leaderLog.map((e) => [e.index, e.term]));
    expect(c.appliedTexts(3)).to.deep.equal(['x', 'y']);
  });
});

describe('raft §5.4 safety', () => {
  it('election restriction (§5.4.1): a node whose log lacks committed entries cannot win', () => {
    const c = new TestCluster([1, 2, 3], { preVote: false });
    c.elect(1);
    c.isolate(3);
    c.propose(1, 'committed-without-3');
    expect(c.core(1).committed).to.be.greaterThan(c.core(3).lastIndex());
    c.crash(1);
    c.heal();
    c.tick(2, 1); // move node 2 out of its leader lease; it still rejects a stale candidate's log
    for (let i = 0; i < TEST_ELECTION_TICKS; i++) c.core(2).tick();
    c.elect(3);
    expect(c.core(3).role).to.not.equal('leader');
    c.elect(2);
    expect(c.core(2).role).to.equal('leader');
    expect(c.appliedTexts(2)).to.include('committed-without-3');
  });

  it('figure 8 (§5.4.2): a leader does not commit an entry of an earlier term by counting replicas', () => {
    const ids = [1, 2, 3, 4, 5];
    // Node 1 holds index 2 from term 2 that nobody else has; everyone is at term 3.
    const storages = Object.fromEntries(ids.map((id) => [id, founderLog(ids, 3, id === 1 ? [{ index: 2, term: 2 }] : [])]));
    const c = new TestCluster(ids, { maxSizePerMsgBytes: 1, maxInflightMsgs: 1 }, 1, storages);
    // Hold back the current-term entry from every follower that could accept it (one that lacks index 2
    // rejects it, which is how the leader finds where to start): followers can only replicate index 2.
    c.filter = (m) => !(m.type === 'app' && m.entries.some((e) => e.index === 3) && c.node(m.to).storage.lastIndex() >= 2);
    c.elect(1);
    expect(c.core(1).role).to.equal('leader');
    const term = c.core(1).term;
    expect(c.core(1).termAt(3)).to.equal(term); // the new leader's own empty entry
    c.tickAll(3);
    for (const id of [2, 3, 4, 5]) expect(c.node(id).storage.lastIndex(), `node ${id}`).to.equal(2);
    expect(c.core(1).committed, 'index 2 is on all five nodes but is from term 2').to.equal(1);
    c.heal();
    c.tickAll(3);
    expect(c.core(1).committed).to.equal(3);
  });

  it('leader completeness: every entry committed before an election is in the new leader log', () => {
    const c = new TestCluster([1, 2, 3, 4, 5]);
    c.elect(1);
    c.isolate(4);
    c.isolate(5);
    const at = c.propose(1, 'must-survive');
    expect(c.core(1).committed).to.be.at.least(at.index);
    c.crash(1);
    c.heal();
    // Let any remaining node win; it must be one that holds the committed entry.
    for (let i = 0; i < 4 * TEST_ELECTION_TICKS && c.leaders().length === 0; i++) c.tickAll();
    const [leader] = c.leaders();
    expect(leader).to.be.oneOf([2, 3]);
    expect(c.core(leader).termAt(at.index)).to.equal(at.term);
  });
});

describe('raft pre-vote and check-quorum', () => {
  it('pre-vote: a partitioned node rejoining does not raise its term or depose the live leader', () => {
    const c = new TestCluster([1, 2, 3]);
    c.elect(1);
    const term = c.core(1).term;
    c.isolate(3);
    for (let i = 0; i < 5 * TEST_ELECTION_TICKS; i++) c.tickAll();
    expect(c.core(3).term, 'pre-votes do not bump the term').to.equal(term);
    c.heal();
    c.tickAll(3 * TEST_ELECTION_TICKS);
    expect(c.leaders()).to.deep.equal([1]);
    expect(c.core(1).term).to.equal(term);
  });

  it('without pre-vote the same rejoining node does depose the leader (the disruption pre-vote prevents)', () => {
    const c = new TestCluster([1, 2, 3], { preVote: false, checkQuorum: false });
    c.elect(1);
    const term = c.core(1).term;
    c.isolate(3);
    for (let i = 0; i < 5 * TEST_ELECTION_TICKS; i++) c.tickAll();
    expect(c.core(3).term).to.be.greaterThan(term);
    c.heal();
    c.tickAll(2 * TEST_ELECTION_TICKS);
    expect(c.core(1).term).to.be.greaterThan(term);
  });

  it('check-quorum: an isolated leader steps down within two election timeouts, a connected one never', () => {
    const c = new TestCluster([1, 2, 3]);
    c.elect(1);
    c.tick(1, 3 * TEST_ELECTION_TICKS); // quorum checks pass while the followers answer
    expect(c.core(1).role).to.equal('leader');
    c.isolate(1);
    // Answers to the heartbeat sent at the last check still count for the window after it.
    c.tick(1, 2 * TEST_ELECTION_TICKS);
    expect(c.core(1).role).to.equal('follower');
    expect(c.core(1).leaderId).to.equal(0);
  });

  it('without check-quorum an isolated leader stays leader', () => {
    const c = new TestCluster([1, 2, 3], { checkQuorum: false });
    c.elect(1);
    c.isolate(1);
    c.tick(1, 3 * TEST_ELECTION_TICKS);
    expect(c.core(1).role).to.equal('leader');
  });

  it('leader lease: a follower hearing from its leader ignores a higher-term vote request', () => {
    const c = new TestCluster([1, 2, 3]);
    c.elect(1);
    const term = c.core(2).term;
    const vote: Message = { type: 'vote', from: 3, to: 2, term: term + 1, logTerm: 99, index: 99, commit: 0, entries: [], reject: false, rejectHint: 0 };
    c.core(2).step(vote);
    expect(c.core(2).term).to.equal(term);
    expect(c.core(2).leaderId).to.equal(1);
  });
});

describe('raft ReadIndex', () => {
  it('the leader answers a read with its commit index only after a heartbeat quorum', () => {
    const c = new TestCluster([1, 2, 3]);
    c.elect(1);
    c.propose(1, 'w');
    c.core(1).readIndex(ctx('r1'));
    c.processReadies();
    expect(c.node(1).readStates, 'not before the quorum answers').to.have.length(0);
    c.stabilize();
    expect(c.node(1).readStates).to.have.length(1);
    expect(c.node(1).readStates[0].index).to.equal(c.core(1).committed);
    expect(new TextDecoder().decode(c.node(1).readStates[0].ctx)).to.equal('r1');
  });

  it('an isolated leader never confirms a read', () => {
    const c = new TestCluster([1, 2, 3]);
    c.elect(1);
    c.isolate(1);
    c.core(1).readIndex(ctx('r'));
    c.tick(1, TEST_ELECTION_TICKS - 1);
    expect(c.node(1).readStates).to.have.length(0);
  });

  it('a follower forwards the read to the leader and gets the leader commit index', () => {
    const c = new TestCluster([1, 2, 3]);
    c.elect(1);
    c.propose(1, 'w');
    c.core(3).readIndex(ctx('f'));
    c.stabilize();
    expect(c.node(3).readStates).to.have.length(1);
    expect(c.node(3).readStates[0].index).to.equal(c.core(1).committed);
    expect(() => new TestCluster([1, 2, 3]).core(2).readIndex(ctx('x'))).to.throw(NotLeaderError);
  });

  it('a new leader holds reads until an entry of its own term commits', () => {
    const c = new TestCluster([1, 2, 3]);
    c.filter = (m) => m.type !== 'app'; // the new leader's empty entry cannot commit yet
    c.elect(1);
    expect(c.core(1).role).to.equal('leader');
    c.core(1).readIndex(ctx('early'));
    c.tickAll(2);
    expect(c.node(1).readStates).to.have.length(0);
    c.heal();
    c.tickAll(2);
    expect(c.node(1).readStates).to.have.length(1);
    expect(c.core(1).termAt(c.node(1).readStates[0].index)).to.equal(c.core(1).term);
  });

  it('refuses reads beyond maxPendingReadIndex with a typed error', () => {
    const c = new TestCluster([1, 2, 3], { maxPendingReadIndex: 2 });
    c.elect(1);
    c.isolate(1);
    c.core(1).readIndex(ctx('a'));
    c.core(1).readIndex(ctx('b'));
    expect(() => c.core(1).readIndex(ctx('c'))).to.throw(ProposalDroppedError).with.property('code', 'RESOURCE_EXHAUSTED');
  });
});

describe('raft snapshots and compaction', () => {
  it('installs a snapshot with the application state on a follower whose next entry was compacted', () => {
    const c = new TestCluster([1, 2, 3]);
    c.elect(1);
    c.isolate(3);
    for (let i = 0; i < 20; i++) c.propose(1, `v${i}`);
    const leader = c.node(1);
    const state = text(c.appliedTexts(1).join(','));
    leader.storage.compact(c.core(1).applied, state, leader.conf);
    expect(leader.storage.firstIndex()).to.be.greaterThan(c.node(3).storage.lastIndex() + 1);
    c.heal();
    c.tickAll(3);
    const snap = c.sent.find((m) => m.type === 'snap' && m.to === 3)?.snapshot;
    expect(snap, 'a snapshot was sent').to.not.equal(undefined);
    expect(new TextDecoder().decode(c.node(3).storage.snapshot().data)).to.equal(c.appliedTexts(1).join(','));
    c.propose(1, 'after');
    c.tickAll(2);
    expect(c.appliedTexts(3)).to.deep.equal(['after']);
    expect(c.core(3).committed).to.equal(c.core(1).committed);
  });

  it('a restarted node resumes from its snapshot and log with its term and commit', () => {
    const c = new TestCluster([1, 2, 3]);
    c.elect(1);
    for (let i = 0; i < 5; i++) c.propose(1, `v${i}`);
    c.tickAll(2);
    const n2 = c.node(2);
    n2.storage.compact(c.core(2).applied - 2, text('state'), n2.conf);
    const before = { term: c.core(2).term, last: c.core(2).lastIndex(), commit: c.core(2).committed };
    c.crash(2);
    c.restart(2);
    expect({ term: c.core(2).term, last: c.core(2).lastIndex(), commit: c.core(2).committed }).to.deep.equal(before);
    c.processReadies();
    // Entries after the snapshot are re-delivered for apply (the state machine restarts from the snapshot).
    expect(c.appliedTexts(2)).to.deep.equal(['v3', 'v4']);
  });
});

describe('raft leader transfer', () => {
  it('hands leadership to a caught-up follower with TimeoutNow', () => {
    const c = new TestCluster([1, 2, 3]);
    c.elect(1);
    c.propose(1, 'x');
    const term = c.core(1).term;
    c.core(1).transferLeader(2);
    c.stabilize();
    expect(c.sent.some((m) => m.type === 'timeoutNow' && m.to === 2)).to.equal(true);
    expect(c.leaders()).to.deep.equal([2]);
    expect(c.core(2).term).to.equal(term + 1);
  });

  it('catches a lagging target up first and drops proposals while the transfer is in flight', () => {
    const c = new TestCluster([1, 2, 3]);
    c.elect(1);
    c.isolate(3);
    c.propose(1, 'x');
    c.core(1).transferLeader(3);
    expect(() => c.core(1).propose(text('y'))).to.throw(ProposalDroppedError).with.nested.property('details.reason', 'transfer-in-progress');
    c.heal();
    c.stabilize();
    expect(c.leaders()).to.deep.equal([3]);
    expect(c.appliedTexts(3)).to.include('x');
  });

  it('abandons a transfer the target cannot complete within an election timeout', () => {
    const c = new TestCluster([1, 2, 3]);
    c.elect(1);
    c.isolate(3);
    c.core(1).transferLeader(3);
    c.tick(1, TEST_ELECTION_TICKS);
    expect(c.core(1).role).to.equal('leader');
    expect(() => c.propose(1, 'after-abort')).to.not.throw();
  });
});

describe('raft single-step membership change', () => {
  it('adds a learner that catches up without voting, then promotes it to voter', () => {
    const c = new TestCluster([1, 2, 3]);
    c.elect(1);
    c.propose(1, 'before');
    c.core(1).proposeConfChange({ type: ConfChangeType.AddLearner, nodeId: 4 });
    c.addNode(4, { voters: [], learners: [] });
    c.stabilize();
    c.tickAll(3);
    expect(c.core(1).confState()).to.deep.equal({ voters: [1, 2, 3], learners: [4] });
    expect(c.appliedTexts(4)).to.include('before');
    expect(c.core(4).confState().learners).to.deep.equal([4]);
    // A learner never campaigns.
    c.tick(4, 3 * TEST_ELECTION_TICKS);
    expect(c.core(4).role).to.equal('follower');
    c.core(1).proposeConfChange({ type: ConfChangeType.AddVoter, nodeId: 4 });
    c.stabilize();
    expect(c.core(1).confState().voters).to.deep.equal([1, 2, 3, 4]);
    // Quorum is now 3 of 4: with two voters cut off nothing commits.
    c.isolate(3);
    c.isolate(4);
    const at = c.core(1).propose(text('needs-3-of-4'));
    c.stabilize();
    expect(c.core(1).committed).to.be.lessThan(at.index);
  });

  it('removes a voter and shrinks the quorum; a removed leader steps down', () => {
    const c = new TestCluster([1, 2, 3]);
    c.elect(1);
    c.core(1).proposeConfChange({ type: ConfChangeType.RemoveNode, nodeId: 3 });
    c.stabilize();
    expect(c.core(1).confState().voters).to.deep.equal([1, 2]);
    c.core(1).proposeConfChange({ type: ConfChangeType.RemoveNode, nodeId: 1 });
    c.stabilize();
    expect(c.core(1).role).to.equal('follower');
    for (let i = 0; i < 4 * TEST_ELECTION_TICKS && c.leaders().length === 0; i++) c.tickAll();
    expect(c.leaders()).to.deep.equal([2]);
    expect(c.core(2).confState().voters).to.deep.equal([2]);
  });

  it('allows one pending membership change at a time and refuses invalid ones', () => {
    const c = new TestCluster([1, 2, 3]);
    c.elect(1);
    c.isolate(2);
    c.isolate(3);
    c.core(1).proposeConfChange({ type: ConfChangeType.AddLearner, nodeId: 4 });
    expect(() => c.core(1).proposeConfChange({ type: ConfChangeType.AddLearner, nodeId: 5 }))
      .to.throw(ProposalDroppedError).with.nested.property('details.reason', 'conf-change-pending');
    c.heal();
    c.stabilize();
    expect(() => c.core(1).proposeConfChange({ type: ConfChangeType.AddVoter, nodeId: 2 }))
      .to.throw(ProposalDroppedError).with.nested.property('details.reason', 'conf-change-invalid');
  });
});

describe('raft flow control and limits', () => {
  it('bounded in-flight window: at most maxInflightMsgs unacknowledged appends per follower', () => {
    const c = new TestCluster([1, 2, 3], { maxInflightMsgs: 2 });
    c.elect(1);
    c.propose(1, 'warm-up'); // followers are now in replicate state
    const before = c.sent.length;
    c.filter = (m) => !(m.type === 'appResp' && m.from === 2); // node 2's acks are lost
    for (let i = 0; i < 6; i++) c.propose(1, `p${i}`);
    const appsTo2 = c.sent.slice(before).filter((m) => m.type === 'app' && m.to === 2 && m.entries.length > 0);
    expect(appsTo2).to.have.length(2);
    expect(c.core(1).progressOf(2)).to.include({ state: 'replicate', inflight: 2 });
    expect(c.sent.slice(before).filter((m) => m.type === 'app' && m.to === 3 && m.entries.length > 0)).to.have.length(6);
  });

  it('batches every proposal made before one Ready into one append per follower', () => {
    const c = new TestCluster([1, 2, 3]);
    c.elect(1);
    c.propose(1, 'warm-up');
    const before = c.sent.length;
    for (let i = 0; i < 5; i++) c.core(1).propose(text(`b${i}`));
    c.processReadies();
    const apps = c.sent.slice(before).filter((m) => m.type === 'app');
    expect(apps.map((m) => [m.to, m.entries.length])).to.deep.equal([[2, 5], [3, 5]]);
  });

  it('splits appends at maxSizePerMsgBytes', () => {
    const c = new TestCluster([1, 2, 3], { maxSizePerMsgBytes: 100 });
    c.elect(1);
    c.propose(1, 'warm-up');
    const before = c.sent.length;
    for (let i = 0; i < 6; i++) c.core(1).propose(new Uint8Array(40));
    c.stabilize();
    const apps = c.sent.slice(before).filter((m) => m.type === 'app' && m.to === 2 && m.entries.length > 0);
    expect(apps.length).to.be.greaterThan(1);
    for (const m of apps) expect(m.entries.reduce((s, e) => s + e.data.length, 0)).to.be.at.most(100);
    expect(apps.reduce((s, m) => s + m.entries.length, 0)).to.equal(6);
  });

  it('drops proposals beyond maxUncommittedEntriesBytes with a typed error and accepts again after commit', () => {
    const c = new TestCluster([1, 2, 3], { maxUncommittedEntriesBytes: 100 });
    c.elect(1);
    c.isolate(2);
    c.isolate(3);
    c.core(1).propose(new Uint8Array(60));
    expect(() => c.core(1).propose(new Uint8Array(60))).to.throw(ProposalDroppedError).with.property('code', 'RESOURCE_EXHAUSTED');
    c.heal();
    c.tickAll(2);
    expect(c.core(1).uncommittedSize()).to.equal(0);
    expect(() => c.core(1).propose(new Uint8Array(60))).to.not.throw();
  });

  it('refuses proposals on a follower with NotLeaderError naming the leader', () => {
    const c = new TestCluster([1, 2, 3]);
    c.elect(1);
    expect(() => c.core(2).propose(text('x'))).to.throw(NotLeaderError).with.nested.property('details.leaderId', 1);
  });
});

describe('raft host contract', () => {
  it('messages are plain data that survive msgpack encoding unchanged', () => {
    const c = new TestCluster([1, 2, 3]);
    c.elect(1);
    c.propose(1, 'x');
    c.core(1).readIndex(ctx('r'));
    c.stabilize();
    const n1 = c.node(1);
    n1.storage.compact(c.core(1).applied, text('s'), n1.conf);
    expect(c.sent.some((m) => m.type === 'snap' || m.context !== undefined)).to.equal(true);
    for (const m of c.sent) {
      const back = unpack(pack(m)) as Message;
      expect(plain(back)).to.deep.equal(plain(m));
    }
  });

  it('refuses a second ready() before advance()', () => {
    const core = new RaftCore({ id: 1, prng: new SeededPrng(1), electionTimeoutTicks: 10, heartbeatTimeoutTicks: 1 }, new MemoryLog({ voters: [1], learners: [] }));
    core.campaign();
    core.ready();
    expect(() => core.ready()).to.throw(RaftInvariantError);
  });

  it('a single-voter group commits on its own without messages', () => {
    const core = new RaftCore({ id: 1, prng: new SeededPrng(1), electionTimeoutTicks: 10, heartbeatTimeoutTicks: 1 }, new MemoryLog({ voters: [1], learners: [] }));
    core.campaign();
    expect(core.role).to.equal('leader');
    const at = core.propose(text('solo'));
    const rd = core.ready();
    expect(rd.messages).to.have.length(0);
    expect(rd.committedEntries.map((e) => e.index)).to.include(at.index);
    expect(rd.entries.map((e) => e.index)).to.include(at.index);
    expect(rd.mustSync).to.equal(true);
  });
});

/** Bytes as arrays (a decoded Buffer and the original Uint8Array compare equal), everything else as is. */
function plain(v: unknown): unknown {
  if (v instanceof Uint8Array) return Array.from(v);
  if (Array.isArray(v)) return v.map(plain);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x)]));
  return v;
}
