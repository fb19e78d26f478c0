// Owns the bounded outbound queue of one destination. When full it drops the OLDEST item: raft tolerates
// loss, and the newest messages (latest term, latest commit index) are the ones worth sending.

export class DropOldestQueue<T> {
  private buf: (T | undefined)[];
  private head = 0;
  private size = 0;

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new Error(`queue capacity must be a positive integer, got ${capacity}`);
    this.buf = new Array<T | undefined>(capacity);
  }

  get length(): number {
    return this.size;
  }

  /** Appends item; returns how many old items were dropped to make room (0 or 1). */
  push(item: T): number {
    if (this.size === this.capacity) {
      this.buf[this.head] = item;
      this.head = (this.head + 1) % this.capacity;
      return 1;
    }
    this.buf[(this.head + this.size) % this.capacity] = item;
    this.size++;
    return 0;
  }

  /** Removes and returns up to n items, oldest first. */
  take(n: number): T[] {
    const count = Math.min(n, this.size);
    const out = new Array<T>(count);
    for (let i = 0; i < count; i++) {
      const at = (this.head + i) % this.capacity;
      out[i] = this.buf[at] as T;
      this.buf[at] = undefined;
    }
    this.head = (this.head + count) % this.capacity;
    this.size -= count;
    return out;
  }

  /** Empties the queue; returns how many items were discarded. */
  clear(): number {
    const n = this.size;
    this.take(n);
    return n;
  }
}
