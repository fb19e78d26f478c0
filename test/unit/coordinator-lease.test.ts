// The lease decision core: when a coordinator may serve, when it renews, and when a standby campaigns.
import { expect } from 'chai';
import { LeaseCore, leaseTiming, MAX_SKEW_MARGIN_MS } from '../../src/coordinator/lease.js';

const timing = leaseTiming(3000, 1000);
const tenure = (holder_id: string, era: number, expires_unix_ms: number, index: number, sealed = false) => ({
  holder_id,
  era,
  expires_unix_ms,
  sealed,
  index,
});

describe('coordinator lease core', () => {
  it('derives a skew margin of at most half the renew window and at most the cap', () => {
    expect(leaseTiming(3000, 1000).skewMarginMs).to.equal(500);
    expect(leaseTiming(3000, 400).skewMarginMs).to.equal(200);
    expect(leaseTiming(60_000, 20_000).skewMarginMs).to.equal(MAX_SKEW_MARGIN_MS);
    expect(() => leaseTiming(1000, 1000)).to.throw(RangeError);
  });

  it('campaigns at once when nobody ever held the tenure', () => {
    const c = new LeaseCore('a', timing);
    expect(c.next(1000)).to.deep.equal({ kind: 'campaign' });
    expect(c.serving(1000)).to.equal(false);
  });

  it('a standby waits for a live foreign tenure to expire, then campaigns', () => {
    const c = new LeaseCore('b', timing);
    c.observe(tenure('a', 1, 5000, 1));
    expect(c.next(2000)).to.deep.equal({ kind: 'wait', wakeAtMs: 5000 });
    expect(c.next(5000)).to.deep.equal({ kind: 'campaign' });
  });

  it('a released tenure (expiry set to the release time) is vacant at once', () => {
    const c = new LeaseCore('b', timing);
    c.observe(tenure('a', 1, 5000, 1));
    c.observe(tenure('a', 1, 2100, 2));
    expect(c.next(2200)).to.deep.equal({ kind: 'campaign' });
  });

  it('serves only with its own granted era and stops a skew margin before expiry', () => {
    const c = new LeaseCore('a', timing);
    c.observe(tenure('a', 1, 4000, 1));
    c.granted(1);
    expect(c.serving(1000)).to.equal(true);
    expect(c.serving(4000 - timing.skewMarginMs - 1)).to.equal(true);
    expect(c.serving(4000 - timing.skewMarginMs)).to.equal(false);
  });

  it('renews once inside the renew window and not before', () => {
    const c = new LeaseCore('a', timing);
    c.observe(tenure('a', 1, 4000, 1));
    c.granted(1);
    expect(c.next(2000)).to.deep.equal({ kind: 'wait', wakeAtMs: 3000 });
    expect(c.next(3000)).to.deep.equal({ kind: 'renew' });
  });

  it('never adopts a live tenure that carries its own id from a previous life', () => {
    const c = new LeaseCore('a', timing);
    c.observe(tenure('a', 4, 9000, 10));
    expect(c.serving(1000)).to.equal(false);
    expect(c.next(1000)).to.deep.equal({ kind: 'wait', wakeAtMs: 9000 });
  });

  it('loses the era when a newer observation shows another holder, a higher era, or a seal', () => {
    for (const next of [tenure('b', 2, 9000, 5), tenure('a', 2, 9000, 5), tenure('a', 1, 9000, 5, true)]) {
      const c = new LeaseCore('a', timing);
      c.observe(tenure('a', 1, 9000, 1));
      c.granted(1);
      c.observe(next);
      expect(c.era).to.equal(0);
      expect(c.serving(2000)).to.equal(false);
    }
  });

  it('ignores observations older than the one it has', () => {
    const c = new LeaseCore('a', timing);
    c.observe(tenure('a', 2, 9000, 7));
    c.granted(2);
    c.observe(tenure('b', 1, 9000, 3));
    expect(c.serving(2000)).to.equal(true);
  });

  it('a resigned holder stops serving at once and does not renew', () => {
    const c = new LeaseCore('a', timing);
    c.observe(tenure('a', 1, 4000, 1));
    c.granted(1);
    c.resign();
    expect(c.serving(1000)).to.equal(false);
    expect(c.next(3500).kind).to.equal('wait');
  });
});
