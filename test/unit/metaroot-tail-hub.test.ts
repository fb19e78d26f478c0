// The tail hub: a bounded ring of applied commands read after a cursor, with long-poll waiters on an injected
// clock, and `snapshot_required` (never a silent gap) for readers older than what it retains.
import { expect } from 'chai';
import { ManualClock } from '../../src/common/clock.js';
import { TailHub } from '../../src/metaroot/server/tail-hub.js';
import { events } from '../../src/metaroot/state/index.js';

const at = (index: number, term = 1) => ({ term, index });
const ev = (id: number) => [events.storeJoined(id, `127.0.0.1:${id}`)];

describe('metaroot tail hub', () => {
  it('returns the entries after a cursor, skipping commands that appended nothing', () => {
    const hub = new TailHub(8, new ManualClock());
    hub.push(at(1), ev(1));
    hub.push(at(2), []);
    hub.push(at(3), ev(3));
    const page = hub.read(at(1));
    expect(page.entries.map((e) => e.cursor.index)).to.deep.equal([3]);
    expect(page.cursor).to.deep.equal(at(3));
    expect(page.snapshot_required).to.equal(false);
    expect(hub.read(at(0)).entries.map((e) => e.cursor.index)).to.deep.equal([1, 3]);
  });

  it('tells a reader older than the ring to reload a snapshot, and where to resume', () => {
    const hub = new TailHub(3, new ManualClock());
    for (let i = 1; i <= 5; i++) hub.push(at(i), ev(i));
    const old = hub.read(at(1));
    expect(old.snapshot_required).to.equal(true);
    expect(old.entries).to.deep.equal([]);
    expect(old.oldest).to.deep.equal(at(2));
    const fromOldest = hub.read(old.oldest);
    expect(fromOldest.snapshot_required).to.equal(false);
    expect(fromOldest.entries.map((e) => e.cursor.index)).to.deep.equal([3, 4, 5]);
    expect(hub.stats()).to.include({ retained: 3, evicted: 2, oldest_index: 2 });
  });

  it('after a snapshot install (reset) older readers need a snapshot too', () => {
    const hub = new TailHub(8, new ManualClock());
    hub.push(at(1), ev(1));
    hub.reset(at(40, 2));
    expect(hub.read(at(1)).snapshot_required).to.equal(true);
    hub.push(at(41, 2), ev(41));
    expect(hub.read(at(40, 2)).entries.map((e) => e.cursor.index)).to.deep.equal([41]);
  });

  it('pages at the limit and continues from the last entry returned', () => {
    const hub = new TailHub(16, new ManualClock());
    for (let i = 1; i <= 10; i++) hub.push(at(i), ev(i));
    const first = hub.read(at(0), 4);
    expect(first.entries.map((e) => e.cursor.index)).to.deep.equal([1, 2, 3, 4]);
    expect(first.cursor).to.deep.equal(at(4));
    const rest = hub.read(first.cursor, 100);
    expect(rest.entries.map((e) => e.cursor.index)).to.deep.equal([5, 6, 7, 8, 9, 10]);
    expect(rest.cursor).to.deep.equal(at(10));
  });

  it('a waiter is answered by the next push, or empty when its timeout passes', async () => {
    const clock = new ManualClock();
    const hub = new TailHub(8, clock);
    hub.push(at(1), ev(1));
    const woken = hub.wait(at(1), 1000);
    hub.push(at(2), []); // no events: keeps waiting
    hub.push(at(3), ev(3));
    expect((await woken).entries.map((e) => e.cursor.index)).to.deep.equal([3]);
    const timedOut = hub.wait(at(3), 500);
    clock.advance(499);
    expect(hub.stats().waiters).to.equal(1);
    clock.advance(1);
    const empty = await timedOut;
    expect(empty.entries).to.deep.equal([]);
    expect(hub.stats().waiters).to.equal(0);
  });

  it('close answers every waiter at once', async () => {
    const hub = new TailHub(8, new ManualClock());
    const waiting = [hub.wait(at(0), 60_000), hub.wait(at(0), 60_000)];
    hub.close();
    for (const p of await Promise.all(waiting)) expect(p.entries).to.deep.equal([]);
    expect((await hub.wait(at(0), 60_000)).entries).to.deep.equal([]);
  });
});
