// Owns the contract between a supervisor and what it supervises. A child is anything that can be started,
// stopped and that reports its own exit: an in-thread actor, an actor on a worker thread, a nested supervisor,
// or an OS process. Semantics follow OTP's supervisor: restart types, shutdown timeouts, worker vs supervisor.
import type { SerializedError } from '../common/errors.js';

/** permanent: always restarted; transient: restarted only after an abnormal exit; temporary: never. */
export type RestartType = 'permanent' | 'transient' | 'temporary';

/** Milliseconds to wait for a graceful stop before killing; 'brutal_kill' kills at once; 'infinity' waits. */
export type Shutdown = number | 'brutal_kill' | 'infinity';

/**
 * Why a child ended. 'normal' and 'shutdown' are normal exits (a transient child is not restarted);
 * 'killed' and { error } are abnormal.
 */
export type ExitReason = 'normal' | 'shutdown' | 'killed' | { error: SerializedError };

export function isNormalExit(reason: ExitReason): boolean {
  return reason === 'normal' || reason === 'shutdown';
}

/**
 * A running child. onExit fires exactly once, whether the child stopped itself, crashed or was stopped; a
 * listener added after the exit is called at once with the same reason (a supervisor subscribes only after
 * start() resolved, and a child may already have died by then).
 */
export interface ChildInstance {
  /** Asks the child to stop gracefully; resolves when it has exited. */
  stop(): Promise<void>;
  /** Ends the child at once (terminate the thread, SIGKILL the process); resolves when it has exited. */
  kill(): Promise<void>;
  onExit(listener: (reason: ExitReason) => void): void;
  /** OS process id, for children that are OS processes (operators and drills need it). */
  readonly pid?: number;
}

export interface ChildSpec {
  id: string;
  start: () => Promise<ChildInstance>;
  restart: RestartType;
  shutdown: Shutdown;
  type: 'worker' | 'supervisor';
}

/** How a supervisor reacts when a child has to be restarted. */
export type Strategy = 'one_for_one' | 'one_for_all' | 'rest_for_one';

/** running: has a live instance; restarting: a restart failed and is retried; stopped: no instance. */
export type ChildStatus = 'running' | 'restarting' | 'stopped';
