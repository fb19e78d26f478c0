// Owns the one retry/backoff policy of the code base: a deadline per attempt, a budget for the whole call, an
// attempt cap, and exponential backoff with jitter drawn from an injected Prng. Every sleep and every reading
// of time goes through an injected Clock, so a simulator decides when a backing-off caller wakes and one seed
// replays the same attempt times. Which errors are worth another attempt, and whether the next one may go at
// once (a leader hint, another endpoint of the round) or must back off first, is the caller's decision.
//
// Two shapes share the policy: retrying() for an async call, and Backoff for an actor or a scheduler that
// re-arms a timer itself (the next delay grows until reset() after a success).
import { KeepAliveClock, type Clock } from './clock.js';
import { InvalidArgumentError, UnavailableError } from './errors.js';
import type { Prng } from './prng.js';

export interface RetryPolicy {
  /** One attempt; the loop hands each attempt min(this, what is left of the budget). */
  attemptDeadlineMs: number;
  /** The whole call, attempts and backoff sleeps included (Infinity: only maxAttempts bounds it). */
  callBudgetMs: number;
  /** First backoff; doubles per backoff up to backoffMaxMs. */
  backoffBaseMs: number;
  backoffMaxMs: number;
  /** Each sleep is scaled by a factor drawn uniformly from [1 - jitter, 1 + jitter); default 0.25, 0 = none. */
  jitter?: number;
  /** Attempts per call, whatever the budget (default: no cap). */
  maxAttempts?: number;
}

export const DEFAULT_JITTER = 0.25;

/** The backoff part of a policy, for code that only sleeps between its own retries. */
export type BackoffPolicy = Pick<RetryPolicy, 'backoffBaseMs' | 'backoffMaxMs' | 'jitter'>;

/** Stands in for a Prng where a policy has no jitter (backoffMs never draws then). */
const NO_JITTER = {} as Prng;

/** The prng a policy's sleeps draw from: only a policy without jitter may go without one. */
function jitterSource(policy: Pick<RetryPolicy, 'jitter'>, prng: Prng | undefined): Prng {
  if (prng) return prng;
  if ((policy.jitter ?? DEFAULT_JITTER) > 0) throw new InvalidArgumentError('a jittered backoff needs a prng');
  return NO_JITTER;
}

/**
 * The jittered sleep before backoff number `n` (0-based) of one call: min(max, base * 2^n) scaled by
 * 1 ± jitter. Draws from `prng` only when there is jitter, so a policy without it leaves the sequence alone.
 */
export function backoffMs(policy: BackoffPolicy, n: number, prng?: Prng): number {
  const base = Math.min(policy.backoffMaxMs, policy.backoffBaseMs * 2 ** Math.min(Math.max(0, n), 30));
  const jitter = policy.jitter ?? DEFAULT_JITTER;
  return jitter > 0 ? base * (1 - jitter + jitterSource(policy, prng).next() * 2 * jitter) : base;
}

/** A growing delay for code that schedules its own retries (actors, control loops): next(), then reset(). */
export class Backoff {
  private n = 0;
  /** `prng` may be left out only by a policy without jitter. */
  constructor(
    private readonly policy: BackoffPolicy,
    private readonly prng: Prng = jitterSource(policy, undefined),
  ) {}
  /** The delay before the next retry; each call grows the one after it. */
  next(): number {
    return backoffMs(this.policy, this.n++, this.prng);
  }
  /** Backoffs taken since the last reset. */
  get count(): number {
    return this.n;
  }
  reset(): void {
    this.n = 0;
  }
}

/**
 * Time for retries when the caller injects none: real time with ref'd timers, so a command-line client that
 * is waiting out a backoff stays alive (SystemClock unrefs its timers).
 */
export const RETRY_SYSTEM_CLOCK: Clock = new KeepAliveClock();

/** Resolves after ms on `clock` (at once for ms <= 0, without a timer). */
export function sleep(clock: Clock, ms: number): Promise<void> {
  if (!(ms > 0)) return Promise.resolve();
  return new Promise((resolve) => clock.setTimer(ms, () => resolve()));
}

/** What the caller makes of a failed attempt: give up with this error, try again at once, or back off first. */
export type Verdict = 'stop' | 'now' | 'backoff';

export interface AttemptInfo {
  /** 0-based attempt number within the call. */
  n: number;
  /** The deadline this attempt gets: the policy's, cut to what is left of the budget (> 0). */
  deadlineMs: number;
}

export interface RetryOptions<T> {
  policy: RetryPolicy;
  /** Jitter source; may be left out only by a policy without jitter. */
  prng?: Prng;
  /** Default: RETRY_SYSTEM_CLOCK. */
  clock?: Clock;
  attempt: (a: AttemptInfo) => Promise<T>;
  /** Called once per failed attempt, in order; may update the caller's routing (next endpoint, leader). */
  onFailure: (err: unknown, a: AttemptInfo) => Verdict | Promise<Verdict>;
  /** Told before each backoff sleep (after it was cut to the budget). */
  onBackoff?: (waitMs: number, err: unknown) => void;
  /**
   * The error thrown when the budget or the attempt cap ran out; gets the last attempt's error (undefined if
   * no attempt ran). Default: that error itself.
   */
  exhausted?: (lastErr: unknown) => unknown;
}

/**
 * Runs attempts until one succeeds, onFailure says 'stop' (its error is thrown as is), the budget is spent
 * or maxAttempts ran. A backoff sleep never outlasts the budget.
 */
export async function retrying<T>(o: RetryOptions<T>): Promise<T> {
  const { policy } = o;
  const prng = jitterSource(policy, o.prng);
  const clock = o.clock ?? RETRY_SYSTEM_CLOCK;
  const maxAttempts = policy.maxAttempts ?? Infinity;
  const started = clock.now();
  const left = () => policy.callBudgetMs - (clock.now() - started);
  let backoffs = 0;
  let lastErr: unknown;
  for (let n = 0; n < maxAttempts; n++) {
    const remaining = left();
    if (remaining <= 0) break;
    const info: AttemptInfo = { n, deadlineMs: Math.min(policy.attemptDeadlineMs, remaining) };
    try {
      return await o.attempt(info);
    } catch (err) {
      lastErr = err;
      const verdict = await o.onFailure(err, info);
      if (verdict === 'stop') throw err;
      if (verdict === 'now' || n + 1 >= maxAttempts) continue;
      const wait = Math.min(backoffMs(policy, backoffs++, prng), Math.max(0, left()));
      o.onBackoff?.(wait, err);
      await sleep(clock, wait);
    }
  }
  if (o.exhausted) throw o.exhausted(lastErr);
  throw lastErr ?? new UnavailableError(`no attempt within a budget of ${policy.callBudgetMs} ms`);
}
