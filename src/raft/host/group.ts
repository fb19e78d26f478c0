// Owns one raft group on one node: the host loop around the pure core. It ticks the core on the injected
// clock, feeds it peer messages, and handles each Ready in the order the core demands — persist (durable),
// then send, then apply to the state machine, then advance — and turns applied entries and read states back
// into answers for the callers of propose() and readBarrier(). Work for the group is serialised: at most
// one Ready is in flight, and everything else waits for the next turn of the loop.
import { NotLeaderError, TimeoutError, UnavailableError } from '../../common/errors.js';
import type { Clock, TimerHandle } from '../../common/clock.js';
import type { Prng } from '../../common/prng.js';
import { silentLogger, type Logger } from '../../common/log.js';
import { RaftCore, decodeConfChange, EntryType, type ConfChange, type Message, type Ready, type ConfState } from '../index.js';
import type { RaftLogStore } from '../../storage/raft-log-store.js';
import type { AppliedEntry, ProposeOptions, ReplicatedLog, ReplicationStatus, StateMachine, RaftRole } from './replicated.js';

/** Default deadline of a proposal or read barrier. */
export const DEFAULT_PROPOSE_TIMEOUT_MS = 5_000;
/** Proposals waiting for their entry to apply; more are refused with UnavailableError (back-pressure). */
export const MAX_PENDING_PROPOSALS = 10_000;
/** Take a snapshot and compact once this many entries were applied since the last snapshot. */
export const DEFAULT_SNAPSHOT_EVERY_ENTRIES = 10_000;
/** Entries kept behind a snapshot so slightly lagging followers catch up from the log, not a snapshot. */
export const DEFAULT_COMPACTION_SLACK_ENTRIES = 1_000;

export interface RaftGroupOptions<R> {
  groupId: number;
  nodeId: number;
  /** Voters of a brand-new group; ignored when the store already has state for the group. */
  bootstrapVoters: number[];
  store: RaftLogStore;
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
  /** Called after a ConfChange entry applied, with the configuration now in force. */
  onConfChange?: (conf: ConfState, cc: ConfChange) => void;
}

interface PendingProposal<R> {
  term: number;
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
  private leaderId = 0;
  private idle: Array<() => void> = [];
  private failed?: Error;

