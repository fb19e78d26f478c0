// Owns the raft peer of one meta-root replica as an actor: the only owner of the replica's LMDB environment,
// its root raft group (the production host, src/raft/host/group.ts, driven by this actor) and the rooted state
// machine the group applies into. Everything reaches it as a message, in order:
//
//   raft         one inbound batch's frame of the root group, still encoded (raft-port.ts forwards the bytes):
//                decoded here, each message validated (src/raft/validate.ts) and its sender checked against
//                the group's membership before the core sees it. Drops are counted, never stepped.
//   tick         the raft clock, from a timer of this actor
//   drive        the group has a Ready: its persist starts and comes back as `persisted` (or `persistFailed`),
//                so no handler waits on the disk while raft messages, proposals and reads queue behind it
//   write        a command from the gRPC front (ask): refused early against the applied state, else proposed;
//                answered once the entry applied here, with the applied outcome
//   read/status  the applied state and the replica's raft view (ask), after a read barrier when linearizable
//   subscribe    the tail actor asks for the applied cursor and then hears every applied command in order
//
// A failure of the group (storage, state machine, persist) or of a handler stops the actor with an error; its
// supervisor (the role's rest_for_one tree) restarts it, and the new one recovers from the log on disk, then
// the tail actor and the gRPC front restart after it. Its terminate closes LMDB, so the restart can open it.
//
// Placement (peer-handle.ts): `--workers 0` runs it on the main thread, `--workers N` on worker thread 1,
// where it opens the LMDB environment itself. Either way the raft transport stays on the main thread (one
// grpc-js server per process, raft-port.ts): outbound messages leave through PeerLinks — direct calls on the
// main thread, batched per turn into one message to the main thread's port actor from a worker.
import type { ActorContext, ActorRef, Behaviour } from '../../actors/index.js';
import type { Clock, TimerHandle } from '../../common/clock.js';
import { DropLog } from '../../common/drop-log.js';
import { InvalidArgumentError, NokvError, NotLeaderError, reviveError } from '../../common/errors.js';
import type { Logger } from '../../common/log.js';
import { defaultPrng, type Prng } from '../../common/prng.js';
import type { Message } from '../../raft/index.js';
import { RaftGroup } from '../../raft/host/group.js';
import { RaftGroupFailedError } from '../../raft/host/errors.js';
import { admitInbound } from '../../raft/host/inbound.js';
import { openRaftLogStore, openStorage, type Storage } from '../../storage/index.js';
import { decodeFrame } from '../../transport/raft/codec.js';
import { ROOT_GROUP_ID } from '../limits.js';
import {
  encodeCommand,
  evaluateCommand,
  tenureView,
  validateBatch,
  type CommandOutcome,
  type Cursor,
  type RootCommand,
  type RootEvent,
  type RootState,
} from '../state/index.js';
import { outcomeData, type OutcomeData, type ReplicaView } from '../wire.js';
import { RootStateMachine } from './state-machine.js';

/** The actor's name in logs, in the supervisor and on /debug/vars. */
export const RAFT_PEER_ACTOR = 'raft-peer';
/**
 * Mailbox of the peer actor: raft batches, proposals and reads queue here while a persist is in flight. A raft
 * batch that does not fit is dropped (raft recovers from lost messages); the actor's own messages that must
 * arrive (persist results) are retried until they fit.
 */
export const RAFT_PEER_MAILBOX_LIMIT = 65_536;

/** Plain data a peer is started from: what crosses to its thread as spawn args. */
export interface RootPeerConfig {
  nodeId: number;
  dataDir: string;
  /** Every voter of the root group (this node included). */
  voters: number[];
  /** node id → client address, for the leader hints of every answer. */
  clientAddrs: Array<[number, string]>;
  tickMs: number;
  electionTicks: number;
  heartbeatTicks: number;
  snapshotEveryEntries: number;
  compactionSlackEntries: number;
}

