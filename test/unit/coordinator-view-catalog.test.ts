// The rooted view and catalog actors of a coordinator over an in-process root: the view loads a snapshot,
// follows the tail and tells its subscribers every advance; a write waits until the view includes it; the
// catalog answers heartbeats, store reads and routing from the rooted state the view told it, all as asks.
import { expect } from 'chai';
import { ActorSystem, type ActorContext, type Behaviour } from '../../src/actors/index.js';
import { SystemClock } from '../../src/common/clock.js';
import { silentLogger } from '../../src/common/log.js';
import type { RootedNotice } from '../../src/coordinator/root-view.js';
import { events, type RootState } from '../../src/metaroot/state/index.js';
import { FakeRoot } from '../fixtures/coordinator-fake-root.js';
import { startViewParts, type ViewParts } from '../fixtures/coordinator-view.js';
import { waitFor } from '../support/env.js';

describe('coordinator: rooted view and catalog actors', function () {
  this.timeout(20_000);
  let actors: ActorSystem;
  let root: FakeRoot;
  let parts: ViewParts;

  beforeEach(async () => {
    const clock = new SystemClock();
    root = new FakeRoot(clock);
    actors = await ActorSystem.start({ role: 'coordinator', clock, logger: silentLogger() });
    parts = await startViewParts(actors, root);
  });
  afterEach(async () => {
    const stopped = parts.stop();
    root.close();
    await stopped;
    await actors.shutdown();
  });

  it('tells subscribers every advance and answers a write-then-read once the view includes it', async () => {
    const heard: RootState[] = [];
    const listener: Behaviour<RootedNotice> = { receive: (msg: RootedNotice) => void heard.push(msg.state) };
    const ref = await actors.spawn<RootedNotice>({ name: 'listener', behaviour: listener });
    const initial = await parts.view.current!.ask<RootState | null>({ t: 'subscribe', to: ref }, { timeoutMs: 2000 });
    expect(initial).to.not.equal(null);
    const out = await root.append([events.storeJoined(7, '127.0.0.1:7007')]);
    const read = await parts.view.waitFor(out.cursor.index);
    expect(read.state!.stores['7']).to.include({ state: 'joined' });
    await waitFor('the subscriber heard the advance', () => heard.some((s) => s.stores['7'] !== undefined), 5000, 10);
    const stats = await parts.view.stats();
    expect(stats.applied_index).to.be.at.least(out.cursor.index);
  });

  it('the catalog refuses a heartbeat from an unknown store and routes, lists and reads stores it knows', async () => {
    const err = await parts.catalog
      .heartbeat({ store_id: 9, client_addr: 'x', region_count: 0, leader_count: 0, capacity_bytes: 0, available_bytes: 0, leader_region_ids: [] }, Date.now())
      .then(() => undefined, (e: unknown) => e as Error);
    expect(err?.name).to.equal('FailedPreconditionError');
    const out = await root.append([events.storeJoined(9, '127.0.0.1:9009')]);
    await parts.view.waitFor(out.cursor.index);
    // The catalog heard the same advance (it is told before the write's waiter is answered).
    await waitFor('the catalog knows store 9', async () => (await parts.catalog.store(9, Date.now())) !== null, 5000, 10);
    await parts.catalog.heartbeat({ store_id: 9, client_addr: '127.0.0.1:9100', region_count: 1, leader_count: 0, capacity_bytes: 1, available_bytes: 1, leader_region_ids: [] }, Date.now());
    expect(await parts.catalog.store(9, Date.now())).to.include({ store_id: 9, state: 'UP', address: '127.0.0.1:9100' });
    expect((await parts.catalog.stores(false, Date.now())).map((s) => s.store_id)).to.include(9);
    const route = await parts.catalog.route(Buffer.from('k'));
    expect(route.root_index).to.be.at.least(out.cursor.index);
  });
});
