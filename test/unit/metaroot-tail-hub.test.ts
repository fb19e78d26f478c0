// The tail hub: a bounded ring of applied commands read after a cursor, with `snapshot_required` (never a
// silent gap) for readers older than what it retains; and the tail actor that owns it, subscribed to a raft
// peer actor that tells it every applied command, with long-poll waiters on an injected clock.
import { expect } from 'chai';
import { ActorSystem, type ActorContext, type ActorRef, type Behaviour } from '../../src/actors/index.js';
import { ManualClock } from '../../src/common/clock.js';
import { silentLogger } from '../../src/common/log.js';
import type { ChildInstance } from '../../src/supervisor/types.js';
import { TailHubActor } from '../../src/metaroot/server/tail-actor.js';
import { TailHub } from '../../src/metaroot/server/tail-hub.js';
import type { AppliedNotice, PeerMsg } from '../../src/metaroot/server/peer-actor.js';
import type { Cursor, RootEvent } from '../../src/metaroot/state/index.js';
import { events } from '../../src/metaroot/state/index.js';

const at = (index: number, term = 1) => ({ term, index });
const ev = (id: number) => [events.storeJoined(id, `127.0.0.1:${id}`)];

describe('metaroot tail hub', () => {
  it('returns the entries after a cursor, skipping commands that appended nothing', () => {
    const hub = new TailHub(8);
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
    const hub = new TailHub(3);
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
    const hub = new TailHub(8);
    hub.push(at(1), ev(1));
    hub.reset(at(40, 2));
    expect(hub.read(at(1)).snapshot_required).to.equal(true);
    hub.push(at(41, 2), ev(41));
    expect(hub.read(at(40, 2)).entries.map((e) => e.cursor.index)).to.deep.equal([41]);
  });

  it('pages at the limit and continues from the last entry returned', () => {
    const hub = new TailHub(16);
    for (let i = 1; i <= 10; i++) hub.push(at(i), ev(i));
    const first = hub.read(at(0), 4);
    expect(first.entries.map((e) => e.cursor.index)).to.deep.equal([1, 2, 3, 4]);
    expect(first.cursor).to.deep.equal(at(4));
    const rest = hub.read(first.cursor, 100);
    expect(rest.entries.map((e) => e.cursor.index)).to.deep.equal([5, 6, 7, 8, 9, 10]);
    expect(rest.cursor).to.deep.equal(at(10));
  });
});

/** Just what the tail actor needs from the raft peer actor: subscribe with the applied cursor, then notices. */
class FakePeer implements Behaviour<PeerMsg> {
  applied: Cursor = { term: 1, index: 0 };
  readonly subscribers = new Map<number, ActorRef<AppliedNotice>>();
  receive(msg: PeerMsg, ctx: ActorContext<PeerMsg>): void {
    if (msg.t === 'subscribe') {
      this.subscribers.set(msg.to.id, msg.to);
      ctx.reply({ ...this.applied });
    } else if (msg.t === 'unsubscribe') this.subscribers.delete(msg.to.id);
  }
  apply(cursor: Cursor, events: RootEvent[]): void {
    this.applied = cursor;
    for (const s of this.subscribers.values()) s.tell({ t: 'applied', cursor, events });
  }
  restore(at: Cursor): void {
    this.applied = at;
    for (const s of this.subscribers.values()) s.tell({ t: 'reset', at });
  }
}

const settle = async () => {
  for (let i = 0; i < 3; i++) await new Promise((r) => setImmediate(r));
};

describe('metaroot tail actor (long-poll)', () => {
  let clock: ManualClock;
  let actors: ActorSystem;
  let sm: FakePeer;
  let tail: TailHubActor;
  let instance: ChildInstance;

  beforeEach(async () => {
    clock = new ManualClock();
    actors = await ActorSystem.start({ role: 'meta-root', clock, logger: silentLogger() });
    sm = new FakePeer();
    const peer = await actors.spawn<PeerMsg>({ name: 'raft-peer', behaviour: sm });
    tail = new TailHubActor(actors, 8, () => peer);
    instance = await tail.childSpec().start();
  });
  afterEach(async () => {
    await instance.stop();
    await actors.shutdown();
  });

  it('answers at once when there is something after the cursor, in apply order', async () => {
    sm.apply(at(1), ev(1));
    sm.apply(at(2), []);
    sm.apply(at(3), ev(3));
    const page = await tail.wait(at(0), 1000);
    expect(page.entries.map((e) => e.cursor.index)).to.deep.equal([1, 3]);
    expect(page.cursor).to.deep.equal(at(3));
  });

  it('a waiter is answered by the next retained entry, or empty when its timeout passes', async () => {
    sm.apply(at(1), ev(1));
    const woken = tail.wait(at(1), 1000);
    await settle();
    expect((await tail.stats())!.waiters).to.equal(1);
    sm.apply(at(2), []); // no events: keeps waiting
    await settle();
    expect((await tail.stats())!.waiters).to.equal(1);
    sm.apply(at(3), ev(3));
    expect((await woken).entries.map((e) => e.cursor.index)).to.deep.equal([3]);
    const timedOut = tail.wait(at(3), 500);
    await settle();
    clock.advance(499);
    await settle();
    expect((await tail.stats())!.waiters).to.equal(1);
    clock.advance(1);
    const empty = await timedOut;
    expect(empty.entries).to.deep.equal([]);
    expect(empty.cursor).to.deep.equal(at(3));
    expect((await tail.stats())!.waiters).to.equal(0);
  });

  it('a snapshot install answers waiters with snapshot_required', async () => {
    sm.apply(at(1), ev(1));
    const waiting = tail.wait(at(1), 60_000);
    await settle();
    sm.restore(at(40, 2));
    const page = await waiting;
    expect(page.snapshot_required).to.equal(true);
    expect(page.cursor).to.deep.equal(at(40, 2));
  });

  it('stopping answers every waiter at once and unsubscribes; later reads answer UNAVAILABLE at once', async () => {
    sm.apply(at(1), ev(1));
    const waiting = [tail.wait(at(1), 60_000), tail.wait(at(1), 60_000)];
    await settle();
    await instance.stop();
    for (const p of await Promise.all(waiting)) expect(p.entries).to.deep.equal([]);
    expect(tail.running).to.equal(false);
    await settle();
    expect(sm.subscribers.size).to.equal(0);
    const err = await tail.wait(at(0), 60_000).then(() => undefined, (e: unknown) => e as Error);
    expect(err?.name).to.equal('UnavailableError');
    expect(await tail.stats()).to.equal(null);
  });

  it('a restart starts a fresh ring at the applied cursor, so older readers reload a snapshot', async () => {
    sm.apply(at(1), ev(1));
    sm.apply(at(2), ev(2));
    await settle();
    await instance.stop();
    instance = await tail.childSpec().start();
    expect((await tail.wait(at(1), 0)).snapshot_required).to.equal(true);
    sm.apply(at(3), ev(3));
    expect((await tail.wait(at(2), 1000)).entries.map((e) => e.cursor.index)).to.deep.equal([3]);
  });
});
