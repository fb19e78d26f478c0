// Unit tests of the raft leaf modules: quorum arithmetic, the in-flight window, progress flow control,
// conf-change encoding and rules, and the in-memory log's persistence semantics.
import { expect } from 'chai';
import fc from 'fast-check';
import { committedIndex, hasQuorum, voteResult } from '../../src/raft/quorum.js';
import { Inflights } from '../../src/raft/inflights.js';
import { Progress } from '../../src/raft/progress.js';
import {
  ConfChangeType,
  decodeConfChange,
  encodeConfChange,
  EntryType,
  LogCompactedError,
  MemoryLog,
  nextConfState,
  RaftInvariantError,
  type Entry,
} from '../../src/raft/index.js';

const ent = (index: number, term: number, data = ''): Entry => ({ index, term, type: EntryType.Normal, data: new TextEncoder().encode(data) });

describe('raft quorum', () => {
  it('commits the highest index a majority holds, matching a naive count', () => {
    fc.assert(
      fc.property(fc.array(fc.nat(50), { minLength: 1, maxLength: 7 }), (matches) => {
        const ids = matches.map((_, i) => i + 1);
        const got = committedIndex(ids, (id) => matches[id - 1]);
        const need = Math.floor(matches.length / 2) + 1;
        const naive = Math.max(...[0, ...matches].filter((x) => matches.filter((m) => m >= x).length >= need));
        expect(got).to.equal(naive);
      }),
    );
  });

  it('decides a vote as won, lost or pending', () => {
    const v = (entries: [number, boolean][]) => voteResult([1, 2, 3, 4, 5], new Map(entries));
    expect(v([[1, true], [2, true], [3, true]])).to.equal('won');
    expect(v([[1, false], [2, false], [3, false]])).to.equal('lost');
    expect(v([[1, true], [2, true], [3, false], [4, false]])).to.equal('pending');
    expect(voteResult([], new Map())).to.equal('lost');
    expect(hasQuorum([1, 2, 3], (id) => id !== 3)).to.equal(true);
    expect(hasQuorum([1, 2, 3, 4], (id) => id <= 2)).to.equal(false);
  });
});

describe('raft in-flight window', () => {
  it('holds at most its capacity and frees acknowledged slots in order', () => {
    const w = new Inflights(3);
    w.add(5);
    w.add(7);
    w.add(9);
    expect(w.full()).to.equal(true);
    expect(() => w.add(10)).to.throw(RaftInvariantError);
    w.freeLE(7);
    expect(w.size).to.equal(1);
    w.add(11);
    w.add(12);
    w.freeFirstOne();
    expect(w.size).to.equal(2);
    w.freeLE(100);
    expect(w.size).to.equal(0);
  });
});

describe('raft progress', () => {
  it('probe sends one append at a time; replicate pipelines up to the window', () => {
    const pr = new Progress(5, 2, false);
    expect(pr.isPaused()).to.equal(false);
    pr.sentEntries(6, 2);
    expect(pr.isPaused(), 'probe waits for an answer').to.equal(true);
    expect(pr.maybeUpdate(6)).to.equal(true);
    pr.becomeReplicate();
    expect(pr.next).to.equal(7);
    pr.sentEntries(8, 2);
    pr.sentEntries(10, 2);
    expect(pr.next).to.equal(11);
    expect(pr.isPaused(), 'window of 2 is full').to.equal(true);
  });

  it('ignores stale rejections and backs off to the hint on a fresh one', () => {
    const pr = new Progress(10, 4, false);
    expect(pr.maybeDecrTo(5, 3), 'not the index being probed').to.equal(false);
    expect(pr.maybeDecrTo(9, 3)).to.equal(true);
    expect(pr.next).to.equal(4);
  });
});

