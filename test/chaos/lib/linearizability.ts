// Owns the linearizability checker for a history of register operations (read, write, compare-and-set) on
// many keys. Linearizability is local (Herlihy & Wing), so each key is checked on its own.
//
// The search is Wing & Gong's, with Lowe's memoisation: walk a list of call/return entries in real-time
// order; at a call, try to linearize that operation now (the model must accept it from the current state) and
// remove it from the list; at a return whose call was not linearized yet, nothing earlier can be reordered to
// fit, so backtrack. A (set of linearized operations, model state) pair that was already explored is never
// explored again — that is what keeps the search from going exponential on long concurrent histories.
//
// Indeterminate operations (`info`: a timeout, UNAVAILABLE after sending) return at +∞: they may take effect
// at any point after their invocation, or never. "Never" needs no special case: the search succeeds once every
// `ok` operation is linearized, and whatever indeterminate operations are left are placed after the end.
// Reads that did not complete carry no information and are left out, as are operations that certainly
// failed.
//
// Two exact reductions keep indeterminate operations from multiplying the search space:
// - Values nobody observes (no read returned them, no CAS expected them) behave identically in the model,
//   so they are all replaced by one `UNOBSERVED` value (a bisimulation: every comparison the model makes is
//   against an observed value).
// - Indeterminate operations with the same effect (same kind, expected and written value after that
//   replacement) are interchangeable once invoked, because they all return at +∞; the search linearizes
//   them only in invocation order, so k of them cost k states instead of 2^k.
import { describeOp, type Operation, type RegisterValue } from './history.js';

/** Search steps per key before the checker gives up and answers "unknown" (a limit, not a verdict). */
export const MAX_SEARCH_STEPS_PER_KEY = 5_000_000;
/** Operations shown around a violation in a report. */
export const REPORT_WINDOW_OPS = 12;

export interface KeyVerdict {
  key: string;
  valid: true | false | 'unknown';
  ops: number;
  steps: number;
  /** When invalid: the operation no linearization of the preceding ones can fit, and a readable excerpt. */
  culprit?: Operation;
  report?: string;
}

export interface Verdict {
  valid: true | false | 'unknown';
  keys: KeyVerdict[];
}

/** Stands for every value no operation observes (see the header). */
const UNOBSERVED = '\u0000unobserved';

interface Entry {
  op: Operation;
  /** Interchangeable indeterminate ops share a group; -1 for ops that are unique. */
  group: number;
  /** Position within the group, in invocation order. */
  rank: number;
  /** Position of the op in the key's op list: its bit in the linearized set. */
  index: number;
  isCall: boolean;
  time: number;
  match?: Entry;
  prev?: Entry;
  next?: Entry;
}

interface Frame {
  entry: Entry;
  /** The state before entry's op was linearized. */
  state: RegisterValue;
  /** The op did not change the state. */
  pure: boolean;
}

/** The register model: the states an operation may leave behind from `state` (empty = not allowed). */
export function stepRegister(state: RegisterValue, op: Operation): RegisterValue | undefined {
  switch (op.f) {
    case 'read':
      return op.read === state ? state : undefined;
    case 'write':
      return op.value ?? null;
    case 'cas':
      if (op.outcome === 'info') return state === op.from ? (op.to ?? null) : state;
      if (op.swapped) return state === op.from ? (op.to ?? null) : undefined;
      return state !== op.from ? state : undefined;
  }
}

/** Operations of one key that constrain the search. */
function relevant(ops: Operation[]): Operation[] {
  return ops.filter((o) => o.outcome === 'ok' || (o.outcome === 'info' && o.f !== 'read'));
}

