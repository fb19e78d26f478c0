// Property test: random sequences of appends (with conflicts), hard-state writes, snapshots, compactions,
// group drops and reopen behave exactly like a naive in-memory raft log.
import { expect } from 'chai';
import fc from 'fast-check';
import { EntryType, type Entry, type HardState, type Snapshot } from '../../src/raft/types.js';
import { openRaftLogStore, openStorage, type RaftLogStore, type Storage } from '../../src/storage/index.js';
import { makeTempDir } from '../support/env.js';

interface ModelGroup {
  entries: Map<number, { term: number; data: string }>;
  trunc: { index: number; term: number };
  last: number;
  hs: HardState;
  snap: { index: number; term: number; data: string };
  voters: number[];
}

const GROUPS = [1, 2, 3];

function fresh(): ModelGroup {
  return { entries: new Map(), trunc: { index: 0, term: 0 }, last: 0, hs: { term: 0, vote: 0, commit: 0 }, snap: { index: 0, term: 0, data: '' }, voters: [] };
}

function termAt(m: ModelGroup, i: number): number {
  return i === m.trunc.index ? m.trunc.term : m.entries.get(i)!.term;
}

function maxTerm(m: ModelGroup): number {
  return Math.max(m.trunc.term, m.snap.term, ...[...m.entries.values()].map((e) => e.term));
}

function check(store: RaftLogStore, models: Map<number, ModelGroup>): void {
  for (const [g, m] of models) {
    const log = store.groupLog(g);
    expect([log.firstIndex(), log.lastIndex(), log.term(m.trunc.index)], `group ${g} bounds`).to.deep.equal([m.trunc.index + 1, m.last, m.trunc.term]);
    const got = m.last > m.trunc.index ? log.entries(m.trunc.index + 1, m.last + 1).map((e) => `${e.index}/${e.term}/${Buffer.from(e.data).toString()}`) : [];
    const want: string[] = [];
    for (let i = m.trunc.index + 1; i <= m.last; i++) want.push(`${i}/${m.entries.get(i)!.term}/${m.entries.get(i)!.data}`);
    expect(got, `group ${g} entries`).to.deep.equal(want);
    expect(log.initialState().hardState, `group ${g} hard state`).to.deep.equal(m.hs);
    expect(log.initialState().conf.voters, `group ${g} conf`).to.deep.equal(m.voters);
    const snap = log.snapshot();
    expect([snap.meta.index, snap.meta.term, Buffer.from(snap.data).toString()], `group ${g} snapshot`).to.deep.equal([m.snap.index, m.snap.term, m.snap.data]);
  }
}

type Op = [kind: number, a: number, b: number, c: number];

async function runOps(ops: Op[], dirPath: string): Promise<void> {
  let storage: Storage = openStorage({ path: dirPath });
  let store = openRaftLogStore(storage, { tailCacheEntries: 3 });
  const models = new Map(GROUPS.map((g) => [g, fresh()] as const));
  let seq = 0;
  try {
    for (const [kind, a, b, c] of ops) {
      const g = GROUPS[a % GROUPS.length]!;
      const m = models.get(g)!;
      switch (kind) {
        case 0:
        case 1:
        case 2: {
          // Append count entries from some index in (trunc - 1, last + 1], possibly overwriting a suffix.
          const lo = Math.max(1, m.trunc.index);
          const from = lo + (b % (m.last + 2 - lo));
          const count = 1 + (c % 4);
          const term = maxTerm(m) + (c % 2);
          const entries: Entry[] = [];
          for (let i = from; i < from + count; i++) entries.push({ index: i, term, type: EntryType.Normal, data: Buffer.from(`d${seq++}`) });
          const hs = { term: Math.max(term, m.hs.term), vote: g, commit: m.hs.commit };
          await store.persist(g, { entries, hardState: hs });
          m.hs = hs;
          // Entries at or below the compaction point are ignored (as in etcd's MemoryStorage.Append).
          if (from + count - 1 <= m.trunc.index) break;
          for (const i of [...m.entries.keys()]) if (i >= from) m.entries.delete(i);
          for (const e of entries) if (e.index > m.trunc.index) m.entries.set(e.index, { term, data: Buffer.from(e.data).toString() });
          m.last = from + count - 1;
          break;
        }
        case 3: {
          // Save a snapshot at some index above the current one, then maybe compact up to it.
          const lo = Math.max(m.snap.index, m.trunc.index) + 1;
          if (lo > m.last) break;
          const index = lo + (b % (m.last - lo + 1));
          const snap: Snapshot = { meta: { index, term: termAt(m, index), conf: { voters: [g], learners: [] } }, data: Buffer.from(`s${seq++}`) };
          await store.saveSnapshot(g, snap);
          m.snap = { index, term: snap.meta.term, data: Buffer.from(snap.data).toString() };
          if (c % 2 === 0) {
            const to = m.trunc.index + 1 + (c % (index - m.trunc.index));
            const toTerm = termAt(m, to);
            await store.compact(g, to);
            for (const i of [...m.entries.keys()]) if (i <= to) m.entries.delete(i);
            m.trunc = { index: to, term: toTerm };
          }
          break;
        }
        case 4: {
          // A leader's snapshot, at, before or beyond the last index.
          const index = Math.max(m.snap.index, m.trunc.index) + 1 + (b % (m.last + 3));
          const term = maxTerm(m) + (c % 2);
          await store.applySnapshot(g, { meta: { index, term, conf: { voters: [g, 9], learners: [] } }, data: Buffer.from(`s${seq++}`) });
          m.entries.clear();
          m.trunc = { index, term };
          m.last = index;
          m.snap = { index, term, data: `s${seq - 1}` };
          m.voters = [g, 9];
          break;
        }
        case 5: {
          await store.dropGroup(g);
          models.set(g, fresh());
          break;
        }
        default: {
          await storage.close();
          storage = openStorage({ path: dirPath });
          store = openRaftLogStore(storage, { tailCacheEntries: 3 });
        }
      }
      check(store, models);
    }
  } finally {
    await storage.close();
  }
}

describe('storage raft log store against a naive model', () => {
  it('matches the model for random appends, conflicts, snapshots, compactions, drops and reopens', async () => {
    let run = 0;
    const dir = makeTempDir('nokv-model-');
    try {
      await fc.assert(
        fc.asyncProperty(fc.array(fc.tuple(fc.nat(6), fc.nat(1000), fc.nat(1000), fc.nat(1000)), { minLength: 1, maxLength: 25 }), async (ops) => {
          await runOps(ops as Op[], `${dir.path}/run-${run++}`);
        }),
        { numRuns: 60 },
      );
    } finally {
      dir.remove();
    }
  });
});
