// Owns the adapter that lets a supervisor run a plain asynchronous service (a gRPC front, an expvar server,
// a raft host) as a child: start() brings it up, stop() takes it down, and a service that fails on its own
// reports it through the `fail` callback it is handed, which the supervisor sees as an abnormal exit.
import { serializeError } from '../common/errors.js';
import type { ChildInstance, ChildSpec, ExitReason, RestartType, Shutdown } from '../supervisor/types.js';

export interface RunningService {
  stop(): Promise<void>;
  /** Optional hard stop; defaults to stop(). */
  kill?(): Promise<void>;
}

export interface ServiceChildOptions {
  id: string;
  /** `fail(err)` ends this incarnation abnormally (the supervisor then restarts per its strategy). */
  start: (fail: (err: unknown) => void) => Promise<RunningService>;
  restart?: RestartType;
  shutdown?: Shutdown;
}

export function serviceChildSpec(opts: ServiceChildOptions): ChildSpec {
  return {
    id: opts.id,
    type: 'worker',
    restart: opts.restart ?? 'permanent',
    shutdown: opts.shutdown ?? 5_000,
    start: async (): Promise<ChildInstance> => {
      let reason: ExitReason | undefined;
      const listeners: Array<(r: ExitReason) => void> = [];
      let service: RunningService | undefined;
      let markStarted!: () => void;
      const started = new Promise<void>((r) => (markStarted = r));
      /** Set once the service failed: its stop, after which the exit is reported. */
      let failing: Promise<void> | undefined;
      const exit = (r: ExitReason) => {
        if (reason) return;
        reason = r;
        for (const l of listeners.splice(0)) l(r);
      };
      const fail = (err: unknown) => {
        if (reason || failing) return;
        // The exit is reported only once the failed incarnation has released what it holds (ports, the LMDB
        // environment), so the restart the supervisor starts next can take them again.
        const release = async () => {
          await (service!.kill ?? service!.stop).call(service).catch(() => undefined);
        };
        failing = (service ? release() : started.then(release)).then(() => exit({ error: serializeError(err) }));
      };
      service = await opts.start(fail);
      markStarted();
      return {
        stop: async () => {
          if (failing) return failing;
          if (!reason) {
            await service!.stop();
            exit('shutdown');
          }
        },
        kill: async () => {
          if (failing) return failing;
          if (!reason) {
            await (service!.kill ?? service!.stop).call(service);
            exit('killed');
          }
        },
        onExit: (listener) => {
          if (reason) listener(reason);
          else listeners.push(listener);
        },
      };
    },
  };
}
