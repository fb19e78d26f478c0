// Owns the pure window allocators behind AllocID and Tso. Values are served only from a window whose upper
// bound is already rooted (a compare-and-set fence on (holder, era) at meta-root), so a successor that starts
// above the rooted fence can never hand out a value a predecessor served. One raft commit buys a whole window.
//
// Values are bigint inside (TSO values exceed 2^53) and U64 decimal strings at the edges.
import type { U64 } from '../metaroot/state/index.js';

/** IDs reserved per fence: one raft commit per this many IDs. */
export const ID_WINDOW = 10_000n;
/** The TSO fence runs this far ahead of physical time: one raft commit per this much time (at low rates). */
export const TSO_WINDOW_MS = 3_000;
/** Low bits of a timestamp that count within one physical millisecond. */
export const TSO_LOGICAL_BITS = 18n;
/** Most values one call may reserve. */
export const MAX_BATCH = 10_000;

export type Plan = { kind: 'serve'; first: bigint } | { kind: 'fence'; minimum: bigint };

export interface WindowPolicy {
  /** Lowest value allowed at now (TSO: physical time); 0n when there is none. */
  floor(nowMs: number): bigint;
  /** The fence to ask for when `lastNeeded` does not fit the window. */
  target(lastNeeded: bigint, nowMs: number): bigint;
}

export const idPolicy: WindowPolicy = {
  floor: () => 0n,
  target: (lastNeeded) => lastNeeded + ID_WINDOW - 1n,
};

export function tsoOf(physicalMs: number, logical = 0n): bigint {
  return (BigInt(physicalMs) << TSO_LOGICAL_BITS) | logical;
}

export function physicalOf(ts: bigint): number {
  return Number(ts >> TSO_LOGICAL_BITS);
}

export const tsoPolicy: WindowPolicy = {
  floor: (nowMs) => tsoOf(nowMs),
  target: (lastNeeded, nowMs) => {
    const ahead = tsoOf(nowMs + TSO_WINDOW_MS);
    return lastNeeded > ahead ? lastNeeded : ahead;
  },
};

export class WindowAllocator {
  /** Last value served (or the rooted fence this era started above). */
  private last = 0n;
  /** Highest value this era may serve: the last fence meta-root accepted for it. */
  private high = 0n;

  constructor(private readonly policy: WindowPolicy) {}

  /** A new era starts above the rooted fence with an empty window (the first call fences first). */
  reset(rootedFence: U64): void {
    this.last = BigInt(rootedFence);
    this.high = this.last;
  }

  /** Serve `count` values now if the window holds them, else say which fence to ask for. */
  plan(count: number, nowMs: number): Plan {
    if (!(Number.isInteger(count) && count >= 1 && count <= MAX_BATCH)) throw new RangeError(`count ${count} not in 1..${MAX_BATCH}`);
    const floor = this.policy.floor(nowMs);
    const first = this.last + 1n > floor ? this.last + 1n : floor;
    const lastNeeded = first + BigInt(count) - 1n;
    if (lastNeeded <= this.high) {
      this.last = lastNeeded;
      return { kind: 'serve', first };
    }
    return { kind: 'fence', minimum: this.policy.target(lastNeeded, nowMs) };
  }

  /** Meta-root accepted a fence of at least `fence` for this era. */
  raised(fence: bigint | U64): void {
    const f = BigInt(fence);
    if (f > this.high) this.high = f;
  }

  stats(): { current: U64; window_high: U64 } {
    return { current: this.last.toString(), window_high: this.high.toString() };
  }
}
