import { expect } from 'chai';
import { ManualClock } from '../../src/common/clock.js';
import { SeededPrng } from '../../src/common/prng.js';
import { NotLeaderError, reviveError, serializeError, InvalidArgumentError } from '../../src/common/errors.js';

describe('common: ManualClock', () => {
  it('fires timers in due order and same-instant timers in the order they were set', () => {
    const clock = new ManualClock(100);
    const fired: string[] = [];
    clock.setTimer(50, () => fired.push('b'));
    clock.setTimer(10, () => fired.push('a'));
    clock.setTimer(50, () => fired.push('c'));
    const cancelled = clock.setTimer(20, () => fired.push('x'));
    cancelled.cancel();
    clock.advance(49);
    expect(fired).to.deep.equal(['a']);
    clock.advance(1);
    expect(fired).to.deep.equal(['a', 'b', 'c']);
    expect(clock.now()).to.equal(150);
  });

  it('fires timers set by timers when they fall due within the same advance', () => {
    const clock = new ManualClock();
    const fired: number[] = [];
    clock.setTimer(10, () => { fired.push(clock.now()); clock.setTimer(10, () => fired.push(clock.now())); });
    clock.advance(100);
    expect(fired).to.deep.equal([10, 20]);
  });
});

describe('common: SeededPrng', () => {
  it('replays the same stream for the same seed and differs across seeds', () => {
    const a = new SeededPrng(42);
    const b = new SeededPrng(42);
    const c = new SeededPrng(43);
    const sa = Array.from({ length: 20 }, () => a.int(1000));
    const sb = Array.from({ length: 20 }, () => b.int(1000));
    const sc = Array.from({ length: 20 }, () => c.int(1000));
    expect(sa).to.deep.equal(sb);
    expect(sa).to.not.deep.equal(sc);
    for (const v of sa) expect(v).to.be.within(0, 999);
  });
});

describe('common: errors', () => {
  it('round-trips typed errors through their serialized form', () => {
    const revived = reviveError(serializeError(new NotLeaderError('not leader', { leaderId: 2 })));
    expect(revived).to.be.instanceOf(NotLeaderError);
    expect((revived as NotLeaderError).details).to.deep.equal({ leaderId: 2 });
    expect((revived as NotLeaderError).code).to.equal('FAILED_PRECONDITION');
    expect(reviveError(serializeError(new InvalidArgumentError('bad')))).to.be.instanceOf(InvalidArgumentError);
    const plain = reviveError(serializeError(new TypeError('boom')));
    expect(plain.name).to.equal('TypeError');
    expect(plain.message).to.equal('boom');
  });
});
