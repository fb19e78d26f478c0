// Owns one raft group on one node: the host loop around the pure core. It ticks the core on the injected
// clock, feeds it peer messages, and handles each Ready in the order the core demands — persist (durable),
// then send, then apply to the state machine, then advance — and turns applied entries and read states back
// into answers for the callers of propose() and readBarrier(). Work for the group is serialised: at most
// one Ready is in flight, and everything else waits for the next turn of the loop.
//
// Durability argument (what is fsynced before what leaves the node): a Ready's entries, hard state and
// snapshot are on disk before any message that depends on them is sent, and before any entry is applied or
// any proposal acknowledged. The one exception is etcd's parallel leader append (Raft thesis §10.2.1): a
// leader whose Ready changes neither term nor vote and installs no snapshot sends its appends while its own
// persist is in flight. That is safe here because (a) those messages promise nothing about the leader's own
// disk — followers persist before they ack; (b) a commit index covering the new entries can only be computed
// from acks to these very messages and leaves the node only in a LATER Ready, which starts after this
// persist completed; (c) entries are applied and proposals acknowledged after the persist. So anything
// reported committed is durable on the leader and on enough followers for a quorum. A Ready that only moves
// the commit index is written behind the loop (see persistReady). docs/raft.md has the long form.
import { raftProposeSeconds } from '../../common/metrics.js';
import { NotLeaderError, ResourceExhaustedError, TimeoutError, UnavailableError } from '../../common/errors.js';
import type { Clock, TimerHandle } from '../../common/clock.js';
import type { Prng } from '../../common/prng.js';
import { silentLogger, type Logger } from '../../common/log.js';
import { RaftCore, bootstrapState, RaftInvariantError, decodeConfChange, EntryType, type ConfChange, type Entry, type Message, type ProgressView, type Ready, type ConfState, type HardState } from '../index.js';
import type { RaftLogStore } from '../../storage/raft-log-store.js';
import { currentTrace, withTrace, type TraceContext } from '../../common/trace-context.js';
import { RaftGroupFailedError } from './errors.js';
import type { ProposeOptions, ReplicatedLog, ReplicationStatus, StateMachine, RaftRole } from './replicated.js';

/** Default deadline of a proposal or read barrier. */
export const DEFAULT_PROPOSE_TIMEOUT_MS = 5_000;
/** Proposals waiting for their entry to apply; more are refused with ResourceExhaustedError (back-pressure). */
export const MAX_PENDING_PROPOSALS = 10_000;
/** Take a snapshot and compact once this many entries were applied since the last snapshot. */
export const DEFAULT_SNAPSHOT_EVERY_ENTRIES = 10_000;
/** Entries kept behind a snapshot so slightly lagging followers catch up from the log, not a snapshot. */
export const DEFAULT_COMPACTION_SLACK_ENTRIES = 1_000;

/** What the host needs from the durable log (a RaftLogStore; tests may wrap one to delay or fail writes). */
export type RaftGroupStore = Pick<RaftLogStore, 'groupLog' | 'persist' | 'saveSnapshot' | 'compact'>;

/** Message types a leader may send before its own persist of the same Ready completes (see the header). */
const LEADER_EARLY_TYPES: ReadonlySet<Message['type']> = new Set(['app', 'heartbeat', 'snap', 'timeoutNow', 'readIndexResp']);

