// Owns the reconnect delay: exponential growth with "equal jitter" (half fixed, half random from the injected
// Prng), so peers that lost the same node do not redial it in lockstep, and a seed replays the schedule.
import type { Prng } from '../../common/prng.js';

export interface BackoffPolicy {
  initialMs: number;
  maxMs: number;
  multiplier: number;
}

/** Delay before retry number `attempt` (0-based): in [d/2, d) where d = min(max, initial * multiplier^attempt). */
export function backoffDelayMs(attempt: number, policy: BackoffPolicy, prng: Prng): number {
  const exp = Math.min(policy.maxMs, policy.initialMs * Math.pow(policy.multiplier, Math.max(0, attempt)));
  return Math.round(exp / 2 + prng.next() * (exp / 2));
}
