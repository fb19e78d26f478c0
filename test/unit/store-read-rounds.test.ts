// The region's shared ReadIndex rounds: concurrent reads share rounds (N reads -> 1 or 2 rounds), a read never
// completes with a round whose index was fixed before it arrived, a failed round fails only its members and the
// next round still runs, and leadership loss fails every waiting read with NotLeader. A seeded model checks the
// linearizability argument itself: every read is served at an index at or above the commit index when it arrived.
import { expect } from 'chai';
import { NotLeaderError } from '../../src/common/errors.js';
import { SeededPrng } from '../../src/common/prng.js';
import { ReadRounds } from '../../src/store/server/read-rounds.js';

/** A fake raft: each round fixes the commit index when it starts and settles when the test says. */
function fakeRaft() {
  let commit = 0;
  const rounds: Array<{ index: number; pass(): void; fail(err: Error): void }> = [];
  const start = () =>
    new Promise<void>((resolve, reject) => {
      rounds.push({ index: commit, pass: resolve, fail: reject });
    });
  return {
    start,
    rounds,
    commit: () => ++commit,
    get index() {
      return commit;
    },
  };
}

const turn = () => new Promise((r) => setImmediate(r));

/** The seeded model's last passed round's read index (what a read resolving now was served at). */
let lastPassed = 0;

/** A read's outcome, observable without awaiting it. */
function track(p: Promise<void>) {
  const s: { done: boolean; err?: unknown } = { done: false };
  p.then(
    () => (s.done = true),
    (err: unknown) => {
      s.done = true;
      s.err = err;
    },
  );
  return s;
}

