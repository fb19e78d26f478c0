// Owns the keep-alive of a two-phase commit's primary lock: once a commit has been running for
// TXN_HEARTBEAT_AFTER_TTL_FRACTION of the lock TTL, TxnHeartBeat pushes the primary's expiry one TTL ahead,
// and again every such period until the commit decides. Without it a reader's CheckTxnStatus rolls back a
// slow committer (a TSO stall, a slow region) whose locks outlived their TTL, and the commit then aborts.

import type { Clock, TimerHandle } from '../../common/clock.js';

/** Beat once the commit has been running this fraction of the lock TTL, and every such period after. */
export const TXN_HEARTBEAT_AFTER_TTL_FRACTION = 0.5;
/** Never beat more often than this, whatever the TTL. */
export const MIN_TXN_HEARTBEAT_PERIOD_MS = 50;

export interface KeepAliveOptions {
  lockTtlMs: number;
  clock: Clock;
  /** Sends one TxnHeartBeat asking for `adviseTtlMs` more from now; resolves false when the lock is gone. */
  beat: (adviseTtlMs: number) => Promise<boolean>;
}

export interface KeepAlive {
  /** Stops beating; a beat in flight is left to finish. */
  stop(): void;
  /** Heartbeats sent so far. */
  readonly beats: number;
}

export function heartbeatPeriodMs(lockTtlMs: number): number {
  return Math.max(MIN_TXN_HEARTBEAT_PERIOD_MS, Math.floor(lockTtlMs * TXN_HEARTBEAT_AFTER_TTL_FRACTION));
}

/** Starts beating for a commit that begins now. */
export function startKeepAlive(o: KeepAliveOptions): KeepAlive {
  const period = heartbeatPeriodMs(o.lockTtlMs);
  let stopped = false;
  let timer: TimerHandle | undefined;
  const state = { beats: 0 };
  const schedule = () => {
    timer = o.clock.setTimer(period, tick);
  };
  const tick = () => {
    timer = undefined;
    if (stopped) return;
    state.beats++;
    o.beat(o.lockTtlMs).then(
      (alive) => {
        if (alive && !stopped) schedule();
      },
      // An unreachable region: try again next period; the lock may still be alive.
      () => {
        if (!stopped) schedule();
      },
    );
  };
  schedule();
  return {
    stop: () => {
      stopped = true;
      timer?.cancel();
      timer = undefined;
    },
    get beats() {
      return state.beats;
    },
  };
}
