// Owns the raft groups of one process: one tick timer for all of them, routing of inbound transport items
// to their group, and outbound sends through the shared transport (which batches every group's messages to
// the same destination into one stream write per turn — that is where heartbeats coalesce).
import type { Clock, TimerHandle } from '../../common/clock.js';
import { DropLog, type DropStats } from '../../common/drop-log.js';
import { silentLogger, type Logger } from '../../common/log.js';
import type { Message } from '../index.js';
import { senderIsMember, validateMessage } from '../validate.js';
import type { RaftGroup } from './group.js';

export interface MessageSink {
  send(to: number, group: number, msg: unknown): boolean;
}

export interface MultiRaftOptions {
  clock: Clock;
  tickMs: number;
  logger?: Logger;
  /**
   * Whether a node id is a peer this process is configured to talk to (the transport's peer list). Only a
   * replica still waiting for its first configuration accepts raft traffic on this alone; see senderIsMember.
   */
  isConfiguredPeer?: (nodeId: number) => boolean;
}

export class MultiRaft {
  private readonly groups = new Map<number, RaftGroup<any>>();
  private timer?: TimerHandle;
  private running = false;
  private readonly log: Logger;
  private readonly drops: DropLog;

  constructor(private readonly opts: MultiRaftOptions) {
    if (!(opts.tickMs > 0)) throw new RangeError('tickMs must be positive');
    this.log = opts.logger ?? silentLogger();
    this.drops = new DropLog(opts.clock, this.log, 'raft message');
  }

  /** A send function for RaftGroupOptions.send that routes through the transport. */
  static sender(sink: MessageSink, groupId: number): (msgs: Message[]) => void {
    return (msgs) => {
      for (const m of msgs) sink.send(m.to, groupId, m);
    };
  }

  add(group: RaftGroup<any>): void {
    if (this.groups.has(group.groupId)) throw new Error(`group ${group.groupId} already hosted`);
    this.groups.set(group.groupId, group);
  }

  get(groupId: number): RaftGroup<any> | undefined {
    return this.groups.get(groupId);
  }

  remove(groupId: number): void {
    this.groups.delete(groupId);
  }

  /**
   * Transport handler: the one place inbound raft messages enter. Each is validated and its sender checked
   * against the group's membership (src/raft/validate.ts) before the group steps it; anything else is counted
   * and dropped, never handed to the core.
   */
  deliver = (fromNode: number, items: Array<{ group: number; msg: unknown }>): void => {
    const isPeer = this.opts.isConfiguredPeer ?? (() => false);
    for (const item of items) {
      const g = this.groups.get(item.group);
      if (!g) {
        this.drops.drop(fromNode, 'unknown-group', { group: item.group });
        continue;
      }
      const checked = validateMessage(item.msg, { from: fromNode, to: g.nodeId });
      if (!checked.ok) {
        this.drops.drop(fromNode, checked.reason, { group: item.group, field: checked.field });
        continue;
      }
      if (!senderIsMember(fromNode, g.confState(), isPeer, g.nodeId)) {
        this.drops.drop(fromNode, 'not-member', { group: item.group });
        continue;
      }
      g.step(checked.value satisfies Message);
    }
  };

  /**
   * Transport handler for onPeerUnreachable: messages to `nodeId` may have been lost, so every hosted group
   * stops pipelining to it (and fails a snapshot in flight to it). The transport reports this at most once
   * per outage, so the cost is one pass over the groups.
   */
  peerUnreachable = (nodeId: number): void => {
    for (const g of this.groups.values()) g.reportUnreachable(nodeId);
  };

  start(): void {
    if (this.running) return;
    this.running = true;
    const loop = () => {
      if (!this.running) return;
      for (const g of this.groups.values()) g.tick();
      this.timer = this.opts.clock.setTimer(this.opts.tickMs, loop);
    };
    this.timer = this.opts.clock.setTimer(this.opts.tickMs, loop);
    this.log.debug({ groups: this.groups.size, tickMs: this.opts.tickMs }, 'raft ticking');
  }

  async stop(): Promise<void> {
    this.running = false;
    this.timer?.cancel();
    await Promise.all([...this.groups.values()].map((g) => g.close()));
  }

  /** Hosted groups and the inbound messages dropped before reaching them (by reason and by sending node). */
  stats(): { groups: number; inboundDrops: DropStats } {
    return { groups: this.groups.size, inboundDrops: this.drops.stats() };
  }
}
