import { expect } from 'chai';
import { SystemClock } from '../../src/common/clock.js';
import { silentLogger } from '../../src/common/log.js';
import { Supervisor } from '../../src/supervisor/supervisor.js';
import type { ExitReason, Strategy } from '../../src/supervisor/types.js';
import { ActorSystem, actorChildSpec, type ActorRef } from '../../src/actors/index.js';
import { waitFor } from '../support/env.js';

const BEHAVIOURS = new URL('../../src/actors/testing/behaviours.js', import.meta.url).href;

describe('actors under a supervisor, on worker threads', function () {
  this.timeout(20_000);
  let system: ActorSystem;
  let sup: Supervisor | undefined;
  /** Current ref of every child, updated on each (re)start. */
  let refs: Map<string, ActorRef>;

  beforeEach(async () => {
    system = await ActorSystem.start({ role: 'sup-test', workers: 2, logger: silentLogger(), logLevel: 'silent' });
    refs = new Map();
  });

  afterEach(async () => {
    await sup?.stop();
    sup = undefined;
    await system.shutdown();
  });

  function counter(name: string, thread: number) {
    return actorChildSpec(
      system,
      { name, module: BEHAVIOURS, export: 'Counter', args: { start: 0 }, thread },
      { onStart: (ref) => refs.set(name, ref) },
    );
  }

  function supervise(strategy: Strategy, children: ReturnType<typeof counter>[], intensity = 5) {
    return new Supervisor({ id: `actors-${strategy}`, strategy, intensity, periodMs: 60_000, clock: new SystemClock(), logger: silentLogger(), children });
  }

  async function count(name: string): Promise<number> {
    return refs.get(name)!.ask<number>({ type: 'get' });
  }

  it('one_for_one: restarts only the actors of the terminated thread, on a respawned live worker', async () => {
    sup = supervise('one_for_one', [counter('a', 1), counter('b', 1), counter('c', 2)]);
    await sup.start();
    for (const name of ['a', 'b', 'c']) refs.get(name)!.tell({ type: 'inc', by: 10 });
    const before = new Map(refs);
    expect(await count('c')).to.equal(10);

    await system.killThread(1);
    await waitFor('a and b restarted', () => !refs.get('a')!.equals(before.get('a')) && !refs.get('b')!.equals(before.get('b')));
    await sup.whenIdle();

    expect(system.liveThreads()).to.deep.equal([0, 1, 2]);
    expect(refs.get('a')!.thread).to.equal(1);
    expect(await count('a'), 'a restarted with fresh state').to.equal(0);
    expect(await count('b')).to.equal(0);
    expect(refs.get('c')!.equals(before.get('c')), 'c on the other thread was left alone').to.equal(true);
    expect(await count('c')).to.equal(10);
    expect(sup.whichChildren().map((c) => [c.id, c.restarts])).to.deep.equal([['a', 1], ['b', 1], ['c', 0]]);
  });

  it('one_for_all: the death of one worker restarts every child, also those on the other thread', async () => {
    sup = supervise('one_for_all', [counter('x', 1), counter('y', 2)]);
    await sup.start();
    refs.get('x')!.tell({ type: 'inc', by: 3 });
    expect(await count('x')).to.equal(3);
    const before = new Map(refs);

    await system.killThread(2);
    await waitFor('x and y restarted', () => !refs.get('x')!.equals(before.get('x')) && !refs.get('y')!.equals(before.get('y')));
    await sup.whenIdle();

    expect(await count('x'), 'x was restarted although its thread lived').to.equal(0);
    expect(await count('y')).to.equal(0);
    expect(refs.get('y')!.thread).to.equal(2);
    expect(sup.state).to.equal('running');
  });

  it('escalates when thread deaths exceed the restart intensity: the supervisor stops its actors and exits', async () => {
    sup = supervise('one_for_one', [counter('p', 1), counter('q', 2)], 1);
    const exits: ExitReason[] = [];
    sup.onExit((r) => exits.push(r));
    await sup.start();

    await system.killThread(1); // first restart: within intensity
    await waitFor('p restarted', () => refs.get('p')!.thread === 1 && system.liveThreads().includes(1));
    await sup.whenIdle();
    expect(sup.state).to.equal('running');
    const q = refs.get('q')!;

    await system.killThread(1); // second restart within the period: too many
    await waitFor('supervisor exit', () => exits.length === 1);
    expect(exits[0]).to.have.nested.property('error.name', 'RestartIntensityError');
    const err = await q.ask({ type: 'get' }, { timeoutMs: 2000 }).catch((e) => e);
    expect(err, 'escalation stopped the sibling too').to.have.property('code', 'UNAVAILABLE');
  });
});