export interface RaftGroupOptions<R> {
  groupId: number;
  nodeId: number;
  /** Voters of a brand-new group; ignored when the store already has state for the group. */
  bootstrapVoters: number[];
  /**
   * A member added to a running group: with no stored state and no bootstrap voters it starts empty and
   * waits for the leader's snapshot (which carries the membership) instead of refusing to start.
   */
  join?: boolean;
  store: RaftGroupStore;
  stateMachine: StateMachine<R>;
  /** Hands messages to the transport; the host never waits on it. */
  send: (msgs: Message[]) => void;
  clock: Clock;
  prng: Prng;
  logger?: Logger;
  electionTimeoutTicks?: number;
  heartbeatTimeoutTicks?: number;
  snapshotEveryEntries?: number;
  compactionSlackEntries?: number;
  /** Called (once per change) with the new leader id (0 = unknown) and term. */
  onLeaderChange?: (leaderId: number, term: number) => void;
  /** Called after a ConfChange entry applied, with the configuration now in force and the entry's index. */
  onConfChange?: (conf: ConfState, cc: ConfChange, index: number) => void;
  /** Called once if the group stops after a failure (storage, state machine); callers get RaftGroupFailedError. */
  onFailed?: (err: RaftGroupFailedError) => void;
  /** Leader sends appends while persisting the same entries (default true); see the header for why it is safe. */
  parallelLeaderAppend?: boolean;
  /**
   * Who runs the Ready loop. Absent: the group itself, on a microtask after each input. Present: the owner
   * (an actor) is woken when there is work and runs one Ready per message — beginReady() starts the persist,
   * whose completion comes back to the owner as a message that calls finishReady() — so no handler of the
   * owner ever waits on the disk. The order of persist, send, apply and advance is the same either way.
   */
  externalDrive?: { wake: () => void };
}

interface PendingProposal<R> {
  term: number;
  /** The trace of the call that proposed it: its apply is logged under it. */
  trace: TraceContext | undefined;
  resolve: (v: { index: number; term: number; result: R }) => void;
  reject: (e: Error) => void;
  timer: TimerHandle;
}

interface PendingRead {
  index?: number;
  resolve: () => void;
  reject: (e: Error) => void;
  timer: TimerHandle;
}

const ROLE_NAMES: Record<string, RaftRole> = { follower: 'follower', candidate: 'candidate', preCandidate: 'precandidate', leader: 'leader' };

export class RaftGroup<R = unknown> implements ReplicatedLog<R> {
  readonly groupId: number;
  readonly nodeId: number;
  private core!: RaftCore;
  private readonly log: Logger;
  private readonly proposals = new Map<number, PendingProposal<R>>();
  private readonly reads = new Map<string, PendingRead>();
  private readonly leaderListeners = new Set<(leaderId: number, term: number) => void>();
  private nextReadId = 1;
  private processing = false;
  private scheduled = false;
  private closed = false;
  private applied = 0;
  private snapshotIndex = 0;
  /** requestSnapshot() was called and no snapshot was taken since. */
  private snapshotRequested = false;
  private leaderId = 0;
  private idle: Array<() => void> = [];
  private failed?: RaftGroupFailedError;
  /** Term and vote as last persisted: a Ready that changes them must be durable before its messages leave. */
  private durableTerm = 0;
  private durableVote = 0;
  private readonly parallelAppend: boolean;
  /** The newest hard state whose only change was the commit index; written with the next durable write. */
  private lazyHardState?: HardState;
  private readonly counters = { readies: 0, earlySends: 0 };
  /** externalDrive: the Ready whose persist is in flight, and that persist. */
  private inflight?: { rd: Ready; early: boolean; persisted: Promise<void> };

  private constructor(private readonly opts: RaftGroupOptions<R>) {
    this.groupId = opts.groupId;
    this.nodeId = opts.nodeId;
    this.log = (opts.logger ?? silentLogger()).child({ group: opts.groupId });
    this.parallelAppend = opts.parallelLeaderAppend ?? true;
  }

  /** Recovers the group from the store (bootstrapping a new one with its voters) and restores the state machine. */
  static async open<R>(opts: RaftGroupOptions<R>): Promise<RaftGroup<R>> {
    const g = new RaftGroup(opts);
    await g.recover();
    return g;
  }