/** An outbound raft message: its destination node, group and the message itself. */
export interface OutboundRaft {
  to: number;
  group: number;
  msg: Message;
}

/** How the peer reaches what stays on the main thread (raft-port.ts). */
export interface PeerLinks {
  send(items: OutboundRaft[]): void;
  leaderChanged(leaderId: number, term: number): void;
}

export interface RootPeerOptions extends RootPeerConfig {
  /** Default: the clock of the thread the actor runs on (ctx.clock; a worker's is the one its owner chose). */
  clock?: Clock;
  prng: Prng;
  links: PeerLinks;
}

/** What a peer on a worker thread sends the main thread's port actor (raft-port.ts). */
export type PortMsg = { t: 'send'; items: OutboundRaft[] } | { t: 'leader'; leaderId: number; term: number };

/** Messages from the tail actor's point of view: what a subscriber hears. */
export type AppliedNotice = { t: 'applied'; cursor: Cursor; events: RootEvent[] } | { t: 'reset'; at: Cursor };

export type PeerMsg =
  /** One group frame of an inbound batch: a msgpack array of raft messages (transport/raft/codec.ts). */
  | { t: 'raft'; from: number; bytes: Uint8Array }
  | { t: 'unreachable'; node: number }
  | { t: 'tick' }
  | { t: 'drive' }
  | { t: 'persisted' }
  | { t: 'persistFailed'; error: unknown }
  | { t: 'failed'; error: unknown }
  /** Fault drills: the actor fails as a broken disk would make it. */
  | { t: 'crash'; reason: string }
  /** Ask → WriteReply; fails with the typed refusal (its `root_outcome` attached) or NotLeaderError. */
  | { t: 'write'; command: RootCommand; timeoutMs: number }
  /** Ask → ReadReply. */
  | { t: 'read'; linearizable: boolean; timeoutMs: number }
  /** Ask → PeerStatus. */
  | { t: 'status' }
  /** Ask → the applied cursor; `to` then hears every applied command (AppliedNotice). */
  | { t: 'subscribe'; to: ActorRef<AppliedNotice> }
  | { t: 'unsubscribe'; to: ActorRef<AppliedNotice> };

export interface WriteReply {
  outcome: OutcomeData;
  view: ReplicaView;
}

export interface ReadReply {
  view: ReplicaView;
  state: RootState;
}

export interface PeerStatus {
  view: ReplicaView;
  lastIndex: number;
  snapshotIndex: number;
  voters: number[];
  state: RootState;
  undecodableEntries: number;
  raft: { readies: number; earlySends: number; pendingProposals: number; inboundDrops: ReturnType<DropLog['stats']> };
}

type Ctx = ActorContext<PeerMsg>;

/** The outcome of a command refused before it was proposed: the state as it is. */
export function unchangedOutcome(state: RootState, nowMs: number | null): OutcomeData {
  return {
    accepted: false,
    events: [],
    tenure: nowMs === null ? null : tenureView(state, nowMs),
    legacy: state.legacy,
    handover: state.handover,
    id_fence: state.id_fence,
    tso_fence: state.tso_fence,
    cursor: { ...state.last_applied },
  };
}

/** The same typed error with the outcome attached, so the client can return it instead of throwing. */
export function refusal(err: NokvError, outcome: OutcomeData): Error {
  return reviveError({ name: err.name, code: err.code, message: err.message, details: { ...err.details, root_outcome: outcome } });
}

function nowOf(command: RootCommand): number | null {
  if (command.type === 'append') return null;
  return command.type === 'fence' ? command.req.now_ms : command.cmd.now_ms;
}

interface Subscriber {
  ref: ActorRef<AppliedNotice>;
  /** A notice did not fit its mailbox: the next one is a reset at the applied cursor instead of a silent gap. */
  lost: boolean;
}