/** The ops with unobserved written values replaced, and the group of each (see the header). */
function reduce(ops: Operation[]): { ops: Operation[]; groups: number[]; ranks: number[] } {
  const observed = new Set<RegisterValue>([null]);
  for (const o of ops) {
    if (o.f === 'read') observed.add(o.read ?? null);
    if (o.f === 'cas') observed.add(o.from ?? null);
  }
  const hide = (v: RegisterValue | undefined) => (observed.has(v ?? null) ? (v ?? null) : UNOBSERVED);
  const reduced = ops.map((o) => (o.f === 'write' ? { ...o, value: hide(o.value) } : o.f === 'cas' ? { ...o, to: hide(o.to) } : o));
  const groupIds = new Map<string, number>();
  const sizes: number[] = [];
  const groups: number[] = [];
  const ranks: number[] = [];
  const byInvoke = reduced.map((o, i) => i).sort((a, b) => reduced[a]!.invokeAt - reduced[b]!.invokeAt);
  for (const i of byInvoke) {
    const o = reduced[i]!;
    if (o.outcome !== 'info') {
      groups[i] = -1;
      ranks[i] = 0;
      continue;
    }
    const sig = JSON.stringify([o.f, o.value ?? null, o.from ?? null, o.to ?? null]);
    let g = groupIds.get(sig);
    if (g === undefined) {
      g = sizes.length;
      groupIds.set(sig, g);
      sizes.push(0);
    }
    groups[i] = g;
    ranks[i] = sizes[g]!++;
  }
  return { ops: reduced, groups, ranks };
}

function buildEntries(ops: Operation[], groups: number[], ranks: number[]): Entry {
  const entries: Entry[] = [];
  ops.forEach((op, index) => {
    const group = groups[index]!;
    const rank = ranks[index]!;
    const call: Entry = { op, index, group, rank, isCall: true, time: op.invokeAt };
    const ret: Entry = { op, index, group, rank, isCall: false, time: op.outcome === 'ok' ? op.completeAt! : Number.POSITIVE_INFINITY };
    call.match = ret;
    entries.push(call, ret);
  });
  // Calls before returns at equal times: treating a tie as overlap can only accept more, never reject.
  entries.sort((a, b) => a.time - b.time || (a.isCall === b.isCall ? 0 : a.isCall ? -1 : 1));
  const head: Entry = { op: undefined as unknown as Operation, index: -1, group: -1, rank: 0, isCall: false, time: Number.NEGATIVE_INFINITY };
  let prev = head;
  for (const e of entries) {
    prev.next = e;
    e.prev = prev;
    prev = e;
  }
  return head;
}

function lift(e: Entry): void {
  e.prev!.next = e.next;
  if (e.next) e.next.prev = e.prev;
  const m = e.match!;
  m.prev!.next = m.next;
  if (m.next) m.next.prev = m.prev;
}

function unlift(e: Entry): void {
  const m = e.match!;
  m.prev!.next = m;
  if (m.next) m.next.prev = m;
  e.prev!.next = e;
  if (e.next) e.next.prev = e;
}

