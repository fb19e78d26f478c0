// Owns the raft peer of one meta-root replica as an actor: the only owner of the replica's LMDB environment,
// its raft transport, its root raft group (the production host, src/raft/host/group.ts, driven by this actor)
// and the rooted state machine the group applies into. Everything reaches it as a message, in order:
//
//   step         raft messages from a peer, already validated by the transport callback (shape, ranges,
//                addresses: src/raft/validate.ts); the sender is checked against the group's membership here,
//                where the membership lives, before the core sees them. Drops are counted, never stepped.
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
// the tail actor and the gRPC front restart after it. Its terminate closes the transport (freeing the raft
// port) and LMDB, so the restart can open them again.
//
// It runs on the owner thread: the gRPC front and the tail actor it serves live there, and its transport,
// storage and fault injector are process resources (docs/architecture.md has the placement argument).
import { actorChildSpec, type ActorContext, type ActorRef, type ActorSystem, type Behaviour, type TraceContext } from '../../actors/index.js';
import type { Clock, TimerHandle } from '../../common/clock.js';
import { DropLog } from '../../common/drop-log.js';
import { InvalidArgumentError, NokvError, NotLeaderError, UnavailableError, reviveError } from '../../common/errors.js';
import type { Logger } from '../../common/log.js';
import type { Prng } from '../../common/prng.js';
import type { Message } from '../../raft/index.js';
import { RaftGroup } from '../../raft/host/group.js';
import { RaftGroupFailedError } from '../../raft/host/errors.js';
import { MultiRaft } from '../../raft/host/multi.js';
import { senderIsMember, validateMessage } from '../../raft/validate.js';
import { openRaftLogStore, openStorage, type Storage } from '../../storage/index.js';
import { RaftTransport, type FaultInjector, type RaftTransportStats } from '../../transport/index.js';
import type { ChildSpec } from '../../supervisor/types.js';
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
/** Mailbox of the peer actor: raft batches, proposals and reads queue here while a persist is in flight. */
export const RAFT_PEER_MAILBOX_LIMIT = 65_536;
/**
 * Raft batches from the transport that may wait in the mailbox; more are dropped (and counted) at the door, so
 * the actor's own messages (persist results, ticks) always find room. Raft recovers from lost messages.
 */
export const MAX_QUEUED_RAFT_BATCHES = 4_096;

export interface RootPeerOptions {
  nodeId: number;
  dataDir: string;
  /** Where this replica's raft transport listens. */
  raftAddr: string;
  /** Every voter of the root group (this node included) → its raft address. */
  voters: Map<number, string>;
  /** node id → client address, for the leader hints of every answer. */
  clientAddrs: Map<number, string>;
  /** Cluster token the raft streams present and require. */
  token?: string;
  tickMs: number;
  electionTicks: number;
  heartbeatTicks: number;
  snapshotEveryEntries: number;
  compactionSlackEntries: number;
  clock: Clock;
  prng: Prng;
  faults?: FaultInjector;
  onLeaderChange?: (leaderId: number, term: number) => void;
  /** Awaited by init before anything is opened (fault drills hold a restart to observe the replica down). */
  beforeOpen?: () => Promise<void>;
}

/** Messages from the tail actor's point of view: what a subscriber hears. */
export type AppliedNotice = { t: 'applied'; cursor: Cursor; events: RootEvent[] } | { t: 'reset'; at: Cursor };