  private constructor(private readonly opts: RaftGroupOptions<R>) {
    this.groupId = opts.groupId;
    this.nodeId = opts.nodeId;
    this.log = (opts.logger ?? silentLogger()).child({ group: opts.groupId });
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
    if (init.conf.voters.length === 0 && init.conf.learners.length === 0 && groupLog.lastIndex() === 0) {
      if (this.opts.bootstrapVoters.length === 0) throw new Error(`group ${groupId} has no state and no bootstrap voters`);
      await store.persist(groupId, { conf: { voters: [...this.opts.bootstrapVoters], learners: [] } });
      groupLog = store.groupLog(groupId);
    }
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
      this.log.warn({ err, type: msg.type, from: msg.from }, 'raft message refused');
      return;
    }
    this.schedule();
  }

  /** Makes this node campaign now (tests and leader-transfer tooling). */
  campaign(): void {
    this.core.campaign();
    this.schedule();
  }

  propose(data: Uint8Array, opts: ProposeOptions = {}): Promise<{ index: number; term: number; result: R }> {
    if (this.closed) return Promise.reject(new UnavailableError('raft group is closed'));
    if (this.failed) return Promise.reject(this.failed);
    if (this.proposals.size >= MAX_PENDING_PROPOSALS) return Promise.reject(new UnavailableError('too many proposals in flight'));
    if (this.core.role !== 'leader') return Promise.reject(this.notLeader());
    let at: { index: number; term: number };
    try {
      at = this.core.propose(data);
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
      this.proposals.set(at.index, { term: at.term, resolve, reject, timer });
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
    this.core.transferLeader(to);
    this.schedule();
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

  get isLeader(): boolean {
    return this.core.role === 'leader';
  }

  get snapshotIndexValue(): number {
    return this.snapshotIndex;
  }

  /** Stops the loop; pending callers are told the group is closed. Waits for an in-flight Ready to finish. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.processing) await new Promise<void>((r) => this.idle.push(r));
    this.failAll(new UnavailableError('raft group is closed'));
  }

  // ---- the Ready loop -----------------------------------------------------------------------------------

  private notLeader(): NotLeaderError {
    return new NotLeaderError(`node ${this.nodeId} is not the leader of group ${this.groupId}`, { leaderId: this.core.leaderId });
  }

  private schedule(): void {
    if (this.scheduled || this.processing || this.closed) return;
    this.scheduled = true;
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
      // A storage failure leaves the node unable to keep its promises: stop it and let the supervisor decide.
      this.failed = err instanceof Error ? err : new Error(String(err));
      this.log.error({ err }, 'raft group failed; stopping it');
      this.failAll(this.failed);
    } finally {
      this.processing = false;
      for (const w of this.idle.splice(0)) w();
    }
    if (!this.closed && !this.failed && this.core.hasReady()) this.schedule();
  }

  private async handleReady(rd: Ready): Promise<void> {
    const { store, groupId } = this.opts;
    // 1. durable first: the messages below promise votes and acks that must survive a crash.
    if (rd.snapshot || rd.entries.length > 0 || rd.hardState) {
      await store.persist(groupId, {
        ...(rd.snapshot ? { snapshot: rd.snapshot } : {}),
        ...(rd.entries.length > 0 ? { entries: rd.entries } : {}),
        ...(rd.hardState ? { hardState: rd.hardState } : {}),
      });
    }
    // 2. send.
    if (rd.messages.length > 0) this.opts.send(rd.messages);
    // 3. apply.
    if (rd.snapshot) {
      this.opts.stateMachine.restore(rd.snapshot.data, rd.snapshot.meta.index, rd.snapshot.meta.term);
      this.applied = rd.snapshot.meta.index;
      this.snapshotIndex = rd.snapshot.meta.index;
      for (const [index, p] of this.proposals) {
        if (index <= this.applied) this.settleProposal(index, p, undefined);
      }
    }
    for (const e of rd.committedEntries) await this.applyEntry(e);
    if (rd.softState && rd.softState.leaderId !== this.leaderId) {
      this.leaderId = rd.softState.leaderId;
      this.log.info({ leader: this.leaderId, term: this.core.term, role: rd.softState.role }, 'raft leader changed');
      this.opts.onLeaderChange?.(this.leaderId, this.core.term);
      for (const l of this.leaderListeners) l(this.leaderId, this.core.term);
    }
    for (const rs of rd.readStates) {
      const id = new TextDecoder().decode(rs.ctx);
      const pending = this.reads.get(id);
      if (pending) pending.index = rs.index;
    }
    this.core.advance(rd);
    this.releaseReads();
  }

  private async applyEntry(e: { index: number; term: number; type: EntryType; data: Uint8Array }): Promise<void> {
    let result: R | undefined;
    if (e.type === EntryType.ConfChange) {
      const cc = decodeConfChange(e.data);
      const conf = this.core.applyConfChange(cc);
      await this.opts.store.persist(this.opts.groupId, { conf });
      this.opts.onConfChange?.(conf, cc);
    } else if (e.data.length > 0) {
      const entry: AppliedEntry = { index: e.index, term: e.term, data: e.data };
      result = this.opts.stateMachine.apply(entry);
    }
    this.applied = e.index;
    const p = this.proposals.get(e.index);
    if (p) {
      if (p.term === e.term) {
        this.proposals.delete(e.index);
        p.timer.cancel();
        p.resolve({ index: e.index, term: e.term, result: result as R });
      } else {
        this.settleProposal(e.index, p, undefined);
      }
    }
  }

  /** A proposal whose slot was taken by another entry (leader change) or covered by a snapshot is lost. */
  private settleProposal(index: number, p: PendingProposal<R>, _r: undefined): void {
    this.proposals.delete(index);
    p.timer.cancel();
    p.reject(new NotLeaderError(`proposal at index ${index} was superseded by a leader change`, { leaderId: this.core.leaderId }));
  }

  private releaseReads(): void {
    for (const [id, r] of this.reads) {
      if (r.index !== undefined && r.index <= this.applied) {
        this.reads.delete(id);
        r.timer.cancel();
        r.resolve();
      }
    }
  }

  /** Snapshots the state machine and compacts the log once enough entries were applied since the last one. */
  private async maybeSnapshot(): Promise<void> {
    const every = this.opts.snapshotEveryEntries ?? DEFAULT_SNAPSHOT_EVERY_ENTRIES;
    if (this.applied - this.snapshotIndex < every) return;
    const index = this.applied;
    const term = this.core.termAt(index);
    if (term === undefined) return;
    const data = this.opts.stateMachine.snapshot();
    const { store, groupId } = this.opts;
    await store.saveSnapshot(groupId, { meta: { index, term, conf: this.core.confState() }, data });
    this.snapshotIndex = index;
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
