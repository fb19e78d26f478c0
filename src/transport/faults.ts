// Owns fault injection on message links. A FaultInjector sits in front of a delivery function and, per
// directed link from→to, can block (partition), drop with probability p, duplicate, delay by a uniform
// number of milliseconds, or reorder (hold one message back until the next one on the link has passed).
//
// Deterministic: each link draws from its own SeededPrng derived from (seed, from, to), so the decisions on
// a link depend only on the seed and the sequence of messages on that link, not on how links interleave.
// Timers come from the injected Clock, so a simulator with a ManualClock replays a run exactly.
//
// Run-time control: addRule / partition / isolate / heal / applySpec. A role process reads the
// NOKV_FAULTS environment variable at start (faultInjectorFromEnv) — JSON of the FaultSpec shape
// (`{"rules":[]}` starts with no faults; a store then also takes new specs at run time on its metrics port,
// see src/store/faults-route.ts):
//
//   NOKV_FAULTS='{"seed":7,"rules":[
//     {"from":1,"to":"*","drop":0.2},          node 1 loses 20% of what it sends
//     {"from":2,"to":3,"block":true},          2 cannot reach 3 (3 can still reach 2)
//     {"from":"*","to":"*","delayMs":[1,5]},   every message waits 1..5 ms
//     {"from":3,"to":1,"duplicate":0.1,"reorder":0.1}]}'
//
// Every rule matching a link applies: block if any rule blocks; drop probabilities combine as independent
// losses; duplicate and reorder take the largest probability; delay takes the last rule's range.
import type { Clock, TimerHandle } from '../common/clock.js';
import { InvalidArgumentError } from '../common/errors.js';
import { SeededPrng, type Prng } from '../common/prng.js';

export type NodeRef = number | '*';

export interface LinkFaults {
  /** Deliver nothing (partition). */
  block?: boolean;
  /** Probability in [0, 1] that a message is lost. */
  drop?: number;
  /** Probability that a message is delivered twice. */
  duplicate?: number;
  /** Probability that a message is held back and delivered after the next one on the link. */
  reorder?: number;
  /** Inclusive range [min, max] of delay in ms. */
  delayMs?: [number, number];
}

export interface FaultRule extends LinkFaults {
  from: NodeRef;
  to: NodeRef;
}

export interface FaultSpec {
  /** Replaces the injector's seed (and restarts every link's random stream) when given. */
  seed?: number;
  rules: FaultRule[];
}

export interface LinkFaultStats {
  passed: number;
  blocked: number;
  dropped: number;
  duplicated: number;
  delayed: number;
  reordered: number;
}

export interface FaultInjectorOptions {
  seed: number;
  clock: Clock;
  /** How long a held-back (reordered) message waits for a successor before it is released anyway. */
  maxReorderHoldMs?: number;
}

export const DEFAULT_MAX_REORDER_HOLD_MS = 50;
/** Largest delay a rule may ask for; a longer one is a typo that would look like a hang. */
export const MAX_FAULT_DELAY_MS = 60_000;

interface Held {
  deliver: () => void;
  timer: TimerHandle;
}

interface LinkState {
  prng: Prng;
  held?: Held;
  stats: LinkFaultStats;
}

export class FaultInjector {
  private seed: number;
  private readonly clock: Clock;
  private readonly maxReorderHoldMs: number;
  private ruleList: FaultRule[] = [];
  private readonly links = new Map<string, LinkState>();
  private readonly timers = new Set<TimerHandle>();

  constructor(opts: FaultInjectorOptions) {
    this.seed = opts.seed >>> 0;
    this.clock = opts.clock;
    this.maxReorderHoldMs = opts.maxReorderHoldMs ?? DEFAULT_MAX_REORDER_HOLD_MS;
  }

  /** Adds a rule; the returned function removes exactly that rule. */
  addRule(rule: FaultRule): () => void {
    validateRule(rule);
    const copy = { ...rule };
    this.ruleList.push(copy);
    return () => {
      this.ruleList = this.ruleList.filter((r) => r !== copy);
    };
  }