export class RootPeerActor implements Behaviour<PeerMsg> {
  private storage?: Storage;
  private group?: RaftGroup<CommandOutcome>;
  private readonly sm = new RootStateMachine();
  private readonly subscribers = new Map<number, Subscriber>();
  private drops?: DropLog;
  private tickTimer?: TimerHandle;
  private tickQueued = false;
  private lastLeader = -1;
  private clock?: Clock;
  private retryTimers = new Set<TimerHandle>();
  private self?: ActorRef<PeerMsg>;
  private log?: Logger;
  private stopped = false;

  constructor(private readonly opts: RootPeerOptions) {}

  async init(ctx: Ctx): Promise<void> {
    const o = this.opts;
    this.self = ctx.self;
    this.log = ctx.log;
    this.clock = o.clock ?? ctx.clock;
    this.drops = new DropLog(this.clock, ctx.log, 'raft message');
    const storage = openStorage({ path: o.dataDir });
    this.storage = storage;
    try {
      this.group = await RaftGroup.open<CommandOutcome>({
        groupId: ROOT_GROUP_ID,
        nodeId: o.nodeId,
        bootstrapVoters: [...o.voters].sort((a, b) => a - b),
        store: openRaftLogStore(storage),
        stateMachine: this.sm,
        send: (msgs) => o.links.send(msgs.map((msg) => ({ to: msg.to, group: ROOT_GROUP_ID, msg }))),
        clock: this.clock,
        prng: o.prng.fork(),
        logger: ctx.log,
        electionTimeoutTicks: o.electionTicks,
        heartbeatTimeoutTicks: o.heartbeatTicks,
        snapshotEveryEntries: o.snapshotEveryEntries,
        compactionSlackEntries: o.compactionSlackEntries,
        externalDrive: { wake: () => this.tellSelf({ t: 'drive' }) },
        onLeaderChange: (leaderId, term) => {
          if (leaderId === this.lastLeader) return;
          this.lastLeader = leaderId;
          o.links.leaderChanged(leaderId, term);
        },
        onFailed: (error) => this.tellSelfSurely({ t: 'failed', error }),
      });
      this.sm.listen({
        applied: (cursor, outcome) => this.notify({ t: 'applied', cursor, events: outcome.events }),
        restored: (state) => this.notify({ t: 'reset', at: state.last_applied }),
      });
    } catch (err) {
      await this.close();
      throw err;
    }
    this.scheduleTick();
    ctx.log.info({ node: o.nodeId, data: o.dataDir }, 'meta-root raft peer started');
  }

  receive(msg: PeerMsg, ctx: Ctx): void | Promise<void> {
    const group = this.group!;
    switch (msg.t) {
      case 'raft':
        return this.stepAll(msg.from, msg.bytes);
      case 'unreachable':
        return group.reportUnreachable(msg.node);
      case 'tick':
        this.tickQueued = false;
        group.tick();
        // Also the safety net of `drive`: a wake-up lost to a full mailbox is picked up by the next tick.
        return this.drive();
      case 'drive':
        return this.drive();
      case 'persisted':
        return group.finishReady() ?? undefined;
      case 'persistFailed':
        return group.failReady(msg.error);
      case 'failed':
        throw msg.error instanceof Error ? msg.error : new RaftGroupFailedError(String(msg.error));
      case 'crash':
        throw new RaftGroupFailedError(`raft group ${ROOT_GROUP_ID} on node ${this.opts.nodeId} stopped after a failure: ${msg.reason}`, {
          injected: true,
        });
      case 'write':
        return this.write(msg.command, msg.timeoutMs, ctx);
      case 'read':
        return this.read(msg.linearizable, msg.timeoutMs, ctx);
      case 'status':
        return ctx.reply(this.status());
      case 'subscribe':
        this.subscribers.set(msg.to.id, { ref: msg.to, lost: false });
        return ctx.reply({ ...this.sm.state.last_applied });
      case 'unsubscribe':
        this.subscribers.delete(msg.to.id);
        return;
    }
  }

  async terminate(): Promise<void> {
    await this.close();
  }

  inspect(): unknown {
    const st = this.group?.status();
    return st ? { role: st.role, term: st.term, commit: st.commitIndex, applied: st.appliedIndex } : { opening: true };
  }