  private async recover(): Promise<void> {
    const { store, groupId } = this.opts;
    let groupLog = store.groupLog(groupId);
    const init = groupLog.initialState();
    const fresh = init.conf.voters.length === 0 && init.conf.learners.length === 0 && groupLog.lastIndex() === 0;
    if (fresh && !this.opts.join) {
      if (this.opts.bootstrapVoters.length === 0) throw new Error(`group ${groupId} has no state and no bootstrap voters`);
      // Founders start from the same bootstrap snapshot (index 1, term 1, the founding membership and the state
      // machine's initial state), never from an empty log: a member added later then learns the founders from
      // that snapshot instead of replaying a log that lacks them (which could elect two leaders in one term).
      const boot = bootstrapState({ voters: [...this.opts.bootstrapVoters], learners: [] }, this.opts.stateMachine.snapshot());
      await store.persist(groupId, { snapshot: boot.snapshot, hardState: boot.hardState });
      groupLog = store.groupLog(groupId);
    }
    const hs = groupLog.initialState().hardState;
    this.durableTerm = hs.term;
    this.durableVote = hs.vote;
    const snap = groupLog.snapshot();
    if (snap.meta.index > 0) this.opts.stateMachine.restore(snap.data, snap.meta.index, snap.meta.term);
    this.applied = snap.meta.index;
    this.snapshotIndex = snap.meta.index;
    this.core = new RaftCore(
      {
        id: this.nodeId,
        electionTimeoutTicks: this.opts.electionTimeoutTicks ?? 10,
        heartbeatTimeoutTicks: this.opts.heartbeatTimeoutTicks ?? 2,
        prng: this.opts.prng,
        appliedIndex: snap.meta.index,
      },
      groupLog,
    );
    this.log.info({ applied: this.applied, last: groupLog.lastIndex(), term: init.hardState.term }, 'raft group recovered');
  }

  // ---- inputs ---------------------------------------------------------------------------------------------

  tick(): void {
    if (this.closed || this.failed) return;
    this.core.tick();
    this.schedule();
  }

  step(msg: Message): void {
    if (this.closed || this.failed) return;
    try {
      this.core.step(msg);
    } catch (err) {
      // A broken core invariant is a bug: stop this replica rather than keep going on corrupt state.
      if (err instanceof RaftInvariantError) return this.fail(err);
      this.log.warn({ err, type: msg.type, from: msg.from }, 'raft message refused');
      return;
    }
    this.schedule();
  }

  /** Makes this node campaign now (tests and leader-transfer tooling). */
  campaign(): void {
    if (this.closed || this.failed) return;
    this.core.campaign();
    this.schedule();
  }

  propose(data: Uint8Array, opts: ProposeOptions = {}): Promise<{ index: number; term: number; result: R }> {
    const started = performance.now(); // measurement only (nokv_raft_propose_commit_seconds): no behaviour depends on it
    return this.submit(() => this.core.propose(data), opts).then((r) => {
      raftProposeSeconds.observe((performance.now() - started) / 1000);
      return r;
    });
  }

  /**
   * Proposes a single-step membership change (add voter, add learner, promote learner, remove node); resolves
   * once the change is applied here, with the configuration now in force. A new member is started empty
   * (RaftGroupOptions.join) and learns the group from the leader's snapshot.
   */
  async changeMembership(cc: ConfChange, opts: ProposeOptions = {}): Promise<{ index: number; term: number; conf: ConfState }> {
    const r = await this.submit(() => this.core.proposeConfChange(cc), opts);
    return { index: r.index, term: r.term, conf: this.core.confState() };
  }

  /** Appends an entry through `append` (leader only) and waits for it to apply here. */
  private submit(append: () => { index: number; term: number }, opts: ProposeOptions): Promise<{ index: number; term: number; result: R }> {
    if (this.closed) return Promise.reject(new UnavailableError('raft group is closed'));
    if (this.failed) return Promise.reject(this.failed);
    if (this.proposals.size >= MAX_PENDING_PROPOSALS) {
      return Promise.reject(new ResourceExhaustedError('too many proposals in flight', { limit: MAX_PENDING_PROPOSALS }));
    }
    if (this.core.role !== 'leader') return Promise.reject(this.notLeader());
    let at: { index: number; term: number };
    try {
      at = append();
    } catch (err) {
      return Promise.reject(err);
    }
    return new Promise((resolve, reject) => {
      const timer = this.opts.clock.setTimer(opts.timeoutMs ?? DEFAULT_PROPOSE_TIMEOUT_MS, () => {
        if (this.proposals.get(at.index)?.timer === timer) {
          this.proposals.delete(at.index);
          reject(new TimeoutError(`proposal at index ${at.index} not applied in time`, { index: at.index }));
        }
      });
      this.proposals.set(at.index, { term: at.term, trace: currentTrace(), resolve, reject, timer });
      this.schedule();
    });
  }