describe('raft conf change', () => {
  it('round-trips through its byte encoding, context included', () => {
    const cc = { type: ConfChangeType.AddLearner, nodeId: 4000000000, context: new Uint8Array([1, 2, 3]) };
    const back = decodeConfChange(encodeConfChange(cc));
    expect(back.type).to.equal(cc.type);
    expect(back.nodeId).to.equal(cc.nodeId);
    expect(Array.from(back.context!)).to.deep.equal([1, 2, 3]);
    expect(() => encodeConfChange({ type: ConfChangeType.AddVoter, nodeId: 0 })).to.throw(RangeError);
  });

  it('applies add, promote and remove, and refuses changes that make no sense', () => {
    const conf = { voters: [1, 2, 3], learners: [] as number[] };
    const withLearner = nextConfState(conf, { type: ConfChangeType.AddLearner, nodeId: 4 });
    expect(withLearner).to.deep.equal({ voters: [1, 2, 3], learners: [4] });
    expect(nextConfState(withLearner as typeof conf, { type: ConfChangeType.AddVoter, nodeId: 4 })).to.deep.equal({ voters: [1, 2, 3, 4], learners: [] });
    expect(nextConfState(conf, { type: ConfChangeType.RemoveNode, nodeId: 2 })).to.deep.equal({ voters: [1, 3], learners: [] });
    expect(nextConfState(conf, { type: ConfChangeType.AddVoter, nodeId: 1 })).to.be.a('string');
    expect(nextConfState(conf, { type: ConfChangeType.AddLearner, nodeId: 1 })).to.be.a('string');
    expect(nextConfState({ voters: [1], learners: [] }, { type: ConfChangeType.RemoveNode, nodeId: 1 })).to.be.a('string');
  });
});

describe('raft MemoryLog', () => {
  it('a founder starts from the bootstrap snapshot at index 1; a joiner starts empty', () => {
    const founder = new MemoryLog({ voters: [1, 2, 3], learners: [] });
    expect(founder.firstIndex()).to.equal(2);
    expect(founder.lastIndex()).to.equal(1);
    expect(founder.term(1)).to.equal(1);
    expect(founder.initialState().hardState).to.deep.equal({ term: 1, vote: 0, commit: 1 });
    const joiner = new MemoryLog();
    expect(joiner.lastIndex()).to.equal(0);
    expect(joiner.initialState().conf).to.deep.equal({ voters: [], learners: [] });
  });

  it('an append over an existing index replaces it and everything after it', () => {
    const log = new MemoryLog({ voters: [1], learners: [] });
    log.append([ent(2, 1), ent(3, 1), ent(4, 1)]);
    log.append([ent(3, 2)]);
    expect(log.lastIndex()).to.equal(3);
    expect(log.term(3)).to.equal(2);
    expect(() => log.append([ent(6, 2)])).to.throw(RaftInvariantError);
  });

  it('compaction keeps the snapshot data and refuses reads below it', () => {
    const log = new MemoryLog({ voters: [1], learners: [] });
    log.append([ent(2, 1, 'a'), ent(3, 1, 'b'), ent(4, 1, 'c')]);
    log.setHardState({ term: 1, vote: 1, commit: 4 });
    log.compact(3, new Uint8Array([42]), { voters: [1], learners: [] });
    expect(log.firstIndex()).to.equal(4);
    expect(log.snapshot().meta).to.deep.include({ index: 3, term: 1 });
    expect(Array.from(log.snapshot().data)).to.deep.equal([42]);
    expect(() => log.entries(2, 4)).to.throw(LogCompactedError);
    expect(log.entries(4, 5).map((e) => e.index)).to.deep.equal([4]);
  });

  it('respects a byte limit on entries but always returns at least one', () => {
    const log = new MemoryLog({ voters: [1], learners: [] });
    log.append([ent(2, 1, 'x'.repeat(100)), ent(3, 1, 'y'.repeat(100))]);
    expect(log.entries(2, 4, 1)).to.have.length(1);
    expect(log.entries(2, 4)).to.have.length(2);
  });
});
