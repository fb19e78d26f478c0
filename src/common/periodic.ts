// Owns the timer of a background duty that runs one asynchronous round every interval on an injected clock:
// never two rounds at once (the next is armed when one settles), a failed round is reported and the loop goes
// on, and stop() cancels the timer and waits for a round in flight. The store's auto-splitter and MVCC GC
// driver run on it.
import type { Clock, TimerHandle } from './clock.js';

export interface PeriodicRoundsOptions {
  clock: Clock;
  intervalMs: number;
  round: () => Promise<void>;
  /** A round that rejected; the loop carries on with the next. */
  onError: (err: unknown) => void;
}

export class PeriodicRounds {
  private timer?: TimerHandle;
  private inFlight?: Promise<void>;
  private stopping = false;

  constructor(private readonly o: PeriodicRoundsOptions) {}

  /** True once stop() was called: a round in progress checks it to end early. */
  get stopped(): boolean {
    return this.stopping;
  }

  start(): void {
    this.schedule();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.timer?.cancel();
    await this.inFlight?.catch(() => undefined);
  }

  private schedule(): void {
    if (this.stopping) return;
    this.timer = this.o.clock.setTimer(this.o.intervalMs, () => {
      this.inFlight = this.o
        .round()
        .catch((err) => this.o.onError(err))
        .finally(() => {
          this.inFlight = undefined;
          this.schedule();
        });
    });
  }
}
