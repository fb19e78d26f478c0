// Owns the tail of one replica: a bounded ring of the most recent applied commands that appended events
// (cursor + events) and the position below which it no longer holds them. Readers ask for everything after a
// cursor; a reader older than the ring is told `snapshot_required` (reload a snapshot, then tail from its
// cursor) rather than silently skipping events. Pure: no clock, no waiting — the long-poll waiters live in
// the tail actor (tail-actor.ts), which owns the one ring of the replica.
import type { Cursor, RootEvent } from '../state/index.js';
import { MAX_TAIL_PAGE_ENTRIES } from '../limits.js';

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

export class TailHub {
  // Circular buffer: `ring[(head + i) % capacity]` for i < size, oldest first.
  private readonly ring: Array<TailEntry | undefined>;
  private head = 0;
  private size = 0;
  private floor: Cursor = { term: 0, index: 0 };
  private current: Cursor = { term: 0, index: 0 };
  private evicted = 0;

  constructor(private readonly capacity: number) {
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
  }

  /**
   * One applied command at `cursor`; `events` may be empty (a refusal or a no-op only moves the cursor).
   * Returns true when an entry was retained, i.e. when a waiting reader may now have something to read.
   */
  push(cursor: Cursor, events: RootEvent[]): boolean {
    if (cursor.index <= this.current.index) return false; // replayed below what the hub already saw
    this.current = { ...cursor };
    if (events.length === 0) return false;
    if (this.size === this.capacity) {
      this.floor = this.ring[this.head]!.cursor;
      this.ring[this.head] = undefined;
      this.head = (this.head + 1) % this.capacity;
      this.size--;
      this.evicted++;
    }
    this.ring[(this.head + this.size) % this.capacity] = { cursor: { ...cursor }, events };
    this.size++;
    return true;
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

  get appliedCursor(): Cursor {
    return { ...this.current };
  }

  /** `waiters` is filled in by whoever holds the long-poll waiters (the tail actor). */
  stats(waiters = 0): TailHubStats {
    return {
      retained: this.size,
      capacity: this.capacity,
      oldest_index: this.floor.index,
      applied_index: this.current.index,
      waiters,
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
}