  // ---- raft plumbing ---------------------------------------------------------------------------------------

  /** Decodes one inbound frame and steps each message that passes the guard (admitInbound counts the rest). */
  private stepAll(from: number, bytes: Uint8Array): void {
    const group = this.group!;
    let msgs: unknown[];
    try {
      msgs = decodeFrame(bytes);
    } catch (err) {
      this.drops!.drop(from, 'undecodable', { group: ROOT_GROUP_ID, err: (err as Error).message });
      return;
    }
    const o = this.opts;
    const isConfiguredPeer = (id: number) => id !== o.nodeId && o.voters.includes(id);
    const check = { drops: this.drops!, groupId: ROOT_GROUP_ID, nodeId: o.nodeId, conf: group.confState(), isConfiguredPeer };
    for (const raw of msgs) {
      const m = admitInbound(from, raw, check);
      if (m) group.step(m);
    }
  }

  /** Starts the next Ready; its persist comes back as a message, so this handler returns at once. */
  private drive(): void {
    const persisted = this.group!.beginReady();
    if (!persisted) return;
    persisted.then(
      () => this.tellSelfSurely({ t: 'persisted' }),
      (error: unknown) => this.tellSelfSurely({ t: 'persistFailed', error }),
    );
  }

  private scheduleTick(): void {
    this.tickTimer = this.clock!.setTimer(this.opts.tickMs, () => {
      if (this.stopped) return;
      if (!this.tickQueued) this.tickQueued = this.tellSelf({ t: 'tick' });
      this.scheduleTick();
    });
  }

  /** A message to self that may be lost (a tick, a wake-up): false when the mailbox refused it. */
  private tellSelf(msg: PeerMsg): boolean {
    if (this.stopped || !this.self) return false;
    try {
      this.self.tell(msg);
      return true;
    } catch {
      return false;
    }
  }

  /** A message to self that must arrive (a persist result): retried until the mailbox takes it. */
  private tellSelfSurely(msg: PeerMsg): void {
    if (this.tellSelf(msg) || this.stopped) return;
    const timer = this.clock!.setTimer(1, () => {
      this.retryTimers.delete(timer);
      this.tellSelfSurely(msg);
    });
    this.retryTimers.add(timer);
  }

  /** Tells every subscriber about one applied command or a snapshot install, in apply order. */
  private notify(notice: AppliedNotice): void {
    for (const s of this.subscribers.values()) {
      try {
        if (s.lost) s.ref.tell({ t: 'reset', at: { ...this.sm.state.last_applied } });
        else s.ref.tell(notice);
        s.lost = false;
      } catch {
        s.lost = true;
      }
    }
  }

  private async close(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.tickTimer?.cancel();
    for (const t of this.retryTimers) t.cancel();
    this.retryTimers.clear();
    await this.group?.close().catch(() => undefined);
    await this.storage?.close().catch(() => undefined);
  }

  // ---- what the front asks -----------------------------------------------------------------------------------

  private view(): ReplicaView {
    const st = this.group!.status();
    return {
      node_id: st.nodeId,
      is_leader: st.role === 'leader',
      leader_id: st.leaderId,
      leader_addr: this.clientAddr(st.leaderId),
      raft_term: st.term,
      commit_index: st.commitIndex,
      applied_index: st.appliedIndex,
      applied_cursor: { ...this.sm.state.last_applied },
    };
  }

  private clientAddr(nodeId: number): string {
    if (!nodeId) return '';
    return this.opts.clientAddrs.find(([id]) => id === nodeId)?.[1] ?? '';
  }

  private notLeader(): NotLeaderError {
    const leaderId = this.group!.status().leaderId;
    const leaderAddr = this.clientAddr(leaderId);
    const who = leaderId ? `leader is node ${leaderId} at ${leaderAddr}` : 'no leader known';
    return new NotLeaderError(`not leader: meta-root node ${this.opts.nodeId} is not the leader (${who})`, { leaderId, leaderAddr });
  }