describe('store: read rounds (shared ReadIndex)', () => {
  it('N reads arriving together share two rounds: the first starts one, the rest share the next', async () => {
    const raft = fakeRaft();
    const rr = new ReadRounds({ start: raft.start });
    const reads = Array.from({ length: 16 }, () => track(rr.join()));
    expect(raft.rounds).to.have.length(1);
    raft.rounds[0]!.pass();
    await turn();
    expect(reads.filter((r) => r.done)).to.have.length(1);
    expect(raft.rounds).to.have.length(2);
    raft.rounds[1]!.pass();
    await turn();
    expect(reads.every((r) => r.done && r.err === undefined)).to.equal(true);
    expect(raft.rounds).to.have.length(2);
    expect(rr.stats()).to.deep.equal({ rounds: 2, reads: 16, waiting: 0 });
  });

  it('reads arriving while a round is in flight all share one next round', async () => {
    const raft = fakeRaft();
    const rr = new ReadRounds({ start: raft.start });
    const first = track(rr.join());
    const later = Array.from({ length: 8 }, () => track(rr.join()));
    raft.rounds[0]!.pass();
    await turn();
    expect(first.done).to.equal(true);
    expect(raft.rounds).to.have.length(2);
    raft.rounds[1]!.pass();
    await turn();
    expect(later.every((r) => r.done && r.err === undefined)).to.equal(true);
    // Idle again: the next read starts a round of its own at once.
    const alone = track(rr.join());
    expect(raft.rounds).to.have.length(3);
    raft.rounds[2]!.pass();
    await turn();
    expect(alone.done).to.equal(true);
  });

  it('a read that arrives after a round fixed its index never completes with that round', async () => {
    const raft = fakeRaft();
    const rr = new ReadRounds({ start: raft.start });
    const a = track(rr.join());
    raft.commit(); // a write is acknowledged after round 1 fixed its index...
    const b = track(rr.join()); // ...and then this read arrives: it must see the write
    raft.rounds[0]!.pass();
    await turn();
    expect(a.done).to.equal(true);
    expect(b.done).to.equal(false);
    expect(raft.rounds[1]!.index).to.equal(1);
    raft.rounds[1]!.pass();
    await turn();
    expect(b.done).to.equal(true);
  });

  it('a failed round fails only its members, and the next round still runs', async () => {
    const raft = fakeRaft();
    const rr = new ReadRounds({ start: raft.start });
    const a = track(rr.join());
    const b = track(rr.join());
    const c = track(rr.join());
    raft.rounds[0]!.fail(new Error('round timed out'));
    await turn();
    expect(a.err).to.be.instanceOf(Error).with.property('message', 'round timed out');
    expect(b.done || c.done).to.equal(false);
    expect(raft.rounds).to.have.length(2);
    raft.rounds[1]!.pass();
    await turn();
    expect(b.done && b.err === undefined && c.done && c.err === undefined).to.equal(true);
  });

  it('a round that throws when started fails its members and the waiting reads get the next round', async () => {
    let calls = 0;
    let pass!: () => void;
    const rr = new ReadRounds({
      start: () => {
        if (++calls === 1) throw new NotLeaderError('not yet', { leaderId: 0 });
        return new Promise<void>((r) => (pass = r));
      },
    });
    const a = track(rr.join());
    await turn();
    expect(a.err).to.be.instanceOf(NotLeaderError);
    const b = track(rr.join());
    expect(calls).to.equal(2);
    pass();
    await turn();
    expect(b.done && b.err === undefined).to.equal(true);
  });

  it('leadership loss fails the round in flight and the waiting reads with NotLeader; later reads start afresh', async () => {
    const raft = fakeRaft();
    const rr = new ReadRounds({ start: raft.start });
    const inFlight = track(rr.join());
    const waiting = [track(rr.join()), track(rr.join())];
    rr.failAll(new NotLeaderError('store 1 is not the leader of region 2', { leaderId: 3 }));
    await turn();
    for (const r of [inFlight, ...waiting]) expect(r.err).to.be.instanceOf(NotLeaderError);
    // The old round settling late neither answers anyone twice nor starts a round for the failed reads.
    raft.rounds[0]!.pass();
    await turn();
    expect(raft.rounds).to.have.length(1);
    const again = track(rr.join());
    expect(raft.rounds).to.have.length(2);
    raft.rounds[1]!.pass();
    await turn();
    expect(again.done && again.err === undefined).to.equal(true);
  });

  it('leadership loss while a follow-up round is scheduled but not started: it never starts', async () => {
    const raft = fakeRaft();
    const queued: Array<() => void> = [];
    const rr = new ReadRounds({ start: raft.start, schedule: (fn) => queued.push(fn) });
    track(rr.join());
    const b = track(rr.join());
    raft.rounds[0]!.pass();
    await turn();
    expect(queued).to.have.length(1);
    const c = track(rr.join()); // joins the scheduled round: its index is not fixed yet
    rr.failAll(new NotLeaderError('deposed', { leaderId: 2 }));
    queued.shift()!();
    await turn();
    expect(raft.rounds).to.have.length(1);
    expect(b.err).to.be.instanceOf(NotLeaderError);
    expect(c.err).to.be.instanceOf(NotLeaderError);
  });

  it('seeded interleavings: every read is served at an index at or above the commit index when it arrived', async () => {
    for (let seed = 1; seed <= 30; seed++) {
      const prng = new SeededPrng(seed);
      const raft = fakeRaft();
      const queued: Array<() => void> = [];
      const rr = new ReadRounds({ start: raft.start, schedule: (fn) => queued.push(fn) });
      const served: Array<{ arrivedAt: number; servedAt?: number; failed?: boolean }> = [];
      let settled = 0;
      let roundsStarted = 0;
      for (let step = 0; step < 400; step++) {
        const x = prng.next();
        if (x < 0.4) {
          const rec: (typeof served)[number] = { arrivedAt: raft.index };
          served.push(rec);
          const before = raft.rounds.length;
          rr.join().then(
            () => {
              // The round it completed with: the newest that passed when it resolved.
              rec.servedAt = lastPassed;
            },
            () => (rec.failed = true),
          );
          roundsStarted += raft.rounds.length - before;
        } else if (x < 0.6) {
          raft.commit();
        } else if (x < 0.8 && queued.length > 0) {
          queued.shift()!();
        } else if (settled < raft.rounds.length) {
          const r = raft.rounds[settled++]!;
          if (prng.next() < 0.1) r.fail(new Error('lost'));
          else {
            lastPassed = r.index;
            r.pass();
          }
          await turn(); // its members answered before anything else happens
        }
        await Promise.resolve();
      }
      for (const rec of served) if (rec.servedAt !== undefined) expect(rec.servedAt, `seed ${seed}`).to.be.at.least(rec.arrivedAt);
      expect(roundsStarted, `seed ${seed}`).to.be.at.most(served.length);
    }
  });
});

