// The one retry/backoff policy (src/common/retry.ts) on a manual clock: backoff growth and jitter bounds, the
// call budget and attempt cap, a non-retryable error stopping at once, a sleeping retry waking exactly when
// virtual time reaches its deadline; and the clients built on it sleeping on the clock they are given.
import { expect } from 'chai';
import { ManualClock } from '../../src/common/clock.js';
import { InvalidArgumentError, UnavailableError } from '../../src/common/errors.js';
import { SeededPrng } from '../../src/common/prng.js';
import { Backoff, backoffMs, retrying, type RetryPolicy, type Verdict } from '../../src/common/retry.js';
import { MetaRootClient } from '../../src/metaroot/client.js';
import { CoordinatorClient } from '../../src/coordinator/client.js';

/** Lets the promise jobs a fired timer started run (an attempt, the next sleep). */
async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
}

/** Runs a retrying call on `clock`, advancing virtual time 1 ms at a time until it settles. */
async function drive<T>(clock: ManualClock, call: Promise<T>, limitMs = 100_000): Promise<{ value?: T; error?: unknown }> {
  let out: { value?: T; error?: unknown } | undefined;
  call.then((value) => (out = { value }), (error: unknown) => (out = { error }));
  await settle();
  for (let t = 0; !out && t < limitMs; t++) {
    clock.advance(1);
    await settle();
  }
  if (!out) throw new Error('call did not settle in virtual time');
  return out;
}

const POLICY: RetryPolicy = { attemptDeadlineMs: 100, callBudgetMs: 2_000, backoffBaseMs: 10, backoffMaxMs: 160, jitter: 0.25 };

