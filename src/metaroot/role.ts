// Owns the meta-root role process: `nokv meta-root --node-id N [--config FILE] [overrides]`. It resolves the
// replica's addresses from the topology (flags override), then runs a supervisor tree of four children in
// start order (rest_for_one): the raft transport (main thread: server/raft-port.ts), the raft peer actor (LMDB +
// root raft group + the rooted state machine: server/peer-actor.ts; on worker thread 1 with `--workers` >= 1,
// server/peer-handle.ts), the tail actor fed by the peer's applied commands (on the peer's thread), and the
// MetadataRoot gRPC front (main thread), which asks both. A failure of the peer restarts it (it recovers from
// its log) and the two after it; while it is down /debug/vars says `raft_group: failed`. /debug/vars publishes
// `nokv_meta_root`.
//
// In a process started with NOKV_FAULTS set, `POST /debug/raft-peer/crash` (loopback only, body
// `{"down_ms": N}`) fails the peer as a broken disk would and holds its restart for N ms, and
// `POST /debug/raft-peer/kill-thread` terminates the peer's worker thread: the drills the supervision tests run.
import { addrFlag, tokenFileFlag, topologyFlag, workersFlag, workersOf, tlsFlags, useTlsFlags } from '../roles/flags.js';
import { resolve } from 'node:path';
import type { Command } from '../cli/command.js';
import { UsageError, type FlagSpecs, type Parsed } from '../cli/flags.js';
import { defaultPrng } from '../common/prng.js';
import { runRoleProcess, type RoleContext } from '../roles/runtime.js';
import { serviceChildSpec } from '../roles/service-child.js';
import { FAULTS_ENV, faultInjectorFromEnv, startGrpcServer } from '../transport/index.js';
import { InvalidArgumentError } from '../common/errors.js';
import { maxDescriptorRootEpoch, stateSummary } from './state/index.js';
import {
  DEFAULT_COMPACTION_SLACK_ENTRIES,
  DEFAULT_ELECTION_TICKS,
  DEFAULT_HEARTBEAT_TICKS,
  DEFAULT_SNAPSHOT_EVERY_ENTRIES,
  DEFAULT_TAIL_RETAIN_ENTRIES,
} from './limits.js';
import type { PeerStatus } from './server/peer-actor.js';
import { RootPeerHandle } from './server/peer-handle.js';
import { RootRaftPort } from './server/raft-port.js';
import { TailHubActor } from './server/tail-actor.js';
import { metadataRootService } from './server/service.js';

export interface MetaRootSettings {
  nodeId: number;
  addr: string;
  raftAddr: string;
  metricsAddr: string;
  dataDir: string;
  token?: string;
  tickMs: number;
  electionTicks: number;
  heartbeatTicks: number;
  snapshotEveryEntries: number;
  compactionSlackEntries: number;
  tailRetainEntries: number;
  /** Worker threads of the process's actor system (--workers). */
  workers: number;
  /** node id → raft address of every voter. */
  voters: Map<number, string>;
  /** node id → client address, for leader hints. */
  clientAddrs: Map<number, string>;
}

export const metaRootFlags: FlagSpecs = {
  'node-id': { type: 'int', help: 'this replica\'s node id (one of topology meta_root.peers)', required: true, min: 1 },
  config: { type: 'string', help: 'topology JSON file (default: the standard local topology)' },
  addr: { type: 'string', help: 'client gRPC address (default: from the topology)' },
  'raft-addr': { type: 'string', help: 'raft transport address (default: from the topology)' },
  'metrics-addr': { type: 'string', help: '/debug/vars address (default: from the topology)' },
  'data-dir': { type: 'string', help: 'LMDB folder (default: data/meta-root-N)' },
  'token-file': { type: 'string', help: 'file holding the cluster token that mutations must present' },
  'tick-ms': { type: 'int', help: 'raft tick (default: topology meta_root.tick_ms)', min: 5, max: 1000 },
  'election-ticks': { type: 'int', help: 'ticks without a leader before campaigning', default: DEFAULT_ELECTION_TICKS, min: 3, max: 1000 },
  'heartbeat-ticks': { type: 'int', help: 'leader heartbeat period in ticks', default: DEFAULT_HEARTBEAT_TICKS, min: 1, max: 100 },
  'snapshot-every': { type: 'int', help: 'snapshot the rooted state every N applied entries', default: DEFAULT_SNAPSHOT_EVERY_ENTRIES, min: 2 },
  'compaction-slack': { type: 'int', help: 'raft entries kept behind a snapshot', default: DEFAULT_COMPACTION_SLACK_ENTRIES, min: 0 },
  'tail-retain': { type: 'int', help: 'applied commands kept for Tail/WaitTail', default: DEFAULT_TAIL_RETAIN_ENTRIES, min: 1, max: 1_000_000 },
  workers: workersFlag,
  ...tlsFlags,
};

