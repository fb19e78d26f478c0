// Owns the injected notion of time. Pure cores never read the wall clock or schedule timers themselves;
// they take a Clock, so a simulator can drive them with a ManualClock and replay any schedule.

export interface TimerHandle {
  cancel(): void;
}

export interface Clock {
  /** Milliseconds; monotone for ManualClock, Date.now() for SystemClock. */
  now(): number;
  /** Runs fn once after delayMs. The handle cancels it; cancelling twice is harmless. */
  setTimer(delayMs: number, fn: () => void): TimerHandle;
}

/** Real time. Timers are unref'd so a forgotten one never keeps a process alive on its own. */
export class SystemClock implements Clock {
  now(): number {
    return Date.now();
  }
  setTimer(delayMs: number, fn: () => void): TimerHandle {
    const t = setTimeout(fn, Math.max(0, delayMs));
    t.unref();
    return { cancel: () => clearTimeout(t) };
  }
}

/**
 * Real time whose timers keep the process alive: a command-line client waiting out a retry backoff has
 * nothing else pending and must not exit meanwhile.
 */
export class KeepAliveClock implements Clock {
  now(): number {
    return Date.now();
  }
  setTimer(delayMs: number, fn: () => void): TimerHandle {
    const t = setTimeout(fn, Math.max(0, delayMs));
    return { cancel: () => clearTimeout(t) };
  }
}

interface PendingTimer {
  at: number;
  seq: number;
  fn: () => void;
  cancelled: boolean;
}

/**
 * Virtual time for simulations and tests. Time only moves through advance()/runUntilIdle(); timers due at
 * the same instant fire in the order they were set, so a run is a pure function of its inputs.
 */
export class ManualClock implements Clock {
  private current: number;
  private seq = 0;
  private timers: PendingTimer[] = [];

  constructor(startMs = 0) {
    this.current = startMs;
  }

  now(): number {
    return this.current;
  }

  setTimer(delayMs: number, fn: () => void): TimerHandle {
    const timer: PendingTimer = { at: this.current + Math.max(0, delayMs), seq: this.seq++, fn, cancelled: false };
    this.timers.push(timer);
    return { cancel: () => { timer.cancelled = true; } };
  }

  /** When the earliest waiting timer falls due (undefined: none waits). */
  nextAt(): number | undefined {
    let at: number | undefined;
    for (const t of this.timers) if (!t.cancelled && (at === undefined || t.at < at)) at = t.at;
    return at;
  }

  /** Moves time to `atMs` (never backwards), firing every timer due by then, in order. */
  advanceTo(atMs: number): void {
    this.advance(atMs - this.current);
  }

  /** Number of timers still waiting to fire. */
  pending(): number {
    return this.timers.filter((t) => !t.cancelled).length;
  }

  /** Moves time forward by deltaMs, firing every timer that falls due on the way, in order. */
  advance(deltaMs: number): void {
    const target = this.current + Math.max(0, deltaMs);
    for (;;) {
      const next = this.nextDue(target);
      if (!next) break;
      this.current = next.at;
      next.cancelled = true;
      next.fn();
    }
    this.current = target;
    this.timers = this.timers.filter((t) => !t.cancelled);
  }

  private nextDue(limit: number): PendingTimer | undefined {
    let best: PendingTimer | undefined;
    for (const t of this.timers) {
      if (t.cancelled || t.at > limit) continue;
      if (!best || t.at < best.at || (t.at === best.at && t.seq < best.seq)) best = t;
    }
    return best;
  }
}