  readBarrier(opts: ProposeOptions = {}): Promise<void> {
    if (this.closed) return Promise.reject(new UnavailableError('raft group is closed'));
    if (this.failed) return Promise.reject(this.failed);
    const id = `${this.nodeId}:${this.nextReadId++}`;
    try {
      this.core.readIndex(new TextEncoder().encode(id));
    } catch (err) {
      return Promise.reject(err instanceof NotLeaderError ? this.notLeader() : err);
    }
    return new Promise((resolve, reject) => {
      const timer = this.opts.clock.setTimer(opts.timeoutMs ?? DEFAULT_PROPOSE_TIMEOUT_MS, () => {
        if (this.reads.delete(id)) reject(new TimeoutError('read barrier not confirmed in time (leader change?)'));
      });
      this.reads.set(id, { resolve, reject, timer });
      this.schedule();
    });
  }

  transferLeader(to: number): void {
    if (this.closed || this.failed) return;
    this.core.transferLeader(to);
    this.schedule();
  }

  /**
   * The transport may have lost messages to `peer` (stream or dial failed, queue overflowed). A leader stops
   * pipelining to it and probes; a snapshot in flight to it counts as failed, so the leader may retry it as
   * soon as the peer answers again instead of waiting out snapshotRetryTicks. (Success needs no report: the
   * follower's answer to the snapshot moves its progress on.)
   */
  reportUnreachable(peer: number): void {
    if (this.closed || this.failed || peer === this.nodeId) return;
    if (this.core.progressOf(peer)?.state === 'snapshot') this.core.reportSnapshot(peer, false);
    this.core.reportUnreachable(peer);
    this.schedule();
  }

  /** Replication progress of `peer` as this leader sees it (undefined on a follower). */
  progressOf(peer: number): ProgressView | undefined {
    return this.core.progressOf(peer);
  }

  /** The failure that stopped the group, if any. */
  get failure(): RaftGroupFailedError | undefined {
    return this.failed;
  }

  /** Readys handled, and how many of them sent their messages before their persist completed. */
  stats(): { readies: number; earlySends: number; pendingProposals: number } {
    return { ...this.counters, pendingProposals: this.proposals.size };
  }

  onLeaderChange(listener: (leaderId: number, term: number) => void): () => void {
    this.leaderListeners.add(listener);
    return () => this.leaderListeners.delete(listener);
  }

  status(): ReplicationStatus {
    const conf = this.core.confState();
    return {
      nodeId: this.nodeId,
      role: ROLE_NAMES[this.core.role] ?? 'follower',
      term: this.core.term,
      leaderId: this.core.leaderId,
      commitIndex: this.core.committed,
      appliedIndex: this.applied,
      lastIndex: this.core.lastIndex(),
      voters: [...conf.voters],
    };
  }

  /** The membership this replica knows (the inbound guard checks senders against it). */
  confState(): ConfState {
    return this.core.confState();
  }

  get isLeader(): boolean {
    return this.core.role === 'leader';
  }

  get snapshotIndexValue(): number {
    return this.snapshotIndex;
  }

