// The ID and TSO window allocators: values strictly increase, never leave the fenced window, and a new era
// starts above the rooted fence.
import { expect } from 'chai';
import fc from 'fast-check';
import { ID_WINDOW, TSO_WINDOW_MS, WindowAllocator, idPolicy, physicalOf, tsoOf, tsoPolicy } from '../../src/coordinator/allocator.js';

describe('coordinator window allocators', () => {
  it('asks for one fence per ID window and then serves from it', () => {
    const a = new WindowAllocator(idPolicy);
    a.reset('0');
    const plan = a.plan(1, 0);
    expect(plan).to.deep.equal({ kind: 'fence', minimum: ID_WINDOW });
    a.raised(ID_WINDOW);
    const firsts: bigint[] = [];
    for (let i = 0; i < Number(ID_WINDOW); i++) {
      const p = a.plan(1, 0);
      expect(p.kind).to.equal('serve');
      if (p.kind === 'serve') firsts.push(p.first);
    }
    expect(firsts[0]).to.equal(1n);
    expect(firsts.at(-1)).to.equal(ID_WINDOW);
    expect(a.plan(1, 0).kind).to.equal('fence');
  });

  it('a successor era starts above the rooted fence', () => {
    const a = new WindowAllocator(idPolicy);
    a.reset('12345');
    a.raised(20_000n);
    const p = a.plan(3, 0);
    expect(p).to.deep.equal({ kind: 'serve', first: 12346n });
  });

  it('TSO follows physical time and is hybrid (ms << 18 | logical)', () => {
    const a = new WindowAllocator(tsoPolicy);
    a.reset('0');
    const now = 1_700_000_000_000;
    const p = a.plan(1, now);
    expect(p.kind).to.equal('fence');
    if (p.kind === 'fence') expect(physicalOf(p.minimum)).to.equal(now + TSO_WINDOW_MS);
    a.raised(tsoOf(now + TSO_WINDOW_MS));
    const s1 = a.plan(1, now);
    const s2 = a.plan(1, now);
    expect(s1).to.deep.equal({ kind: 'serve', first: tsoOf(now) });
    expect(s2).to.deep.equal({ kind: 'serve', first: tsoOf(now, 1n) });
    const later = a.plan(1, now + 10);
    expect(later).to.deep.equal({ kind: 'serve', first: tsoOf(now + 10) });
  });

  it('TSO of a successor stays above the predecessor fence even when its clock is behind', () => {
    const a = new WindowAllocator(tsoPolicy);
    const fence = tsoOf(2_000_000, 5n);
    a.reset(fence.toString());
    a.raised(tsoOf(3_000_000));
    const p = a.plan(1, 1_000_000);
    expect(p).to.deep.equal({ kind: 'serve', first: fence + 1n });
  });

  it('property: across eras and refills, served values strictly increase and stay within the fence', () => {
    const op = fc.oneof(
      fc.record({ t: fc.constant('plan' as const), count: fc.integer({ min: 1, max: 50 }), dt: fc.integer({ min: -5, max: 20 }) }),
      fc.record({ t: fc.constant('era' as const) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 200 }), fc.boolean(), (ops, useTso) => {
        const policy = useTso ? tsoPolicy : idPolicy;
        let rootedFence = 0n;
        let now = 1_000_000;
        let last = -1n;
        let a = new WindowAllocator(policy);
        a.reset('0');
        for (const o of ops) {
          if (o.t === 'era') {
            a = new WindowAllocator(policy);
            a.reset(rootedFence.toString());
            continue;
          }
          now += o.dt;
          let p = a.plan(o.count, now);
          if (p.kind === 'fence') {
            if (p.minimum > rootedFence) rootedFence = p.minimum;
            a.raised(p.minimum);
            p = a.plan(o.count, now);
          }
          if (p.kind !== 'serve') return false;
          if (p.first <= last) return false;
          last = p.first + BigInt(o.count) - 1n;
          if (last > rootedFence) return false;
        }
        return true;
      }),
      { numRuns: 200 },
    );
  });
});
