// Owns the life of a role process: logger, expvar endpoint, the process's ActorSystem, the root supervisor of
// the role's children, and the signals. SIGTERM/SIGINT stop the tree in reverse start order (a coordinator
// releases its lease on the way down), then shut the actor system down, and exit 0; a tree that gives up
// (restart intensity reached) exits 1 so the process supervisor above (`nokv cluster`) restarts the process.
//
// The actor system lives as long as the process, not as long as one supervisor child: actor children
// (actorChildSpec) are spawned into it and respawned on restart, and it is shut down only after the tree has
// stopped, so no child ever finds it gone while stopping.
import { ActorSystem } from '../actors/index.js';
import { SystemClock, type Clock } from '../common/clock.js';
import { createLogger, type Logger } from '../common/log.js';
import { ExpvarRegistry, startExpvarServer } from '../expvar/server.js';
import { setProcessLabels } from '../common/metrics.js';
import { registerStateGauges } from './gauges.js';
import { rpcCallsServed, setRpcLogger } from '../transport/grpc/observe.js';
import { Supervisor } from '../supervisor/supervisor.js';
import type { ChildSpec, Strategy } from '../supervisor/types.js';

export interface RoleContext {
  role: string;
  node: string;
  logger: Logger;
  clock: Clock;
  expvar: ExpvarRegistry;
  /** The process's actors; actor children of the tree are spawned here (see src/actors/README.md). */
  actors: ActorSystem;
}

export interface RoleOptions {
  role: string;
  node: string;
  metricsAddr: string;
  strategy?: Strategy;
  /** Restart intensity of the root supervisor: more than this many restarts in periodMs ends the process. */
  intensity?: number;
  periodMs?: number;
  /** Worker threads of the actor system (the --workers flag); 0 or absent = every actor on the main thread. */
  workers?: number;
  /** Builds the children in start order. Runs after /debug/vars is up, so a slow start is observable. */
  children: (ctx: RoleContext) => ChildSpec[] | Promise<ChildSpec[]>;
}

export interface RunningRole {
  ctx: RoleContext;
  supervisor: Supervisor;
  /** Resolves with the exit code once the role has stopped. */
  done: Promise<number>;
  stop(): Promise<void>;
}

export async function startRole(opts: RoleOptions): Promise<RunningRole> {
  const logger = createLogger({ role: opts.role, node: opts.node });
  setRpcLogger(logger);
  const clock = new SystemClock();
  const expvar = new ExpvarRegistry();
  setProcessLabels({ role: opts.role, node: opts.node });
  registerStateGauges(expvar);
  expvar.publish('nokv_rpc', () => ({ calls: rpcCallsServed() }));
  let phase: 'starting' | 'started' | 'stopping' = 'starting';
  expvar.setReadiness(() => {
    if (phase !== 'started') return { ready: false, reason: phase };
    const down = supervisor.whichChildren().filter((c) => c.status !== 'running').map((c) => `${c.id} ${c.status}`);
    return down.length === 0 ? { ready: true } : { ready: false, reason: down.join(', ') };
  });
  const metrics = await startExpvarServer(opts.metricsAddr, expvar);
  let actors: ActorSystem;
  try {
    actors = await ActorSystem.start({ role: opts.role, node: opts.node, workers: opts.workers ?? 0, clock, logger });
  } catch (err) {
    await metrics.close();
    throw err;
  }
  const closeAll = async () => {
    await actors.shutdown();
    await metrics.close();
  };
  const ctx: RoleContext = { role: opts.role, node: opts.node, logger, clock, expvar, actors };
  expvar.publish('nokv_actors', () => actorsVar(actors));
  let supervisor: Supervisor;
  try {
    supervisor = new Supervisor({
      id: `${opts.role}-${opts.node}`,
      strategy: opts.strategy ?? 'rest_for_one',
      intensity: opts.intensity ?? 5,
      periodMs: opts.periodMs ?? 10_000,
      clock,
      logger,
      children: await opts.children(ctx),
    });
  } catch (err) {
    await closeAll();
    throw err;
  }
  let resolveDone!: (code: number) => void;
  const done = new Promise<number>((r) => (resolveDone = r));
  let stopping: Promise<void> | undefined;
  const stop = (code = 0) => {
    stopping ??= (async () => {
      phase = 'stopping';
      logger.info('stopping');
      try {
        await supervisor.stop();
      } catch (err) {
        logger.error({ err }, 'error while stopping');
        code = 1;
      }
      // After the tree: actor children were stopped by their supervisors; this ends anything left and the
      // worker threads.
      try {
        await actors.shutdown();
      } catch (err) {
        logger.error({ err }, 'error while shutting down actors');
        code = 1;
      }
      await metrics.close();
      resolveDone(code);
    })();
    return stopping;
  };
  supervisor.onExit((reason) => {
    if (stopping) return;
    logger.error({ reason }, 'role supervisor gave up; exiting');
    void stop(1);
  });
  try {
    await supervisor.start();
  } catch (err) {
    await closeAll();
    throw err;
  }
  phase = 'started';
  logger.info({ workers: actors.workers, metrics: `http://${opts.metricsAddr}/debug/vars` }, 'role started');
  return { ctx, supervisor, done, stop: () => stop(0) };
}

/** `nokv_actors` on /debug/vars: every actor of the process per thread, with its mailbox and counters. */
async function actorsVar(actors: ActorSystem): Promise<unknown> {
  const threads = await actors.inspect();
  return {
    workers: actors.workers,
    threads: threads.map((t) => ({
      thread: t.thread,
      alive: t.alive,
      actors: t.actors.map((a) => ({ name: a.name, id: a.id, mailbox: a.mailbox, processed: a.processed, dropped: a.dropped, restarts: a.restarts })),
    })),
  };
}

/**
 * A role that finds its supervising process gone stops as on SIGTERM, but must not outlive it for long: if
 * its own stop has not finished after this, it exits anyway (nothing above it would ever SIGKILL it).
 */
export const ORPHAN_STOP_MS = 8_000;

/**
 * Calls onGone once the IPC channel to the parent closes (the parent exited, even by SIGKILL). Only processes
 * started with a channel (`nokv cluster` roles) have one; a role started by hand or in a container has none.
 */
function watchParent(onGone: () => void): void {
  if (!process.channel) return;
  process.channel.unref(); // the channel must never keep the role alive by itself
  process.once('disconnect', onGone);
}

/** Runs a role until a signal, failure or the end of its parent, then exits the process with its code. */
export async function runRoleProcess(opts: RoleOptions): Promise<number> {
  let role: RunningRole | undefined;
  let orphaned = false;
  watchParent(() => {
    orphaned = true;
    (role?.ctx.logger ?? createLogger({ role: opts.role, node: opts.node })).warn('the supervising process is gone; stopping');
    setTimeout(() => process.exit(1), ORPHAN_STOP_MS).unref();
    void role?.stop();
  });
  role = await startRole(opts);
  if (orphaned) void role.stop();
  const onSignal = () => void role!.stop();
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);
  const code = await role.done;
  process.off('SIGTERM', onSignal);
  process.off('SIGINT', onSignal);
  return code;
}