export type PeerMsg =
  | { t: 'step'; from: number; msgs: Message[] }
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
  transport: RaftTransportStats;
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
  private transport?: RaftTransport;
  private group?: RaftGroup<CommandOutcome>;
  private readonly sm = new RootStateMachine();
  private readonly subscribers = new Map<number, Subscriber>();
  private drops?: DropLog;
  private tickTimer?: TimerHandle;
  private tickQueued = false;
  private queuedBatches = 0;
  private retryTimers = new Set<TimerHandle>();
  private self?: ActorRef<PeerMsg>;
  private log?: Logger;
  private stopped = false;

  constructor(private readonly opts: RootPeerOptions) {}

  async init(ctx: Ctx): Promise<void> {
    const o = this.opts;
    this.self = ctx.self;
    this.log = ctx.log;
    await o.beforeOpen?.();
    this.drops = new DropLog(o.clock, ctx.log, 'raft message');
    const storage = openStorage({ path: o.dataDir });
    this.storage = storage;
    try {
      const others = new Map([...o.voters].filter(([id]) => id !== o.nodeId));
      const transport = new RaftTransport({
        nodeId: o.nodeId,
        listenAddr: o.raftAddr,
        peers: others,
        onMessages: (from, items) => this.inbound(from, items),
        onPeerUnreachable: (node) => this.tellSelf({ t: 'unreachable', node }),
        ...(o.token ? { token: o.token } : {}),
        peerName: (id) => `meta-root-${id}`,
        clock: o.clock,
        prng: o.prng.fork(),
        logger: ctx.log,
        ...(o.faults ? { faults: o.faults } : {}),
      });
      this.transport = transport;
      this.group = await RaftGroup.open<CommandOutcome>({
        groupId: ROOT_GROUP_ID,
        nodeId: o.nodeId,
        bootstrapVoters: [...o.voters.keys()].sort((a, b) => a - b),
        store: openRaftLogStore(storage),
        stateMachine: this.sm,
        send: MultiRaft.sender(transport, ROOT_GROUP_ID),
        clock: o.clock,
        prng: o.prng.fork(),
        logger: ctx.log,
        electionTimeoutTicks: o.electionTicks,
        heartbeatTimeoutTicks: o.heartbeatTicks,
        snapshotEveryEntries: o.snapshotEveryEntries,
        compactionSlackEntries: o.compactionSlackEntries,
        externalDrive: { wake: () => this.tellSelf({ t: 'drive' }) },
        ...(o.onLeaderChange ? { onLeaderChange: o.onLeaderChange } : {}),
        onFailed: (error) => this.tellSelfSurely({ t: 'failed', error }),
      });
      this.sm.listen({
        applied: (cursor, outcome) => this.notify({ t: 'applied', cursor, events: outcome.events }),
        restored: (state) => this.notify({ t: 'reset', at: state.last_applied }),
      });
      await transport.start();
    } catch (err) {
      await this.close();
      throw err;
    }
    this.scheduleTick();
    ctx.log.info({ node: o.nodeId, raft: o.raftAddr, data: o.dataDir }, 'meta-root raft peer started');
  }

  receive(msg: PeerMsg, ctx: Ctx): void | Promise<void> {
    const group = this.group!;
    switch (msg.t) {
      case 'step': {
        this.queuedBatches--;
        const conf = group.confState();
        const isPeer = (id: number) => this.opts.voters.has(id) && id !== this.opts.nodeId;
        if (!senderIsMember(msg.from, conf, isPeer)) {
          this.drops!.drop(msg.from, 'not-member', { group: ROOT_GROUP_ID, messages: msg.msgs.length });
          return;
        }
        for (const m of msg.msgs) group.step(m);
        return;
      }
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

  /**
   * Transport callback (outside the mailbox): checks each item against the message rules that need no state
   * and forwards the good ones as one `step`. Unknown groups, malformed messages and a full queue are dropped
   * and counted here; the membership check waits for the actor, which owns the membership.
   */
  private inbound(from: number, items: Array<{ group: number; msg: unknown }>): void {
    if (this.stopped) return;
    const drops = this.drops!;
    const msgs: Message[] = [];
    for (const item of items) {
      if (item.group !== ROOT_GROUP_ID) {
        drops.drop(from, 'unknown-group', { group: item.group });
        continue;
      }
      const checked = validateMessage(item.msg, { from, to: this.opts.nodeId });
      if (!checked.ok) {
        drops.drop(from, checked.reason, { group: item.group, field: checked.field });
        continue;
      }
      msgs.push(checked.value);
    }
    if (msgs.length === 0) return;
    if (this.queuedBatches >= MAX_QUEUED_RAFT_BATCHES || !this.tellSelf({ t: 'step', from, msgs })) {
      drops.drop(from, 'queue-full', { messages: msgs.length });
      return;
    }
    this.queuedBatches++;
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
    this.tickTimer = this.opts.clock.setTimer(this.opts.tickMs, () => {
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
    const timer = this.opts.clock.setTimer(1, () => {
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
    await this.transport?.close().catch(() => undefined);
    await this.storage?.close().catch(() => undefined);
  }

  // ---- what the front asks -----------------------------------------------------------------------------------

  private view(): ReplicaView {
    const st = this.group!.status();
    return {
      node_id: st.nodeId,
      is_leader: st.role === 'leader',
      leader_id: st.leaderId,
      leader_addr: st.leaderId ? (this.opts.clientAddrs.get(st.leaderId) ?? '') : '',
      raft_term: st.term,
      commit_index: st.commitIndex,
      applied_index: st.appliedIndex,
      applied_cursor: { ...this.sm.state.last_applied },
    };
  }

  private notLeader(): NotLeaderError {
    const leaderId = this.group!.status().leaderId;
    const leaderAddr = leaderId ? (this.opts.clientAddrs.get(leaderId) ?? '') : '';
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
      transport: this.transport!.stats(),
      raft: { ...group.stats(), inboundDrops: this.drops!.stats() },
    };
  }
}

/**
 * What the role, the gRPC front and /debug/vars hold: the supervisor child of the peer actor, and asks to the
 * running one. Between a failure and the restart's end there is no peer: asks answer UNAVAILABLE and the
 * replica reports its raft group `failed` (restart pending) instead of serving stale answers.
 */
export class RootPeerHandle {
  private ref: ActorRef<PeerMsg> | undefined;
  private startsCount = 0;
  private failure: string | undefined;

  constructor(
    private readonly actors: ActorSystem,
    /** The options of each (re)start. */
    private readonly options: () => RootPeerOptions,
  ) {}

  childSpec(): ChildSpec {
    return actorChildSpec<PeerMsg>(
      this.actors,
      { name: RAFT_PEER_ACTOR, thread: 0, mailboxLimit: RAFT_PEER_MAILBOX_LIMIT, behaviour: () => new RootPeerActor(this.options()) },
      {
        onStart: (ref) => {
          this.ref = ref;
          this.startsCount++;
          this.actors.onExit(ref, (reason) => {
            if (this.ref === ref) this.ref = undefined;
            if (typeof reason === 'object') this.failure = reason.error.message;
          });
        },
      },
    );
  }

  /** `running`, `failed` (stopped after a failure, restart pending) or `starting`: never a silent zombie. */
  get groupState(): 'running' | 'failed' | 'starting' {
    if (this.ref) return 'running';
    return this.failure ? 'failed' : 'starting';
  }

  /** Completed starts after the first: restarts after a failure. */
  get restarts(): number {
    return Math.max(0, this.startsCount - 1);
  }

  get lastFailure(): string | undefined {
    return this.failure;
  }

  get running(): boolean {
    return this.ref !== undefined;
  }

  /** The running peer actor (for actors that message it directly). */
  get current(): ActorRef<PeerMsg> | undefined {
    return this.ref;
  }

  /** Asks the running peer; UNAVAILABLE while there is none. */
  ask<R>(msg: PeerMsg, timeoutMs: number, trace?: TraceContext): Promise<R> {
    const ref = this.ref;
    if (!ref) return Promise.reject(new UnavailableError('meta-root raft peer is restarting'));
    return ref.ask<R>(msg, { timeoutMs, ...(trace ? { trace } : {}) });
  }

  /** Tells the running peer (fault drills); false when there is none. */
  tell(msg: PeerMsg): boolean {
    if (!this.ref) return false;
    this.ref.tell(msg);
    return true;
  }
}

/** Whether an error means the replica's raft peer or tail is not there to answer (stopped, restarting). */
export function peerUnavailable(err: unknown): boolean {
  return err instanceof NokvError && err.code === 'UNAVAILABLE';
}
