// Owns leader balancing: a pure planner that, given the rooted regions, the freshest leader claim of each and
// the stores that are live right now, picks raft leader transfers so every live store leads within one region
// of every other, and remembers the transfers it handed out until the claims show them done (or they time
// out). Only the active coordinator plans (the caller gates on the lease); each plan's operations travel back
// to the region's current leader store in its next heartbeat reply, and the store runs a raft leader transfer.
// No clock, no I/O: the catalog actor feeds it `nowMs` and the registry's view.
import type { RegionDescriptor } from '../metaroot/state/index.js';

/** A transfer not seen done within this is forgotten and may be planned again (raft abandons one after an election timeout). */
export const TRANSFER_TIMEOUT_MS = 5_000;
/** A store is a transfer target only if its last heartbeat is this recent (3 heartbeat periods). */
export const SCHEDULE_LIVE_WITHIN_MS = 3_000;
/** Most transfers in flight at once (each briefly stops proposals on its region: raft refuses them during a transfer). */
export const MAX_PENDING_TRANSFERS = 16;
/** Most transfers in flight away from one store. */
export const MAX_PENDING_PER_SOURCE = 4;

export interface TransferLeaderOp {
  region_id: number;
  from_store: number;
  to_store: number;
  epoch_version: number;
  conf_version: number;
  /** The leader's term when the transfer was planned: a claim at a higher term means it happened (or was overtaken). */
  term: number;
  issued_ms: number;
}

export interface BalanceInput {
  regions: RegionDescriptor[];
  /** Region id → its freshest leader claim. */
  leaders: ReadonlyMap<number, { store_id: number; term: number }>;
  /** Stores that may lead (joined, not retired, heartbeating recently). */
  live: ReadonlySet<number>;
  nowMs: number;
}

export interface BalancerStats {
  planned: number;
  completed: number;
  expired: number;
  overtaken: number;
}

export class LeaderBalancer {
  private readonly pending = new Map<number, TransferLeaderOp>();
  readonly stats: BalancerStats = { planned: 0, completed: 0, expired: 0, overtaken: 0 };
  /** Leaders per live store after the last plan, counting transfers in flight as done. */
  private lastCounts = new Map<number, number>();

  /** Retires finished or stale transfers, then plans new ones until leaders are within one of even. */
  plan(input: BalanceInput): TransferLeaderOp[] {
    const regions = new Map(input.regions.map((r) => [r.region_id, r]));
    this.retire(regions, input);
    const counts = new Map<number, number>([...input.live].map((s) => [s, 0]));
    const ledBy = new Map<number, number[]>();
    for (const r of input.regions) {
      const c = input.leaders.get(r.region_id);
      const leader = this.pending.get(r.region_id)?.to_store ?? c?.store_id;
      if (leader === undefined || !counts.has(leader)) continue;
      counts.set(leader, counts.get(leader)! + 1);
      if (!this.pending.has(r.region_id)) ledBy.set(leader, [...(ledBy.get(leader) ?? []), r.region_id]);
    }
    const planned: TransferLeaderOp[] = [];
    const fromCount = new Map<number, number>();
    for (const op of this.pending.values()) fromCount.set(op.from_store, (fromCount.get(op.from_store) ?? 0) + 1);
    const exhausted = new Set<number>();
    while (this.pending.size < MAX_PENDING_TRANSFERS) {
      // Most-loaded source that can still give a region away, and the least-loaded stores as targets.
      const order = [...counts.entries()].sort((a, b) => a[1] - b[1] || a[0] - b[0]);
      const src = [...order].reverse().find(([s]) => !exhausted.has(s) && (fromCount.get(s) ?? 0) < MAX_PENDING_PER_SOURCE);
      if (!src) break;
      const [from, fromN] = src;
      let done = false;
      for (const [to, toN] of order) {
        if (fromN - toN <= 1) break;
        const region = (ledBy.get(from) ?? []).map((id) => regions.get(id)!).find((r) => r.state === 'running' && r.peers.some((p) => p.store_id === to));
        if (!region) continue;
        const op: TransferLeaderOp = {
          region_id: region.region_id,
          from_store: from,
          to_store: to,
          epoch_version: region.epoch.version,
          conf_version: region.epoch.conf_version,
          term: input.leaders.get(region.region_id)!.term,
          issued_ms: input.nowMs,
        };
        this.pending.set(op.region_id, op);
        planned.push(op);
        this.stats.planned++;
        counts.set(from, fromN - 1);
        counts.set(to, toN + 1);
        fromCount.set(from, (fromCount.get(from) ?? 0) + 1);
        ledBy.set(from, ledBy.get(from)!.filter((id) => id !== op.region_id));
        done = true;
        break;
      }
      if (!done) exhausted.add(from);
    }
    this.lastCounts = counts;
    return planned;
  }

  /** Transfers in flight whose region `storeId` leads: what its heartbeat reply carries. */
  hintsFor(storeId: number): TransferLeaderOp[] {
    return [...this.pending.values()].filter((op) => op.from_store === storeId);
  }

  /** For /debug/vars and `nokv cluster status`. */
  view(): { leaders_per_store: Record<string, number>; pending_transfers: TransferLeaderOp[]; stats: BalancerStats } {
    return {
      leaders_per_store: Object.fromEntries([...this.lastCounts].sort((a, b) => a[0] - b[0]).map(([s, n]) => [String(s), n])),
      pending_transfers: [...this.pending.values()],
      stats: { ...this.stats },
    };
  }

  private retire(regions: Map<number, RegionDescriptor>, input: BalanceInput): void {
    for (const [id, op] of this.pending) {
      const r = regions.get(id);
      const c = input.leaders.get(id);
      if (c && c.store_id === op.to_store) {
        this.stats.completed++;
        this.pending.delete(id);
      } else if (!r || r.epoch.version !== op.epoch_version || r.epoch.conf_version !== op.conf_version || (c && c.term > op.term) || !input.live.has(op.to_store)) {
        // The region changed shape, someone else won an election, or the target went away: plan afresh.
        this.stats.overtaken++;
        this.pending.delete(id);
      } else if (input.nowMs - op.issued_ms > TRANSFER_TIMEOUT_MS) {
        this.stats.expired++;
        this.pending.delete(id);
      }
    }
  }
}
