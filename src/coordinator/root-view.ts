// Owns the coordinator's rebuildable view of rooted state: one snapshot, then the rooted tail (long-poll)
// applied entry by entry with the same pure apply every meta-root replica runs. Listeners hear about every
// advance, which is how a standby notices a release or a new era without any client traffic.
import type { Clock } from '../common/clock.js';
import type { Logger } from '../common/log.js';
import { applyBatch, noteApplied, type Cursor, type RootState } from '../metaroot/state/index.js';
import type { RootPort, TailEntry } from './root-port.js';

/** One long-poll waits at most this long; it stays below any per-call deadline of the root client. */
export const TAIL_POLL_MS = 1_000;
/** After a failed poll or snapshot, wait this long (doubling) before the next try, up to the max. */
export const TAIL_RETRY_MIN_MS = 50;
export const TAIL_RETRY_MAX_MS = 1_000;
/** How long a write waits for the view to include what it wrote. */
export const CATCH_UP_TIMEOUT_MS = 3_000;

export type ViewListener = (state: RootState) => void;

/** How long stop() waits for the tail loop to notice before leaving it to finish on its own. */
const STOP_WAIT_MS = 50;

export class RootView {
  private current: RootState | null = null;
  private readonly listeners: ViewListener[] = [];
  private readonly waiters: Array<{ index: number; resolve: () => void }> = [];
  private running = false;
  private loop?: Promise<void>;
  private wake?: () => void;
  /** Unix ms of the last poll that reached the root (lag is measured from it). */
  lastContactMs = 0;
  lastError = '';
  reloads = 0;

  constructor(
    private readonly root: RootPort,
    private readonly clock: Clock,
    private readonly logger: Logger,
  ) {}

  get state(): RootState | null {
    return this.current;
  }

  get cursor(): Cursor {
    return this.current?.last_applied ?? { term: 0, index: 0 };
  }

  /**
   * How far the view may be behind the root, in milliseconds: time without hearing from the root beyond one
   * long-poll period (a healthy idle poll answers at least every TAIL_POLL_MS).
   */
  lagMs(): number {
    return this.lastContactMs === 0 ? 0 : Math.max(0, this.clock.now() - this.lastContactMs - TAIL_POLL_MS);
  }

  onChange(listener: ViewListener): void {
    this.listeners.push(listener);
  }

  /** Loads the first snapshot (retrying with backoff until it succeeds or stop()), then follows the tail. */
  async start(): Promise<void> {
    this.running = true;
    let backoff = TAIL_RETRY_MIN_MS;
    for (;;) {
      try {
        await this.reload();
        break;
      } catch (err) {
        if (!this.running) return;
        const msg = err instanceof Error ? err.message : String(err);
        if (msg !== this.lastError) this.logger.warn({ err: msg }, 'rooted snapshot unavailable; retrying');
        this.lastError = msg;
        await this.sleep(backoff);
        backoff = Math.min(TAIL_RETRY_MAX_MS, backoff * 2);
      }
    }
    this.lastError = '';
    this.logger.info({ index: this.cursor.index, era: this.current!.tenure.era, holder_id: this.current!.tenure.holder_id }, 'rooted view loaded');
    this.loop = this.follow();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.wake?.();
    // The loop may sit in a tail long-poll for up to TAIL_POLL_MS; it ends on its own once that returns (or
    // the root client is closed), so stopping waits only briefly instead of holding the role's shutdown.
    await Promise.race([this.loop, new Promise<void>((r) => this.clock.setTimer(STOP_WAIT_MS, r))]);
    for (const w of this.waiters.splice(0)) w.resolve();
  }

  /** Resolves once the view has applied `index` (or after CATCH_UP_TIMEOUT_MS, whichever is first). */
  waitFor(index: number): Promise<void> {
    if (this.cursor.index >= index || !this.running) return Promise.resolve();
    return new Promise((resolve) => {
      const w = { index, resolve };
      this.waiters.push(w);
      this.clock.setTimer(CATCH_UP_TIMEOUT_MS, () => {
        const i = this.waiters.indexOf(w);
        if (i >= 0) this.waiters.splice(i, 1);
        resolve();
      });
    });
  }

  /** Replaces the view with a fresh snapshot now (after a write the tail has not shown yet, or a gap). */
  async reload(linearizable = false): Promise<void> {
    const { state } = await this.root.snapshot({ linearizable });
    this.reloads++;
    this.lastContactMs = this.clock.now();
    if (!this.current || state.last_applied.index >= this.current.last_applied.index) this.publish(state);
  }

  private publish(state: RootState): void {
    this.current = state;
    for (const l of this.listeners) l(state);
    const idx = state.last_applied.index;
    for (let i = this.waiters.length - 1; i >= 0; i--) {
      if (this.waiters[i]!.index <= idx) this.waiters.splice(i, 1)[0]!.resolve();
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = this.clock.setTimer(ms, () => resolve());
      this.wake = () => {
        t.cancel();
        resolve();
      };
    });
  }

  private async follow(): Promise<void> {
    let backoff = TAIL_RETRY_MIN_MS;
    while (this.running) {
      try {
        const tail = await this.root.waitTail({ after: this.cursor, timeoutMs: TAIL_POLL_MS });
        if (!this.running) break;
        this.lastContactMs = this.clock.now();
        if (tail.snapshot_required) await this.reload();
        else this.applyTail(tail.entries);
        this.lastError = '';
        backoff = TAIL_RETRY_MIN_MS;
      } catch (err) {
        if (!this.running) break;
        const msg = err instanceof Error ? err.message : String(err);
        if (msg !== this.lastError) this.logger.warn({ err: msg }, 'rooted tail unavailable; retrying');
        this.lastError = msg;
        await this.sleep(backoff);
        backoff = Math.min(TAIL_RETRY_MAX_MS, backoff * 2);
      }
    }
  }

  private applyTail(entries: TailEntry[]): void {
    let s = this.current!;
    try {
      for (const e of entries) {
        if (e.cursor.index <= s.last_applied.index) continue;
        s = e.events.length > 0 ? applyBatch(s, e.events, e.cursor) : noteApplied(s, e.cursor);
      }
    } catch (err) {
      // The view disagrees with what the root applied (it should never happen): start over from a snapshot.
      this.logger.error({ err: (err as Error).message }, 'rooted tail did not apply to the local view; reloading');
      void this.reload().catch(() => undefined);
      return;
    }
    if (s !== this.current) this.publish(s);
  }
}
