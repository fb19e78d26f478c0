// Owns the fsmeta role process: `nokv fsmeta [--config FILE] [--index N] [--addr] [--metrics-addr]
// [--token-file] [--dev-memory-kv]`. /debug/vars comes up first (nokv_fsmeta_executor, nokv_fsmeta_watch,
// nokv_fsmeta_sessions); then one supervised child runs the gateway on the store cluster (store client,
// apply-event streams of every store) and the coordinators (TSO, AllocID, mounts, quota fences, rooted events).
// `--dev-memory-kv` runs it instead on a process-local in-memory KV with mount `default` (root inode 1): for
// development only, data is lost on exit and nothing is shared with other gateways.
//
// `--workers N` (N >= 1) runs the watch session actors on N worker threads (round-robin), the gRPC calls, the
// watch router and the executor staying on the main thread (docs/architecture.md). In a process started with
// NOKV_FAULTS set, `POST /debug/fsmeta/kill-session-thread` (loopback only, body `{"thread": N}`, default 1)
// terminates a session thread: the drill the supervision tests run.
import { addrFlag, tokenFileFlag, topologyFlag, workersFlag, workersOf, tlsFlags, useTlsFlags } from '../roles/flags.js';
import type { Command } from '../cli/command.js';
import { InvalidArgumentError } from '../common/errors.js';
import { FAULTS_ENV } from '../transport/index.js';
import { UsageError, type FlagSpecs, type Parsed } from '../cli/flags.js';
import { CoordinatorClient } from '../coordinator/client.js';
import { runRoleProcess, type RoleContext } from '../roles/runtime.js';
import { serviceChildSpec } from '../roles/service-child.js';
import { connectStoreClient } from '../store/client/connect.js';
import { CoordinatorDutiesAdapter } from './adapters/coordinator.js';
import { StoreEventSource, StoreKvAdapter } from './adapters/store.js';
import { startGateway, type GatewayOptions, type RunningGateway } from './gateway.js';
import { MemoryDuties } from './memory-duties.js';
import { MemoryKv } from './memory-kv.js';

/** The mount `--dev-memory-kv` registers at start. */
export const DEV_MOUNT = 'default';

export interface FsmetaSettings {
  index: number;
  addr: string;
  metricsAddr: string;
  token?: string;
  devMemoryKv: boolean;
  /** Worker threads of the process's actor system (--workers). */
  workers: number;
  coordinators: string[];
  stores: Map<number, string>;
}

export const fsmetaFlags: FlagSpecs = {
  config: { type: 'string', help: 'topology JSON file (default: the standard local topology)' },
  index: { type: 'int', help: 'which fsmeta entry of the topology this is (1-based)', default: 1, min: 1 },
  addr: { type: 'string', help: 'gRPC address (default: from the topology)' },
  'metrics-addr': { type: 'string', help: '/debug/vars address (default: from the topology)' },
  'token-file': { type: 'string', help: 'file holding the cluster token (required of clients for mutations, presented to stores and coordinators)' },
  workers: workersFlag,
  ...tlsFlags,
  'dev-memory-kv': { type: 'bool', help: 'DEVELOPMENT ONLY: keep metadata in this process\'s memory instead of the stores (lost on exit)', default: false },
};

export function fsmetaSettings(args: Parsed): FsmetaSettings {
  const f = args.flags;
  if (args.positionals.length > 0) throw new UsageError(`unexpected argument "${args.positionals[0]}"`);
  const topo = topologyFlag(f.config as string | undefined);
  const index = f.index as number;
  const me = topo.fsmeta[index - 1];
  if (!me) throw new UsageError(`--index ${index} is not in the topology (it has ${topo.fsmeta.length} fsmeta entries)`);
  const token = tokenFileFlag(f['token-file'] as string | undefined);
  return {
    index,
    workers: workersOf(f.workers, { topology: topo, role: 'fsmeta', addr: (f.addr as string | undefined) ?? me.addr }),
    addr: addrFlag('addr', (f.addr as string | undefined) ?? me.addr),
    metricsAddr: addrFlag('metrics-addr', (f['metrics-addr'] as string | undefined) ?? me.metrics_addr),
    ...(token ? { token } : {}),
    devMemoryKv: f['dev-memory-kv'] === true,
    coordinators: topo.coordinators.map((c) => c.addr),
    stores: new Map(topo.stores.map((s) => [s.store_id, s.addr])),
  };
}

/**
 * Conflict retries on the stores. Inserts into one directory do not conflict with each other (dirs.ts), but a
 * store transaction takes milliseconds and other contention (renames crossing, a removal racing inserts, a
 * fenced usage record) needs more attempts spaced further apart than the in-memory KV: 8 attempts, waits of
 * 2 ms << n (254 ms in all) before ABORTED.
 */
