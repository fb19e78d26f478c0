// Owns TSO request batching on the client side: at most one Tso call is in flight; every request that arrives
// meanwhile waits, and when the call returns all of them go out together as the next call (their counts summed,
// up to the server's limit per call), each receiving its own consecutive part of the range. So a busy client
// pays one round trip per batch, not per timestamp, as PD's client does.
//
// Why a request never joins the call already in flight: that call's range may have been allocated before the
// request was made, and a timestamp must be above every timestamp issued before its request began (a client that
// saw a commit acknowledged must read at or above it). A call sent after the request arrived is allocated after.

export interface TsoRange {
  /** First timestamp of the range; the range is [timestamp, timestamp + count). */
  timestamp: bigint;
  count: number;
}

interface Waiter<R> {
  count: number;
  resolve(r: R): void;
  reject(err: unknown): void;
}

export class TsoBatcher<R extends TsoRange> {
  private readonly waiting: Array<Waiter<R>> = [];
  private inFlight = false;
  readonly stats = { requests: 0, calls: 0 };

  /** `call(count)` asks the server for `count` consecutive timestamps; `maxCount` is its limit per call. */
  constructor(
    private readonly call: (count: number) => Promise<R>,
    private readonly maxCount: number,
  ) {}

  /** `count` consecutive timestamps, all above every timestamp issued before this call. */
  next(count: number): Promise<R> {
    if (!(Number.isInteger(count) && count >= 1 && count <= this.maxCount)) return Promise.reject(new RangeError(`count ${count} not in 1..${this.maxCount}`));
    this.stats.requests++;
    return new Promise<R>((resolve, reject) => {
      this.waiting.push({ count, resolve, reject });
      this.send();
    });
  }

  private send(): void {
    if (this.inFlight || this.waiting.length === 0) return;
    const batch: Array<Waiter<R>> = [];
    let total = 0;
    while (this.waiting.length > 0 && total + this.waiting[0]!.count <= this.maxCount) {
      const w = this.waiting.shift()!;
      batch.push(w);
      total += w.count;
    }
    this.inFlight = true;
    this.stats.calls++;
    this.call(total).then(
      (r) => {
        let ts = r.timestamp;
        for (const w of batch) {
          w.resolve({ ...r, timestamp: ts, count: w.count });
          ts += BigInt(w.count);
        }
      },
      (err) => {
        for (const w of batch) w.reject(err);
      },
    ).finally(() => {
      this.inFlight = false;
      this.send();
    });
  }
}
