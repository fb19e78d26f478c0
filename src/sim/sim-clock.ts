// Owns virtual time for the whole-stack simulator: one event queue (a binary heap on (time, sequence)) that
// every simulated timer, message delivery and disk sync goes through, so a run is a pure function of its seed.
// Unlike ManualClock, which fires every due timer in one advance(), step() fires exactly one event and returns,
// letting the driver drain the promise jobs that event started before the next one runs — that is where the
// production code's own asynchrony (persist promises, microtask-driven Ready loops) interleaves.
import type { Clock, TimerHandle } from '../common/clock.js';

interface Event {
  at: number;
  seq: number;
  fn: () => void;
  cancelled: boolean;
}

export class SimClock implements Clock {
  private current = 0;
  private seq = 0;
  private heap: Event[] = [];
  private live = 0;

  constructor(readonly startMs = 0) {
    this.current = startMs;
  }

  now(): number {
    return this.current;
  }

  setTimer(delayMs: number, fn: () => void): TimerHandle {
    const d = Number.isFinite(delayMs) ? Math.max(0, delayMs) : 0;
    const ev: Event = { at: this.current + d, seq: this.seq++, fn, cancelled: false };
    this.push(ev);
    this.live++;
    return {
      cancel: () => {
        if (ev.cancelled) return;
        ev.cancelled = true;
        this.live--;
      },
    };
  }

  /** Events still waiting to fire. */
  pending(): number {
    return this.live;
  }

  /** Time of the next event, or undefined when none is waiting. */
  nextAt(): number | undefined {
    this.dropCancelled();
    return this.heap[0]?.at;
  }

  /** Fires the earliest event (moving time to it); false when the queue is empty. */
  step(): boolean {
    this.dropCancelled();
    const ev = this.pop();
    if (!ev) return false;
    this.current = Math.max(this.current, ev.at);
    ev.cancelled = true;
    this.live--;
    ev.fn();
    return true;
  }

  private dropCancelled(): void {
    while (this.heap.length > 0 && this.heap[0]!.cancelled) this.pop();
  }

  private less(a: Event, b: Event): boolean {
    return a.at < b.at || (a.at === b.at && a.seq < b.seq);
  }

  private push(ev: Event): void {
    const h = this.heap;
    h.push(ev);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(h[i]!, h[p]!)) break;
      [h[i], h[p]] = [h[p]!, h[i]!];
      i = p;
    }
  }

  private pop(): Event | undefined {
    const h = this.heap;
    if (h.length === 0) return undefined;
    const top = h[0]!;
    const last = h.pop()!;
    if (h.length > 0) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && this.less(h[l]!, h[m]!)) m = l;
        if (r < h.length && this.less(h[r]!, h[m]!)) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m]!, h[i]!];
        i = m;
      }
    }
    return top;
  }
}

/**
 * One process's view of the shared virtual time: its machine's clock — drifting at `rate` from the start of
 * the run (1.05 runs fast) and off by `offsetMs` — and an incarnation: a crash kills every timer the dead
 * incarnation set, the way a process's timers die with it. A restarted process on the same machine gets a
 * new ProcessClock with the same rate and offset, so its clock continues where the machine's was.
 */
export class ProcessClock implements Clock {
  private alive = true;
  private readonly handles = new Set<TimerHandle>();

  constructor(
    private readonly base: SimClock,
    private readonly rate = 1,
    private readonly offsetMs = 0,
  ) {}

  now(): number {
    const start = this.base.startMs;
    return Math.floor(start + (this.base.now() - start) * this.rate + this.offsetMs);
  }

  setTimer(delayMs: number, fn: () => void): TimerHandle {
    if (!this.alive) return { cancel: () => undefined };
    const h = this.base.setTimer(Math.max(0, delayMs) / this.rate, () => {
      this.handles.delete(h);
      if (this.alive) fn();
    });
    this.handles.add(h);
    return {
      cancel: () => {
        this.handles.delete(h);
        h.cancel();
      },
    };
  }

  /** The process died: none of its timers fires again, and new ones are ignored. */
  kill(): void {
    this.alive = false;
    for (const h of this.handles) h.cancel();
    this.handles.clear();
  }

  get isAlive(): boolean {
    return this.alive;
  }
}
