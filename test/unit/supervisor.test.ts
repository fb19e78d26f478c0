// Supervisor runtime on virtual time with fake children that exit with any reason on demand. The matrix
// follows OTP's supervisor suite: restart type x exit reason x strategy, asserting the exact event sequence.
import { expect } from 'chai';
import fc from 'fast-check';
import { ManualClock } from '../../src/common/clock.js';
import { createLogger } from '../../src/common/log.js';
import { Supervisor, type SupervisorOptions } from '../../src/supervisor/supervisor.js';
import {
  ChildAlreadyExistsError,
  ChildNotFoundError,
  ChildStartError,
  ChildStateError,
  isRestartIntensityExit,
} from '../../src/supervisor/errors.js';
import type { ChildInstance, ChildSpec, ExitReason, RestartType, Shutdown, Strategy } from '../../src/supervisor/types.js';

// ---- fake children -------------------------------------------------------------------------------------

interface Behaviour {
  /** The next N starts fail. */
  failStarts: number;
  /** stop() is ignored (the child must be killed). */
  ignoreStop: boolean;
  /** start() waits for this before completing. */
  gate?: Promise<void>;
}

class FakeInstance implements ChildInstance {
  reason?: ExitReason;
  private listeners: Array<(r: ExitReason) => void> = [];
  private exited: Promise<void>;
  private resolveExited!: () => void;

  constructor(
    private readonly world: FakeWorld,
    readonly id: string,
  ) {
    this.exited = new Promise((r) => (this.resolveExited = r));
  }

  stop(): Promise<void> {
    this.world.events.push(`stop:${this.id}`);
    if (!this.world.behaviour(this.id).ignoreStop) this.exit('shutdown');
    return this.exited;
  }

  kill(): Promise<void> {
    this.world.events.push(`kill:${this.id}`);
    this.exit('killed');
    return this.exited;
  }

  onExit(listener: (r: ExitReason) => void): void {
    if (this.reason !== undefined) listener(this.reason);
    else this.listeners.push(listener);
  }

  exit(reason: ExitReason): void {
    if (this.reason !== undefined) return;
    this.reason = reason;
    if (this.world.live.get(this.id) === this) this.world.live.delete(this.id);
    this.resolveExited();
    for (const l of this.listeners) l(reason);
  }
}

class FakeWorld {
  events: string[] = [];
  live = new Map<string, FakeInstance>();
  private behaviours = new Map<string, Behaviour>();

  behaviour(id: string): Behaviour {
    let b = this.behaviours.get(id);
    if (!b) this.behaviours.set(id, (b = { failStarts: 0, ignoreStop: false }));
    return b;
  }

  spec(id: string, restart: RestartType = 'permanent', shutdown: Shutdown = 1000): ChildSpec {
    return {
      id,
      restart,
      shutdown,
      type: 'worker',
      start: async () => {
        const b = this.behaviour(id);
        if (b.gate) await b.gate;
        if (b.failStarts > 0) {
          b.failStarts--;
          this.events.push(`startfail:${id}`);
          throw new Error(`${id} refused to start`);
        }
        const inst = new FakeInstance(this, id);
        this.live.set(id, inst);
        this.events.push(`start:${id}`);
        return inst;
      },
    };
  }

  crash(id: string, reason: ExitReason): void {
    const inst = this.live.get(id);
    if (!inst) throw new Error(`test bug: ${id} is not running`);
    inst.exit(reason);
  }

  /** Returns the events since the last take and forgets them. */
  take(): string[] {
    const e = this.events;
    this.events = [];
    return e;
  }
}

const ERROR: ExitReason = { error: { name: 'Error', message: 'boom' } };
const REASONS: Record<string, ExitReason> = { normal: 'normal', shutdown: 'shutdown', killed: 'killed', error: ERROR };

/** Lets every queued reaction (also across nested supervisors) run to completion. */
async function settle(...sups: Supervisor[]): Promise<void> {
  for (let i = 0; i < 6; i++) {
    await new Promise((r) => setImmediate(r));
    for (const s of sups) await s.whenIdle();
  }
}