export const STORE_TXN_ATTEMPTS = 8;
export const STORE_TXN_BACKOFF_BASE_MS = 2;

interface Ports {
  ports: Pick<GatewayOptions, 'kv' | 'source' | 'duties' | 'executor'>;
  close(): void;
}

function clusterPorts(s: FsmetaSettings, ctx: RoleContext): Ports {
  // One coordinator client serves both the store client (routing, TSO) and the duties, so start and commit
  // timestamps come from the same era-checked TSO stream.
  const coord = new CoordinatorClient({ endpoints: s.coordinators, ...(s.token ? { token: s.token } : {}) });
  const store = connectStoreClient({ coordinatorAddrs: s.coordinators, coordinator: coord, ...(s.token ? { token: s.token } : {}) });
  const source = new StoreEventSource({ stores: s.stores, clock: ctx.clock, ...(s.token ? { token: s.token } : {}), logger: ctx.logger.child({ actor: 'apply-streams' }) });
  return {
    ports: {
      kv: new StoreKvAdapter(store),
      source,
      duties: new CoordinatorDutiesAdapter(coord, ctx.clock, `fsmeta-${s.index}`),
      executor: { maxTxnAttempts: STORE_TXN_ATTEMPTS, txnBackoffBaseMs: STORE_TXN_BACKOFF_BASE_MS },
    },
    close: () => {
      store.close();
      coord.close();
    },
  };
}

function memoryPorts(): Ports {
  const kv = new MemoryKv();
  const duties = new MemoryDuties(kv.tso);
  duties.registerMount(DEV_MOUNT, 1);
  return { ports: { kv, source: kv, duties }, close: () => undefined };
}

/** Fault drill (NOKV_FAULTS set): terminate a worker thread the watch sessions run on. */
function registerSessionThreadDrill(ctx: RoleContext): void {
  ctx.expvar.route({
    method: 'POST',
    path: '/debug/fsmeta/kill-session-thread',
    handle: async (body) => {
      if (ctx.actors.workers === 0) return { status: 409, body: { killed: false, reason: 'watch sessions run on the main thread (--workers 0)' } };
      const thread = body.trim() === '' ? 1 : Number((JSON.parse(body) as { thread?: unknown }).thread ?? 1);
      if (!Number.isInteger(thread) || thread < 1 || thread > ctx.actors.workers) throw new InvalidArgumentError(`thread must be an integer in [1, ${ctx.actors.workers}]`);
      await ctx.actors.killThread(thread);
      return { status: 200, body: { killed: true, thread } };
    },
  });
}

function children(s: FsmetaSettings, ctx: RoleContext) {
  const parts: { gw?: RunningGateway } = {};
  ctx.expvar.publish('nokv_fsmeta_executor', () => ({ addr: s.addr, backend: s.devMemoryKv ? 'dev-memory-kv' : 'stores', ...(parts.gw?.executor.stats ?? { starting: true }) }));
  ctx.expvar.publish('nokv_fsmeta_watch', () => parts.gw?.router.stats ?? { starting: true });
  ctx.expvar.publish('nokv_fsmeta_sessions', () => ({ session_threads: ctx.actors.workers, watch_streams: parts.gw?.service.streams ?? { starting: true } }));
  if (process.env[FAULTS_ENV] !== undefined) registerSessionThreadDrill(ctx);
  return [
    serviceChildSpec({
      id: 'gateway',
      start: async (fail) => {
        if (s.devMemoryKv) ctx.logger.warn('running on --dev-memory-kv: metadata lives in this process only and is lost on exit');
        const p = s.devMemoryKv ? memoryPorts() : clusterPorts(s, ctx);
        try {
          parts.gw = await startGateway({ ...p.ports, clock: ctx.clock, actors: ctx.actors, onFailure: fail, addr: s.addr, ...(s.token ? { token: s.token } : {}), logger: ctx.logger.child({ actor: 'grpc-front' }) });
        } catch (err) {
          p.close();
          throw err;
        }
        ctx.logger.info({ addr: parts.gw.addr }, 'fsmeta gateway serving');
        const gw = parts.gw;
        return {
          stop: async () => {
            await gw.stop();
            p.close();
          },
        };
      },
    }),
  ];
}

export const fsmetaCommand: Command = {
  name: 'fsmeta',
  summary: 'run the fsmeta gateway (nokv.fsmeta.v1.FSMetadata)',
  flags: fsmetaFlags,
  run: async (args) => {
    const s = fsmetaSettings(args);
    useTlsFlags(args.flags, `fsmeta-${args.flags.index ?? 1}`);
    return runRoleProcess({ role: 'fsmeta', node: String(s.index), metricsAddr: s.metricsAddr, workers: s.workers, children: (ctx) => children(s, ctx) });
  },
};
