// Worker threads run on the clock the owner chose at start: the system clock by default, or a 'driven' clock
// whose timers (sendSelfAfter, ask timeouts) fire only when the owner moves virtual time, as a simulator
// would; a respawned worker starts where the driven time stood.
import { expect } from 'chai';
import { InvalidArgumentError } from '../../src/common/errors.js';
import { silentLogger } from '../../src/common/log.js';
import { ActorSystem } from '../../src/actors/index.js';
import { waitFor } from '../support/env.js';

const BEHAVIOURS = new URL('../../src/actors/testing/behaviours.js', import.meta.url).href;
const T0 = 1_000_000;

type Ring = { armedAt: number; rangAt: number };

describe('worker thread clocks', function () {
  this.timeout(20_000);
  const systems: ActorSystem[] = [];
  afterEach(async () => {
    await Promise.all(systems.splice(0).map((s) => s.shutdown()));
  });

  async function start(driven: boolean): Promise<ActorSystem> {
    const s = await ActorSystem.start({
      role: 'test', workers: 2, logger: silentLogger(), logLevel: 'silent',
      ...(driven ? { workerClock: { kind: 'driven' as const, startMs: T0 } } : {}),
    });
    systems.push(s);
    return s;
  }

  const dump = async (s: ActorSystem, rec: Awaited<ReturnType<ActorSystem['spawn']>>) => (await rec.ask('dump')) as Ring[];

  it('a driven worker clock fires a 60 s timer exactly when the owner moves virtual time past it, not before', async () => {
    const s = await start(true);
    const rec = await s.spawn({ name: 'rec', module: BEHAVIOURS, export: 'Recorder', thread: 0 });
    const alarm = await s.spawn({ name: 'alarm', module: BEHAVIOURS, export: 'Alarm', thread: 1 });
    alarm.tell({ t: 'arm', ms: 60_000, to: rec });
    // The arm message is in; the worker reports its timer as next due.
    await waitFor('timer armed', async () => (await s.advanceWorkerClocks(T0)) === T0 + 60_000);
    expect(await s.advanceWorkerClocks(T0 + 59_999)).to.equal(T0 + 60_000);
    await new Promise((r) => setTimeout(r, 100));
    expect(await dump(s, rec)).to.deep.equal([]);
    expect(await s.advanceWorkerClocks(T0 + 60_000)).to.equal(undefined);
    await waitFor('ring', async () => (await dump(s, rec)).length === 1);
    expect(await dump(s, rec)).to.deep.equal([{ armedAt: T0, rangAt: T0 + 60_000 }]);
  });

  it('a worker respawned after its thread died starts at the driven time, and time never goes back', async () => {
    const s = await start(true);
    const rec = await s.spawn({ name: 'rec', module: BEHAVIOURS, export: 'Recorder', thread: 0 });
    await s.spawn({ name: 'first', module: BEHAVIOURS, export: 'Echo', thread: 2 });
    await s.advanceWorkerClocks(T0 + 5_000);
    await s.advanceWorkerClocks(T0 + 1_000); // ignored: never backwards
    await s.killThread(2);
    const alarm = await s.spawn({ name: 'alarm', module: BEHAVIOURS, export: 'Alarm', thread: 2 });
    alarm.tell({ t: 'arm', ms: 10, to: rec });
    await waitFor('timer armed', async () => (await s.advanceWorkerClocks(T0 + 5_000)) === T0 + 5_010);
    await s.advanceWorkerClocks(T0 + 5_010);
    await waitFor('ring', async () => (await dump(s, rec)).length === 1);
    expect(await dump(s, rec)).to.deep.equal([{ armedAt: T0 + 5_000, rangAt: T0 + 5_010 }]);
  });

  it('the default worker clock is the system clock, and it cannot be driven', async () => {
    const s = await start(false);
    const rec = await s.spawn({ name: 'rec', module: BEHAVIOURS, export: 'Recorder', thread: 0 });
    const alarm = await s.spawn({ name: 'alarm', module: BEHAVIOURS, export: 'Alarm', thread: 1 });
    const before = Date.now();
    alarm.tell({ t: 'arm', ms: 50, to: rec });
    await waitFor('ring', async () => (await dump(s, rec)).length === 1);
    const [ring] = await dump(s, rec);
    expect(ring!.armedAt).to.be.at.least(before - 5);
    expect(ring!.rangAt - ring!.armedAt).to.be.at.least(49);
    let err: unknown;
    await s.advanceWorkerClocks(T0).catch((e: unknown) => (err = e));
    expect(err).to.be.instanceOf(InvalidArgumentError);
  });
});
