// Owns hand-made and generated register histories for testing the checker: a compact builder for literal
// histories, and a generator that takes a sequential execution and spreads each operation over a random
// real-time interval around its linearization point (so the result is linearizable by construction).
import type { Operation, OpKind, Outcome, RegisterValue } from './history.js';
import type { Prng } from '../../../src/common/prng.js';

export interface OpSpec {
  p?: number;
  key?: string;
  f: OpKind;
  value?: RegisterValue;
  from?: RegisterValue;
  to?: RegisterValue;
  read?: RegisterValue;
  swapped?: boolean;
  outcome?: Outcome;
  /** [invoke, complete]; complete is ignored for `info`. */
  at: [number, number];
}

/** A literal history: one line per operation, times are logical. */
export function history(specs: OpSpec[]): Operation[] {
  return specs.map((s, id) => {
    const outcome = s.outcome ?? 'ok';
    const op: Operation = { id, process: s.p ?? id, key: s.key ?? 'k', f: s.f, outcome, invokeAt: s.at[0], invokeMs: 0 };
    if (s.value !== undefined) op.value = s.value;
    if (s.from !== undefined) op.from = s.from;
    if (s.to !== undefined) op.to = s.to;
    if (s.read !== undefined) op.read = s.read;
    if (s.swapped !== undefined) op.swapped = s.swapped;
    if (outcome !== 'info') op.completeAt = s.at[1];
    return op;
  });
}

export interface GeneratedHistory {
  ops: Operation[];
  /** Every value any operation tried to write. */
  written: Set<string>;
}

/**
 * A sequential execution of `count` random operations on one register, each then stretched to a random
 * interval containing its linearization point (spread = the largest stretch, in units of one step). Some
 * writes and CASes become indeterminate (`info`) whether or not they took effect; ones that did not take
 * effect are extra operations nobody observes.
 */
export function generateLinearizable(prng: Prng, count: number, spread: number, key = 'k'): GeneratedHistory {
  const ops: Operation[] = [];
  const written = new Set<string>();
  let state: RegisterValue = null;
  const values: RegisterValue[] = [null];
  const STEP = 1_000;
  const stretch = (point: number) => {
    // Offsets are fractional and distinct with overwhelming probability, so no two events share a time.
    const before = prng.next() * spread * STEP;
    const after = prng.next() * spread * STEP;
    return [point - before, point + after] as const;
  };
  for (let i = 0; i < count; i++) {
    const point = (i + 1) * STEP;
    const [invokeAt, completeAt] = stretch(point);
    const base = { id: ops.length, process: i, key, invokeAt, completeAt, invokeMs: 0 };
    const roll = prng.int(10);
    if (roll < 4) {
      ops.push({ ...base, f: 'read', read: state, outcome: 'ok' });
    } else if (roll < 7) {
      const value = `w${i}`;
      written.add(value);
      values.push(value);
      state = value;
      ops.push(indeterminateMaybe(prng, { ...base, f: 'write', value, outcome: 'ok' }));
    } else {
      const from = prng.chance(0.6) ? state : values[prng.int(values.length)]!;
      const to = `c${i}`;
      written.add(to);
      const swapped = state === from;
      if (swapped) {
        state = to;
        values.push(to);
      }
      ops.push(indeterminateMaybe(prng, { ...base, f: 'cas', from, to, swapped, outcome: 'ok' }));
    }
  }
  // Writes that never took effect and whose callers never learned it.
  for (let i = 0; i < Math.max(1, count >> 3); i++) {
    const value = `lost${i}`;
    written.add(value);
    const invokeAt = prng.next() * (count + 1) * STEP;
    ops.push({ id: ops.length, process: count + i, key, f: 'write', value, outcome: 'info', invokeAt, invokeMs: 0 });
  }
  return { ops, written };
}

function indeterminateMaybe(prng: Prng, op: Operation): Operation {
  if (!prng.chance(0.15)) return op;
  const { completeAt: _c, swapped: _s, ...rest } = op;
  return { ...rest, outcome: 'info' };
}
