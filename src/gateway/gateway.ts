// Owns assembling one gateway from its ports: the executor, the watch router on the event source, the
// supervisor of the session worker threads (with `workers` >= 1), and the gRPC server that fronts them; and
// taking it down in reverse order.
import { ActorSystem } from '../actors/index.js';
import type { Clock } from '../common/clock.js';
import type { Logger } from '../common/log.js';
import { loadProto, startGrpcServer } from '../transport/index.js';
import { Executor, type ExecutorOptions } from './executor.js';
import type { ApplyEventSource, CoordinatorDuties, TransactionalKv } from './kv.js';
import { fsmetaService, type FsmetaService } from './server/service.js';
import { FSMETA_PROTO } from './server/wire.js';
import { sessionThreadsSupervisor } from './server/session-threads.js';
import { WatchRouter } from './watch/router.js';

export interface GatewayOptions {
  kv: TransactionalKv;
  source: ApplyEventSource;
  duties: CoordinatorDuties;
  clock: Clock;
  /** host:port; port 0 picks a free one. */
  addr: string;
  token?: string;
  logger?: Logger;
  /** The process's actor system, where the watch session actors run; absent: the gateway starts its own. */
  actors?: ActorSystem;
  /** Worker threads of the gateway's own actor system (without `actors`); 0 = sessions on this thread. */
  workers?: number;
  /** Called if the supervisor of the session threads gives up (threads dying faster than it allows). */
  onFailure?: (err: unknown) => void;
  executor?: Partial<Pick<ExecutorOptions, 'maxTxnAttempts' | 'txnBackoffBaseMs' | 'idBatch'>>;
}

export interface RunningGateway {
  addr: string;
  executor: Executor;
  router: WatchRouter;
  service: FsmetaService;
  /** Where the watch session actors run. */
  actors: ActorSystem;
  stop(): Promise<void>;
}

export async function startGateway(o: GatewayOptions): Promise<RunningGateway> {
  const executor = new Executor({ kv: o.kv, duties: o.duties, clock: o.clock, ...o.executor });
  const ownActors = o.actors ? undefined : await ActorSystem.start({ role: 'fsmeta', node: 'gateway', workers: o.workers ?? 0, clock: o.clock, ...(o.logger ? { logger: o.logger } : {}) });
  const actors = o.actors ?? ownActors!;
  const threads = actors.workers > 0 ? sessionThreadsSupervisor(actors, o.clock, o.logger) : undefined;
  const router = new WatchRouter(o.kv, o.source);
  let stopping = false;
  let server;
  try {
    await threads?.start();
    threads?.onExit((reason) => {
      if (!stopping) o.onFailure?.(new Error(`fsmeta session threads supervisor exited: ${JSON.stringify(reason)}`));
    });
    router.start();
    const service = fsmetaService({ executor, router, duties: o.duties, actors, ...(o.logger ? { logger: o.logger } : {}) });
    server = { service, srv: await startGrpcServer({ addr: o.addr, services: [service.binding], reflectionPackages: [loadProto(FSMETA_PROTO).packageDefinition], ...(o.token ? { token: o.token } : {}) }) };
  } catch (err) {
    router.stop();
    await threads?.stop();
    await ownActors?.shutdown();
    throw err;
  }
  const { service, srv } = server;
  return {
    addr: srv.addr,
    executor,
    router,
    service,
    actors,
    stop: async () => {
      stopping = true;
      await service.endStreams();
      router.stop();
      await srv.close();
      await threads?.stop();
      await ownActors?.shutdown();
    },
  };
}
