// Owns the endpoint failover of the public clients on top of the common retry policy (src/common/retry.ts):
// attempts go round the endpoints, and only once every endpoint of a round has failed does the call back off.
// Which errors are worth another attempt is the caller's decision (a read retries more than a write that may
// have applied).
import { NokvError, UnavailableError } from '../common/errors.js';
import type { Prng } from '../common/prng.js';
import type { Clock } from '../common/clock.js';
import { retrying, type RetryPolicy } from '../common/retry.js';

export { backoffMs, type RetryPolicy } from '../common/retry.js';

export const DEFAULT_RETRY_POLICY: RetryPolicy = { attemptDeadlineMs: 5_000, callBudgetMs: 15_000, backoffBaseMs: 25, backoffMaxMs: 1_000, jitter: 0.25 };

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
  /** Time for the budget and the backoff sleeps (default: real time, timers that keep the process alive). */
  clock?: Clock;
}): Promise<T> {
  let endpoint = opts.start;
  let failedInRound = 0;
  // The last attempt of a spent budget gets only the time that is left, so it often ends in DEADLINE_EXCEEDED
  // even when every endpoint was refusing connections: the error reported is the last one an attempt with a
  // full deadline (or a failure other than its deadline) produced, so "nothing answers" stays UNAVAILABLE.
  let telling: unknown;
  const res = await retrying({
    policy: opts.policy,
    prng: opts.prng,
    ...(opts.clock ? { clock: opts.clock } : {}),
    attempt: ({ deadlineMs }) => opts.attempt({ endpoint, deadlineMs }),
    onFailure: (err, info) => {
      const cutShort = err instanceof NokvError && err.code === 'DEADLINE_EXCEEDED' && info.deadlineMs < opts.policy.attemptDeadlineMs;
      if (!cutShort || telling === undefined) telling = err;
      if (!opts.retryable(err)) return 'stop';
      endpoint = (endpoint + 1) % opts.endpoints;
      if (++failedInRound < opts.endpoints) return 'now';
      failedInRound = 0;
      return 'backoff';
    },
    exhausted: (last) => {
      const lastErr = telling ?? last;
      return lastErr instanceof NokvError ? lastErr : new UnavailableError(`${opts.what}: no endpoint answered within ${opts.policy.callBudgetMs} ms`, { cause: String(lastErr) });
    },
  });
  opts.onSuccess?.(endpoint);
  return res;
}