/** Checks one key's operations against a register that starts absent (null). */
export function checkKey(key: string, allOps: Operation[], maxSteps = MAX_SEARCH_STEPS_PER_KEY): KeyVerdict {
  const original = relevant(allOps);
  const { ops, groups, ranks } = reduce(original);
  const head = buildEntries(ops, groups, ranks);
  /** Per group: how many of its ops (a prefix in invocation order) are linearized. */
  const groupDone = new Array<number>(Math.max(0, ...groups) + 1).fill(0);
  const bits = new Uint32Array(Math.ceil(ops.length / 32) + 1);
  const seen = new Set<string>();
  const stack: Frame[] = [];
  let remainingOk = ops.filter((o) => o.outcome === 'ok').length;
  let state: RegisterValue = null;
  let entry = head.next;
  let steps = 0;
  // The deepest point the search reached and the return it could not get past: the best explanation.
  let deepest = { depth: -1, culprit: undefined as Operation | undefined, state: null as RegisterValue, linearized: [] as Operation[] };

  while (remainingOk > 0) {
    if (++steps > maxSteps) return { key, valid: 'unknown', ops: ops.length, steps };
    if (!entry) throw new Error('linearizability search ran off the end of the history');
    if (entry.isCall) {
      const canonical = entry.group < 0 || groupDone[entry.group] === entry.rank;
      let next: RegisterValue | undefined = canonical ? stepRegister(state, entry.op) : undefined;
      // An indeterminate op that would change nothing here is as good as never happening, which the search
      // always allows; placing it now would only hide the later placement where it does take effect.
      if (next === state && entry.op.outcome === 'info') next = undefined;
      if (next !== undefined) {
        bits[entry.index >> 5]! ^= 1 << (entry.index & 31);
        const memo = `${bits.join(',')}|${next === null ? '\u0000' : next}`;
        if (!seen.has(memo)) {
          seen.add(memo);
          stack.push({ entry, state, pure: next === state });
          state = next;
          if (entry.op.outcome === 'ok') remainingOk--;
          if (entry.group >= 0) groupDone[entry.group]!++;
          lift(entry);
          entry = head.next;
          continue;
        }
        bits[entry.index >> 5]! ^= 1 << (entry.index & 31);
      }
      entry = entry.next;
      continue;
    }
    // A return whose call is still in the list: this operation cannot be placed after what is linearized.
    if (stack.length > deepest.depth) deepest = { depth: stack.length, culprit: original[entry.index]!, state, linearized: stack.slice(-5).map((s) => original[s.entry.index]!) };
    let top: Frame | undefined;
    // Undo until a choice with an alternative worth trying. A completed op that left the state unchanged (a
    // matching read, a CAS that did not match) has none: placing it later instead cannot help — every op that had
    // to precede it was already linearized when it was chosen — so the search backs over it at once.
    do {
      top = stack.pop();
      if (!top) return invalid(key, original, steps, deepest);
      state = top.state;
      bits[top.entry.index >> 5]! ^= 1 << (top.entry.index & 31);
      if (top.entry.op.outcome === 'ok') remainingOk++;
      if (top.entry.group >= 0) groupDone[top.entry.group]!--;
      unlift(top.entry);
    } while (top.pure);
    entry = top.entry.next;
  }
  return { key, valid: true, ops: ops.length, steps };
}

function invalid(key: string, ops: Operation[], steps: number, deepest: { culprit?: Operation; state: RegisterValue; linearized: Operation[] }): KeyVerdict {
  const culprit = deepest.culprit!;
  const byInvoke = [...ops].sort((a, b) => a.invokeAt - b.invokeAt);
  const at = byInvoke.indexOf(culprit);
  const window = byInvoke.slice(Math.max(0, at - REPORT_WINDOW_OPS), at + REPORT_WINDOW_OPS);
  const tail = deepest.linearized.map((o) => `    ${describeOp(o)}`);
  const report = [
    `key ${key}: no linearization reaches past ${describeOp(culprit)}`,
    `  the deepest partial linearization ends in state ${deepest.state === UNOBSERVED ? '<a value nobody read>' : JSON.stringify(deepest.state)}, after:`,
    ...tail,
    `  history around it (by invocation):`,
    ...window.map((o) => `  ${o === culprit ? '>' : ' '} ${describeOp(o)}`),
  ].join('\n');
  return { key, valid: false, ops: ops.length, steps, culprit, report };
}

/** Checks every key of a history. Invalid if any key is; unknown if none is invalid and some search gave up. */
export function checkHistory(history: Operation[], maxStepsPerKey = MAX_SEARCH_STEPS_PER_KEY): Verdict {
  const byKey = new Map<string, Operation[]>();
  for (const op of history) {
    let list = byKey.get(op.key);
    if (!list) byKey.set(op.key, (list = []));
    list.push(op);
  }
  const keys = [...byKey].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([k, ops]) => checkKey(k, ops, maxStepsPerKey));
  const valid = keys.some((k) => k.valid === false) ? false : keys.some((k) => k.valid === 'unknown') ? 'unknown' : true;
  return { valid, keys };
}