  /** Stops the loop; pending callers are told the group is closed. Waits for an in-flight Ready to finish. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.opts.externalDrive) {
      // The owner is stopping and will not finish the Ready: wait for its persist only (a restart re-reads it).
      const inflight = this.inflight;
      this.inflight = undefined;
      if (inflight) await inflight.persisted.catch(() => undefined);
      this.processing = false;
    } else if (this.processing) await new Promise<void>((r) => this.idle.push(r));
    this.failAll(new UnavailableError('raft group is closed'));
    // A clean stop leaves the newest commit on disk, so a restart replays what it had applied without waiting
    // for the leader (best effort: a crash simply skips this).
    const lazy = this.lazyHardState;
    this.lazyHardState = undefined;
    if (lazy && !this.failed) await this.opts.store.persist(this.groupId, { hardState: lazy }).catch(() => undefined);
  }

  // ---- the Ready loop -----------------------------------------------------------------------------------

  private notLeader(): NotLeaderError {
    return new NotLeaderError(`node ${this.nodeId} is not the leader of group ${this.groupId}`, { leaderId: this.core.leaderId });
  }

  private schedule(): void {
    if (this.scheduled || this.processing || this.closed) return;
    this.scheduled = true;
    const external = this.opts.externalDrive;
    if (external) return external.wake();
    queueMicrotask(() => {
      this.scheduled = false;
      void this.drive();
    });
  }

  private async drive(): Promise<void> {
    if (this.processing || this.closed || this.failed) return;
    this.processing = true;
    try {
      while (!this.closed && this.core.hasReady()) {
        await this.handleReady(this.core.ready());
      }
      await this.maybeSnapshot();
    } catch (err) {
      this.fail(err);
    } finally {
      this.processing = false;
      for (const w of this.idle.splice(0)) w();
    }
    if (!this.closed && !this.failed && this.core.hasReady()) this.schedule();
  }

  // ---- the Ready loop run by an owner (externalDrive) ------------------------------------------------------

  /**
   * Starts the next Ready: sends what may leave before the persist (see the header), starts the persist and
   * returns it; the owner calls finishReady() once it resolved (or failReady() if it rejected). Undefined when
   * there is nothing to do (no Ready, one already in flight, closed or failed).
   */
  beginReady(): Promise<void> | undefined {
    if (!this.opts.externalDrive) throw new Error('assertion: beginReady() needs externalDrive');
    this.scheduled = false;
    if (this.processing || this.closed || this.failed || !this.core.hasReady()) return undefined;
    this.processing = true;
    const rd = this.core.ready();
    let persisted: Promise<void>;
    let early = false;
    try {
      early = this.startReady(rd);
      persisted = this.persistReady(rd);
    } catch (err) {
      persisted = Promise.reject(err);
    }
    this.inflight = { rd, early, persisted };
    return persisted;
  }

  /**
   * The persist of the Ready begun last is durable: sends the rest, applies, advances. Returns a promise only
   * when this turn has more disk work (a membership change or a snapshot), which the owner awaits.
   */
  finishReady(): void | Promise<void> {
    const inflight = this.inflight;
    this.inflight = undefined;
    if (!inflight || this.closed || this.failed) return this.endExternalTurn();
    try {
      const more = this.completeReady(inflight.rd, inflight.early);
      const snap = !more && this.snapshotDue() ? this.maybeSnapshot() : undefined;
      if (more || snap) {
        return (async () => {
          try {
            await more;
            await (snap ?? this.maybeSnapshot());
          } catch (err) {
            this.fail(err);
          }
          this.endExternalTurn();
        })();
      }
    } catch (err) {
      this.fail(err);
    }
    this.endExternalTurn();
  }

  /** The persist of the Ready begun last failed: the group stops (see fail()). */
  failReady(err: unknown): void {
    this.inflight = undefined;
    this.fail(err);
    this.endExternalTurn();
  }

  private endExternalTurn(): void {
    this.processing = false;
    for (const w of this.idle.splice(0)) w();
    if (!this.closed && !this.failed && this.core.hasReady()) this.schedule();
  }

  /**
   * A failed persist leaves the node unable to keep its promises (the core believes a Ready is outstanding,
   * the disk may hold part of it): stop the group for good, tell every caller with one typed error, and let
   * the owner (supervisor) decide. Recovery is a restart, which re-reads what is durable.
   */
  private fail(cause: unknown): void {
    if (this.failed) return;
    this.failed = RaftGroupFailedError.from(this.groupId, this.nodeId, cause);
    this.log.error({ err: cause }, 'raft group failed; stopping it');
    this.failAll(this.failed);
    try {
      this.opts.onFailed?.(this.failed);
    } catch (err) {
      this.log.error({ err }, 'onFailed handler threw');
    }
  }

  private async handleReady(rd: Ready): Promise<void> {
    const early = this.startReady(rd);
    // 1. durable first: the messages below promise votes and acks that must survive a crash.
    await this.persistReady(rd);
    await this.completeReady(rd, early);
  }

