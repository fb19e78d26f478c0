// Owns the simulated network of the whole-stack simulator: raft batches between processes with seeded delay,
// loss, duplication, reordering (random delays) and partitions, on the shared virtual clock. Messages go
// through the production wire codec (src/transport/raft/codec.ts) so nothing shares objects across
// processes, and a message reaches only the incarnation that was alive when it arrives (a restarted process
// does not receive what was in flight to its predecessor unless it arrives after the restart).
import type { Prng } from '../../src/common/prng.js';
import type { SimClock } from '../../src/sim/sim-clock.js';
import { decodeItems, encodeItems } from '../../src/transport/raft/codec.js';

export interface Endpoint {
  deliver(from: number, items: Array<{ group: number; msg: unknown }>): void;
  peerUnreachable(nodeId: number): void;
}

export interface NetworkFaults {
  lossP: number;
  dupP: number;
  minDelayMs: number;
  maxDelayMs: number;
}

export interface NetStats {
  sent: number;
  delivered: number;
  dropped: number;
  duplicated: number;
}

export class SimNetwork {
  private readonly endpoints = new Map<number, Endpoint>();
  /** node -> side; nodes on different sides cannot talk. Undefined = no partition. */
  private sides?: Map<number, number>;
  faultsOn = true;
  readonly stats: NetStats = { sent: 0, delivered: 0, dropped: 0, duplicated: 0 };

  constructor(
    private readonly clock: SimClock,
    private readonly prng: Prng,
    public faults: NetworkFaults,
  ) {}

  attach(nodeId: number, ep: Endpoint): void {
    this.endpoints.set(nodeId, ep);
  }

  detach(nodeId: number, ep: Endpoint): void {
    if (this.endpoints.get(nodeId) === ep) this.endpoints.delete(nodeId);
  }

  partition(sides: Map<number, number> | undefined): void {
    this.sides = sides;
  }

  get partitioned(): boolean {
    return this.sides !== undefined;
  }

  canTalk(a: number, b: number): boolean {
    if (!this.sides) return true;
    return (this.sides.get(a) ?? 0) === (this.sides.get(b) ?? 0);
  }

  /**
   * One leg of a request/response call (gRPC over TCP: no duplicates; a lost leg surfaces to the caller as a
   * timeout): runs `arrive` after a network delay unless the message is lost or the two sides are cut off.
   */
  rpc(from: number, to: number, arrive: () => void): void {
    this.stats.sent++;
    if (!this.canTalk(from, to) || (this.faultsOn && this.prng.chance(this.faults.lossP))) {
      this.stats.dropped++;
      return;
    }
    const delay = this.faults.minDelayMs + this.prng.next() * (this.faults.maxDelayMs - this.faults.minDelayMs);
    this.clock.setTimer(delay, () => {
      if (!this.canTalk(from, to)) {
        this.stats.dropped++;
        return;
      }
      this.stats.delivered++;
      arrive();
    });
  }

  send(from: number, to: number, group: number, msg: unknown): void {
    this.stats.sent++;
    const f = this.faults;
    if (!this.canTalk(from, to) || (this.faultsOn && this.prng.chance(f.lossP))) {
      this.stats.dropped++;
      // The real transport reports a broken link now and then, not every lost message.
      if (this.prng.chance(0.1)) this.endpoints.get(from)?.peerUnreachable(to);
      return;
    }
    const payload = encodeItems([{ group, msg }]);
    const copies = this.faultsOn && this.prng.chance(f.dupP) ? 2 : 1;
    if (copies > 1) this.stats.duplicated++;
    for (let c = 0; c < copies; c++) {
      const delay = f.minDelayMs + this.prng.next() * (f.maxDelayMs - f.minDelayMs);
      this.clock.setTimer(delay, () => {
        // A partition that began while the message was on the wire still cuts it.
        const ep = this.endpoints.get(to);
        if (!ep || !this.canTalk(from, to)) {
          this.stats.dropped++;
          return;
        }
        this.stats.delivered++;
        ep.deliver(from, decodeItems(payload));
      });
    }
  }
}
