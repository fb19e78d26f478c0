// Owns the supervisor's decisions as pure functions: whether an exit is restarted, which children a restart
// stops, removes and starts (per strategy), and the restart-intensity window. No I/O, no clock reads: the
// runtime in supervisor.ts executes these plans, and tests check them exhaustively.
import { isNormalExit, type ExitReason, type RestartType, type Strategy } from './types.js';

/** What the planner needs to know about a child; `children` arrays are always in start order. */
export interface ChildView {
  id: string;
  restart: RestartType;
}

/** OTP: permanent always, transient only after an abnormal exit, temporary never. */
export function shouldRestart(restart: RestartType, reason: ExitReason): boolean {
  switch (restart) {
    case 'permanent':
      return true;
    case 'transient':
      return !isNormalExit(reason);
    case 'temporary':
      return false;
  }
}

/**
 * A restart cycle. `stop` lists the siblings to terminate, in that order (reverse start order); stopping a
 * child that is not running is a no-op. `remove` lists temporary children dropped from the supervisor once
 * stopped (OTP never restarts them, not even as siblings). `start` lists the children to start, in order;
 * its first entry is the child that caused the cycle.
 */
export interface RestartPlan {
  stop: string[];
  remove: string[];
  start: string[];
}

/** What to do when a child exits on its own: drop it, keep its spec without an instance, or restart. */
export type ExitPlan = { action: 'remove' } | { action: 'keep' } | ({ action: 'restart' } & RestartPlan);

export function planExit(strategy: Strategy, children: readonly ChildView[], exitedId: string, reason: ExitReason): ExitPlan {
  const child = find(children, exitedId);
  if (shouldRestart(child.restart, reason)) return { action: 'restart', ...planRestart(strategy, children, exitedId) };
  return child.restart === 'temporary' ? { action: 'remove' } : { action: 'keep' };
}

/**
 * The cycle that restarts `subjectId`. Also used to retry after a failed restart (OTP's try_again_restart):
 * the subject is then the child whose start failed.
 */
export function planRestart(strategy: Strategy, children: readonly ChildView[], subjectId: string): RestartPlan {
  const index = children.indexOf(find(children, subjectId));
  let affected: ChildView[];
  switch (strategy) {
    case 'one_for_one':
      affected = [];
      break;
    case 'one_for_all':
      affected = children.filter((c) => c.id !== subjectId);
      break;
    case 'rest_for_one':
      affected = children.slice(index + 1);
      break;
  }
  const stop = affected.map((c) => c.id).reverse();
  const remove = affected.filter((c) => c.restart === 'temporary').map((c) => c.id);
  // Start in the original order; for one_for_all the subject keeps its place among its siblings.
  const startSet = new Set([subjectId, ...affected.filter((c) => c.restart !== 'temporary').map((c) => c.id)]);
  const start = children.filter((c) => startSet.has(c.id)).map((c) => c.id);
  return { stop, remove, start };
}

function find(children: readonly ChildView[], id: string): ChildView {
  const child = children.find((c) => c.id === id);
  if (!child) throw new Error(`assertion: child "${id}" is not supervised`);
  return child;
}

/**
 * Restart intensity (OTP MaxR/MaxT): every restart is stamped; a stamp counts while it is no older than
 * `periodMs`. Recording a restart that makes more than `intensity` stamps count means the supervisor must
 * give up. Returns the new stamp list (newest last) rather than mutating.
 */
export function recordRestart(
  stamps: readonly number[],
  nowMs: number,
  intensity: number,
  periodMs: number,
): { stamps: number[]; exceeded: boolean } {
  const threshold = nowMs - periodMs;
  const kept = stamps.filter((t) => t >= threshold);
  kept.push(nowMs);
  return { stamps: kept, exceeded: kept.length > intensity };
}
