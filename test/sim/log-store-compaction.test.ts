// The production RaftLogStore on the simulated disk, at the moment the simulator found: a compaction whose
// write transaction committed (its deletes visible) but whose fsync has not completed. A reader then must be
// told the entries are compacted (the core sends a snapshot), never that the log has a hole (DataLossError,
// which stops the replica). Before the fix the durable view still listed the deleted entries.
import { expect } from 'chai';
import { SeededPrng } from '../../src/common/prng.js';
import { LogCompactedError } from '../../src/raft/errors.js';
import { EntryType } from '../../src/raft/index.js';
import { SimClock } from '../../src/sim/sim-clock.js';
import { SimDisk } from '../../src/sim/sim-disk.js';
import { RaftLogStore } from '../../src/storage/raft-log-store.js';

async function settle(clock: SimClock, p: Promise<unknown>): Promise<void> {
  let done = false;
  void p.then(() => (done = true));
  while (!done && clock.step()) await new Promise((r) => setImmediate(r));
  expect(done).to.equal(true);
}

describe('raft log store on the simulated disk', () => {
  it('reports entries compacted from the moment a compaction commits, before its fsync', async () => {
    const clock = new SimClock();
    const disk = new SimDisk('n1', { clock, prng: new SeededPrng(1), maxSyncMs: 10 });
    const store = new RaftLogStore(disk.open());
    const entries = Array.from({ length: 20 }, (_, i) => ({ index: i + 1, term: 1, type: EntryType.Normal, data: new Uint8Array([i]) }));
    await settle(clock, store.persist(1, { entries, hardState: { term: 1, vote: 1, commit: 20 } }));
    await settle(clock, store.saveSnapshot(1, { meta: { index: 15, term: 1, conf: { voters: [1], learners: [] } }, data: new Uint8Array([9]) }));
    const log = store.groupLog(1);
    let durable = false;
    void store.compact(1, 10).then(() => (durable = true));
    // Fire the flush (the transaction commits, its deletes are visible) but not the sync.
    clock.step();
    await new Promise((r) => setImmediate(r));
    expect(durable).to.equal(false);
    expect(log.firstIndex()).to.equal(11);
    expect(() => log.entries(5, 12)).to.throw(LogCompactedError);
    expect(() => log.term(9)).to.throw(LogCompactedError);
    expect(log.term(10)).to.equal(1);
    expect(log.entries(11, 21).map((e) => e.index)).to.deep.equal(Array.from({ length: 10 }, (_, i) => i + 11));
    while (!durable && clock.step()) await new Promise((r) => setImmediate(r));
    expect(durable).to.equal(true);
    expect(log.firstIndex()).to.equal(11);
    expect(log.term(10)).to.equal(1);
  });
});
