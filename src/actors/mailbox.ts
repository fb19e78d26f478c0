// Owns the bounded FIFO an actor reads from. It never grows past its limit: a push beyond it is refused, and
// the caller turns that into a typed error (local tell) or a counted drop (message from another thread).

export class Mailbox<T> {
  private items: (T | undefined)[] = [];
  private head = 0;

  constructor(readonly limit: number) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`mailbox limit must be a positive integer, got ${limit}`);
  }

  get size(): number {
    return this.items.length - this.head;
  }

  /** Appends unless full; returns false (and keeps nothing) when the limit is reached. */
  push(item: T): boolean {
    if (this.size >= this.limit) return false;
    this.items.push(item);
    return true;
  }

  shift(): T | undefined {
    if (this.head >= this.items.length) return undefined;
    const item = this.items[this.head];
    this.items[this.head++] = undefined;
    // Compact once the consumed prefix dominates, so a long-lived busy mailbox does not hold dead slots.
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item;
  }

  /** Removes and returns everything still queued, in order. */
  drain(): T[] {
    const rest = this.items.slice(this.head) as T[];
    this.items = [];
    this.head = 0;
    return rest;
  }
}
