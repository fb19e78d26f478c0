// Owns the event loop of the whole-stack simulator: fire one event of the virtual clock, let the promise
// jobs it started run to completion (the production code's own asynchrony), run the checkers, repeat. Work
// that spans many events (a process starting, a clean stop) runs as a background task whose failure is a
// finding. Nothing here reads the wall clock or Math.random: one seed decides the whole run.
import type { SimClock } from '../../src/sim/sim-clock.js';

/** Resolves after every promise job queued so far (and those they queue) has run. */
export function drainJobs(): Promise<void> {
  return new Promise((r) => setImmediate(r));
}

export class SimDriver {
  private readonly failures: unknown[] = [];
  events = 0;

  constructor(
    readonly clock: SimClock,
    private readonly check: () => void,
  ) {}

  /** Starts a task that takes many events; a rejection fails the run at the next check. */
  spawn(what: string, task: () => Promise<void>): void {
    task().catch((err: unknown) => this.failures.push(err instanceof Error ? err : new Error(`${what}: ${String(err)}`)));
  }

  /** Fires events until virtual time passes `until` or `done()` holds. Returns whether done() held. */
  async runUntil(until: number, done?: () => boolean): Promise<boolean> {
    for (;;) {
      if (done?.()) return true;
      const next = this.clock.nextAt();
      if (next === undefined || next > until) return done?.() ?? false;
      this.clock.step();
      this.events++;
      await drainJobs();
      if (this.failures.length > 0) throw this.failures[0];
      this.check();
    }
  }
}
