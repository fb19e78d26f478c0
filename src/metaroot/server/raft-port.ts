// Owns what of the meta-root's raft plumbing stays on the main thread whatever the peer's placement: the raft
// transport (a grpc-js server and client streams cannot move between threads, and a process has one), the
// route of each inbound batch's root-group frame to the peer actor as bytes (decoded on the peer's thread), and,
// when the peer runs on a worker, the port actor that takes its outbound messages and leader changes.
//
// The transport is a supervisor child started before the peer (role.ts, rest_for_one): a peer restart leaves
// the streams to the other replicas up, and frames arriving while no peer runs are dropped and counted (raft
// recovers from lost messages). A restart of this child restarts the peer after it.
import type { ActorContext, ActorRef, ActorSystem, Behaviour } from '../../actors/index.js';
import type { Clock } from '../../common/clock.js';
import { DropLog, type DropStats } from '../../common/drop-log.js';
import type { Logger } from '../../common/log.js';
import type { Prng } from '../../common/prng.js';
import { RaftTransport, type FaultInjector, type RaftFrame, type RaftTransportStats } from '../../transport/index.js';
import { ROOT_GROUP_ID } from '../limits.js';
import type { OutboundRaft, PeerLinks, PeerMsg, PortMsg } from './peer-actor.js';

/** The port actor's name (on the main thread, only while the peer runs on a worker). */
export const RAFT_PORT_ACTOR = 'raft-port';

export interface RootRaftPortOptions {
  nodeId: number;
  /** Where this replica's raft transport listens. */
  raftAddr: string;
  /** Every voter of the root group (this node included) → its raft address. */
  voters: Map<number, string>;
  /** Cluster token the raft streams present and require. */
  token?: string;
  clock: Clock;
  prng: Prng;
  logger: Logger;
  faults?: FaultInjector;
  /** Whether the peer runs on a worker thread (then a port actor takes what it sends out). */
  peerOnWorker: boolean;
  onLeaderChange?: (leaderId: number, term: number) => void;
}

/** The transport's stats plus what the route dropped before a frame reached the peer. */
export type RootRaftPortStats = RaftTransportStats & { routeDrops: DropStats };

export class RootRaftPort {
  private transport: RaftTransport | undefined;
  private port: ActorRef<PortMsg> | undefined;
  private peer: ActorRef<PeerMsg> | undefined;
  private readonly drops: DropLog;

  constructor(
    private readonly actors: ActorSystem,
    private readonly o: RootRaftPortOptions,
  ) {
    this.drops = new DropLog(o.clock, o.logger, 'raft frame');
  }

  /** Starts the transport (and the port actor when the peer runs on a worker): the role's supervisor child. */
  async start(): Promise<{ stop: () => Promise<void> }> {
    const o = this.o;
    const transport = new RaftTransport({
      nodeId: o.nodeId,
      listenAddr: o.raftAddr,
      peers: new Map([...o.voters].filter(([id]) => id !== o.nodeId)),
      onFrames: this.route,
      onPeerUnreachable: (node) => this.tellPeer({ t: 'unreachable', node }),
      ...(o.token ? { token: o.token } : {}),
      peerName: (id) => `meta-root-${id}`,
      clock: o.clock,
      prng: o.prng.fork(),
      logger: o.logger,
      ...(o.faults ? { faults: o.faults } : {}),
    });
    let port: ActorRef<PortMsg> | undefined;
    try {
      await transport.start();
      if (o.peerOnWorker) port = await this.actors.spawn<PortMsg>({ name: RAFT_PORT_ACTOR, thread: 0, behaviour: this.portBehaviour(transport) });
    } catch (err) {
      await transport.close();
      throw err;
    }
    this.transport = transport;
    this.port = port;
    return {
      stop: async () => {
        if (this.transport === transport) this.transport = undefined;
        if (port) {
          if (this.port === port) this.port = undefined;
          await this.actors.stop(port);
        }
        await transport.close();
      },
    };
  }

  /** The port actor a worker peer sends to (set while the transport child runs with a worker peer). */
  get portRef(): ActorRef<PortMsg> | undefined {
    return this.port;
  }

  /** Links of a peer on the main thread: direct calls, no message in between. */
  directLinks(): PeerLinks {
    return {
      send: (items) => this.sendOut(items),
      leaderChanged: (leaderId, term) => this.o.onLeaderChange?.(leaderId, term),
    };
  }

  /** The peer that inbound frames go to from now on (undefined: none running, frames are dropped). */
  attach(peer: ActorRef<PeerMsg> | undefined): void {
    this.peer = peer;
  }

  detach(peer: ActorRef<PeerMsg>): void {
    if (this.peer?.equals(peer)) this.peer = undefined;
  }

  stats(): RootRaftPortStats | undefined {
    const st = this.transport?.stats();
    return st ? { ...st, routeDrops: this.drops.stats() } : undefined;
  }

  private sendOut(items: OutboundRaft[]): void {
    const t = this.transport;
    if (!t) return; // restarting: raft resends what matters
    for (const i of items) t.send(i.to, i.group, i.msg);
  }

  private portBehaviour(transport: RaftTransport): Behaviour<PortMsg> {
    return {
      receive: (msg: PortMsg, _ctx: ActorContext<PortMsg>) => {
        if (msg.t === 'send') {
          for (const i of msg.items) transport.send(i.to, i.group, i.msg);
        } else this.o.onLeaderChange?.(msg.leaderId, msg.term);
      },
    };
  }

  /**
   * Transport handler: the root group's frame of each inbound batch goes to the peer as bytes, decoded and
   * validated on the peer's own thread. A frame for a worker peer is copied out of the gRPC buffer (a view
   * would make the structured clone copy the whole buffer behind it).
   */
  private route = (from: number, frames: RaftFrame[]): void => {
    for (const f of frames) {
      if (f.group !== ROOT_GROUP_ID) {
        this.drops.drop(from, 'unknown-group', { group: f.group });
        continue;
      }
      const peer = this.peer;
      if (!peer) {
        this.drops.drop(from, 'peer-down', { group: f.group });
        continue;
      }
      if (!this.tellPeer({ t: 'raft', from, bytes: peer.thread === 0 ? f.bytes : new Uint8Array(f.bytes) })) {
        this.drops.drop(from, 'peer-busy', { group: f.group });
      }
    }
  };

  /** False when the peer is not running or its mailbox (on this thread) is full. */
  private tellPeer(msg: PeerMsg): boolean {
    const peer = this.peer;
    if (!peer) return false;
    try {
      peer.tell(msg);
      return true;
    } catch {
      return false;
    }
  }
}
