import { expect } from 'chai';
import { DataLossError, FailedPreconditionError, InvalidArgumentError } from '../../src/common/errors.js';
import { EntryType, type Entry, type Snapshot } from '../../src/raft/types.js';
import {
  DB_NAMES,
  LogCompactedError,
  LogUnavailableError,
  openRaftLogStore,
  openStorage,
  type RaftLogStore,
  type RaftLogStoreOptions,
  type Storage,
} from '../../src/storage/index.js';
import { logKey, metaKey, MetaTag, groupKey } from '../../src/storage/codec.js';
import { makeTempDir } from '../support/env.js';

function ents(from: number, to: number, term: number, tag = ''): Entry[] {
  const out: Entry[] = [];
  for (let i = from; i <= to; i++) out.push({ index: i, term, type: EntryType.Normal, data: Buffer.from(`${tag}e${i}t${term}`) });
  return out;
}

function summary(entries: Entry[]): string[] {
  return entries.map((e) => `${e.index}:${e.term}:${Buffer.from(e.data).toString()}`);
}

function snap(index: number, term: number, data = `state@${index}`): Snapshot {
  return { meta: { index, term, conf: { voters: [1, 2, 3], learners: [4] } }, data: Buffer.from(data) };
}

describe('storage raft log store', () => {
  let dir: { path: string; remove: () => void };
  let storage: Storage | undefined;
  let store: RaftLogStore;

  function open(opts: RaftLogStoreOptions = {}): RaftLogStore {
    storage = openStorage({ path: dir.path });
    store = openRaftLogStore(storage, opts);
    return store;
  }

  async function reopen(opts: RaftLogStoreOptions = {}): Promise<RaftLogStore> {
    await storage?.close();
    storage = undefined;
    return open(opts);
  }

  beforeEach(() => {
    dir = makeTempDir('nokv-storage-');
  });

  afterEach(async () => {
    try {
      await storage?.close();
    } finally {
      storage = undefined;
      dir.remove();
    }
  });

  it('serves appended entries, terms and bounds once persist resolves, and not before', async () => {
    open();
    const log = store.groupLog(1);
    expect([log.firstIndex(), log.lastIndex(), log.term(0)]).to.deep.equal([1, 0, 0]);
    const p = store.persist(1, { entries: ents(1, 3, 1) });
    expect(log.lastIndex(), 'not durable yet').to.equal(0);
    await p;
    expect([log.firstIndex(), log.lastIndex()]).to.deep.equal([1, 3]);
    expect(summary(log.entries(1, 4))).to.deep.equal(['1:1:e1t1', '2:1:e2t1', '3:1:e3t1']);
    expect([log.term(1), log.term(3)]).to.deep.equal([1, 1]);
    expect(() => log.entries(1, 5)).to.throw(LogUnavailableError);
    expect(() => log.term(4)).to.throw(LogUnavailableError);
  });

  for (const cache of [{}, { tailCacheEntries: 0 }]) {
    const label = 'tailCacheEntries' in cache ? 'without tail cache' : 'with tail cache';
    it(`replaces the conflicting suffix when entries are appended at an existing index (${label})`, async () => {
      open(cache);
      const log = store.groupLog(5);
      await store.persist(5, { entries: ents(1, 6, 1) });
      await store.persist(5, { entries: ents(4, 5, 2, 'new') });
      expect(log.lastIndex()).to.equal(5);
      expect(summary(log.entries(3, 6))).to.deep.equal(['3:1:e3t1', '4:2:newe4t2', '5:2:newe5t2']);
      expect(() => log.term(6)).to.throw(LogUnavailableError);
      await store.persist(5, { entries: ents(6, 7, 2) });
      expect(summary(log.entries(5, 8)).map((s) => s.split(':')[1])).to.deep.equal(['2', '2', '2']);
      const live = summary(log.entries(1, 8));
      const reopened = (await reopen(cache)).groupLog(5);
      expect(summary(reopened.entries(1, 8))).to.deep.equal(live);
    });
  }

  it('refuses appends that would leave a gap or are not contiguous, writing nothing', async () => {
    open();
    await store.persist(1, { entries: ents(1, 2, 1) });
    expect(() => store.persist(1, { entries: ents(4, 5, 1) })).to.throw(InvalidArgumentError);
    const broken = [...ents(3, 3, 1), ...ents(5, 5, 1)];
    expect(() => store.persist(1, { entries: broken })).to.throw(InvalidArgumentError);
    expect(() => store.persist(1, { entries: [...ents(3, 3, 2), ...ents(4, 4, 1)] })).to.throw(InvalidArgumentError);
    await store.persist(1, { entries: ents(3, 3, 1) });
    expect(store.groupLog(1).lastIndex()).to.equal(3);
  });

  it('limits a read by maxBytes but always returns at least one entry', async () => {
    open({ tailCacheEntries: 2 });
    await store.persist(1, { entries: ents(1, 10, 1) });
    const log = store.groupLog(1);
    const one = log.entries(1, 11, 1);
    expect(one.map((e) => e.index)).to.deep.equal([1]);
    const sz = one[0]!.data.length + 16;
    expect(log.entries(1, 11, sz * 3).map((e) => e.index)).to.deep.equal([1, 2, 3]);
    expect(log.entries(8, 11, sz * 2).map((e) => e.index)).to.deep.equal([8, 9]);
    expect(log.entries(4, 4)).to.deep.equal([]);
  });

  it('keeps hard state and conf state per group and returns them as the initial state', async () => {
    open();
    await Promise.all([
      store.persist(1, { hardState: { term: 4, vote: 2, commit: 0 }, conf: { voters: [1, 2, 3], learners: [] } }),
      store.persist(2, { hardState: { term: 9, vote: 3, commit: 0 } }),
    ]);
    await store.persist(1, { entries: ents(1, 2, 4), hardState: { term: 4, vote: 2, commit: 2 } });
    expect(store.groupLog(1).initialState()).to.deep.equal({
      hardState: { term: 4, vote: 2, commit: 2 },
      conf: { voters: [1, 2, 3], learners: [] },
    });
    expect(store.groupLog(2).initialState().hardState).to.deep.equal({ term: 9, vote: 3, commit: 0 });
    expect(store.groupLog(3).initialState()).to.deep.equal({
      hardState: { term: 0, vote: 0, commit: 0 },
      conf: { voters: [], learners: [] },
    });
  });

  it('compacts entries covered by a saved snapshot and reports compacted reads as LogCompactedError', async () => {
    open({ tailCacheEntries: 3 });
    await store.persist(1, { entries: [...ents(1, 4, 1), ...ents(5, 10, 2)] });
    const log = store.groupLog(1);
    expect(() => store.compact(1, 6)).to.throw(InvalidArgumentError, /snapshot/);
    await store.saveSnapshot(1, snap(7, 2));
    await store.compact(1, 6);
    expect([log.firstIndex(), log.lastIndex(), log.term(6)]).to.deep.equal([7, 10, 2]);
    expect(() => log.entries(6, 8)).to.throw(LogCompactedError);
    expect(() => log.term(5)).to.throw(LogCompactedError);
    expect(log.entries(7, 11).map((e) => e.index)).to.deep.equal([7, 8, 9, 10]);
    expect(log.snapshot().meta).to.deep.equal(snap(7, 2).meta);
    expect(Buffer.from(log.snapshot().data).toString()).to.equal('state@7');
    await store.compact(1, 3); // at or below the compaction point: no-op
    expect(log.firstIndex()).to.equal(7);
    expect(() => store.compact(1, 8)).to.throw(InvalidArgumentError);
    // Appending entries at or below the compaction point skips them (they are committed and compacted).
    await store.persist(1, { entries: ents(5, 11, 2) });
    expect([log.firstIndex(), log.lastIndex()]).to.deep.equal([7, 11]);
    const again = (await reopen()).groupLog(1);
    expect([again.firstIndex(), again.lastIndex(), again.term(6)]).to.deep.equal([7, 11, 2]);
  });

  it('installs a snapshot from a leader by replacing the whole log, then appends after it', async () => {
    open();
    await store.persist(3, { entries: ents(1, 5, 1), conf: { voters: [1], learners: [] } });
    await store.persist(3, { snapshot: snap(20, 3, 'big'), entries: ents(21, 22, 3), hardState: { term: 3, vote: 0, commit: 20 } });
    const log = store.groupLog(3);
    expect([log.firstIndex(), log.lastIndex(), log.term(20), log.term(22)]).to.deep.equal([21, 22, 3, 3]);
    expect(log.initialState().conf).to.deep.equal({ voters: [1, 2, 3], learners: [4] });
    expect(() => log.entries(5, 6)).to.throw(LogCompactedError);
    expect(() => store.applySnapshot(3, snap(20, 3))).to.throw(InvalidArgumentError, /not newer/);
    await store.applySnapshot(3, snap(30, 4));
    expect([log.firstIndex(), log.lastIndex(), log.term(30)]).to.deep.equal([31, 30, 4]);
    expect(log.entries(31, 31)).to.deep.equal([]);
    const again = (await reopen()).groupLog(3);
    expect([again.firstIndex(), again.lastIndex()]).to.deep.equal([31, 30]);
    expect(again.snapshot().meta.index).to.equal(30);
  });

  it('keeps many groups isolated, commits one turn of writes in one batch, and drops one group alone', async () => {
    open();
    const groups = Array.from({ length: 40 }, (_, i) => i * 1000 + 1);
    const before = storage!.stats().batches;
    await Promise.all(groups.map((g, i) => store.persist(g, { entries: ents(1, (i % 5) + 1, g, `g${g}`), hardState: { term: g, vote: 1, commit: 1 } })));
    expect(storage!.stats().batches - before, 'one transaction for the whole turn').to.equal(1);
    await store.dropGroup(groups[7]!);
    expect(store.groups()).to.deep.equal(groups.filter((g) => g !== groups[7]));
    const check = (s: RaftLogStore) => {
      groups.forEach((g, i) => {
        const log = s.groupLog(g);
        if (g === groups[7]) {
          expect([log.lastIndex(), log.initialState().hardState.term]).to.deep.equal([0, 0]);
          return;
        }
        expect(log.lastIndex()).to.equal((i % 5) + 1);
        expect(summary(log.entries(1, log.lastIndex() + 1))).to.deep.equal(summary(ents(1, (i % 5) + 1, g, `g${g}`)));
        expect(log.initialState().hardState).to.deep.equal({ term: g, vote: 1, commit: 1 });
      });
    };
    check(store);
    check(await reopen());
  });

  it('recovers exactly the durable state of every group after close and reopen', async () => {
    open();
    await store.persist(1, { entries: ents(1, 8, 1), hardState: { term: 1, vote: 1, commit: 5 }, conf: { voters: [1, 2], learners: [] } });
    await store.saveSnapshot(1, snap(5, 1, 'x'.repeat(100_000)));
    await store.compact(1, 4);
    await store.persist(1, { entries: ents(7, 9, 2), hardState: { term: 2, vote: 3, commit: 7 } });
    await store.persist(2, { entries: ents(1, 1, 5) });
    const want = (s: RaftLogStore) => {
      const a = s.groupLog(1);
      const b = s.groupLog(2);
      return {
        a: [a.firstIndex(), a.lastIndex(), a.term(4), summary(a.entries(5, 10)), a.initialState(), a.snapshot().meta, a.snapshot().data.length],
        b: [b.firstIndex(), b.lastIndex(), summary(b.entries(1, 2)), b.initialState()],
      };
    };
    const live = want(store);
    expect(live.a.slice(0, 3)).to.deep.equal([5, 9, 1]);
    const recovered = want(await reopen());
    expect(recovered).to.deep.equal(live);
  });

  it('reports a flipped byte in a stored entry as DataLossError naming group and index', async () => {
    open();
    await store.persist(9, { entries: ents(1, 5, 1) });
    const raw = storage!.db(DB_NAMES.raftLog);
    const rec = Buffer.from(raw.get(logKey(9, 3))!);
    rec[rec.length - 6] = rec[rec.length - 6]! ^ 0x01;
    raw.putSync(logKey(9, 3), rec);
    const log = (await reopen()).groupLog(9);
    expect(log.entries(1, 3).length).to.equal(2);
    for (const read of [() => log.entries(1, 6), () => log.term(3)]) {
      try {
        read();
        expect.fail('corrupt entry was served');
      } catch (err) {
        expect(err).to.be.instanceOf(DataLossError);
        expect((err as DataLossError).details).to.include({ groupId: 9, index: 3 });
        expect((err as Error).message).to.match(/group 9/).and.match(/3/);
      }
    }
  });

  it('reports a torn record, a record under the wrong key, corrupt hard state and snapshot data as DataLossError', async () => {
    open();
    await store.persist(4, { entries: ents(1, 5, 1), hardState: { term: 1, vote: 1, commit: 1 } });
    await store.saveSnapshot(4, snap(2, 1));
    const log = storage!.db(DB_NAMES.raftLog);
    log.putSync(logKey(4, 2), log.get(logKey(4, 2))!.subarray(0, 7)); // torn
    log.putSync(logKey(4, 4), log.get(logKey(4, 3))!); // misplaced
    let s = await reopen({ tailCacheEntries: 0 });
    expect(() => s.groupLog(4).term(2)).to.throw(DataLossError, /entry 2 of group 4/);
    expect(() => s.groupLog(4).term(4)).to.throw(DataLossError, /entry 4 of group 4/);
    const snaps = storage!.db(DB_NAMES.raftSnapshot);
    const snapRec = Buffer.from(snaps.get(groupKey(4))!);
    snapRec[12] = snapRec[12]! ^ 0xff;
    snaps.putSync(groupKey(4), snapRec);
    expect(() => s.groupLog(4).snapshot()).to.throw(DataLossError, /snapshot of group 4/);
    const meta = storage!.db(DB_NAMES.raftMeta);
    const hs = Buffer.from(meta.get(metaKey(4, MetaTag.HardState))!);
    hs[5] = hs[5]! ^ 0x80;
    meta.putSync(metaKey(4, MetaTag.HardState), hs);
    s = await reopen();
    expect(() => s.groupLog(4).initialState()).to.throw(DataLossError, /hard state of raft group 4/);
  });

  it('refuses reads and writes through a store whose storage was closed', async () => {
    open();
    await store.persist(1, { entries: ents(1, 1, 1) });
    const log = store.groupLog(1);
    await storage!.close();
    expect(() => log.lastIndex()).to.throw(FailedPreconditionError, /closed/);
    expect(() => store.persist(1, { entries: ents(2, 2, 1) })).to.throw(FailedPreconditionError);
  });

  it('detects a hole in a stored log when a group is recovered', async () => {
    open();
    await store.persist(6, { entries: ents(1, 6, 1) });
    storage!.db(DB_NAMES.raftLog).removeSync(logKey(6, 4));
    const s = await reopen();
    expect(() => s.groupLog(6).lastIndex()).to.throw(DataLossError, /gap/);
  });
});