function makeSup(world: FakeWorld, clock: ManualClock, over: Partial<SupervisorOptions> & { children: ChildSpec[] }): Supervisor {
  return new Supervisor({ id: 'sup', strategy: 'one_for_one', intensity: 10, periodMs: 5000, clock, ...over });
}

/** Collects the exits of a supervisor. */
function exitsOf(sup: Supervisor): ExitReason[] {
  const exits: ExitReason[] = [];
  sup.onExit((r) => exits.push(r));
  return exits;
}

// ---- tests -----------------------------------------------------------------------------------------------

describe('Supervisor', () => {
  // Supervisors a test forgot to stop (e.g. after a failed assertion) are killed here.
  const started: Supervisor[] = [];
  afterEach(async () => {
    for (const s of started.splice(0)) await s.kill();
  });
  function track(s: Supervisor): Supervisor {
    started.push(s);
    return s;
  }

  describe('restart matrix: restart type x exit reason x strategy', () => {
    // Children a (permanent), b (the subject, restart type under test), c (transient), d (temporary).
    // Expected outcome table: which reasons restart which restart type (OTP), and what a cycle does per strategy.
    const RESTARTED_ON: Record<RestartType, string[]> = {
      permanent: ['normal', 'shutdown', 'killed', 'error'],
      transient: ['killed', 'error'],
      temporary: [],
    };
    const CYCLE: Record<Strategy, { events: string[]; remaining: string[]; restarted: string[] }> = {
      one_for_one: { events: ['start:b'], remaining: ['a', 'b', 'c', 'd'], restarted: ['b'] },
      one_for_all: {
        events: ['stop:d', 'stop:c', 'stop:a', 'start:a', 'start:b', 'start:c'],
        remaining: ['a', 'b', 'c'],
        restarted: ['a', 'b', 'c'],
      },
      rest_for_one: { events: ['stop:d', 'stop:c', 'start:b', 'start:c'], remaining: ['a', 'b', 'c'], restarted: ['b', 'c'] },
    };

    for (const strategy of Object.keys(CYCLE) as Strategy[]) {
      for (const restart of Object.keys(RESTARTED_ON) as RestartType[]) {
        for (const [reasonName, reason] of Object.entries(REASONS)) {
          const restarts = RESTARTED_ON[restart].includes(reasonName);
          const title = `${strategy}: ${restart} child exiting ${reasonName} ${restarts ? 'runs a restart cycle' : 'is not restarted'}`;
          it(title, async () => {
            const world = new FakeWorld();
            const clock = new ManualClock();
            const sup = track(
              makeSup(world, clock, {
                strategy,
                children: [world.spec('a'), world.spec('b', restart), world.spec('c', 'transient'), world.spec('d', 'temporary')],
              }),
            );
            const exits = exitsOf(sup);
            await sup.start();
            expect(world.take()).to.deep.equal(['start:a', 'start:b', 'start:c', 'start:d']);

            world.crash('b', reason);
            await settle(sup);

            const children = sup.whichChildren();
            if (restarts) {
              const cycle = CYCLE[strategy];
              expect(world.take()).to.deep.equal(cycle.events);
              expect(children.map((c) => c.id)).to.deep.equal(cycle.remaining);
              for (const c of children) {
                expect(c.status, c.id).to.equal('running');
                expect(c.restarts, c.id).to.equal(cycle.restarted.includes(c.id) ? 1 : 0);
              }
            } else {
              expect(world.take()).to.deep.equal([]);
              const expectedIds = restart === 'temporary' ? ['a', 'c', 'd'] : ['a', 'b', 'c', 'd'];
              expect(children.map((c) => c.id)).to.deep.equal(expectedIds);
              for (const c of children) expect(c.status, c.id).to.equal(c.id === 'b' ? 'stopped' : 'running');
            }
            expect(sup.state).to.equal('running');
            expect(exits).to.deep.equal([]);

            await sup.stop();
            expect(world.live.size).to.equal(0);
            expect(exits).to.deep.equal(['shutdown']);
          });
        }
      }
    }
  });

  describe('ordered start and reverse stop', () => {
    it('starts in order and stops in reverse order', async () => {
      const world = new FakeWorld();
      const sup = track(makeSup(world, new ManualClock(), { children: ['a', 'b', 'c'].map((id) => world.spec(id)) }));
      await sup.start();
      await sup.stop();
      expect(world.take()).to.deep.equal(['start:a', 'start:b', 'start:c', 'stop:c', 'stop:b', 'stop:a']);
      expect(sup.state).to.equal('exited');
    });

    it('a child that fails to start stops the started ones in reverse, rejects, and leaves the supervisor restartable', async () => {
      const world = new FakeWorld();
      world.behaviour('c').failStarts = 1;
      const sup = track(makeSup(world, new ManualClock(), { children: ['a', 'b', 'c', 'd'].map((id) => world.spec(id)) }));
      const exits = exitsOf(sup);
      let caught: unknown;
      await sup.start().catch((e) => (caught = e));
      expect(caught).to.be.instanceOf(ChildStartError);
      expect((caught as ChildStartError).details.child).to.equal('c');
      expect(world.take()).to.deep.equal(['start:a', 'start:b', 'startfail:c', 'stop:b', 'stop:a']);
      expect(sup.state).to.equal('idle');
      expect(exits).to.deep.equal([]);

      await sup.start();
      expect(world.take()).to.deep.equal(['start:a', 'start:b', 'start:c', 'start:d']);
      await sup.stop();
    });
  });

  describe('shutdown', () => {
    it('kills a child that ignores stop() once its shutdown ms pass on the clock, not before', async () => {
      const world = new FakeWorld();
      const clock = new ManualClock();
      world.behaviour('x').ignoreStop = true;
      const sup = track(makeSup(world, clock, { children: [world.spec('a'), world.spec('x', 'permanent', 5000)] }));
      await sup.start();
      world.take();
      let done = false;
      const stopping = sup.stop().then(() => (done = true));
      await settle();
      expect(world.take()).to.deep.equal(['stop:x']);
      clock.advance(4999);
      await settle();
      expect(world.events).to.deep.equal([]);
      expect(done).to.equal(false);
      clock.advance(1);
      await stopping;
      expect(world.take()).to.deep.equal(['kill:x', 'stop:a']);
      expect(clock.pending()).to.equal(0);
    });

    it('brutal_kill kills at once without asking', async () => {
      const world = new FakeWorld();
      const sup = track(makeSup(world, new ManualClock(), { children: [world.spec('a'), world.spec('x', 'permanent', 'brutal_kill')] }));
      await sup.start();
      world.take();
      await sup.stop();
      expect(world.take()).to.deep.equal(['kill:x', 'stop:a']);
    });

    it("'infinity' waits for the child however long it takes", async () => {
      const world = new FakeWorld();
      const clock = new ManualClock();
      world.behaviour('x').ignoreStop = true;
      const sup = track(makeSup(world, clock, { children: [world.spec('x', 'permanent', 'infinity')] }));
      await sup.start();
      world.take();
      let done = false;
      const stopping = sup.stop().then(() => (done = true));
      clock.advance(1e9);
      await settle();
      expect(done).to.equal(false);
      world.crash('x', 'normal');
      await stopping;
      expect(world.take()).to.deep.equal(['stop:x']);
    });

    it('a graceful stop that finishes in time cancels the kill timer', async () => {
      const world = new FakeWorld();
      const clock = new ManualClock();
      const sup = track(makeSup(world, clock, { children: [world.spec('a', 'permanent', 5000)] }));
      await sup.start();
      await sup.stop();
      expect(clock.pending()).to.equal(0);
      clock.advance(10_000);
      expect(world.take()).to.deep.equal(['start:a', 'stop:a']);
    });
  });

  describe('restart intensity', () => {
    it('N restarts within the window are fine; restart N+1 stops everything and exits with reached_max_restart_intensity', async () => {
      const world = new FakeWorld();
      const clock = new ManualClock();
      const sup = track(
        makeSup(world, clock, { intensity: 3, periodMs: 5000, children: ['a', 'b', 'c'].map((id) => world.spec(id)) }),
      );
      const exits = exitsOf(sup);
      await sup.start();
      world.take();
      for (let i = 0; i < 3; i++) {
        clock.advance(100);
        world.crash('b', ERROR);
        await settle(sup);
        expect(world.take(), `restart ${i + 1}`).to.deep.equal(['start:b']);
      }
      clock.advance(100);
      world.crash('b', ERROR);
      await settle(sup);
      expect(world.take()).to.deep.equal(['stop:c', 'stop:a']);
      expect(sup.state).to.equal('exited');
      expect(exits).to.have.length(1);
      expect(isRestartIntensityExit(exits[0])).to.equal(true);
      expect(world.live.size).to.equal(0);
    });

    it('restarts spread out beyond periodMs never escalate', async () => {
      const world = new FakeWorld();
      const clock = new ManualClock();
      const sup = track(makeSup(world, clock, { intensity: 2, periodMs: 1000, children: [world.spec('a')] }));
      await sup.start();
      world.take();
      for (let i = 0; i < 12; i++) {
        clock.advance(501); // at most two restarts ever fall inside one 1000 ms window
        world.crash('a', 'killed');
        await settle(sup);
      }
      expect(world.take()).to.deep.equal(Array(12).fill('start:a'));
      expect(sup.state).to.equal('running');
      expect(sup.whichChildren()[0].restarts).to.equal(12);
      await sup.stop();
    });

    it('failed restarts are retried and count toward intensity', async () => {
      const world = new FakeWorld();
      const clock = new ManualClock();
      const sup = track(makeSup(world, clock, { intensity: 2, periodMs: 1000, children: [world.spec('a'), world.spec('b')] }));
      const exits = exitsOf(sup);
      await sup.start();
      world.take();
      world.behaviour('b').failStarts = 100;
      world.crash('b', ERROR);
      await settle(sup);
      expect(world.take()).to.deep.equal(['startfail:b', 'startfail:b', 'stop:a']);
      expect(exits.map(isRestartIntensityExit)).to.deep.equal([true]);
    });

    it('a restart that fails once is retried and then succeeds', async () => {
      const world = new FakeWorld();
      const sup = track(makeSup(world, new ManualClock(), { intensity: 5, children: [world.spec('a')] }));
      await sup.start();
      world.take();
      world.behaviour('a').failStarts = 1;
      world.crash('a', ERROR);
      await settle(sup);
      expect(world.take()).to.deep.equal(['startfail:a', 'start:a']);
      expect(sup.whichChildren()[0]).to.include({ status: 'running', restarts: 1 });
      await sup.stop();
    });
  });

  describe('serialised restarts', () => {
    it('an exit that arrives during a restart cycle is handled after that cycle', async () => {
      const world = new FakeWorld();
      const sup = track(makeSup(world, new ManualClock(), { children: [world.spec('a'), world.spec('b')] }));
      await sup.start();
      world.take();
      let open!: () => void;
      world.behaviour('a').gate = new Promise<void>((r) => (open = r));
      world.crash('a', ERROR);
      await settle(); // the cycle for a is now waiting in a's start
      world.crash('b', ERROR);
      await settle();
      expect(world.events).to.deep.equal([]);
      world.behaviour('a').gate = undefined;
      open();
      await settle(sup);
      expect(world.take()).to.deep.equal(['start:a', 'start:b']);
      await sup.stop();
    });

    it('one_for_all absorbs a sibling crash that happens during the cycle (one restart, not two)', async () => {
      const world = new FakeWorld();
      const clock = new ManualClock();
      world.behaviour('c').ignoreStop = true;
      const sup = track(
        makeSup(world, clock, {
          strategy: 'one_for_all',
          children: [world.spec('a'), world.spec('b'), world.spec('c', 'permanent', 1000)],
        }),
      );
      await sup.start();
      world.take();
      world.crash('a', ERROR);
      await settle();
      expect(world.take()).to.deep.equal(['stop:c']); // the cycle waits for c
      world.crash('b', ERROR);
      clock.advance(1000);
      await settle(sup);
      expect(world.take()).to.deep.equal(['kill:c', 'start:a', 'start:b', 'start:c']);
      expect(sup.whichChildren().map((c) => c.restarts)).to.deep.equal([1, 1, 1]);
      await sup.kill();
    });
  });

  describe('nested supervisors', () => {
    it('a child supervisor that reaches its intensity is restarted by its parent; repeated escalation reaches the parent', async () => {
      const world = new FakeWorld();
      const clock = new ManualClock();
      const inner = new Supervisor({ id: 'inner', strategy: 'one_for_one', intensity: 1, periodMs: 10_000, clock, children: [world.spec('w1')] });
      const outer = track(
        new Supervisor({
          id: 'outer',
          strategy: 'one_for_one',
          intensity: 2,
          periodMs: 10_000,
          clock,
          children: [inner.asChildSpec(), world.spec('w2')],
        }),
      );
      const innerExits = exitsOf(inner);
      const outerExits = exitsOf(outer);
      await outer.start();
      expect(world.take()).to.deep.equal(['start:w1', 'start:w2']);

      for (let round = 1; round <= 2; round++) {
        world.crash('w1', ERROR); // inner restarts it (1 of 1 allowed)
        await settle(inner, outer);
        world.crash('w1', ERROR); // inner gives up; outer restarts inner, which starts w1 afresh
        await settle(inner, outer);
        expect(world.take(), `round ${round}`).to.deep.equal(['start:w1', 'start:w1']);
        expect(outer.whichChildren()[0]).to.include({ id: 'inner', type: 'supervisor', status: 'running', restarts: round });
        expect(innerExits.map(isRestartIntensityExit)).to.deep.equal(Array(round).fill(true));
      }
      world.crash('w1', ERROR);
      await settle(inner, outer);
      world.crash('w1', ERROR); // third inner escalation: outer's third restart in the window exceeds its intensity 2
      await settle(inner, outer);
      expect(world.take()).to.deep.equal(['start:w1', 'stop:w2']);
      expect(outerExits).to.have.length(1);
      expect(isRestartIntensityExit(outerExits[0])).to.equal(true);
      expect(world.live.size).to.equal(0);
    });

    it('escalation propagates through every level that has no restarts left', async () => {
      const world = new FakeWorld();
      const clock = new ManualClock();
      const opts = { strategy: 'one_for_one' as const, intensity: 0, periodMs: 1000, clock };
      const leaf = new Supervisor({ ...opts, id: 'leaf', children: [world.spec('w')] });
      const mid = new Supervisor({ ...opts, id: 'mid', children: [leaf.asChildSpec(), world.spec('m')] });
      const top = track(new Supervisor({ ...opts, id: 'top', children: [mid.asChildSpec(), world.spec('t')] }));
      const exits = { leaf: exitsOf(leaf), mid: exitsOf(mid), top: exitsOf(top) };
      await top.start();
      expect(world.take()).to.deep.equal(['start:w', 'start:m', 'start:t']);
      world.crash('w', ERROR);
      await settle(leaf, mid, top);
      expect(world.take()).to.deep.equal(['stop:m', 'stop:t']);
      for (const [name, e] of Object.entries(exits)) {
        expect(e.map(isRestartIntensityExit), name).to.deep.equal([true]);
      }
    });

    it('stopping the parent stops the child supervisor subtree in reverse order', async () => {
      const world = new FakeWorld();
      const clock = new ManualClock();
      const inner = new Supervisor({ id: 'inner', strategy: 'one_for_one', intensity: 1, periodMs: 1000, clock, children: [world.spec('x'), world.spec('y')] });
      const outer = track(
        new Supervisor({ id: 'outer', strategy: 'one_for_one', intensity: 1, periodMs: 1000, clock, children: [world.spec('a'), inner.asChildSpec(), world.spec('b')] }),
      );
      await outer.start();
      await outer.stop();
      expect(world.take()).to.deep.equal(['start:a', 'start:x', 'start:y', 'start:b', 'stop:b', 'stop:y', 'stop:x', 'stop:a']);
      expect(inner.state).to.equal('exited');
    });

    it("a child supervisor that overruns its shutdown is killed, and the kill reaches a grandchild it was waiting for", async () => {
      const world = new FakeWorld();
      const clock = new ManualClock();
      world.behaviour('stubborn').ignoreStop = true;
      const inner = new Supervisor({
        id: 'inner',
        strategy: 'one_for_one',
        intensity: 1,
        periodMs: 1000,
        clock,
        children: [world.spec('stubborn', 'permanent', 'infinity')],
      });
      const outer = track(new Supervisor({ id: 'outer', strategy: 'one_for_one', intensity: 1, periodMs: 1000, clock, children: [inner.asChildSpec({ shutdown: 2000 })] }));
      const innerExits = exitsOf(inner);
      await outer.start();
      const stopping = outer.stop();
      await settle();
      clock.advance(2000);
      await stopping;
      expect(world.take()).to.deep.equal(['start:stubborn', 'stop:stubborn', 'kill:stubborn']);
      expect(innerExits).to.deep.equal(['killed']);
      expect(world.live.size).to.equal(0);
    });
  });

  describe('dynamic children', () => {
    it('terminateChild keeps a child down through sibling crashes until restartChild brings it back', async () => {
      const world = new FakeWorld();
      const sup = track(makeSup(world, new ManualClock(), { children: [world.spec('a'), world.spec('b')] }));
      await sup.start();
      world.take();
      await sup.terminateChild('b');
      world.crash('a', ERROR);
      await settle(sup);
      expect(world.take()).to.deep.equal(['stop:b', 'start:a']);
      expect(sup.whichChildren().map((c) => [c.id, c.status])).to.deep.equal([
        ['a', 'running'],
        ['b', 'stopped'],
      ]);
      await sup.restartChild('b');
      expect(world.take()).to.deep.equal(['start:b']);
      expect(sup.whichChildren()[1]).to.include({ status: 'running', restarts: 0 });
      await sup.stop();
    });

    it('startChild appends a child; deleteChild forgets a stopped one; errors are typed', async () => {
      const world = new FakeWorld();
      const sup = track(makeSup(world, new ManualClock(), { children: [world.spec('a')] }));
      await sup.start();
      await sup.startChild(world.spec('b'));
      expect(sup.whichChildren().map((c) => c.id)).to.deep.equal(['a', 'b']);

      const rejection = async (p: Promise<unknown>) => p.then(() => undefined, (e: unknown) => e);
      expect(await rejection(sup.startChild(world.spec('b')))).to.be.instanceOf(ChildAlreadyExistsError);
      expect(await rejection(sup.restartChild('b'))).to.be.instanceOf(ChildStateError);
      expect(await rejection(sup.deleteChild('b'))).to.be.instanceOf(ChildStateError);
      expect(await rejection(sup.terminateChild('nope'))).to.be.instanceOf(ChildNotFoundError);
      world.behaviour('c').failStarts = 1;
      expect(await rejection(sup.startChild(world.spec('c')))).to.be.instanceOf(ChildStartError);
      expect(sup.whichChildren().map((c) => c.id)).to.deep.equal(['a', 'b']);

      await sup.terminateChild('b');
      await sup.deleteChild('b');
      expect(sup.whichChildren().map((c) => c.id)).to.deep.equal(['a']);
      await sup.stop();
      expect(await rejection(sup.startChild(world.spec('d')))).to.be.instanceOf(ChildStateError);
      expect(world.take()).to.deep.equal(['start:a', 'start:b', 'startfail:c', 'stop:b', 'stop:a']);
    });

    it('as in OTP, a one_for_all cycle starts a terminated sibling again (keep-down needs one_for_one)', async () => {
      const world = new FakeWorld();
      const sup = track(makeSup(world, new ManualClock(), { strategy: 'one_for_all', children: [world.spec('a'), world.spec('b')] }));
      await sup.start();
      await sup.terminateChild('b');
      world.take();
      world.crash('a', ERROR);
      await settle(sup);
      expect(world.take()).to.deep.equal(['start:a', 'start:b']);
      await sup.stop();
    });

    it('killChild kills at once without asking and keeps the child down until restartChild', async () => {
      const world = new FakeWorld();
      world.behaviour('b').ignoreStop = true;
      const sup = track(makeSup(world, new ManualClock(), { children: [world.spec('a'), world.spec('b', 'permanent', 5000)] }));
      await sup.start();
      world.take();
      await sup.killChild('b');
      world.crash('a', ERROR);
      await settle(sup);
      expect(world.take()).to.deep.equal(['kill:b', 'start:a']);
      expect(sup.whichChildren()[1]).to.include({ id: 'b', status: 'stopped' });
      await sup.restartChild('b');
      expect(world.take()).to.deep.equal(['start:b']);
      await sup.kill();
    });

    it('terminateChild removes a temporary child', async () => {
      const world = new FakeWorld();
      const sup = track(makeSup(world, new ManualClock(), { children: [world.spec('a'), world.spec('tmp', 'temporary')] }));
      await sup.start();
      await sup.terminateChild('tmp');
      expect(sup.whichChildren().map((c) => c.id)).to.deep.equal(['a']);
      await sup.stop();
    });

    it('a restarted supervisor begins again from its configured children', async () => {
      const world = new FakeWorld();
      const sup = track(makeSup(world, new ManualClock(), { children: [world.spec('a')] }));
      await sup.start();
      await sup.startChild(world.spec('extra'));
      await sup.stop();
      await sup.start();
      expect(sup.whichChildren().map((c) => c.id)).to.deep.equal(['a']);
      await sup.stop();
    });
  });

  describe('validation and logging', () => {
    it('rejects bad options with typed errors', () => {
      const world = new FakeWorld();
      const clock = new ManualClock();
      expect(() => makeSup(world, clock, { intensity: -1, children: [] })).to.throw(/intensity/);
      expect(() => makeSup(world, clock, { periodMs: 0, children: [] })).to.throw(/periodMs/);
      expect(() => makeSup(world, clock, { children: [world.spec('a'), world.spec('a')] })).to.throw(/duplicate/);
    });

    it('logs starts, exits and restarts at info and escalation at error', async () => {
      const lines: Array<Record<string, unknown>> = [];
      const logger = createLogger({ role: 'test', level: 'info', destination: { write: (l: string) => lines.push(JSON.parse(l)) } });
      const world = new FakeWorld();
      const sup = track(makeSup(world, new ManualClock(), { intensity: 1, logger, children: [world.spec('a')] }));
      await sup.start();
      world.crash('a', ERROR);
      await settle(sup);
      world.crash('a', 'killed');
      await settle(sup);
      const seen = lines.map((l) => `${l.level} ${l.msg}${l.child ? ` ${l.child}` : ''}`);
      expect(seen).to.include.members([
        'info child started a',
        'info child exited a',
        'info child restarted a',
        'error reached max restart intensity; stopping all children and exiting',
      ]);
      expect(lines.every((l) => l.supervisor === 'sup')).to.equal(true);
      const exited = lines.find((l) => l.msg === 'child exited');
      expect(exited?.reason).to.equal('Error: boom');
    });
  });

  describe('against a literal model of the OTP rules', () => {
    // An independent, deliberately naive restatement of OTP's rules in terms of the events a fake child
    // records. Random schedules of crashes, clock advances and administrative stops/starts must produce the
    // same event sequence and child table in the real supervisor as in this model.
    interface MChild {
      id: string;
      restart: RestartType;
      running: boolean;
    }
    class Model {
      stamps: number[] = [];
      exited = false;
      now = 0;
      constructor(
        private readonly strategy: Strategy,
        private readonly intensity: number,
        private readonly periodMs: number,
        public children: MChild[],
      ) {}

      crash(id: string, reasonName: string): string[] {
        const c = this.children.find((x) => x.id === id)!;
        c.running = false;
        if (c.restart === 'temporary') {
          this.children = this.children.filter((x) => x !== c);
          return [];
        }
        if (c.restart === 'transient' && (reasonName === 'normal' || reasonName === 'shutdown')) return [];
        this.stamps = this.stamps.filter((t) => this.now - t <= this.periodMs);
        this.stamps.push(this.now);
        if (this.stamps.length > this.intensity) {
          this.exited = true;
          return this.stopEach([...this.children].reverse());
        }
        const idx = this.children.indexOf(c);
        const group =
          this.strategy === 'one_for_one' ? [c] : this.strategy === 'one_for_all' ? [...this.children] : this.children.slice(idx);
        const events = this.stopEach([...group].reverse().filter((x) => x !== c));
        this.children = this.children.filter((x) => !(x !== c && group.includes(x) && x.restart === 'temporary'));
        for (const x of this.children) {
          if (!group.includes(x)) continue;
          events.push(`start:${x.id}`);
          x.running = true;
        }
        return events;
      }

      terminate(id: string): string[] {
        const c = this.children.find((x) => x.id === id)!;
        const events = this.stopEach([c]);
        if (c.restart === 'temporary') this.children = this.children.filter((x) => x !== c);
        return events;
      }

      restart(id: string): string[] {
        this.children.find((x) => x.id === id)!.running = true;
        return [`start:${id}`];
      }

      private stopEach(list: MChild[]): string[] {
        const events: string[] = [];
        for (const x of list) {
          if (x.running) events.push(`stop:${x.id}`);
          x.running = false;
        }
        return events;
      }
    }

    type Cmd =
      | { kind: 'crash'; pick: number; reason: string }
      | { kind: 'advance'; step: 'one' | 'half' | 'period' | 'beyond' }
      | { kind: 'terminate'; pick: number }
      | { kind: 'restart'; pick: number };
    const cmd: fc.Arbitrary<Cmd> = fc.oneof(
      { weight: 5, arbitrary: fc.record({ kind: fc.constant('crash' as const), pick: fc.nat(), reason: fc.constantFrom(...Object.keys(REASONS)) }) },
      { weight: 2, arbitrary: fc.record({ kind: fc.constant('advance' as const), step: fc.constantFrom('one' as const, 'half' as const, 'period' as const, 'beyond' as const) }) },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant('terminate' as const), pick: fc.nat() }) },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant('restart' as const), pick: fc.nat() }) },
    );

    it('random schedules match the model (events, child table, escalation)', async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.constantFrom<Strategy>('one_for_one', 'one_for_all', 'rest_for_one'),
          fc.array(fc.constantFrom<RestartType>('permanent', 'transient', 'temporary'), { minLength: 1, maxLength: 5 }),
          fc.integer({ min: 0, max: 4 }),
          fc.integer({ min: 1, max: 5000 }),
          fc.array(cmd, { maxLength: 25 }),
          async (strategy, types, intensity, periodMs, cmds) => {
            const world = new FakeWorld();
            const clock = new ManualClock();
            const ids = types.map((_, i) => `k${i}`);
            const sup = track(makeSup(world, clock, { strategy, intensity, periodMs, children: ids.map((id, i) => world.spec(id, types[i])) }));
            const model = new Model(strategy, intensity, periodMs, ids.map((id, i) => ({ id, restart: types[i], running: true })));
            await sup.start();
            world.take();
            for (const c of cmds) {
              let expected: string[] = [];
              if (c.kind === 'advance') {
                // Steps relative to the window, so restarts land exactly on its edge as well as inside and past it.
                const ms = { one: 1, half: Math.floor(periodMs / 2), period: periodMs, beyond: periodMs + 1 }[c.step];
                clock.advance(ms);
                model.now = clock.now();
              } else if (c.kind === 'crash') {
                const running = sup.whichChildren().filter((x) => x.status === 'running');
                if (running.length === 0) continue;
                const id = running[c.pick % running.length].id;
                world.crash(id, REASONS[c.reason]);
                await settle(sup);
                expected = model.crash(id, c.reason);
              } else if (c.kind === 'terminate') {
                const all = sup.whichChildren();
                if (all.length === 0) continue;
                const id = all[c.pick % all.length].id;
                await sup.terminateChild(id);
                expected = model.terminate(id);
              } else {
                const down = sup.whichChildren().filter((x) => x.status === 'stopped');
                if (down.length === 0) continue;
                const id = down[c.pick % down.length].id;
                await sup.restartChild(id);
                expected = model.restart(id);
              }
              expect(world.take(), JSON.stringify(c)).to.deep.equal(expected);
              if (model.exited) {
                expect(sup.state).to.equal('exited');
                return;
              }
              expect(sup.whichChildren().map((x) => `${x.id}:${x.status}`)).to.deep.equal(
                model.children.map((x) => `${x.id}:${x.running ? 'running' : 'stopped'}`),
              );
            }
            await sup.stop();
            expect(world.live.size).to.equal(0);
          },
        ),
        { numRuns: 150 },
      );
    });
  });
});
