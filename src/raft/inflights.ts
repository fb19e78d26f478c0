// Owns the bounded window of append messages in flight to one follower (etcd's Inflights). Each slot holds
// the last index of one sent append; an ack frees every slot up to it. Full window = stop sending.
import { assert } from './assert.js';

export class Inflights {
  private readonly buf: number[];
  private start = 0;
  private count = 0;

  constructor(readonly capacity: number) {
    assert(capacity > 0, 'inflight window must hold at least one message');
    this.buf = new Array<number>(capacity).fill(0);
  }

  get size(): number {
    return this.count;
  }

  full(): boolean {
    return this.count === this.capacity;
  }

  /** Records an append whose last entry is `lastIndex`; indices must grow. */
  add(lastIndex: number): void {
    assert(!this.full(), 'add to a full inflight window');
    if (this.count > 0) {
      const prev = this.buf[(this.start + this.count - 1) % this.capacity];
      assert(lastIndex >= prev, () => `inflight index went backwards: ${lastIndex} < ${prev}`);
    }
    this.buf[(this.start + this.count) % this.capacity] = lastIndex;
    this.count++;
  }

  /** Frees every slot whose last index is <= index (the follower acknowledged up to it). */
  freeLE(index: number): void {
    while (this.count > 0 && this.buf[this.start] <= index) {
      this.start = (this.start + 1) % this.capacity;
      this.count--;
    }
    if (this.count === 0) this.start = 0;
  }

  /** Frees the oldest slot; used when a heartbeat proves the follower alive but acks were lost. */
  freeFirstOne(): void {
    if (this.count === 0) return;
    this.freeLE(this.buf[this.start]);
  }

  reset(): void {
    this.start = 0;
    this.count = 0;
  }
}