describe('retry policy', () => {
  it('backoff doubles to the cap and every sleep is jittered within ±jitter of it', () => {
    const prng = new SeededPrng(7);
    const seen = new Set<number>();
    for (let trial = 0; trial < 50; trial++) {
      for (let n = 0; n < 10; n++) {
        const nominal = Math.min(160, 10 * 2 ** n);
        const ms = backoffMs(POLICY, n, prng);
        expect(ms).to.be.at.least(nominal * 0.75);
        expect(ms).to.be.below(nominal * 1.25);
        seen.add(Math.round(ms * 1000));
      }
    }
    expect(seen.size).to.be.greaterThan(400); // jittered, not a fixed schedule
    // Without jitter the schedule is exact, and no prng is needed.
    const b = new Backoff({ backoffBaseMs: 50, backoffMaxMs: 1_000, jitter: 0 });
    expect([1, 2, 3, 4, 5, 6, 7].map(() => b.next())).to.deep.equal([50, 100, 200, 400, 800, 1_000, 1_000]);
    b.reset();
    expect(b.next()).to.equal(50);
    expect(() => new Backoff({ backoffBaseMs: 50, backoffMaxMs: 100, jitter: 0.5 })).to.throw(InvalidArgumentError);
  });

  it('spends no more than the call budget, gives each attempt at most what is left, and ends with the exhausted error', async () => {
    const clock = new ManualClock(5_000);
    const attempts: Array<{ at: number; deadlineMs: number }> = [];
    const { error } = await drive(
      clock,
      retrying({
        policy: POLICY,
        prng: new SeededPrng(1),
        clock,
        attempt: async ({ deadlineMs }) => {
          attempts.push({ at: clock.now(), deadlineMs });
          throw new UnavailableError('down');
        },
        onFailure: () => 'backoff',
        exhausted: (last) => new UnavailableError(`gave up after: ${(last as Error).message}`),
      }),
    );
    expect((error as Error).message).to.equal('gave up after: down');
    expect(attempts.length).to.be.greaterThan(10);
    for (const a of attempts) {
      expect(a.at - 5_000).to.be.below(2_000);
      expect(a.deadlineMs).to.be.at.most(Math.min(100, 2_000 - (a.at - 5_000)));
    }
    // It gave up once the budget was spent, not later (the driver advances 1 ms at a time).
    expect(clock.now() - 5_000).to.be.within(2_000, 2_001);
  });

  it('stops at maxAttempts, with no sleep after the last attempt', async () => {
    const clock = new ManualClock();
    let n = 0;
    const { error } = await drive(
      clock,
      retrying({
        policy: { ...POLICY, callBudgetMs: Infinity, maxAttempts: 4, jitter: 0 },
        clock,
        attempt: async () => {
          n++;
          throw new UnavailableError('down');
        },
        onFailure: () => 'backoff',
      }),
    );
    expect(n).to.equal(4);
    expect((error as Error).message).to.equal('down');
    expect(clock.now()).to.equal(10 + 20 + 40); // three sleeps between four attempts
  });

  it('a non-retryable error stops the call at once, thrown as it is, with no timer left behind', async () => {
    const clock = new ManualClock();
    const refusal = new InvalidArgumentError('bad request');
    let n = 0;
    let error: unknown;
    await retrying({
      policy: POLICY,
      prng: new SeededPrng(1),
      clock,
      attempt: async () => {
        n++;
        throw refusal;
      },
      onFailure: (err) => (err instanceof UnavailableError ? 'backoff' : 'stop'),
    }).catch((e: unknown) => (error = e));
    expect(error).to.equal(refusal);
    expect(n).to.equal(1);
    expect(clock.pending()).to.equal(0);
  });

  it("'now' retries without sleeping and does not grow the backoff; a sleeping retry wakes exactly at its deadline", async () => {
    const clock = new ManualClock(1_000);
    const at: number[] = [];
    const verdicts: Verdict[] = ['now', 'backoff', 'now', 'backoff'];
    let done = false;
    void retrying({
      policy: { ...POLICY, jitter: 0 },
      clock,
      attempt: async () => {
        at.push(clock.now());
        if (at.length <= verdicts.length) throw new UnavailableError('down');
        return 'ok';
      },
      onFailure: () => verdicts[at.length - 1]!,
    }).then(() => (done = true));
    await settle();
    expect(at).to.deep.equal([1_000, 1_000]); // the first failure said 'now'
    clock.advance(9.999);
    await settle();
    expect(at).to.have.length(2); // asleep until 10 ms have passed
    clock.advance(0.001);
    await settle();
    expect(at).to.deep.equal([1_000, 1_000, 1_010, 1_010]);
    clock.advance(19);
    await settle();
    expect(at).to.have.length(4);
    clock.advance(1);
    await settle();
    expect(at).to.deep.equal([1_000, 1_000, 1_010, 1_010, 1_030]); // second backoff: 20 ms
    expect(done).to.equal(true);
  });

  it('the same seed replays the same attempt times; another seed does not', async () => {
    const times = async (seed: number) => {
      const clock = new ManualClock();
      const at: number[] = [];
      await drive(
        clock,
        retrying({
          policy: POLICY,
          prng: new SeededPrng(seed),
          clock,
          attempt: async () => {
            at.push(clock.now());
            throw new UnavailableError('down');
          },
          onFailure: () => 'backoff',
        }).catch(() => undefined),
      );
      return at;
    };
    const a = await times(11);
    expect(await times(11)).to.deep.equal(a);
    expect(await times(12)).to.not.deep.equal(a);
  });

  describe('clients sleep on the clock they are given', () => {
    // Nothing listens on port 1 of 127.0.0.1: every attempt fails UNAVAILABLE at once, so each client backs off.
    const DEAD = '127.0.0.1:1';

    it('MetaRootClient: no second attempt until virtual time passes the backoff, and the deadline is virtual', async () => {
      const clock = new ManualClock(0);
      const c = new MetaRootClient({ endpoints: [DEAD], clock, prng: new SeededPrng(3), deadlineMs: 60_000, attemptTimeoutMs: 1_000 });
      try {
        let settled = false;
        const call = c.status().finally(() => (settled = true));
        call.catch(() => undefined);
        const started = Date.now();
        // Real time passes, virtual time does not: the client stays asleep in its first backoff.
        await new Promise((r) => setTimeout(r, 300));
        expect(settled).to.equal(false);
        expect(clock.pending()).to.equal(1);
        // Past the 60 s virtual deadline, step by step (each backoff is at most 400 ms * 1.5).
        for (let t = 0; t < 61_000 && !settled; t += 100) {
          clock.advance(100);
          await new Promise((r) => setTimeout(r, 2));
        }
        expect(settled).to.equal(true);
        expect(Date.now() - started).to.be.below(30_000); // 60 s of deadline took far less real time
        const err = await call.then(() => undefined, (e: unknown) => e);
        expect(err).to.be.instanceOf(UnavailableError);
      } finally {
        c.close();
      }
    });

    it('CoordinatorClient: the whole call budget runs on the injected clock', async () => {
      const clock = new ManualClock(0);
      const c = new CoordinatorClient({ endpoints: [DEAD, DEAD], clock, prng: new SeededPrng(3), callBudgetMs: 30_000, attemptDeadlineMs: 1_000 });
      try {
        let settled = false;
        const call = c.tso(1).finally(() => (settled = true));
        call.catch(() => undefined);
        await new Promise((r) => setTimeout(r, 300));
        expect(settled).to.equal(false);
        expect(clock.pending()).to.equal(1);
        for (let t = 0; t < 31_000 && !settled; t += 100) {
          clock.advance(100);
          await new Promise((r) => setTimeout(r, 2));
        }
        expect(settled).to.equal(true);
        expect(clock.now()).to.be.within(30_000, 31_000);
      } finally {
        c.close();
      }
    });
  });
});
