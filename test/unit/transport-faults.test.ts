// The fault layer on a ManualClock: each fault does what it says, healing restores delivery, and a seed
// fixes every decision.
import { expect } from 'chai';
import { ManualClock } from '../../src/common/clock.js';
import { InvalidArgumentError } from '../../src/common/errors.js';
import { FaultInjector, faultInjectorFromEnv, parseFaultSpec, type FaultRule } from '../../src/transport/index.js';

function harness(seed = 1) {
  const clock = new ManualClock();
  const faults = new FaultInjector({ seed, clock });
  const got: string[] = [];
  const send = (from: number, to: number, item: string) => faults.route(from, to, item, (x) => got.push(`${from}->${to}:${x}`));
  return { clock, faults, got, send };
}

describe('transport: fault injection', () => {
  it('delivers synchronously and exactly once when no rule matches', () => {
    const { got, send } = harness();
    send(1, 2, 'a');
    expect(got).to.deep.equal(['1->2:a']);
  });

  it('drops everything on a link with drop 1 and counts it, leaving other links alone', () => {
    const { faults, got, send } = harness();
    faults.addRule({ from: 1, to: 2, drop: 1 });
    for (let i = 0; i < 10; i++) send(1, 2, `m${i}`);
    send(2, 1, 'back');
    expect(got).to.deep.equal(['2->1:back']);
    expect(faults.stats()['1->2'].dropped).to.equal(10);
  });

  it('partition blocks both directions, a one-way partition only one, and heal restores delivery', () => {
    const { faults, got, send } = harness();
    const undo = faults.partition([1], [2, 3]);
    send(1, 2, 'x'); send(2, 1, 'x'); send(3, 1, 'x'); send(2, 3, 'ok');
    expect(got).to.deep.equal(['2->3:ok']);
    undo();
    faults.partition([1], [2], { oneWay: true });
    send(1, 2, 'y'); send(2, 1, 'y');
    expect(got).to.deep.equal(['2->3:ok', '2->1:y']);
    faults.heal();
    send(1, 2, 'z');
    expect(got.at(-1)).to.equal('1->2:z');
    expect(faults.stats()['1->2'].blocked).to.equal(2);
  });

  it('isolate cuts a node off in both directions', () => {
    const { faults, got, send } = harness();
    faults.isolate(3);
    send(3, 1, 'a'); send(1, 3, 'b'); send(1, 2, 'c');
    expect(got).to.deep.equal(['1->2:c']);
  });

  it('duplicate 1 delivers every message twice', () => {
    const { faults, got, send } = harness();
    faults.addRule({ from: '*', to: '*', duplicate: 1 });
    send(1, 2, 'a');
    expect(got).to.deep.equal(['1->2:a', '1->2:a']);
  });

  it('reorder holds a message until the next one on its link has passed', () => {
    const { faults, got, send } = harness();
    faults.addRule({ from: 1, to: 2, reorder: 1 });
    for (const m of ['1', '2', '3', '4']) send(1, 2, m);
    expect(got.map((g) => g.split(':')[1])).to.deep.equal(['2', '1', '4', '3']);
  });

  it('releases a held message after the hold limit even when nothing follows it', () => {
    const { clock, faults, got, send } = harness();
    faults.addRule({ from: 1, to: 2, reorder: 1 });
    send(1, 2, 'lonely');
    expect(got).to.deep.equal([]);
    clock.advance(50);
    expect(got).to.deep.equal(['1->2:lonely']);
  });

  it('delays messages within the configured range on the injected clock', () => {
    const { clock, faults, got, send } = harness();
    faults.addRule({ from: 1, to: 2, delayMs: [10, 20] });
    for (let i = 0; i < 20; i++) send(1, 2, `m${i}`);
    clock.advance(9);
    expect(got).to.have.length(0);
    clock.advance(11);
    expect(got).to.have.length(20);
    expect(faults.stats()['1->2'].delayed).to.equal(20);
  });

  it('close cancels delayed messages', () => {
    const { clock, faults, got, send } = harness();
    faults.addRule({ from: 1, to: 2, delayMs: [5, 5] });
    send(1, 2, 'a');
    faults.close();
    clock.advance(100);
    expect(got).to.deep.equal([]);
    expect(clock.pending()).to.equal(0);
  });

  const chaos: FaultRule = { from: '*', to: '*', drop: 0.3, duplicate: 0.2, reorder: 0.2, delayMs: [0, 10] };
  const run = (seed: number, interleave: boolean) => {
    const h = harness(seed);
    h.faults.addRule(chaos);
    for (let i = 0; i < 300; i++) {
      h.send(1, 2, `a${i}`);
      if (interleave) h.send(3, 1, `b${i}`);
      h.clock.advance(1);
    }
    h.clock.advance(100);
    return h.got.filter((g) => g.startsWith('1->2'));
  };

  it('makes the same decisions for the same seed, different ones for another seed', () => {
    const a = run(7, false);
    expect(a).to.deep.equal(run(7, false));
    expect(a).to.not.deep.equal(run(8, false));
    expect(a.length).to.be.within(150, 300);
  });

  it("keeps a link's decisions independent of traffic on other links", () => {
    expect(run(7, true)).to.deep.equal(run(7, false));
  });

  it('combines rules: independent drops multiply, any block blocks', () => {
    const { faults } = harness();
    faults.addRule({ from: 1, to: '*', drop: 0.5 });
    faults.addRule({ from: '*', to: 2, drop: 0.5 });
    expect(faults.effective(1, 2).drop).to.be.closeTo(0.75, 1e-9);
    expect(faults.effective(1, 3).drop).to.equal(0.5);
    faults.addRule({ from: '*', to: '*', block: true });
    expect(faults.effective(4, 5).block).to.equal(true);
  });

  it('parses NOKV_FAULTS and rejects malformed specs', () => {
    const clock = new ManualClock();
    expect(faultInjectorFromEnv(clock, {})).to.equal(undefined);
    const inj = faultInjectorFromEnv(clock, { NOKV_FAULTS: '{"seed":3,"rules":[{"from":2,"to":3,"block":true}]}' });
    expect(inj?.rules()).to.deep.equal([{ from: 2, to: 3, block: true }]);
    expect(() => parseFaultSpec('{')).to.throw(InvalidArgumentError);
    expect(() => parseFaultSpec('{"rules":[{"from":1,"to":2,"drop":1.5}]}')).to.throw(InvalidArgumentError, /probability/);
    expect(() => parseFaultSpec('{"rules":[{"from":"x","to":2}]}')).to.throw(InvalidArgumentError);
    expect(() => parseFaultSpec('{"rules":[{"from":1,"to":2,"delayMs":[5,1]}]}')).to.throw(InvalidArgumentError);
  });

  it('applySpec replaces the rules at run time', () => {
    const { faults, got, send } = harness();
    faults.addRule({ from: 1, to: 2, block: true });
    faults.applySpec({ rules: [{ from: 2, to: 1, block: true }] });
    send(1, 2, 'a');
    send(2, 1, 'b');
    expect(got).to.deep.equal(['1->2:a']);
  });
});
