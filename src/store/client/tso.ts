// Owns where a transaction client gets its timestamps: a pluggable source of strictly increasing versions.
// The coordinator's Tso is the cluster-wide source; LocalTso (same shape: physical ms << 18 | logical) serves
// standalone tests and tools with a single client process.

export interface TimestampSource {
  next(): Promise<bigint>;
}

const LOGICAL_BITS = 18n;
const LOGICAL_MAX = (1n << LOGICAL_BITS) - 1n;

/** Monotone within this process only: physical milliseconds << 18 | logical counter. */
export class LocalTso implements TimestampSource {
  private last = 0n;
  constructor(private readonly nowMs: () => number = Date.now) {}

  async next(): Promise<bigint> {
    const physical = BigInt(Math.floor(this.nowMs())) << LOGICAL_BITS;
    this.last = physical > this.last ? physical : this.last + 1n;
    if ((this.last & LOGICAL_MAX) === LOGICAL_MAX) this.last += 1n; // never hand out an all-ones logical part
    return this.last;
  }
}

/** Adapts anything with the coordinator client's `tso(count)` shape. */
export function coordinatorTso(client: { tso(count?: number): Promise<{ timestamp: bigint }> }): TimestampSource {
  return { next: async () => (await client.tso(1)).timestamp };
}

/** The smallest timestamp of a physical millisecond (logical part 0), in the format above. */
export function tsoFromPhysicalMs(ms: number): bigint {
  return BigInt(Math.floor(ms)) << LOGICAL_BITS;
}
