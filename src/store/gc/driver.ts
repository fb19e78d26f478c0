// Owns a store's MVCC GC trigger: the control plane hands it every higher safe point a coordinator publishes
// (heartbeat replies), and every check period it proposes, on each region this store leads whose applied safe
// point is below the latest one, the raft command "collect up to S"; every replica applies the pass (state-
// machine.ts), so followers and snapshots stay identical to the leader. The period is the rate limit: a pass
// scans the whole region, so a region is collected at most once per period, however often the point moves.
// Runs on the role's clock, one round at a time; the data plane never waits for it.
import type { Clock } from '../../common/clock.js';
import { PeriodicRounds } from '../../common/periodic.js';
import type { Logger } from '../../common/log.js';
import type { RegionDescriptor } from '../region/descriptor.js';

export const DEFAULT_GC_CHECK_MS = 60_000;

/** A region this store leads, with the safe point it has applied. */
export interface GcRegion {
  desc: RegionDescriptor;
  gcSafePoint: bigint;
}

/** The data plane, as the driver uses it. */
export interface GcNode {
  led(): GcRegion[];
  /** Proposes the GC command on the region; resolves with what its apply removed. */
  gc(desc: RegionDescriptor, safePoint: bigint): Promise<{ writesRemoved: number; dataRemoved: number }>;
}

export interface GcDriverOptions {
  node: GcNode;
  clock: Clock;
  logger: Logger;
  checkIntervalMs: number;
}

/** Published on /debug/vars as `nokv_store.gc`. */
export interface GcDriverStats {
  /** The latest safe point heard of (decimal). */
  safe_point: string;
  rounds: number;
  /** GC commands this store proposed as a leader and saw applied. */
  passes: number;
  writes_removed: number;
  data_removed: number;
  errors: number;
  last_error: string;
}

export class GcDriver {
  readonly stats: GcDriverStats = { safe_point: '0', rounds: 0, passes: 0, writes_removed: 0, data_removed: 0, errors: 0, last_error: '' };
  private safePoint = 0n;
  private readonly rounds: PeriodicRounds;

  constructor(private readonly o: GcDriverOptions) {
    this.rounds = new PeriodicRounds({ clock: o.clock, intervalMs: o.checkIntervalMs, round: () => this.round(), onError: (err) => this.fail('round', err) });
  }

  /** A safe point published by a coordinator; only a higher one counts. */
  offer(sp: bigint): void {
    if (sp <= this.safePoint) return;
    this.safePoint = sp;
    this.stats.safe_point = sp.toString();
  }

  start(): void {
    this.rounds.start();
  }

  stop(): Promise<void> {
    return this.rounds.stop();
  }

  private get stopped(): boolean {
    return this.rounds.stopped;
  }

  private fail(what: string, err: unknown): void {
    this.stats.errors++;
    this.stats.last_error = `${what}: ${(err as Error)?.message ?? String(err)}`;
  }

  /** One round: a GC command on every led region behind the latest safe point, one region at a time. */
  async round(): Promise<void> {
    const sp = this.safePoint;
    if (sp === 0n) return;
    this.stats.rounds++;
    for (const r of this.o.node.led()) {
      if (this.stopped) return;
      if (r.gcSafePoint >= sp) continue;
      try {
        const out = await this.o.node.gc(r.desc, sp);
        this.stats.passes++;
        this.stats.writes_removed += out.writesRemoved;
        this.stats.data_removed += out.dataRemoved;
        this.o.logger.debug({ region: r.desc.id, safe_point: sp.toString(), ...out }, 'region collected');
      } catch (err) {
        // Not leader any more, epoch moved, a timeout: the region's new leader (or the next round) collects it.
        this.fail(`region ${r.desc.id}`, err);
      }
    }
  }
}
