// Owns the glue between actors and supervisors: a ChildSpec whose start() spawns an actor (on the owner
// thread or a worker) and whose ChildInstance reports that actor's exit exactly once — a stop, a handler
// throw, or the death of the whole worker thread. A restart spawns afresh, respawning a dead worker first.
import type { ChildInstance, ChildSpec, ExitReason, RestartType, Shutdown } from '../supervisor/types.js';
import type { ActorRef } from './ref.js';
import type { ActorSystem, SpawnSpec } from './system.js';

export interface ActorChildOptions<M = any> {
  /** Child id in the supervisor; defaults to the actor name. */
  id?: string;
  restart?: RestartType;
  shutdown?: Shutdown;
  /** Called with the new ref after every (re)start, e.g. to update a registry others look refs up in. */
  onStart?: (ref: ActorRef<M>) => void;
}

export interface ActorChildInstance<M = any> extends ChildInstance {
  readonly ref: ActorRef<M>;
}

/**
 * `spawn` may be a function, called at every (re)start: for args that change between incarnations (the ref of
 * an actor that restarted before this one, a placement decided at start).
 */
export function actorChildSpec<M = any, A = unknown>(
  system: ActorSystem,
  spawn: Omit<SpawnSpec<A, M>, 'onExit'> | (() => Omit<SpawnSpec<A, M>, 'onExit'>),
  opts: ActorChildOptions<M> = {},
): ChildSpec {
  const specOf = typeof spawn === 'function' ? spawn : () => spawn;
  const id = opts.id ?? (typeof spawn === 'function' ? undefined : spawn.name);
  if (id === undefined) throw new Error('actorChildSpec: a spawn function needs opts.id');
  return {
    id,
    restart: opts.restart ?? 'permanent',
    shutdown: opts.shutdown ?? 5_000,
    type: 'worker',
    start: async (): Promise<ActorChildInstance<M>> => {
      let exit: ExitReason | undefined;
      const listeners: ((reason: ExitReason) => void)[] = [];
      const ref = await system.spawn<M, A>({
        ...specOf(),
        onExit: (reason) => {
          exit = reason;
          for (const l of listeners.splice(0)) l(reason);
        },
      });
      opts.onStart?.(ref);
      return {
        ref,
        stop: () => system.stop(ref, 'shutdown'),
        kill: () => system.kill(ref),
        onExit(listener) {
          if (exit !== undefined) {
            const reason = exit;
            queueMicrotask(() => listener(reason));
          } else listeners.push(listener);
        },
      };
    },
  };
}
