// Owns the raft side of one meta-root replica: the LMDB environment, the root raft group over the raft
// transport, its tick loop, and the rooted state machine it applies into. Start opens and recovers (snapshot +
// log replay happen here); stop closes in reverse order so LMDB is released only after raft is quiet.
import type { Clock } from '../../common/clock.js';
import type { Logger } from '../../common/log.js';
import type { Prng } from '../../common/prng.js';
import { openRaftLogStore, openStorage, type Storage } from '../../storage/index.js';
import { RaftTransport, type FaultInjector } from '../../transport/index.js';
import { RaftGroup } from '../../raft/host/group.js';
import { MultiRaft } from '../../raft/host/multi.js';
import type { CommandOutcome } from '../state/index.js';
import { RootStateMachine } from './state-machine.js';
import { ROOT_GROUP_ID } from '../limits.js';

export interface RootPeerOptions {
  nodeId: number;
  dataDir: string;
  /** Where this replica's raft transport listens. */
  raftAddr: string;
  /** Every voter of the root group (this node included) → its raft address. */
  voters: Map<number, string>;
  /** Cluster token the raft streams present and require. */
  token?: string;
  tickMs: number;
  electionTicks: number;
  heartbeatTicks: number;
  snapshotEveryEntries: number;
  compactionSlackEntries: number;
  clock: Clock;
  prng: Prng;
  logger: Logger;
  faults?: FaultInjector;
  onLeaderChange?: (leaderId: number, term: number) => void;
  /** Told once if the root group stops after a failure (storage, state machine); the owner restarts the peer. */
  onFailed?: (err: Error) => void;
}

export interface RootPeer {
  readonly nodeId: number;
  readonly group: RaftGroup<CommandOutcome>;
  readonly sm: RootStateMachine;
  readonly transport: RaftTransport;
  stop(): Promise<void>;
}

export async function startRootPeer(opts: RootPeerOptions): Promise<RootPeer> {
  const storage: Storage = openStorage({ path: opts.dataDir });
  let transport: RaftTransport | undefined;
  let multi: MultiRaft | undefined;
  try {
    const store = openRaftLogStore(storage);
    const others = new Map([...opts.voters].filter(([id]) => id !== opts.nodeId));
    multi = new MultiRaft({ clock: opts.clock, tickMs: opts.tickMs, logger: opts.logger, isConfiguredPeer: (id) => others.has(id) });
    const m = multi;
    transport = new RaftTransport({
      nodeId: opts.nodeId,
      listenAddr: opts.raftAddr,
      peers: others,
      onMessages: m.deliver,
      onPeerUnreachable: m.peerUnreachable,
      ...(opts.token ? { token: opts.token } : {}),
      peerName: (id) => `meta-root-${id}`,
      clock: opts.clock,
      prng: opts.prng.fork(),
      logger: opts.logger,
      ...(opts.faults ? { faults: opts.faults } : {}),
    });
    const sm = new RootStateMachine();
    const group = await RaftGroup.open<CommandOutcome>({
      groupId: ROOT_GROUP_ID,
      nodeId: opts.nodeId,
      bootstrapVoters: [...opts.voters.keys()].sort((a, b) => a - b),
      store,
      stateMachine: sm,
      send: MultiRaft.sender(transport, ROOT_GROUP_ID),
      clock: opts.clock,
      prng: opts.prng.fork(),
      logger: opts.logger,
      electionTimeoutTicks: opts.electionTicks,
      heartbeatTimeoutTicks: opts.heartbeatTicks,
      snapshotEveryEntries: opts.snapshotEveryEntries,
      compactionSlackEntries: opts.compactionSlackEntries,
      ...(opts.onLeaderChange ? { onLeaderChange: opts.onLeaderChange } : {}),
      ...(opts.onFailed ? { onFailed: opts.onFailed } : {}),
    });
    multi.add(group);
    await transport.start();
    multi.start();
    const t = transport;
    let stopping: Promise<void> | undefined;
    return {
      nodeId: opts.nodeId,
      group,
      sm,
      transport: t,
      stop: () =>
        (stopping ??= (async () => {
          await m.stop();
          await t.close();
          await storage.close();
        })()),
    };
  } catch (err) {
    await multi?.stop().catch(() => undefined);
    await transport?.close().catch(() => undefined);
    await storage.close().catch(() => undefined);
    throw err;
  }
}
