// Exhaustive checks of the supervisor's pure decisions: restart rules, per-strategy restart plans and the
// restart-intensity window, including properties against a naive model.
import { expect } from 'chai';
import fc from 'fast-check';
import { planExit, planRestart, recordRestart, shouldRestart, type ChildView } from '../../src/supervisor/decide.js';
import type { ExitReason, RestartType, Strategy } from '../../src/supervisor/types.js';

const RESTARTS: RestartType[] = ['permanent', 'transient', 'temporary'];
const STRATEGIES: Strategy[] = ['one_for_one', 'one_for_all', 'rest_for_one'];
const REASONS: Array<[string, ExitReason]> = [
  ['normal', 'normal'],
  ['shutdown', 'shutdown'],
  ['killed', 'killed'],
  ['error', { error: { name: 'Error', message: 'boom' } }],
];

describe('supervisor decisions (pure)', () => {
  describe('shouldRestart', () => {
    // Expected table straight from OTP's supervisor documentation.
    const expected: Record<RestartType, Record<string, boolean>> = {
      permanent: { normal: true, shutdown: true, killed: true, error: true },
      transient: { normal: false, shutdown: false, killed: true, error: true },
      temporary: { normal: false, shutdown: false, killed: false, error: false },
    };
    for (const restart of RESTARTS) {
      for (const [name, reason] of REASONS) {
        it(`${restart} child after a ${name} exit is ${expected[restart][name] ? '' : 'not '}restarted`, () => {
          expect(shouldRestart(restart, reason)).to.equal(expected[restart][name]);
        });
      }
    }
  });

  describe('planRestart', () => {
    const kids: ChildView[] = [
      { id: 'a', restart: 'permanent' },
      { id: 'b', restart: 'temporary' },
      { id: 'c', restart: 'permanent' },
      { id: 'd', restart: 'transient' },
      { id: 'e', restart: 'temporary' },
    ];

    it('one_for_one touches only the subject', () => {
      expect(planRestart('one_for_one', kids, 'c')).to.deep.equal({ stop: [], remove: [], start: ['c'] });
    });

    it('one_for_all stops every sibling in reverse, drops temporary ones and starts the rest in order', () => {
      expect(planRestart('one_for_all', kids, 'c')).to.deep.equal({
        stop: ['e', 'd', 'b', 'a'],
        remove: ['b', 'e'],
        start: ['a', 'c', 'd'],
      });
    });

    it('rest_for_one stops only the younger siblings and restarts the subject and them in order', () => {
      expect(planRestart('rest_for_one', kids, 'c')).to.deep.equal({
        stop: ['e', 'd'],
        remove: ['e'],
        start: ['c', 'd'],
      });
    });

    it('rest_for_one on the youngest child is the same as one_for_one', () => {
      expect(planRestart('rest_for_one', kids, 'e')).to.deep.equal(planRestart('one_for_one', kids, 'e'));
    });

    it('rejects an unknown subject as a bug', () => {
      expect(() => planRestart('one_for_one', kids, 'zz')).to.throw(/assertion/);
    });

    it('property: every plan stops in reverse start order, starts in start order, never starts a temporary sibling', () => {
      const arb = fc
        .tuple(
          fc.array(fc.constantFrom<RestartType>(...RESTARTS), { minLength: 1, maxLength: 8 }),
          fc.constantFrom<Strategy>(...STRATEGIES),
          fc.nat(),
        )
        .map(([types, strategy, pick]) => {
          const children = types.map((restart, i) => ({ id: `c${i}`, restart }));
          return { children, strategy, subject: children[pick % children.length].id };
        });
      fc.assert(
        fc.property(arb, ({ children, strategy, subject }) => {
          const order = children.map((c) => c.id);
          const plan = planRestart(strategy, children, subject);
          const pos = (id: string) => order.indexOf(id);
          for (let i = 1; i < plan.stop.length; i++) expect(pos(plan.stop[i])).to.be.lessThan(pos(plan.stop[i - 1]));
          for (let i = 1; i < plan.start.length; i++) expect(pos(plan.start[i])).to.be.greaterThan(pos(plan.start[i - 1]));
          expect(plan.start).to.include(subject);
          expect(plan.stop).to.not.include(subject);
          for (const id of plan.start) {
            if (id !== subject) expect(children[pos(id)].restart).to.not.equal('temporary');
          }
          // Everything stopped is either restarted or removed.
          expect([...plan.stop].sort()).to.deep.equal([...plan.start.filter((id) => id !== subject), ...plan.remove].sort());
        }),
        { numRuns: 300 },
      );
    });
  });

  describe('planExit', () => {
    const kids: ChildView[] = [
      { id: 'p', restart: 'permanent' },
      { id: 't', restart: 'transient' },
      { id: 'x', restart: 'temporary' },
    ];

    it('removes a temporary child whatever the reason', () => {
      for (const [, reason] of REASONS) expect(planExit('one_for_all', kids, 'x', reason)).to.deep.equal({ action: 'remove' });
    });

    it('keeps a transient child that ended normally, without touching siblings', () => {
      expect(planExit('one_for_all', kids, 't', 'normal')).to.deep.equal({ action: 'keep' });
      expect(planExit('one_for_all', kids, 't', 'shutdown')).to.deep.equal({ action: 'keep' });
    });

    it('restarts with the strategy plan otherwise', () => {
      expect(planExit('rest_for_one', kids, 'p', 'normal')).to.deep.equal({
        action: 'restart',
        stop: ['x', 't'],
        remove: ['x'],
        start: ['p', 't'],
      });
    });
  });

  describe('recordRestart (intensity window)', () => {
    it('allows exactly `intensity` restarts at one instant and refuses the next', () => {
      let stamps: number[] = [];
      for (let i = 0; i < 3; i++) {
        const r = recordRestart(stamps, 100, 3, 1000);
        expect(r.exceeded, `restart ${i + 1}`).to.equal(false);
        stamps = r.stamps;
      }
      expect(recordRestart(stamps, 100, 3, 1000).exceeded).to.equal(true);
    });

    it('intensity 0 refuses the first restart', () => {
      expect(recordRestart([], 0, 0, 1000).exceeded).to.equal(true);
    });

    it('forgets restarts older than periodMs (a stamp exactly periodMs old still counts)', () => {
      expect(recordRestart([0], 1000, 1, 1000).exceeded).to.equal(true);
      expect(recordRestart([0], 1001, 1, 1000)).to.deep.equal({ stamps: [1001], exceeded: false });
    });

    it('property: agrees with counting the restarts inside the window', () => {
      fc.assert(
        fc.property(
          fc.array(fc.integer({ min: 0, max: 50 }), { minLength: 1, maxLength: 30 }),
          fc.integer({ min: 0, max: 5 }),
          fc.integer({ min: 1, max: 200 }),
          (gaps, intensity, periodMs) => {
            let now = 0;
            let stamps: number[] = [];
            const all: number[] = [];
            for (const gap of gaps) {
              now += gap;
              all.push(now);
              const r = recordRestart(stamps, now, intensity, periodMs);
              const inWindow = all.filter((t) => now - t <= periodMs).length;
              expect(r.exceeded).to.equal(inWindow > intensity);
              if (r.exceeded) return; // the supervisor is gone
              stamps = r.stamps;
            }
          },
        ),
        { numRuns: 300 },
      );
    });
  });
});