  /** Counts the Ready and sends its messages now if they may leave before the persist; true if they did. */
  private startReady(rd: Ready): boolean {
    this.counters.readies++;
    const early = rd.messages.length > 0 && this.maySendBeforePersist(rd);
    if (early) {
      this.counters.earlySends++;
      this.opts.send(rd.messages);
    }
    return early;
  }

  /**
   * Steps 2-4 of a Ready whose persist is durable. Synchronous unless a committed entry is a membership
   * change (whose configuration is written before the next entry applies): then the rest runs after it.
   */
  private completeReady(rd: Ready, early: boolean): void | Promise<void> {
    // 2. send.
    if (!early && rd.messages.length > 0) this.opts.send(rd.messages);
    // 3. apply.
    if (rd.snapshot) this.applySnapshot(rd.snapshot.data, rd.snapshot.meta.index, rd.snapshot.meta.term);
    const entries = rd.committedEntries;
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i]!;
      if (e.type === EntryType.ConfChange) return this.completeFromConfChange(rd, i);
      this.applyNormal(e);
    }
    this.endReady(rd);
  }

  private async completeFromConfChange(rd: Ready, from: number): Promise<void> {
    for (const e of rd.committedEntries.slice(from)) {
      if (e.type === EntryType.ConfChange) await this.applyConfChange(e);
      else this.applyNormal(e);
    }
    this.endReady(rd);
  }

  private endReady(rd: Ready): void {
    if (rd.softState && rd.softState.leaderId !== this.leaderId) this.noteLeader(rd.softState.leaderId, rd.softState.role);
    for (const rs of rd.readStates) {
      const pending = this.reads.get(new TextDecoder().decode(rs.ctx));
      if (pending) pending.index = rs.index;
    }
    // 4. advance.
    this.core.advance(rd);
    this.releaseReads();
  }

  /** Parallel leader append applies only to a leader's Ready that promises nothing about term, vote or snapshot. */
  private maySendBeforePersist(rd: Ready): boolean {
    if (!this.parallelAppend || this.core.role !== 'leader' || rd.snapshot) return false;
    if (rd.hardState && (rd.hardState.term !== this.durableTerm || rd.hardState.vote !== this.durableVote)) return false;
    for (const m of rd.messages) if (!LEADER_EARLY_TYPES.has(m.type) && !m.reject) return false;
    return true;
  }

  private async persistReady(rd: Ready): Promise<void> {
    if (!rd.snapshot && rd.entries.length === 0 && !rd.hardState) return;
    if (!rd.mustSync) {
      // Only the commit index moved. Nothing sent or applied depends on it being on disk (a restarted node
      // starts from commit >= its snapshot index and learns the rest again from the leader), so it costs no
      // write of its own: it rides along with the next write that has to be durable anyway. Writing it on its
      // own doubled the fsyncs per proposal, and each one queued ahead of the next proposal's entries.
      this.lazyHardState = rd.hardState;
      return;
    }
    const hardState = rd.hardState ?? this.lazyHardState;
    await this.opts.store.persist(this.groupId, {
      ...(rd.snapshot ? { snapshot: rd.snapshot } : {}),
      ...(rd.entries.length > 0 ? { entries: rd.entries } : {}),
      ...(hardState ? { hardState } : {}),
    });
    this.lazyHardState = undefined;
    if (rd.hardState) {
      this.durableTerm = rd.hardState.term;
      this.durableVote = rd.hardState.vote;
    }
  }

  private applySnapshot(data: Uint8Array, index: number, term: number): void {
    this.opts.stateMachine.restore(data, index, term);
    this.applied = index;
    this.snapshotIndex = index;
    for (const [i, p] of this.proposals) {
      if (i <= this.applied) this.settleProposal(i, p);
    }
  }

  private noteLeader(leaderId: number, role: string): void {
    this.leaderId = leaderId;
    this.log.info({ leader: leaderId, term: this.core.term, role }, 'raft leader changed');
    this.opts.onLeaderChange?.(leaderId, this.core.term);
    for (const l of this.leaderListeners) l(leaderId, this.core.term);
  }

  private async applyConfChange(e: Entry): Promise<void> {
    const cc = decodeConfChange(e.data);
    const conf = this.core.applyConfChange(cc);
    await this.opts.store.persist(this.opts.groupId, { conf });
    this.opts.onConfChange?.(conf, cc, e.index);
    this.finishApply(e, undefined);
  }

  private applyNormal(e: Entry): void {
    // Empty entries are the no-ops a new leader appends to commit its term; the state machine never sees them.
    const result = e.data.length > 0 ? this.opts.stateMachine.apply({ index: e.index, term: e.term, data: e.data }) : undefined;
    this.finishApply(e, result);
  }

  private finishApply(e: Entry, result: R | undefined): void {
    this.applied = e.index;
    const p = this.proposals.get(e.index);
    if (!p) return;
    if (p.term !== e.term) {
      this.settleProposal(e.index, p);
      return;
    }
    this.proposals.delete(e.index);
    p.timer.cancel();
    if (p.trace && this.log.isLevelEnabled('debug')) withTrace(p.trace, () => this.log.debug({ index: e.index, term: e.term }, 'raft entry applied'));
    p.resolve({ index: e.index, term: e.term, result: result as R });
  }

  /** A proposal whose slot was taken by another entry (leader change) or covered by a snapshot is lost. */
  private settleProposal(index: number, p: PendingProposal<R>): void {
    this.proposals.delete(index);
    p.timer.cancel();
    p.reject(new NotLeaderError(`proposal at index ${index} was superseded by a leader change`, { leaderId: this.core.leaderId }));
  }

  private releaseReads(): void {
    if (this.reads.size === 0) return;
    for (const [id, r] of this.reads) {
      if (r.index !== undefined && r.index <= this.applied) {
        this.reads.delete(id);
        r.timer.cancel();
        r.resolve();
      }
    }
  }

  private snapshotDue(): boolean {
    if (this.snapshotRequested && this.applied > this.snapshotIndex) return true;
    return this.applied - this.snapshotIndex >= (this.opts.snapshotEveryEntries ?? DEFAULT_SNAPSHOT_EVERY_ENTRIES);
  }

  /**
   * Takes a snapshot (and compacts) after the next Ready, however few entries were applied since the last one.
   * A member about to be added then starts from the state machine as it is now rather than from an old snapshot
   * — the founders' bootstrap one, say — whose state (a region's range before its splits) it would install first.
   * snapshotIndexValue moves once it is taken.
   */
  requestSnapshot(): void {
    this.snapshotRequested = true;
  }

  /** Snapshots the state machine and compacts the log once enough entries were applied since the last one. */
  private async maybeSnapshot(): Promise<void> {
    if (!this.snapshotDue()) return;
    const index = this.applied;
    const term = this.core.termAt(index);
    if (term === undefined) return;
    const data = this.opts.stateMachine.snapshot();
    const { store, groupId } = this.opts;
    // A durable snapshot must never be ahead of the durable commit (a restart would find applied > commit):
    // a commit index still waiting to ride along with the next write goes to disk first.
    const lazy = this.lazyHardState;
    if (lazy) {
      this.lazyHardState = undefined;
      await store.persist(groupId, { hardState: lazy });
    }
    await store.saveSnapshot(groupId, { meta: { index, term, conf: this.core.confState() }, data });
    this.snapshotIndex = index;
    this.snapshotRequested = false;
    const slack = this.opts.compactionSlackEntries ?? DEFAULT_COMPACTION_SLACK_ENTRIES;
    const compactTo = index - slack;
    if (compactTo > 0) await store.compact(groupId, compactTo);
    this.log.info({ index, bytes: data.length, compactedTo: Math.max(0, compactTo) }, 'raft snapshot taken');
  }

  private failAll(err: Error): void {
    for (const [, p] of this.proposals) {
      p.timer.cancel();
      p.reject(err);
    }
    this.proposals.clear();
    for (const [, r] of this.reads) {
      r.timer.cancel();
      r.reject(err);
    }
    this.reads.clear();
  }
}