  private mapRaftError(err: unknown): unknown {
    return err instanceof NotLeaderError ? this.notLeader() : err;
  }

  private write(command: RootCommand, timeoutMs: number, ctx: Ctx): void {
    const group = this.group!;
    if (!group.isLeader) return ctx.fail(this.notLeader());
    const state = this.sm.state;
    // Quick refusals against the applied state, so a bad write costs no log entry. The applied outcome still
    // decides: the state may move while the entry is in flight.
    const pre = evaluateCommand(state, command);
    if (!pre.accepted) return ctx.fail(refusal(pre.error, unchangedOutcome(state, nowOf(command))));
    const valid = validateBatch(state, pre.events);
    if (!valid.ok) return ctx.fail(refusal(valid.error, unchangedOutcome(state, nowOf(command))));
    let bytes: Uint8Array;
    try {
      bytes = encodeCommand(command);
    } catch (err) {
      if (err instanceof InvalidArgumentError) return ctx.fail(refusal(err, unchangedOutcome(state, nowOf(command))));
      throw err;
    }
    const replier = ctx.deferReply();
    const log = ctx.log;
    group.propose(bytes, { timeoutMs }).then(
      (applied) => {
        const outcome = applied.result;
        log.debug({ index: applied.index, term: applied.term, accepted: outcome.accepted }, 'meta-root command applied');
        if (!outcome.accepted) return replier.fail(refusal(outcome.error!, outcomeData(outcome)));
        replier.reply({ outcome: outcomeData(outcome), view: this.view() } satisfies WriteReply);
      },
      (err: unknown) => replier.fail(this.mapRaftError(err)),
    );
  }

  private read(linearizable: boolean, timeoutMs: number, ctx: Ctx): void {
    if (!linearizable) return ctx.reply({ view: this.view(), state: this.sm.state } satisfies ReadReply);
    const replier = ctx.deferReply();
    this.group!.readBarrier({ timeoutMs }).then(
      () => replier.reply({ view: this.view(), state: this.sm.state } satisfies ReadReply),
      (err: unknown) => replier.fail(this.mapRaftError(err)),
    );
  }

  private status(): PeerStatus {
    const group = this.group!;
    const st = group.status();
    return {
      view: this.view(),
      lastIndex: st.lastIndex,
      snapshotIndex: group.snapshotIndexValue,
      voters: st.voters,
      state: this.sm.state,
      undecodableEntries: this.sm.undecodableEntries,
      raft: { ...group.stats(), inboundDrops: this.drops!.stats() },
    };
  }
}

/** Whether an error means the replica's raft peer or tail is not there to answer (stopped, restarting). */
export function peerUnavailable(err: unknown): boolean {
  return err instanceof NokvError && err.code === 'UNAVAILABLE';
}

/** Args of a peer spawned on a worker thread: its config and the main thread's port actor. */
export interface RootPeerArgs {
  config: RootPeerConfig;
  port: ActorRef<PortMsg>;
}

/**
 * Spawn export for a worker thread: the peer on that thread's clock and its own PRNG, its outbound raft
 * messages batched per turn into one `send` to the port actor (a turn's Ready sends to every peer at once).
 */
export function rootPeerOnWorker(args: RootPeerArgs): RootPeerActor {
  return new RootPeerActor({ ...args.config, prng: defaultPrng(), links: portLinks(args.port) });
}

function portLinks(port: ActorRef<PortMsg>): PeerLinks {
  let out: OutboundRaft[] = [];
  let scheduled = false;
  const flush = () => {
    scheduled = false;
    const items = out;
    out = [];
    port.tell({ t: 'send', items });
  };
  return {
    send(items) {
      for (const i of items) out.push(i);
      if (!scheduled) {
        scheduled = true;
        queueMicrotask(flush);
      }
    },
    leaderChanged: (leaderId, term) => port.tell({ t: 'leader', leaderId, term }),
  };
}
