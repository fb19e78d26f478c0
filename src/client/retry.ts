// Owns the retry loop of the public clients: a whole-call budget, a deadline per attempt, failover across
// endpoints, and exponential backoff with jitter once every endpoint of a round has failed. Which errors are
// worth another attempt is the caller's decision (a read retries more than a write that may have applied).
import { NokvError, UnavailableError } from '../common/errors.js';
import type { Prng } from '../common/prng.js';
import type { Clock } from '../common/clock.js';

export interface RetryPolicy {
  /** One attempt against one endpoint. */
  attemptDeadlineMs: number;
  /** The whole call: attempts and backoff included. */
  callBudgetMs: number;
  /** First backoff after a failed round; doubles up to backoffMaxMs, each sleep scaled by 0.75..1.25. */
  backoffBaseMs: number;
  backoffMaxMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = { attemptDeadlineMs: 5_000, callBudgetMs: 15_000, backoffBaseMs: 25, backoffMaxMs: 1_000 };

/** The jittered sleep before round `round` (0-based) of a call. */
export function backoffMs(policy: RetryPolicy, round: number, prng: Prng): number {
  const base = Math.min(policy.backoffMaxMs, policy.backoffBaseMs * 2 ** Math.min(round, 30));
  return base * (0.75 + prng.next() * 0.5);
}

export interface Attempt {
  endpoint: number;
  deadlineMs: number;
}

/**
 * Runs `attempt` until it succeeds, `retryable` says no, or the budget is spent. Starts at endpoint
 * `start()` and moves to the next one after each failure; returns the endpoint that answered via `onSuccess`.
 */
export async function withRetries<T>(opts: {
  what: string;
  endpoints: number;
  policy: RetryPolicy;
  prng: Prng;
  start: number;
  attempt: (a: Attempt) => Promise<T>;
  retryable: (err: unknown) => boolean;
  onSuccess?: (endpoint: number) => void;
  /**
   * Time for the budget and the backoff sleeps. Absent: Date.now and a plain (ref'd) setTimeout, so a command
   * line client waiting out a backoff stays alive; a simulator passes its clock.
   */
  clock?: Clock;
}): Promise<T> {
  const { policy, clock } = opts;
  const now = clock ? () => clock.now() : Date.now;
  const pause = clock ? (ms: number) => new Promise<void>((r) => clock.setTimer(ms, r)) : (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
  const started = now();
  let endpoint = opts.start;
  let failedInRound = 0;
  let round = 0;
  let lastErr: unknown;
  for (;;) {
    const left = policy.callBudgetMs - (now() - started);
    if (left <= 0) break;
    try {
      const res = await opts.attempt({ endpoint, deadlineMs: Math.min(policy.attemptDeadlineMs, left) });
      opts.onSuccess?.(endpoint);
      return res;
    } catch (err) {
      lastErr = err;
      if (!opts.retryable(err)) throw err;
      endpoint = (endpoint + 1) % opts.endpoints;
      if (++failedInRound < opts.endpoints) continue;
      failedInRound = 0;
      const sleep = Math.min(backoffMs(policy, round++, opts.prng), Math.max(0, policy.callBudgetMs - (now() - started)));
      await pause(sleep);
    }
  }
  if (lastErr instanceof NokvError) throw lastErr;
  throw new UnavailableError(`${opts.what}: no endpoint answered within ${policy.callBudgetMs} ms`, { cause: String(lastErr) });
}
