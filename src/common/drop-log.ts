// Owns the accounting of input refused at a process boundary (raft messages from a peer, batches on a stream):
// counts per reason and per source for /debug/vars, and a log line at most once per source per interval, so a
// peer that floods garbage costs a counter increment, not a log write per message.
import type { Clock } from './clock.js';
import type { Logger } from './log.js';

/** Default quiet period between two log lines about the same source. */
export const DROP_LOG_INTERVAL_MS = 10_000;

export interface DropStats {
  total: number;
  byReason: Record<string, number>;
  /** Per source (a peer node id, an address): drops and the newest reason. */
  bySource: Record<string, { drops: number; lastReason: string }>;
}

export class DropLog {
  private total = 0;
  private readonly byReason = new Map<string, number>();
  private readonly bySource = new Map<string, { drops: number; lastReason: string; loggedAt: number; unlogged: number }>();

  constructor(
    private readonly clock: Clock,
    private readonly logger: Logger,
    private readonly what: string,
    private readonly intervalMs = DROP_LOG_INTERVAL_MS,
  ) {}

  /** Counts one refused input from `source`; logs it unless this source was logged within the interval. */
  drop(source: string | number, reason: string, details: Record<string, unknown> = {}): void {
    this.total++;
    this.byReason.set(reason, (this.byReason.get(reason) ?? 0) + 1);
    const key = String(source);
    let s = this.bySource.get(key);
    if (!s) this.bySource.set(key, (s = { drops: 0, lastReason: reason, loggedAt: -Infinity, unlogged: 0 }));
    s.drops++;
    s.lastReason = reason;
    const now = this.clock.now();
    if (now - s.loggedAt < this.intervalMs) {
      s.unlogged++;
      return;
    }
    this.logger.warn({ source: key, reason, ...details, suppressed: s.unlogged }, `${this.what} dropped`);
    s.loggedAt = now;
    s.unlogged = 0;
  }

  stats(): DropStats {
    const bySource: DropStats['bySource'] = {};
    for (const [k, s] of this.bySource) bySource[k] = { drops: s.drops, lastReason: s.lastReason };
    return { total: this.total, byReason: Object.fromEntries(this.byReason), bySource };
  }
}
