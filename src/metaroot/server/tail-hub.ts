// Owns the tail of one replica: a bounded ring of the most recent applied commands that appended events
// (cursor + events), the position below which it no longer holds them, and the long-poll waiters. Readers ask
// for everything after a cursor; a reader older than the ring is told `snapshot_required` (reload a snapshot,
// then tail from its cursor) rather than silently skipping events. Pure apart from the injected clock.
import { ResourceExhaustedError } from '../../common/errors.js';
import type { Clock, TimerHandle } from '../../common/clock.js';
import type { Cursor, RootEvent } from '../state/index.js';
import { MAX_TAIL_PAGE_ENTRIES, MAX_TAIL_WAITERS } from '../limits.js';

export interface TailEntry {
  cursor: Cursor;
  events: RootEvent[];
}

export interface TailPage {
  /** Where the next read continues: the replica's applied cursor, or the last entry when the page is full. */
  cursor: Cursor;
  entries: TailEntry[];
  snapshot_required: boolean;
  /** Reads after this cursor need no snapshot. */
  oldest: Cursor;
}

export interface TailHubStats {
  retained: number;
  capacity: number;
  oldest_index: number;
  applied_index: number;
  waiters: number;
  evicted: number;
}

interface Waiter {
  after: Cursor;
  resolve: (page: TailPage) => void;
  timer: TimerHandle;
}

export class TailHub {
  // Circular buffer: `ring[(head + i) % capacity]` for i < size, oldest first.
  private readonly ring: Array<TailEntry | undefined>;
  private head = 0;
  private size = 0;
  private floor: Cursor = { term: 0, index: 0 };
  private current: Cursor = { term: 0, index: 0 };
  private readonly waiters = new Set<Waiter>();
  private evicted = 0;
  private closed = false;

  constructor(
    private readonly capacity: number,
    private readonly clock: Clock,
  ) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`tail capacity must be a positive integer, got ${capacity}`);
    this.ring = new Array(capacity);
  }

  /** Forgets everything: the replica's state now starts at `at` (process start, snapshot installed). */
  reset(at: Cursor): void {
    this.ring.fill(undefined);
    this.head = 0;
    this.size = 0;
    this.floor = { ...at };
    this.current = { ...at };
    this.wakeAll();
  }

  /** One applied command at `cursor`; `events` may be empty (a refusal or a no-op only moves the cursor). */
  push(cursor: Cursor, events: RootEvent[]): void {
    if (cursor.index <= this.current.index) return; // replayed below what the hub already saw
    this.current = { ...cursor };
    if (events.length === 0) return;
    if (this.size === this.capacity) {
      this.floor = this.ring[this.head]!.cursor;
      this.ring[this.head] = undefined;
      this.head = (this.head + 1) % this.capacity;
      this.size--;
      this.evicted++;
    }
    this.ring[(this.head + this.size) % this.capacity] = { cursor: { ...cursor }, events };
    this.size++;
    this.wakeAll();
  }

  /** Everything retained after `after`, at most `max` entries. */
  read(after: Cursor, max = MAX_TAIL_PAGE_ENTRIES): TailPage {
    const oldest = { ...this.floor };
    if (after.index < this.floor.index) return { cursor: { ...this.current }, entries: [], snapshot_required: true, oldest };
    const entries: TailEntry[] = [];
    for (let i = this.firstAfter(after.index); i < this.size && entries.length < max; i++) {
      entries.push(this.at(i));
    }
    const full = entries.length === max && this.firstAfter(after.index) + max < this.size;
    const cursor = full ? { ...entries[entries.length - 1]!.cursor } : { ...this.current };
    return { cursor, entries, snapshot_required: false, oldest };
  }

  /** Resolves at once when there is something after `after`, else when there is or after timeoutMs. */
  wait(after: Cursor, timeoutMs: number): Promise<TailPage> {
    const page = this.read(after);
    if (page.entries.length > 0 || page.snapshot_required || timeoutMs <= 0 || this.closed) return Promise.resolve(page);
    if (this.waiters.size >= MAX_TAIL_WAITERS) {
      return Promise.reject(new ResourceExhaustedError(`too many tail waiters (${MAX_TAIL_WAITERS})`));
    }
    return new Promise((resolve) => {
      const waiter: Waiter = {
        after: { ...after },
        resolve,
        timer: this.clock.setTimer(timeoutMs, () => {
          if (this.waiters.delete(waiter)) resolve(this.read(waiter.after));
        }),
      };
      this.waiters.add(waiter);
    });
  }

  get appliedCursor(): Cursor {
    return { ...this.current };
  }

  /** Answers every waiter now (with what there is) and makes later waits return at once. */
  close(): void {
    this.closed = true;
    for (const w of this.waiters) {
      w.timer.cancel();
      w.resolve(this.read(w.after));
    }
    this.waiters.clear();
  }

  stats(): TailHubStats {
    return {
      retained: this.size,
      capacity: this.capacity,
      oldest_index: this.floor.index,
      applied_index: this.current.index,
      waiters: this.waiters.size,
      evicted: this.evicted,
    };
  }

  private at(i: number): TailEntry {
    return this.ring[(this.head + i) % this.capacity]!;
  }

  /** Position in the ring of the first entry with index > afterIndex (binary search; the ring is ordered). */
  private firstAfter(afterIndex: number): number {
    let lo = 0;
    let hi = this.size;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.at(mid).cursor.index <= afterIndex) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  private wakeAll(): void {
    for (const w of this.waiters) {
      const page = this.read(w.after);
      if (page.entries.length > 0 || page.snapshot_required) {
        this.waiters.delete(w);
        w.timer.cancel();
        w.resolve(page);
      }
    }
  }
}