/** Resolves and validates the flags against the topology; every problem is a one-line UsageError. */
export function metaRootSettings(args: Parsed): MetaRootSettings {
  const f = args.flags;
  if (args.positionals.length > 0) throw new UsageError(`unexpected argument "${args.positionals[0]}"`);
  const topo = topologyFlag(f.config as string | undefined);
  const nodeId = f['node-id'] as number;
  const me = topo.meta_root.peers.find((p) => p.node_id === nodeId);
  if (!me) throw new UsageError(`--node-id ${nodeId} is not in the topology (meta_root.peers: ${topo.meta_root.peers.map((p) => p.node_id).join(', ')})`);
  const electionTicks = f['election-ticks'] as number;
  const heartbeatTicks = f['heartbeat-ticks'] as number;
  if (heartbeatTicks >= electionTicks) throw new UsageError('--heartbeat-ticks must be below --election-ticks');
  const token = tokenFileFlag(f['token-file'] as string | undefined);
  const voters = new Map(topo.meta_root.peers.map((p) => [p.node_id, p.raft_addr]));
  const clientAddrs = new Map(topo.meta_root.peers.map((p) => [p.node_id, p.addr]));
  const addr = addrFlag('addr', (f.addr as string | undefined) ?? me.addr);
  const raftAddr = addrFlag('raft-addr', (f['raft-addr'] as string | undefined) ?? me.raft_addr);
  voters.set(nodeId, raftAddr);
  clientAddrs.set(nodeId, addr);
  return {
    nodeId,
    addr,
    raftAddr,
    metricsAddr: addrFlag('metrics-addr', (f['metrics-addr'] as string | undefined) ?? me.metrics_addr),
    dataDir: resolve((f['data-dir'] as string | undefined) ?? `data/meta-root-${nodeId}`),
    ...(token ? { token } : {}),
    tickMs: (f['tick-ms'] as number | undefined) ?? topo.meta_root.tick_ms,
    electionTicks,
    heartbeatTicks,
    snapshotEveryEntries: f['snapshot-every'] as number,
    compactionSlackEntries: f['compaction-slack'] as number,
    tailRetainEntries: f['tail-retain'] as number,
    workers: workersOf(f.workers, { topology: topo, role: 'meta_root', addr }),
    voters,
    clientAddrs,
  };
}

/** How long /debug/vars waits for the raft peer's status before showing the replica as busy. */
const STATUS_ASK_TIMEOUT_MS = 1_000;

function expvarOf(s: MetaRootSettings, peer: RootPeerHandle, tail: TailHubActor, port: RootRaftPort): () => Promise<unknown> {
  return async () => {
    const health = { raft_group: peer.groupState, raft_thread: peer.thread, raft_restarts: peer.restarts, last_raft_failure: peer.lastFailure ?? null };
    const st = peer.running ? await peer.ask<PeerStatus>({ t: 'status' }, STATUS_ASK_TIMEOUT_MS).catch(() => undefined) : undefined;
    if (!st) return { node_id: s.nodeId, addr: s.addr, starting: true, ...health, raft_group: peer.running ? 'busy' : health.raft_group };
    const state = st.state;
    const sum = stateSummary(state);
    return {
      node_id: s.nodeId,
      addr: s.addr,
      raft_addr: s.raftAddr,
      ...health,
      is_leader: st.view.is_leader,
      role: st.view.is_leader ? 'leader' : 'follower',
      leader_id: st.view.leader_id,
      leader_addr: st.view.leader_addr,
      term: st.view.raft_term,
      commit_index: st.view.commit_index,
      applied_index: st.view.applied_index,
      last_index: st.lastIndex,
      snapshot_index: st.snapshotIndex,
      last_applied: sum.last_applied,
      cluster_epoch: sum.cluster_epoch,
      membership_epoch: sum.membership_epoch,
      id_fence: sum.id_fence,
      tso_fence: sum.tso_fence,
      tenure: {
        holder_id: state.tenure.holder_id,
        era: state.tenure.era,
        expires_unix_ms: state.tenure.expires_unix_ms,
        sealed: sum.tenure.sealed,
        active: sum.tenure.holder_id !== '' && !sum.tenure.sealed && state.tenure.expires_unix_ms > Date.now(),
      },
      legacy_era: sum.legacy_era,
      handover_stage: sum.handover_stage,
      descriptor_count: sum.counts.regions,
      max_descriptor_root_epoch: maxDescriptorRootEpoch(state),
      counts: sum.counts,
      undecodable_entries: st.undecodableEntries,
      tail: await tail.stats(),
      transport: port.stats() ?? null,
      raft: st.raft,
    };
  };
}

