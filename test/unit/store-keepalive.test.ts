// Proves when a two-phase commit's primary is heartbeated: not before half the lock TTL, then every half TTL
// asking for one TTL more, never again once the lock is gone or the commit is over.
import { expect } from 'chai';
import { ManualClock } from '../../src/common/clock.js';
import { heartbeatPeriodMs, MIN_TXN_HEARTBEAT_PERIOD_MS, startKeepAlive } from '../../src/store/client/keepalive.js';

const settle = () => new Promise((r) => setImmediate(r));

describe('two-phase commit keep-alive', () => {
  it('beats first at half the lock TTL, then every half TTL, each asking for one TTL more', async () => {
    const clock = new ManualClock(0);
    const asked: number[] = [];
    const ka = startKeepAlive({ lockTtlMs: 3_000, clock, beat: async (ms) => (asked.push(ms), true) });
    clock.advance(1_499);
    expect(asked).to.deep.equal([]);
    clock.advance(1);
    await settle();
    expect(asked).to.deep.equal([3_000]);
    clock.advance(1_500);
    await settle();
    expect(ka.beats).to.equal(2);
    ka.stop();
    clock.advance(10_000);
    await settle();
    expect(ka.beats, 'stopped').to.equal(2);
    expect(clock.pending()).to.equal(0);
  });

  it('stops once the lock is gone, keeps trying after an unreachable region', async () => {
    const clock = new ManualClock(0);
    const replies: Array<'gone' | 'down'> = ['down', 'gone'];
    const ka = startKeepAlive({
      lockTtlMs: 1_000,
      clock,
      beat: async () => {
        if (replies.shift() === 'down') throw new Error('unreachable');
        return false;
      },
    });
    for (let i = 0; i < 5; i++) {
      clock.advance(500);
      await settle();
    }
    expect(ka.beats).to.equal(2);
    expect(clock.pending()).to.equal(0);
  });

  it('never beats more often than the floor period, whatever the TTL', () => {
    expect(heartbeatPeriodMs(10)).to.equal(MIN_TXN_HEARTBEAT_PERIOD_MS);
    expect(heartbeatPeriodMs(3_000)).to.equal(1_500);
  });
});
