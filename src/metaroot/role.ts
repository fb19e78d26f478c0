// Owns the meta-root role process: `nokv meta-root --node-id N [--config FILE] [overrides]`. It resolves the
// replica's addresses from the topology (flags override), then runs a supervisor tree of three children in
// start order (rest_for_one): the raft peer (LMDB + root raft group + raft transport), the tail actor fed by
// the applied log, and the MetadataRoot gRPC front. /debug/vars publishes `nokv_meta_root`.
//
// The tail hub is an actor (src/metaroot/server/tail-actor.ts). The raft peer stays a service on purpose: it is
// the hot path, and its host loop keeps raft, persistence and apply in one place, which a mailbox in between
// would only slow down. The gRPC front is grpc-js's own event loop.
import { addrFlag, tokenFileFlag, topologyFlag, workersFlag, workersOf, tlsFlags, useTlsFlags } from '../roles/flags.js';
import { resolve } from 'node:path';
import type { Command } from '../cli/command.js';
import { UsageError, type FlagSpecs, type Parsed } from '../cli/flags.js';
import { defaultPrng } from '../common/prng.js';
import { runRoleProcess, type RoleContext } from '../roles/runtime.js';
import { serviceChildSpec } from '../roles/service-child.js';
import { faultInjectorFromEnv, startGrpcServer } from '../transport/index.js';
import { maxDescriptorRootEpoch, stateSummary } from './state/index.js';
import {
  DEFAULT_COMPACTION_SLACK_ENTRIES,
  DEFAULT_ELECTION_TICKS,
  DEFAULT_HEARTBEAT_TICKS,
  DEFAULT_SNAPSHOT_EVERY_ENTRIES,
  DEFAULT_TAIL_RETAIN_ENTRIES,
} from './limits.js';
import { startRootPeer, type RootPeer } from './server/peer.js';
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
    workers: workersOf(f.workers),
    voters,
    clientAddrs,
  };
}

/** The live parts of the replica; children fill them in as they start and clear them as they stop. */
interface Parts {
  peer?: RootPeer;
  tail?: TailHubActor;
  /** Starts of the raft peer: every one after the first followed a failure of its group (or of its start). */
  raftStarts: number;
  lastRaftFailure?: string;
}

/** `running`, `failed` (stopped after a failure, restart pending) or `starting`: never a silent zombie. */
function raftGroupState(parts: Parts): 'running' | 'failed' | 'starting' {
  if (!parts.peer) return 'starting';
  return parts.peer.group.failure ? 'failed' : 'running';
}

function expvarOf(s: MetaRootSettings, parts: Parts): () => unknown {
  return () => {
    const peer = parts.peer;
    const health = { raft_group: raftGroupState(parts), raft_restarts: Math.max(0, parts.raftStarts - 1), last_raft_failure: parts.lastRaftFailure ?? null };
    if (!peer) return { node_id: s.nodeId, addr: s.addr, starting: true, ...health };
    const st = peer.group.status();
    const state = peer.sm.state;
    const sum = stateSummary(state);
    return {
      node_id: s.nodeId,
      addr: s.addr,
      raft_addr: s.raftAddr,
      ...health,
      is_leader: st.role === 'leader',
      role: st.role,
      leader_id: st.leaderId,
      leader_addr: st.leaderId ? (s.clientAddrs.get(st.leaderId) ?? '') : '',
      term: st.term,
      commit_index: st.commitIndex,
      applied_index: st.appliedIndex,
      last_index: st.lastIndex,
      snapshot_index: peer.group.snapshotIndexValue,
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
      undecodable_entries: peer.sm.undecodableEntries,
      tail: parts.tail?.stats() ?? null,
      transport: peer.transport.stats(),
    };
  };
}

function children(s: MetaRootSettings, ctx: RoleContext) {
  const parts: Parts = { raftStarts: 0 };
  const log = ctx.logger;
  ctx.expvar.publish('nokv_meta_root', expvarOf(s, parts));
  let lastLeader = -1;
  const raftPeer = serviceChildSpec({
    id: 'raft-peer',
    start: async (fail) => {
      parts.raftStarts++;
      const peer = await startRootPeer({
        nodeId: s.nodeId,
        dataDir: s.dataDir,
        raftAddr: s.raftAddr,
        voters: s.voters,
        ...(s.token ? { token: s.token } : {}),
        tickMs: s.tickMs,
        electionTicks: s.electionTicks,
        heartbeatTicks: s.heartbeatTicks,
        snapshotEveryEntries: s.snapshotEveryEntries,
        compactionSlackEntries: s.compactionSlackEntries,
        clock: ctx.clock,
        prng: defaultPrng(),
        logger: log.child({ actor: 'raft-peer' }),
        ...(faultsOf(ctx) ? { faults: faultsOf(ctx)! } : {}),
        onLeaderChange: (leaderId, term) => {
          if (leaderId === lastLeader) return;
          lastLeader = leaderId;
          const leaderAddr = leaderId ? (s.clientAddrs.get(leaderId) ?? '') : '';
          log.info({ leader: leaderId, leader_addr: leaderAddr, term, self: leaderId === s.nodeId }, 'meta-root leader changed');
        },
        onFailed: (err) => {
          parts.lastRaftFailure = err.message;
          fail(err);
        },
      });
      parts.peer = peer;
      log.info({ node: s.nodeId, raft: s.raftAddr, data: s.dataDir }, 'meta-root raft peer started');
      return {
        stop: async () => {
          parts.peer = undefined;
          await peer.stop();
        },
      };
    },
  });
  const tail = new TailHubActor(ctx.actors, s.tailRetainEntries, () => {
    if (!parts.peer) throw new Error('assertion: tail hub started before the raft peer');
    return parts.peer.sm;
  });
  parts.tail = tail;
  const tailHub = tail.childSpec();
  const front = serviceChildSpec({
    id: 'grpc-front',
    start: async () => {
      const service = metadataRootService({
        node: () => (parts.peer && parts.tail?.running ? { peer: parts.peer, hub: parts.tail } : undefined),
        leaderAddrOf: (id) => s.clientAddrs.get(id) ?? '',
        clock: ctx.clock,
        logger: log.child({ actor: 'grpc-front' }),
      });
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
  return [raftPeer, tailHub, front];
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

