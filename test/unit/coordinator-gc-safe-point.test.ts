// The coordinator's MVCC GC safe point over time: nothing is published until every joined store has reported;
// the point never passes an open snapshot epoch's read version or one below a reported lock's start ts (nor now
// minus the lifetime), and the published value never goes down — not when a snapshot epoch older than it opens,
// not when a store reports an older lock, not when the clock goes back — on a seeded random walk of inputs.
import { expect } from 'chai';
import { SeededPrng } from '../../src/common/prng.js';
import { GcSafePointTracker, safePoint, type StoreLocks } from '../../src/coordinator/gc-safe-point.js';

const ts = (ms: number) => BigInt(ms) << 18n;
const LIFE = 10_000;

describe('coordinator MVCC GC safe point', () => {
  it('waits for every joined store, then stays below snapshots and locks', () => {
    const t = new GcSafePointTracker();
    const stores: StoreLocks[] = [
      { store_id: 1, reported: true },
      { store_id: 2, reported: false },
    ];
    expect(t.next({ nowTs: ts(100_000), lifetimeMs: LIFE, snapshotReadVersions: [], stores }, 1)).to.equal(undefined);
    expect(t.view.waiting_for).to.deep.equal([2]);
    stores[1] = { store_id: 2, reported: true, oldestLockTs: ts(85_000) };
    expect(t.next({ nowTs: ts(100_000), lifetimeMs: LIFE, snapshotReadVersions: [ts(95_000)], stores }, 2)).to.equal(ts(85_000) - 1n);
    expect(t.view).to.include({ held_by: 'lock', safe_point: (ts(85_000) - 1n).toString(), advanced_ms: 2 });
    stores[1] = { store_id: 2, reported: true };
    expect(t.next({ nowTs: ts(100_000), lifetimeMs: LIFE, snapshotReadVersions: [ts(88_000)], stores }, 3)).to.equal(ts(88_000));
    expect(t.view.held_by).to.equal('snapshot');
    expect(t.next({ nowTs: ts(100_000), lifetimeMs: LIFE, snapshotReadVersions: [], stores }, 4)).to.equal(ts(90_000));
    expect(t.view.held_by).to.equal('lifetime');
    // A store not heard from again (a new coordinator's registry) holds nothing back that was published already.
    stores[0] = { store_id: 1, reported: false };
    expect(t.next({ nowTs: ts(200_000), lifetimeMs: LIFE, snapshotReadVersions: [], stores }, 5)).to.equal(ts(90_000));
  });

  it('never passes an open snapshot epoch or a reported lock that existed when it was computed, and never goes down (seeded walk)', () => {
    for (const seed of [1, 2, 3, 4, 5]) {
      const prng = new SeededPrng(seed);
      const t = new GcSafePointTracker();
      let nowMs = 1_000_000;
      let last = 0n;
      for (let step = 0; step < 300; step++) {
        // The clock mostly moves forward, sometimes back (a failover to a coordinator behind it).
        nowMs += prng.int(4_000) - 500;
        const now = ts(nowMs);
        const snaps = Array.from({ length: prng.int(3) }, () => now - ts(prng.int(30_000)));
        const stores: StoreLocks[] = [1, 2, 3].map((id) => {
          const lock = prng.int(3) === 0 ? now - ts(prng.int(40_000)) + 1n : undefined;
          return { store_id: id, reported: true, ...(lock !== undefined ? { oldestLockTs: lock } : {}) };
        });
        const sp = t.next({ nowTs: now, lifetimeMs: LIFE, snapshotReadVersions: snaps, stores }, nowMs)!;
        const fresh = safePoint({ nowTs: now, lifetimeMs: LIFE, snapshotReadVersions: snaps, liveStartTs: stores.flatMap((s) => (s.oldestLockTs ? [s.oldestLockTs] : [])) });
        expect(sp >= last, `seed ${seed} step ${step}: monotonic`).to.equal(true);
        // Either the fresh rule's value (which is below every input), or the previous value kept.
        if (sp > last) {
          expect(sp).to.equal(fresh);
          for (const r of snaps) expect(sp <= r, `seed ${seed} step ${step}: passes snapshot`).to.equal(true);
          for (const s of stores) if (s.oldestLockTs) expect(sp < s.oldestLockTs, `seed ${seed} step ${step}: passes a lock`).to.equal(true);
          expect(sp <= now - ts(LIFE), `seed ${seed} step ${step}: passes the lifetime`).to.equal(true);
        }
        last = sp;
      }
      expect(last > 0n).to.equal(true);
    }
  });
});