  /** Blocks every link from a node in `a` to a node in `b`, and back unless oneWay. */
  partition(a: readonly number[], b: readonly number[], opts: { oneWay?: boolean } = {}): () => void {
    const removers: (() => void)[] = [];
    for (const x of a) {
      for (const y of b) {
        if (x === y) continue;
        removers.push(this.addRule({ from: x, to: y, block: true }));
        if (!opts.oneWay) removers.push(this.addRule({ from: y, to: x, block: true }));
      }
    }
    return () => removers.forEach((r) => r());
  }

  /** Cuts a node off from everyone, both directions. */
  isolate(node: number): () => void {
    const out = this.addRule({ from: node, to: '*', block: true });
    const inn = this.addRule({ from: '*', to: node, block: true });
    return () => {
      out();
      inn();
    };
  }

  /** Removes every rule. Messages already delayed or held still arrive. */
  heal(): void {
    this.ruleList = [];
  }

  rules(): FaultRule[] {
    return this.ruleList.map((r) => ({ ...r }));
  }

  /** Replaces all rules (and the seed, if the spec has one). */
  applySpec(spec: FaultSpec): void {
    for (const r of spec.rules) validateRule(r);
    if (spec.seed !== undefined) {
      this.seed = spec.seed >>> 0;
      for (const [key, link] of this.links) link.prng = linkPrng(this.seed, key);
    }
    this.ruleList = spec.rules.map((r) => ({ ...r }));
  }

  /** The faults that currently apply to from→to. */
  effective(from: number, to: number): LinkFaults {
    const out: LinkFaults = {};
    let keep = 1;
    for (const r of this.ruleList) {
      if ((r.from !== '*' && r.from !== from) || (r.to !== '*' && r.to !== to)) continue;
      if (r.block) out.block = true;
      if (r.drop) keep *= 1 - r.drop;
      if (r.duplicate) out.duplicate = Math.max(out.duplicate ?? 0, r.duplicate);
      if (r.reorder) out.reorder = Math.max(out.reorder ?? 0, r.reorder);
      if (r.delayMs) out.delayMs = r.delayMs;
    }
    if (keep < 1) out.drop = 1 - keep;
    return out;
  }

  /**
   * Sends item over from→to: calls deliver(item) zero, one or two times, now or later. With no matching rule
   * deliver runs synchronously, exactly once.
   */
  route<T>(from: number, to: number, item: T, deliver: (item: T) => void): void {
    const link = this.link(from, to);
    const f = this.effective(from, to);
    if (f.block) {
      link.stats.blocked++;
      return;
    }
    if (f.drop && link.prng.chance(f.drop)) {
      link.stats.dropped++;
      return;
    }
    const copies = f.duplicate && link.prng.chance(f.duplicate) ? 2 : 1;
    if (copies === 2) link.stats.duplicated++;
    for (let i = 0; i < copies; i++) {
      // Draw every decision now, in a fixed order, so the stream of draws is independent of timing.
      const hold = !!f.reorder && link.prng.chance(f.reorder);
      const delay = f.delayMs ? f.delayMs[0] + link.prng.int(f.delayMs[1] - f.delayMs[0] + 1) : 0;
      const go = () => this.deliverInOrder(link, hold, () => deliver(item));
      if (delay > 0) {
        link.stats.delayed++;
        this.later(delay, go);
      } else {
        go();
      }
    }
  }

  /**
   * Whether from→to is blocked now; a blocked call is counted on the link. For a receive side that honours
   * partitions only: drop, duplicate, delay and reorder were already drawn where the message was sent, so
   * drawing them again on arrival would apply them twice.
   */
  blocks(from: number, to: number): boolean {
    if (!this.effective(from, to).block) return false;
    this.link(from, to).stats.blocked++;
    return true;
  }

  stats(): Record<string, LinkFaultStats> {
    const out: Record<string, LinkFaultStats> = {};
    for (const [key, link] of this.links) out[key] = { ...link.stats };
    return out;
  }

  /** Cancels pending delayed and held messages (they are lost, as on a crash). */
  close(): void {
    for (const t of this.timers) t.cancel();
    this.timers.clear();
    for (const link of this.links.values()) link.held = undefined;
  }

