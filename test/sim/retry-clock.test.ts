// The public clients' retry loop on an injected clock: its budget and backoff run on virtual time, so a
// simulator (or a test) decides when a sleeping retry wakes, and the same seed gives the same attempts.
import { expect } from 'chai';
import { TimeoutError, UnavailableError } from '../../src/common/errors.js';
import { SeededPrng } from '../../src/common/prng.js';
import { SimClock } from '../../src/sim/sim-clock.js';
import { withRetries } from '../../src/client/retry.js';

async function runOnClock(seed: number, fail: (deadlineMs: number) => Error = () => new UnavailableError('down')): Promise<{ attempts: number[]; endedAt: number; error: string }> {
  const clock = new SimClock(1_000);
  const attempts: number[] = [];
  let error = '';
  let done = false;
  withRetries({
    what: 'test call',
    endpoints: 2,
    policy: { attemptDeadlineMs: 100, callBudgetMs: 1_000, backoffBaseMs: 50, backoffMaxMs: 400 },
    prng: new SeededPrng(seed),
    start: 0,
    clock,
    attempt: async ({ deadlineMs }) => {
      attempts.push(clock.now());
      throw fail(deadlineMs);
    },
    retryable: () => true,
  }).catch((err: Error) => {
    error = err.message;
    done = true;
  });
  while (!done) {
    await new Promise((r) => setImmediate(r));
    if (!done && !clock.step()) break;
  }
  return { attempts, endedAt: clock.now(), error };
}

describe('client retry loop on an injected clock', () => {
  it('spends its budget in virtual time, backing off between rounds, deterministically per seed', async () => {
    const started = Date.now();
    const a = await runOnClock(3);
    expect(a.error).to.equal('down');
    // Two attempts per round (both endpoints), then a jittered backoff; all within the 1 s budget.
    expect(a.attempts.length).to.be.greaterThan(4);
    expect(a.attempts[0]).to.equal(1_000);
    expect(a.attempts[1]).to.equal(1_000);
    expect(a.attempts[2]).to.be.greaterThan(1_000 + 50 * 0.75 - 1);
    expect(a.endedAt - 1_000).to.be.within(900, 1_000);
    expect(Date.now() - started).to.be.lessThan(900); // no real sleeping
    expect(await runOnClock(3)).to.deep.equal(a);
  });

  it('reports why nothing answered, not the deadline of a last attempt cut short by the budget', async () => {
    // Full-length attempts are refused; with seed 1 the last round gets only the 89 ms left of the budget and times out.
    const a = await runOnClock(1, (deadlineMs) => (deadlineMs < 100 ? new TimeoutError('cut short') : new UnavailableError('refused')));
    expect(a.error).to.equal('refused');
    const b = await runOnClock(1, () => new TimeoutError('slow'));
    expect(b.error).to.equal('slow');
  });
});