/** Fault drills (NOKV_FAULTS set): fail the raft peer and hold its restart; terminate its worker thread. */
function registerPeerDrill(ctx: RoleContext, peer: RootPeerHandle, hold: { until: number }): void {
  ctx.expvar.route({
    method: 'POST',
    path: '/debug/raft-peer/kill-thread',
    handle: async () => {
      if (peer.thread === 0) return { status: 409, body: { killed: false, reason: 'the raft peer runs on the main thread (--workers 0)' } };
      await ctx.actors.killThread(peer.thread);
      return { status: 200, body: { killed: true, thread: peer.thread } };
    },
  });
  ctx.expvar.route({
    method: 'POST',
    path: '/debug/raft-peer/crash',
    handle: (body) => {
      let downMs = 0;
      if (body.trim() !== '') {
        const parsed = JSON.parse(body) as { down_ms?: unknown };
        downMs = Number(parsed.down_ms ?? 0);
        if (!Number.isInteger(downMs) || downMs < 0 || downMs > 60_000) throw new InvalidArgumentError('down_ms must be an integer in [0, 60000]');
      }
      hold.until = ctx.clock.now() + downMs;
      const told = peer.tell({ t: 'crash', reason: `injected failure (down ${downMs} ms)` });
      return { status: told ? 200 : 409, body: { crashed: told, down_ms: downMs } };
    },
  });
}

function children(s: MetaRootSettings, ctx: RoleContext) {
  const log = ctx.logger;
  const hold = { until: 0 };
  const port = new RootRaftPort(ctx.actors, {
    nodeId: s.nodeId,
    raftAddr: s.raftAddr,
    voters: s.voters,
    ...(s.token ? { token: s.token } : {}),
    clock: ctx.clock,
    prng: defaultPrng(),
    logger: log,
    ...(faultsOf(ctx) ? { faults: faultsOf(ctx)! } : {}),
    peerOnWorker: ctx.actors.workers > 0,
    onLeaderChange: (leaderId, term) => {
      const leaderAddr = leaderId ? (s.clientAddrs.get(leaderId) ?? '') : '';
      log.info({ leader: leaderId, leader_addr: leaderAddr, term, self: leaderId === s.nodeId }, 'meta-root leader changed');
    },
  });
  const transport = serviceChildSpec({ id: 'raft-transport', start: () => port.start() });
  const peer = new RootPeerHandle(ctx.actors, {
    config: {
      nodeId: s.nodeId,
      dataDir: s.dataDir,
      voters: [...s.voters.keys()],
      clientAddrs: [...s.clientAddrs],
      tickMs: s.tickMs,
      electionTicks: s.electionTicks,
      heartbeatTicks: s.heartbeatTicks,
      snapshotEveryEntries: s.snapshotEveryEntries,
      compactionSlackEntries: s.compactionSlackEntries,
    },
    port,
    clock: ctx.clock,
    hold,
  });
  const tail = new TailHubActor(ctx.actors, s.tailRetainEntries, () => peer.current);
  ctx.expvar.publish('nokv_meta_root', expvarOf(s, peer, tail, port));
  if (process.env[FAULTS_ENV] !== undefined) registerPeerDrill(ctx, peer, hold);
  const front = serviceChildSpec({
    id: 'grpc-front',
    start: async () => {
      const service = metadataRootService({ peer, hub: tail, clock: ctx.clock, logger: log.child({ actor: 'grpc-front' }) });
      const server = await startGrpcServer({ addr: s.addr, services: [service.binding], ...(s.token ? { token: s.token } : {}) });
      log.info({ addr: server.addr, auth: s.token ? 'token' : 'off' }, 'meta-root MetadataRoot listening');
      return {
        stop: async () => {
          service.endStreams();
          await server.close();
        },
      };
    },
  });
  return [transport, peer.childSpec(), tail.childSpec(), front];
}

let faults: ReturnType<typeof faultInjectorFromEnv> | null = null;
/** NOKV_FAULTS, read once per process (a restarted raft peer keeps the same injector and its rules). */
function faultsOf(ctx: RoleContext) {
  if (faults === null) faults = faultInjectorFromEnv(ctx.clock);
  return faults;
}

/** Runs the role until SIGTERM/SIGINT (exit 0) or a supervisor that gave up (exit 1). */
export async function runMetaRoot(s: MetaRootSettings): Promise<number> {
  return runRoleProcess({
    role: 'meta-root',
    node: String(s.nodeId),
    metricsAddr: s.metricsAddr,
    workers: s.workers,
    children: (ctx) => children(s, ctx),
  });
}

export const metaRootCommand: Command = {
  name: 'meta-root',
  summary: 'run one meta-root replica (the Raft-replicated rooted truth)',
  flags: metaRootFlags,
  run: async (args) => {
    const settings = metaRootSettings(args);
    useTlsFlags(args.flags, `meta-root-${settings.nodeId}`);
    return runMetaRoot(settings);
  },
};