  private deliverInOrder(link: LinkState, hold: boolean, deliver: () => void): void {
    const previous = link.held;
    if (hold && !previous) {
      link.stats.reordered++;
      const held: Held = { deliver, timer: this.later(this.maxReorderHoldMs, () => this.release(link, held)) };
      link.held = held;
      return;
    }
    link.stats.passed++;
    deliver();
    if (previous) this.release(link, previous);
  }

  private release(link: LinkState, held: Held): void {
    if (link.held !== held) return;
    link.held = undefined;
    held.timer.cancel();
    this.timers.delete(held.timer);
    link.stats.passed++;
    held.deliver();
  }

  private later(delayMs: number, fn: () => void): TimerHandle {
    const handle: TimerHandle = this.clock.setTimer(delayMs, () => {
      this.timers.delete(handle);
      fn();
    });
    this.timers.add(handle);
    return handle;
  }

  private link(from: number, to: number): LinkState {
    const key = `${from}->${to}`;
    let link = this.links.get(key);
    if (!link) {
      link = {
        prng: linkPrng(this.seed, key),
        stats: { passed: 0, blocked: 0, dropped: 0, duplicated: 0, delayed: 0, reordered: 0 },
      };
      this.links.set(key, link);
    }
    return link;
  }
}

/** A link's own generator: a 32-bit FNV-1a of the link key, mixed with the seed. */
function linkPrng(seed: number, key: string): Prng {
  let h = 0x811c9dc5 ^ seed;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  return new SeededPrng(h >>> 0);
}

function validateRule(r: FaultRule): void {
  const isRef = (v: unknown) => v === '*' || (typeof v === 'number' && Number.isInteger(v));
  if (!isRef(r.from) || !isRef(r.to)) throw new InvalidArgumentError(`fault rule needs from/to node ids or "*": ${JSON.stringify(r)}`);
  for (const p of ['drop', 'duplicate', 'reorder'] as const) {
    const v = r[p];
    if (v !== undefined && !(typeof v === 'number' && v >= 0 && v <= 1)) {
      throw new InvalidArgumentError(`fault rule ${p} must be a probability in [0, 1]: ${JSON.stringify(r)}`);
    }
  }
  if (r.block !== undefined && typeof r.block !== 'boolean') throw new InvalidArgumentError(`fault rule block must be boolean`);
  if (r.delayMs !== undefined) {
    const d = r.delayMs;
    const ok = Array.isArray(d) && d.length === 2 && d.every((x) => Number.isInteger(x) && x >= 0) && d[0] <= d[1] && d[1] <= MAX_FAULT_DELAY_MS;
    if (!ok) throw new InvalidArgumentError(`fault rule delayMs must be [min, max] integers within 0..${MAX_FAULT_DELAY_MS}`);
  }
}

/** Parses and validates a FaultSpec from JSON text. */
export function parseFaultSpec(text: string): FaultSpec {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new InvalidArgumentError(`fault spec is not JSON: ${(err as Error).message}`);
  }
  const spec = value as FaultSpec;
  if (!spec || typeof spec !== 'object' || !Array.isArray(spec.rules)) {
    throw new InvalidArgumentError('fault spec must be an object with a "rules" array');
  }
  if (spec.seed !== undefined && !Number.isInteger(spec.seed)) throw new InvalidArgumentError('fault spec seed must be an integer');
  for (const r of spec.rules) validateRule(r);
  return { seed: spec.seed, rules: spec.rules };
}

/** The env variable role processes read their initial faults from. */
export const FAULTS_ENV = 'NOKV_FAULTS';

/** An injector configured from NOKV_FAULTS, or undefined when the variable is unset or empty. */
export function faultInjectorFromEnv(clock: Clock, env: NodeJS.ProcessEnv = process.env, defaultSeed = 1): FaultInjector | undefined {
  const text = env[FAULTS_ENV];
  if (!text) return undefined;
  const spec = parseFaultSpec(text);
  const injector = new FaultInjector({ seed: spec.seed ?? defaultSeed, clock });
  injector.applySpec({ rules: spec.rules });
  return injector;
}
