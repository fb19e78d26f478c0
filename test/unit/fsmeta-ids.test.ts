// Inode ids of the gateway's executor: one AllocID refill in flight however many creates wait for it, the next
// batch fetched ahead when a quarter of the current one is left, and every id handed out once.
import { expect } from 'chai';
import { ManualClock } from '../../src/common/clock.js';
import { Executor } from '../../src/gateway/executor.js';
import { MemoryDuties } from '../../src/gateway/memory-duties.js';
import { MemoryKv } from '../../src/gateway/memory-kv.js';

describe('fsmeta executor inode ids', () => {
  it('64 concurrent creates share AllocID calls, prefetch the next batch, and get distinct ids', async () => {
    const kv = new MemoryKv();
    const duties = new MemoryDuties(kv.tso);
    duties.registerMount('m', 1);
    let calls = 0;
    let inFlight = 0;
    let maxInFlight = 0;
    const alloc = duties.allocIds.bind(duties);
    duties.allocIds = async (n: number) => {
      calls++;
      maxInFlight = Math.max(maxInFlight, ++inFlight);
      await new Promise((r) => setTimeout(r, 5));
      inFlight--;
      return alloc(n);
    };
    const exec = new Executor({ kv, duties, clock: new ManualClock(0), txnBackoffBaseMs: 0, idBatch: 16 });
    const attrs = { type: 'FILE' as const, size: 0, mode: 0o644, createdUnixNs: 0n, updatedUnixNs: 0n, opaqueAttrs: Buffer.alloc(0) };
    const made = await Promise.all(Array.from({ length: 64 }, (_, i) => exec.create({ mount: 'm', parent: 1, name: Buffer.from(`f${i}`), attrs })));
    const ids = made.map((m) => m.inode.inode);
    expect(new Set(ids).size).to.equal(64);
    expect(ids).to.not.include(1); // the mount's root
    expect(maxInFlight).to.equal(1);
    // 64 ids from batches of 16: 4 or 5 batches (one may be fetched ahead), never one per waiting create.
    expect(calls).to.be.within(4, 6);
    // Sequential creates after the storm: the prefetch keeps them from waiting (no call while below the mark).
    const before = calls;
    for (let i = 0; i < 8; i++) await exec.create({ mount: 'm', parent: 1, name: Buffer.from(`s${i}`), attrs });
    expect(calls - before).to.be.at.most(1);
  });
});
