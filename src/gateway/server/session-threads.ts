// Owns the supervision of the worker threads that watch sessions run on (`--workers` >= 1). Sessions are one per
// stream and are not restarted (a stream cannot be restarted from the gateway's side: its client resumes), so
// each session thread has one long-lived keeper actor under a `one_for_one` supervisor. When a thread dies its
// sessions exit with it (their streams end UNAVAILABLE through their links) and so does its keeper, whose
// restart brings the thread back at once — the next stream does not pay for a thread start — and shows as a
// restart on /debug/vars (`nokv_actors`).
import { actorChildSpec, type ActorSystem, type Behaviour } from '../../actors/index.js';
import type { Clock } from '../../common/clock.js';
import type { Logger } from '../../common/log.js';
import { Supervisor } from '../../supervisor/supervisor.js';
// Loaded with the keeper, so a thread (re)started by its supervisor has the session code ready for the next
// stream instead of loading it while that stream's client waits (half a second on a busy machine).
import './session.js';

export const SESSION_THREAD_ACTOR = 'fsmeta-session-thread';
const MODULE = new URL('./session-threads.js', import.meta.url).href;
/** Thread deaths the supervisor absorbs in SESSION_THREAD_RESTART_PERIOD_MS before it gives up. */
export const SESSION_THREAD_RESTART_INTENSITY = 10;
export const SESSION_THREAD_RESTART_PERIOD_MS = 60_000;

/** Spawn export: the keeper of one session thread (it holds nothing; its life is the thread's). */
export function sessionThreadKeeper(args: { thread: number }): Behaviour<never> {
  return { receive: () => undefined, inspect: () => ({ thread: args.thread }) };
}

/** A supervisor of one keeper per worker thread of `actors` (none without workers). */
export function sessionThreadsSupervisor(actors: ActorSystem, clock: Clock, logger?: Logger): Supervisor {
  const children = Array.from({ length: actors.workers }, (_, i) =>
    actorChildSpec(actors, { name: SESSION_THREAD_ACTOR, module: MODULE, export: 'sessionThreadKeeper', args: { thread: i + 1 }, thread: i + 1 }, { id: `${SESSION_THREAD_ACTOR}-${i + 1}` }),
  );
  return new Supervisor({
    id: 'fsmeta-session-threads',
    strategy: 'one_for_one',
    intensity: SESSION_THREAD_RESTART_INTENSITY,
    periodMs: SESSION_THREAD_RESTART_PERIOD_MS,
    clock,
    ...(logger ? { logger } : {}),
    children,
  });
}
