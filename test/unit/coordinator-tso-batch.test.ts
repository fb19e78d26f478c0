// The client-side TSO batcher: one call in flight, requests arriving meanwhile share the next call (counts
// summed, ranges handed out consecutively), never the call already in flight, and a failed call fails exactly
// the requests it carried.
import { expect } from 'chai';
import { TsoBatcher, type TsoRange } from '../../src/coordinator/tso-batch.js';

/** A fake server: each call waits until released, then serves [next, next + count). */
function server() {
  let next = 1000n;
  const calls: Array<{ count: number; release(fail?: Error): void }> = [];
  const call = (count: number) =>
    new Promise<TsoRange & { era: number }>((resolve, reject) => {
      calls.push({
        count,
        release: (fail) => {
          if (fail) return reject(fail);
          resolve({ timestamp: next, count, era: 7 });
          next += BigInt(count);
        },
      });
    });
  return { call, calls };
}

const tick = () => new Promise((r) => setImmediate(r));

describe('TSO batching (client side)', () => {
  it('sends one call at a time; requests made while it is in flight go out together in the next one', async () => {
    const s = server();
    const b = new TsoBatcher(s.call, 10_000);
    const first = b.next(1);
    await tick();
    expect(s.calls.map((c) => c.count)).to.deep.equal([1]);
    const later = [b.next(1), b.next(3), b.next(1)];
    await tick();
    expect(s.calls.length, 'none joins the call in flight, none goes out beside it').to.equal(1);
    s.calls[0]!.release();
    expect((await first).timestamp).to.equal(1000n);
    await tick();
    expect(s.calls.map((c) => c.count)).to.deep.equal([1, 5]);
    s.calls[1]!.release();
    const got = await Promise.all(later);
    expect(got.map((r) => [r.timestamp, r.count, r.era])).to.deep.equal([[1001n, 1, 7], [1002n, 3, 7], [1005n, 1, 7]]);
    expect(b.stats).to.deep.equal({ requests: 4, calls: 2 });
  });

  it('caps a call at the server limit and fails only the requests of a failed call', async () => {
    const s = server();
    const b = new TsoBatcher(s.call, 4);
    const a = b.next(1);
    await tick();
    const queued = [b.next(3), b.next(2)];
    s.calls[0]!.release(new Error('no holder'));
    let err: unknown;
    await a.catch((e) => (err = e));
    expect((err as Error).message).to.equal('no holder');
    await tick();
    expect(s.calls.map((c) => c.count), 'the next call carries what fits in 4').to.deep.equal([1, 3]);
    s.calls[1]!.release();
    expect((await queued[0]!).timestamp).to.equal(1000n);
    await tick();
    s.calls[2]!.release();
    expect((await queued[1]!).timestamp).to.equal(1003n);
    let bad: unknown;
    await b.next(5).catch((e) => (bad = e));
    expect(bad).to.be.instanceOf(RangeError);
  });
});
