// MVCC garbage collection's pure rules: the safe point never passes an open SnapshotSubtree read version or a
// live transaction's start ts (nor now minus the lifetime); a pass below it removes old versions (older puts and
// their data, deletes and what they hide, lock and rollback records) while every read at or above the safe point
// sees exactly what it saw before, on a seeded random history; a key locked at or below it is left alone; a
// bounded pass says where to resume.
import { expect } from 'chai';
import { SeededPrng } from '../../src/common/prng.js';
import { memoryMvccStore } from '../../src/store/mvcc/families.js';
import { get } from '../../src/store/percolator/read.js';
import { collectGarbage } from '../../src/store/gc/collect.js';
import { safePoint } from '../../src/coordinator/gc-safe-point.js';

const B = (s: string) => Buffer.from(s);
const ts = (ms: number) => BigInt(ms) << 18n;

function read(m: ReturnType<typeof memoryMvccStore>, key: Buffer, at: bigint): string {
  const r = get(m, key, { readTs: at, bypassLocks: [] });
  if ('error' in r) return `error:${r.error.kind}`;
  return r.value === undefined ? '<none>' : r.value.toString();
}

function countWrites(m: ReturnType<typeof memoryMvccStore>, key: Buffer): number {
  return [...m.writes(key)].length;
}

describe('store MVCC GC', () => {
  it('safe point: the lowest of now minus the lifetime, every open snapshot read version, one below every live start ts', () => {
    const now = ts(100_000);
    expect(safePoint({ nowTs: now, lifetimeMs: 10_000, snapshotReadVersions: [], liveStartTs: [] })).to.equal(ts(90_000));
    expect(safePoint({ nowTs: now, lifetimeMs: 10_000, snapshotReadVersions: [ts(95_000), ts(80_000)], liveStartTs: [] })).to.equal(ts(80_000));
    expect(safePoint({ nowTs: now, lifetimeMs: 10_000, snapshotReadVersions: [ts(85_000)], liveStartTs: [ts(70_000), ts(99_000)] })).to.equal(ts(70_000) - 1n);
    expect(safePoint({ nowTs: 5n, lifetimeMs: 10_000, snapshotReadVersions: [], liveStartTs: [] })).to.equal(0n);
  });

  it('removes what no read at or above the safe point can see, and every such read is unchanged (seeded random history)', () => {
    const prng = new SeededPrng(42);
    const m = memoryMvccStore();
    const keys = Array.from({ length: 20 }, (_, i) => B(`k${String(i).padStart(2, '0')}`));
    let t = 100n;
    for (let n = 0; n < 400; n++) {
      const key = keys[prng.int(keys.length)]!;
      const start = t;
      const commit = t + 1n;
      t += 2n;
      const r = prng.int(10);
      if (r < 6) {
        m.putData(key, start, B(`v${n}`));
        m.putWrite(key, commit, { kind: 'put', startTs: start });
      } else if (r < 8) m.putWrite(key, commit, { kind: 'delete', startTs: start });
      else if (r < 9) m.putWrite(key, commit, { kind: 'lock', startTs: start });
      else m.putWrite(key, start, { kind: 'rollback', startTs: start });
    }
    const sp = 100n + (t - 100n) / 2n;
    const probes = [sp, sp + 1n, sp + 37n, t - 1n, t + 10n];
    const before = keys.map((k) => probes.map((p) => read(m, k, p)));
    const writesBefore = keys.reduce((n, k) => n + countWrites(m, k), 0);
    const stats = collectGarbage(m, B(''), B(''), sp);
    expect(stats.keys).to.equal(keys.length);
    expect(stats.writesRemoved).to.be.greaterThan(100);
    expect(stats.dataRemoved).to.be.greaterThan(50);
    expect(keys.map((k) => probes.map((p) => read(m, k, p)))).to.deep.equal(before);
    expect(keys.reduce((n, k) => n + countWrites(m, k), 0)).to.equal(writesBefore - stats.writesRemoved);
    // At or below the safe point, each key keeps at most one record: its newest put.
    for (const k of keys) {
      const old = [...m.writes(k, sp)];
      expect(old.length).to.be.at.most(1);
      if (old[0]) expect(old[0].write.kind).to.equal('put');
    }
    // A second pass finds nothing more.
    expect(collectGarbage(m, B(''), B(''), sp).writesRemoved).to.equal(0);
  });

  it('leaves a key locked at or below the safe point alone, and a bounded pass says where to resume', () => {
    const m = memoryMvccStore();
    for (const k of ['a', 'b', 'c']) {
      for (const s of [10n, 20n]) {
        m.putData(B(k), s, B(`${k}${s}`));
        m.putWrite(B(k), s + 1n, { kind: 'put', startTs: s });
      }
    }
    m.putLock(B('b'), { primary: B('b'), startTs: 30n, startTimeMs: 0, ttlMs: 3_000, kind: 'put', minCommitTs: 31n });
    const first = collectGarbage(m, B(''), B(''), 100n, 2);
    expect(first).to.include({ keys: 2, writesRemoved: 1, lockedSkipped: 1 });
    expect(first.resumeKey?.toString()).to.equal('c');
    expect(countWrites(m, B('b'))).to.equal(2);
    const rest = collectGarbage(m, first.resumeKey!, B(''), 100n);
    expect(rest).to.include({ keys: 1, writesRemoved: 1 });
    expect(read(m, B('a'), 100n)).to.equal('a20');
    expect(read(m, B('c'), 100n)).to.equal('c20');
  });
});
