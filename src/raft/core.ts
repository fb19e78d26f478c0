// Owns the raft consensus state machine of one node: terms, votes, roles, replication flow control,
// commitment, ReadIndex, leader transfer and membership. It is pure: no timers, I/O, promises or wall
// clock. Time arrives as tick(), the network as step(msg), work leaves as ready(); the host persists, sends,
// applies and then calls advance(ready). See Ready in messages.ts for the ordering obligations.
import { InvalidArgumentError, NotLeaderError } from '../common/errors.js';
import { assert } from './assert.js';
import { resolveConfig, type RaftConfig, type ResolvedRaftConfig } from './config.js';
import { encodeConfChange, nextConfState, type ConfChange } from './confchange.js';
import { ProposalDroppedError } from './errors.js';
import { RaftLog } from './log.js';
import type { Message, MessageType, Ready, ReadState, Role, SoftState } from './messages.js';
import { ProgressTracker, type Progress, type ProgressState } from './progress.js';
import { ReadOnlyQueue, type ReadRequest } from './readonly.js';
import { EntryType, type ConfState, type Entry, type HardState, type LogReader, type NodeId, type Snapshot } from './types.js';

type CampaignKind = 'preElection' | 'election';

// Shared by every message without entries; frozen so no host can mutate it for all.
const EMPTY = Object.freeze([]) as unknown as Entry[];

/** Read-only view of a follower's replication progress, for status pages and tests. */
export interface ProgressView {
  match: number;
  next: number;
  state: ProgressState;
  inflight: number;
  isLearner: boolean;
  recentActive: boolean;
}

export class RaftCore {
  readonly id: NodeId;
  private readonly cfg: ResolvedRaftConfig;
  private readonly log: RaftLog;
  private readonly trk: ProgressTracker;
  private readonly readOnly = new ReadOnlyQueue();

  private termValue = 0;
  private vote: NodeId = 0;
  private lead: NodeId = 0;
  private roleValue: Role = 'follower';

  private electionElapsed = 0;
  private heartbeatElapsed = 0;
  private randomizedElectionTimeout = 0;
  private leadTransferee: NodeId = 0;
  /** Index of the newest conf change the leader appended; another waits until it is applied. */
  private pendingConfIndex = 0;
  private uncommittedBytes = 0;
  /** ReadIndex requests that arrived before this leader committed an entry of its term. */
  private pendingReadIndex: ReadRequest[] = [];
  /** Entries were appended since the last broadcast: send them in one append per peer at ready(). */
  private appendPending = false;

  private msgs: Message[] = [];
  private readStates: ReadState[] = [];
  private prevSoft: SoftState;
  private prevHard: HardState;
  private outstanding: Ready | undefined;

  /**
   * Starts (or restarts) a node from what `storage` holds: hard state, configuration and log. A brand-new
   * group member starts from an empty storage whose initialState().conf lists the initial voters; a node
   * joining later starts from an empty configuration and learns it from the leader's snapshot or log.
   */
  constructor(config: RaftConfig, storage: LogReader) {
    this.cfg = resolveConfig(config);
    this.id = this.cfg.id;
    const { hardState, conf } = storage.initialState();
    this.log = new RaftLog(storage, this.cfg.appliedIndex);
    this.trk = new ProgressTracker(this.cfg.maxInflightMsgs);
    this.trk.applyConf(conf, this.log.lastIndex() + 1);
    if (hardState.term > 0 || hardState.vote !== 0 || hardState.commit > 0) {
      assert(hardState.commit <= this.log.lastIndex(), () => `persisted commit ${hardState.commit} beyond last index ${this.log.lastIndex()}`);
      this.log.commitTo(hardState.commit);
      this.termValue = hardState.term;
      this.vote = hardState.vote;
    }
    assert(this.log.applied <= this.log.committed, () => `applied ${this.log.applied} beyond commit ${this.log.committed}`);
    this.becomeFollower(this.termValue, 0);
    this.prevSoft = this.softState();
    this.prevHard = this.hardState();
  }

  // ---- read-only state -------------------------------------------------------------------------------

  get term(): number {
    return this.termValue;
  }
  get role(): Role {
    return this.roleValue;
  }
  get leaderId(): NodeId {
    return this.lead;
  }
  get committed(): number {
    return this.log.committed;
  }
  get applied(): number {
    return this.log.applied;
  }
  softState(): SoftState {
    return { leaderId: this.lead, role: this.roleValue };
  }
  hardState(): HardState {
    return { term: this.termValue, vote: this.vote, commit: this.log.committed };
  }
  confState(): ConfState {
    return this.trk.confState();
  }
  firstIndex(): number {
    return this.log.firstIndex();
  }
  lastIndex(): number {
    return this.log.lastIndex();
  }
  /** Term of entry i as this node sees it (persisted or not); undefined if compacted or absent. */
  termAt(i: number): number | undefined {
    return this.log.term(i);
  }
  /** Entries [lo, hi) as this node sees them; the range must lie within [firstIndex, lastIndex + 1). */
  entriesIn(lo: number, hi: number): Entry[] {
    return this.log.slice(lo, hi);
  }
  progressOf(id: NodeId): ProgressView | undefined {
    const pr = this.trk.progress.get(id);
    if (!pr || this.roleValue !== 'leader') return undefined;
    return { match: pr.match, next: pr.next, state: pr.state, inflight: pr.inflights.size, isLearner: pr.isLearner, recentActive: pr.recentActive };
  }
  /** Payload bytes appended by this leader and not yet committed (bounded by maxUncommittedEntriesBytes). */
  uncommittedSize(): number {
    return this.uncommittedBytes;
  }

  // ---- inputs from the host --------------------------------------------------------------------------

  /** Advances logical time by one tick: election timeout for followers, heartbeats and quorum checks for leaders. */
  tick(): void {
    if (this.roleValue === 'leader') this.tickHeartbeat();
    else this.tickElection();
  }

  /** Makes this node campaign now (as if its election timeout fired); ignored on leaders and non-voters. */
  campaign(): void {
    this.hup(false);
  }

  /**
   * Appends data as a new entry if this node is the leader. Returns the entry's (index, term): the proposal
   * succeeded iff the entry applied at that index carries that term. Throws NotLeaderError (with the leader
   * hint) on followers, ProposalDroppedError when a limit or a transfer refuses it.
   */
  propose(data: Uint8Array): { index: number; term: number } {
    return this.proposeEntry(EntryType.Normal, data);
  }

  /** Proposes a single-step membership change; it takes effect when the host calls applyConfChange for it. */
  proposeConfChange(cc: ConfChange): { index: number; term: number } {
    this.checkCanPropose();
    if (this.pendingConfIndex > this.log.applied) {
      throw new ProposalDroppedError('a membership change is still being applied', { reason: 'conf-change-pending', pendingIndex: this.pendingConfIndex });
    }
    const next = nextConfState(this.trk.confState(), cc);
    if (typeof next === 'string') throw new ProposalDroppedError(next, { reason: 'conf-change-invalid' });
    const at = this.proposeEntry(EntryType.ConfChange, encodeConfChange(cc));
    this.pendingConfIndex = at.index;
    return at;
  }

  /**
   * Applies a committed ConfChange entry; call it while applying that entry. Returns the configuration now
   * in force (unchanged if cc does not apply to it, a decision every replica makes the same way).
   */
  applyConfChange(cc: ConfChange): ConfState {
    const next = nextConfState(this.trk.confState(), cc);
    if (typeof next === 'string') return this.trk.confState();
    this.trk.applyConf(next, this.log.lastIndex() + 1);
    if (this.roleValue === 'leader') {
      if (!this.trk.isVoter(this.id)) {
        // A leader outside the configuration must not keep counting quorums for it.
        this.becomeFollower(this.termValue, 0);
        return next;
      }
      if (this.leadTransferee !== 0 && !this.trk.isVoter(this.leadTransferee)) this.leadTransferee = 0;
      if (this.maybeCommit()) this.bcastAppend();
      this.appendPending = true; // new members need their first append
    }
    return next;
  }

  /**
   * Requests a linearizable read point. ctx must be unique among outstanding requests; it comes back in a
   * ReadState of a later Ready (serve the read once applied >= its index). A follower forwards to the
   * leader; without a known leader this throws NotLeaderError. Requests die silently with a leadership
   * change: the host retries after its own timeout.
   */
  readIndex(ctx: Uint8Array): void {
    if (this.roleValue === 'leader') {
      this.handleReadIndex({ ctx, from: this.id, index: 0 }, true);
      return;
    }
    if (this.lead === 0) throw new NotLeaderError('no leader known for a read', { leaderId: 0 });
    this.send({ type: 'readIndex', to: this.lead, context: ctx });
  }

  /** Hands leadership to voter `to` once its log is caught up (it is sent TimeoutNow). Leader only. */
  transferLeader(to: NodeId): void {
    if (this.roleValue !== 'leader') throw new NotLeaderError('only the leader can transfer leadership', { leaderId: this.lead });
    if (!this.trk.isVoter(to)) throw new InvalidArgumentError(`transfer target ${to} is not a voter`);
    if (to === this.id) return;
    if (this.leadTransferee === to) return;
    this.leadTransferee = to;
    // The transfer must finish within an election timeout, or it is abandoned.
    this.electionElapsed = 0;
    const pr = this.trk.progress.get(to)!;
    if (pr.match === this.log.lastIndex()) this.send({ type: 'timeoutNow', to });
    else this.sendAppend(to);
  }

  /** The transport could not reach `id`: stop pipelining to it and probe. */
  reportUnreachable(id: NodeId): void {
    const pr = this.trk.progress.get(id);
    if (this.roleValue === 'leader' && pr && pr.state === 'replicate') pr.becomeProbe();
  }

  /** The transport finished (ok) or failed to deliver a snapshot to `id`. */
  reportSnapshot(id: NodeId, ok: boolean): void {
    const pr = this.trk.progress.get(id);
    if (this.roleValue !== 'leader' || !pr || pr.state !== 'snapshot') return;
    if (!ok) pr.pendingSnapshot = 0;
    pr.becomeProbe();
    // Wait for the follower's answer (or a heartbeat reply) before the next append.
    pr.probeSent = true;
  }

  /** Feeds one message from a peer. Messages may be lost, duplicated or reordered; the core copes. */
  step(m: Message): void {
    if (m.term > this.termValue) {
      if (m.type === 'vote' || m.type === 'preVote') {
        const inLease = this.cfg.checkQuorum && this.lead !== 0 && this.electionElapsed < this.cfg.electionTimeoutTicks;
        // Leader lease: while we hear from a live leader, a candidate (e.g. a rejoining node) cannot depose it.
        if (inLease && m.transfer !== true) return;
      }
      if (m.type === 'preVote') {
        // A pre-vote changes no term.
      } else if (m.type === 'preVoteResp' && !m.reject) {
        // Granted pre-votes carry the term we will campaign in; we bump it only after winning the pre-vote.
      } else if (m.type === 'app' || m.type === 'heartbeat' || m.type === 'snap') {
        this.becomeFollower(m.term, m.from);
      } else {
        this.becomeFollower(m.term, 0);
      }
    } else if (m.term < this.termValue) {
      if ((this.cfg.checkQuorum || this.cfg.preVote) && (m.type === 'heartbeat' || m.type === 'app')) {
        // A deposed leader that missed the new term learns it from our answer and steps down.
        this.send({ type: 'appResp', to: m.from });
      } else if (m.type === 'preVote') {
        this.send({ type: 'preVoteResp', to: m.from, reject: true });
      }
      return;
    }

    if (m.type === 'vote' || m.type === 'preVote') {
      this.handleVoteRequest(m);
      return;
    }
    switch (this.roleValue) {
      case 'leader':
        this.stepLeader(m);
        break;
      case 'candidate':
      case 'preCandidate':
        this.stepCandidate(m);
        break;
      case 'follower':
        this.stepFollower(m);
        break;
    }
  }

  // ---- Ready / advance ---------------------------------------------------------------------------------

  hasReady(): boolean {
    if (this.outstanding) return false;
    this.flushAppends();
    const soft = this.softState();
    if (soft.leaderId !== this.prevSoft.leaderId || soft.role !== this.prevSoft.role) return true;
    if (!sameHardState(this.hardState(), this.prevHard)) return true;
    if (this.log.unstableSnapshot() || this.log.unstableEntries().length > 0) return true;
    if (this.msgs.length > 0 || this.readStates.length > 0) return true;
    return this.log.hasNextCommittedEntries();
  }

  /** Takes the next batch of work. Handle it per the Ready contract, then call advance(ready). */
  ready(): Ready {
    assert(!this.outstanding, 'ready() called again before advance()');
    this.flushAppends();
    const rd: Ready = {
      entries: this.log.unstableEntries().slice(),
      committedEntries: this.log.nextCommittedEntries(this.cfg.maxCommittedBytesPerReady),
      messages: this.msgs,
      readStates: this.readStates,
      mustSync: false,
    };
    this.msgs = [];
    this.readStates = [];
    const soft = this.softState();
    if (soft.leaderId !== this.prevSoft.leaderId || soft.role !== this.prevSoft.role) {
      rd.softState = soft;
      this.prevSoft = soft;
    }
    const hard = this.hardState();
    if (!sameHardState(hard, this.prevHard)) {
      rd.hardState = hard;
      rd.mustSync = hard.term !== this.prevHard.term || hard.vote !== this.prevHard.vote;
      this.prevHard = hard;
    }
    const snap = this.log.unstableSnapshot();
    if (snap) rd.snapshot = snap;
    if (rd.entries.length > 0 || rd.snapshot) rd.mustSync = true;
    if (this.roleValue === 'leader') this.reduceUncommitted(rd.committedEntries);
    this.outstanding = rd;
    return rd;
  }

  /** The host has persisted, sent and applied `rd`. */
  advance(rd: Ready): void {
    assert(this.outstanding === rd, 'advance() with a Ready that is not the outstanding one');
    this.outstanding = undefined;
    if (rd.snapshot) {
      this.log.stableSnapTo(rd.snapshot.meta.index);
      this.log.applied = Math.max(this.log.applied, rd.snapshot.meta.index);
    }
    if (rd.entries.length > 0) {
      const last = rd.entries[rd.entries.length - 1];
      this.log.stableTo(last.index, last.term);
    }
    if (rd.committedEntries.length > 0) {
      this.log.appliedTo(rd.committedEntries[rd.committedEntries.length - 1].index);
    }
  }

  /** Internal consistency checks; cheap enough for the simulator to run after every step. */
  checkInvariants(): void {
    const log = this.log;
    assert(log.applied <= log.committed, () => `applied ${log.applied} > committed ${log.committed}`);
    assert(log.committed <= log.lastIndex(), () => `committed ${log.committed} > last ${log.lastIndex()}`);
    assert(log.firstIndex() - 1 <= log.committed, () => `snapshot ${log.firstIndex() - 1} beyond committed ${log.committed}`);
    if (this.roleValue === 'leader') {
      assert(this.lead === this.id, 'leader does not name itself leader');
      const self = this.trk.progress.get(this.id);
      assert(self && self.match === log.lastIndex(), () => `leader self match ${self?.match} != last ${log.lastIndex()}`);
    }
    if (this.roleValue === 'candidate') assert(this.vote === this.id, 'candidate did not vote for itself');
  }

  // ---- roles -----------------------------------------------------------------------------------------

  private reset(term: number): void {
    if (this.termValue !== term) {
      this.termValue = term;
      this.vote = 0;
    }
    this.lead = 0;
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.randomizedElectionTimeout = this.cfg.electionTimeoutTicks + this.cfg.prng.int(this.cfg.electionTimeoutTicks);
    this.leadTransferee = 0;
    this.trk.resetVotes();
    const last = this.log.lastIndex();
    this.trk.forEach((id, pr) => {
      pr.match = id === this.id ? last : 0;
      pr.next = last + 1;
      pr.state = 'probe';
      pr.probeSent = false;
      pr.pendingSnapshot = 0;
      pr.snapshotTicks = 0;
      pr.recentActive = false;
      pr.inflights.reset();
    });
    this.pendingConfIndex = 0;
    this.uncommittedBytes = 0;
    this.readOnly.clear();
    this.pendingReadIndex = [];
    this.appendPending = false;
  }

  private becomeFollower(term: number, lead: NodeId): void {
    this.reset(term);
    this.lead = lead;
    this.roleValue = 'follower';
  }

  private becomeCandidate(): void {
    assert(this.roleValue !== 'leader', 'leader cannot become candidate');
    this.reset(this.termValue + 1);
    this.vote = this.id;
    this.roleValue = 'candidate';
  }

  private becomePreCandidate(): void {
    assert(this.roleValue !== 'leader', 'leader cannot become pre-candidate');
    // Term and vote stay: a pre-election changes nothing durable.
    this.trk.resetVotes();
    this.lead = 0;
    this.roleValue = 'preCandidate';
  }

  private becomeLeader(): void {
    assert(this.roleValue === 'candidate', 'only a candidate becomes leader');
    this.reset(this.termValue);
    this.lead = this.id;
    this.roleValue = 'leader';
    const self = this.trk.progress.get(this.id)!;
    self.becomeReplicate();
    self.recentActive = true;
    // No conf change until everything before this term is applied: a new leader must first commit an
    // entry of its own term, which fixes the known single-step membership bug.
    this.pendingConfIndex = this.log.lastIndex();
    this.appendEntries([{ type: EntryType.Normal, data: new Uint8Array(0) }]);
  }

  private promotable(): boolean {
    return this.trk.isVoter(this.id) && !this.log.unstableSnapshot();
  }

  private hup(transfer: boolean): void {
    if (this.roleValue === 'leader' || !this.promotable()) return;
    // A node must know its newest configuration before it may count votes.
    if (this.hasUnappliedConfChanges()) return;
    this.campaignAs(this.cfg.preVote && !transfer ? 'preElection' : 'election', transfer);
  }

  private hasUnappliedConfChanges(): boolean {
    const lo = Math.max(this.log.applied + 1, this.log.firstIndex());
    if (this.log.committed < lo) return false;
    return this.log.slice(lo, this.log.committed + 1).some((e) => e.type === EntryType.ConfChange);
  }

  private campaignAs(kind: CampaignKind, transfer: boolean): void {
    let type: MessageType;
    let term: number;
    if (kind === 'preElection') {
      this.becomePreCandidate();
      type = 'preVote';
      term = this.termValue + 1;
    } else {
      this.becomeCandidate();
      type = 'vote';
      term = this.termValue;
    }
    this.trk.recordVote(this.id, true);
    if (this.trk.tallyVotes().result === 'won') {
      // A single voter wins at once.
      if (kind === 'preElection') this.campaignAs('election', transfer);
      else this.becomeLeader();
      return;
    }
    const lastIndex = this.log.lastIndex();
    const lastTerm = this.log.lastTerm();
    for (const id of this.trk.voters) {
      if (id === this.id) continue;
      const m: Partial<Message> & { type: MessageType; to: NodeId } = { type, to: id, term, index: lastIndex, logTerm: lastTerm };
      if (transfer) m.transfer = true;
      this.send(m);
    }
  }

  private handleVoteRequest(m: Message): void {
    const respType: MessageType = m.type === 'vote' ? 'voteResp' : 'preVoteResp';
    const canVote =
      this.vote === m.from ||
      (this.vote === 0 && this.lead === 0) ||
      (m.type === 'preVote' && m.term > this.termValue);
    if (canVote && this.log.isUpToDate(m.index, m.logTerm)) {
      // Answer in the candidate's term so a granted pre-vote is counted in the term it asked about.
      this.send({ type: respType, to: m.from, term: m.term });
      if (m.type === 'vote') {
        this.electionElapsed = 0;
        this.vote = m.from;
      }
    } else {
      this.send({ type: respType, to: m.from, reject: true });
    }
  }

  // ---- leader ----------------------------------------------------------------------------------------

  private tickHeartbeat(): void {
    this.heartbeatElapsed++;
    this.electionElapsed++;
    if (this.electionElapsed >= this.cfg.electionTimeoutTicks) {
      this.electionElapsed = 0;
      if (this.cfg.checkQuorum) {
        if (!this.trk.quorumActive(this.id)) {
          this.becomeFollower(this.termValue, 0);
          return;
        }
        this.trk.forEach((id, pr) => {
          if (id !== this.id) pr.recentActive = false;
        });
      }
      // A transfer that did not finish within an election timeout is abandoned.
      this.leadTransferee = 0;
    }
    this.trk.forEach((_id, pr) => {
      if (pr.state === 'snapshot' && ++pr.snapshotTicks > this.cfg.snapshotRetryTicks) pr.becomeProbe();
    });
    if (this.heartbeatElapsed >= this.cfg.heartbeatTimeoutTicks) {
      this.heartbeatElapsed = 0;
      this.bcastHeartbeat(this.readOnly.lastCtx());
    }
  }

  private checkCanPropose(): void {
    if (this.roleValue !== 'leader') throw new NotLeaderError('not the raft leader', { leaderId: this.lead });
    if (!this.trk.isVoter(this.id)) throw new ProposalDroppedError('leader is not a voter', { reason: 'not-member' });
    if (this.leadTransferee !== 0) {
      throw new ProposalDroppedError('leadership transfer in progress', { reason: 'transfer-in-progress', transferee: this.leadTransferee });
    }
  }

  private proposeEntry(type: EntryType, data: Uint8Array): { index: number; term: number } {
    this.checkCanPropose();
    const index = this.appendEntries([{ type, data }]);
    return { index, term: this.termValue };
  }

  /** Appends entries of the current term; returns the last index. Throws if the uncommitted limit refuses. */
  private appendEntries(items: { type: EntryType; data: Uint8Array }[]): number {
    let bytes = 0;
    for (const it of items) bytes += it.data.length;
    // An empty uncommitted tail always accepts one proposal, however large, so nothing starves.
    if (bytes > 0 && this.uncommittedBytes > 0 && this.uncommittedBytes + bytes > this.cfg.maxUncommittedEntriesBytes) {
      throw new ProposalDroppedError('uncommitted entries limit reached', { reason: 'uncommitted-limit', limitBytes: this.cfg.maxUncommittedEntriesBytes });
    }
    this.uncommittedBytes += bytes;
    const first = this.log.lastIndex() + 1;
    const ents: Entry[] = items.map((it, i) => ({ term: this.termValue, index: first + i, type: it.type, data: it.data }));
    const last = this.log.append(ents);
    this.trk.progress.get(this.id)?.maybeUpdate(last);
    this.maybeCommit();
    this.appendPending = true;
    return last;
  }

  private reduceUncommitted(committed: Entry[]): void {
    let bytes = 0;
    for (const e of committed) bytes += e.data.length;
    this.uncommittedBytes = Math.max(0, this.uncommittedBytes - bytes);
  }

  /** Sends appends for everything proposed since the last Ready: one batch per peer, pipelined in replicate state. */
  private flushAppends(): void {
    if (!this.appendPending) return;
    this.appendPending = false;
    if (this.roleValue !== 'leader') return;
    for (const id of this.trk.progress.keys()) {
      if (id === this.id) continue;
      while (this.maybeSendAppend(id, false));
    }
  }

  private maybeCommit(): boolean {
    if (this.trk.voters.size === 0) return false;
    const before = this.log.committed;
    if (!this.log.maybeCommit(this.trk.committed(), this.termValue)) return false;
    assert(this.log.committed > before, 'commit did not move');
    this.releasePendingReads();
    return true;
  }

  private bcastAppend(): void {
    for (const id of this.trk.progress.keys()) if (id !== this.id) this.sendAppend(id);
  }

  private bcastHeartbeat(ctx: Uint8Array | undefined): void {
    for (const [id, pr] of this.trk.progress) {
      if (id === this.id) continue;
      const m: Partial<Message> & { type: MessageType; to: NodeId } = {
        type: 'heartbeat',
        to: id,
        // Never tell a follower to commit past what it is known to hold.
        commit: Math.min(pr.match, this.log.committed),
      };
      if (ctx) m.context = ctx;
      this.send(m);
    }
  }

  private sendAppend(to: NodeId): void {
    this.maybeSendAppend(to, true);
  }

  /** Sends the next append (or snapshot) to `to` if flow control allows; returns whether something was sent. */
  private maybeSendAppend(to: NodeId, sendIfEmpty: boolean): boolean {
    const pr = this.trk.progress.get(to);
    if (!pr || pr.isPaused()) return false;
    const prevIndex = pr.next - 1;
    const prevTerm = this.log.term(prevIndex);
    const ents = prevTerm === undefined ? undefined : this.log.entriesFrom(pr.next, this.cfg.maxSizePerMsgBytes);
    if (prevTerm === undefined || ents === undefined) return this.sendSnapshot(to, pr);
    if (ents.length === 0 && !sendIfEmpty) return false;
    this.send({ type: 'app', to, index: prevIndex, logTerm: prevTerm, entries: ents, commit: this.log.committed });
    pr.sentEntries(prevIndex + ents.length, ents.length);
    return true;
  }

  private sendSnapshot(to: NodeId, pr: Progress): boolean {
    // Do not ship a (possibly large) snapshot to a peer that has not answered recently.
    if (!pr.recentActive) return false;
    const snapshot = this.log.snapshot();
    assert(snapshot.meta.index > 0, () => `peer ${to} needs entries before ${this.log.firstIndex()} but there is no snapshot`);
    pr.becomeSnapshot(snapshot.meta.index);
    this.send({ type: 'snap', to, snapshot });
    return true;
  }

  private stepLeader(m: Message): void {
    switch (m.type) {
      case 'appResp':
        this.handleAppendResponse(m);
        break;
      case 'heartbeatResp':
        this.handleHeartbeatResponse(m);
        break;
      case 'readIndex':
        if (m.context) this.handleReadIndex({ ctx: m.context, from: m.from, index: 0 }, false);
        break;
      case 'app':
      case 'heartbeat':
      case 'snap':
        assert(false, () => `leader ${this.id} of term ${this.termValue} got ${m.type} from ${m.from} in the same term`);
        break;
      default:
        break; // stale votes, timeoutNow and read answers mean nothing to a leader
    }
  }

  private handleAppendResponse(m: Message): void {
    const pr = this.trk.progress.get(m.from);
    if (!pr) return;
    pr.recentActive = true;
    if (m.reject) {
      let nextProbe = m.rejectHint;
      if (m.logTerm > 0) nextProbe = this.log.findConflictByTerm(m.rejectHint, m.logTerm).index;
      if (pr.maybeDecrTo(m.index, nextProbe)) {
        if (pr.state === 'replicate') pr.becomeProbe();
        this.sendAppend(m.from);
      }
      return;
    }
    const wasPaused = pr.isPaused();
    if (!pr.maybeUpdate(m.index)) return;
    if (pr.state === 'probe') pr.becomeReplicate();
    else if (pr.state === 'snapshot' && pr.match + 1 >= this.log.firstIndex()) {
      pr.becomeProbe();
      pr.becomeReplicate();
    } else if (pr.state === 'replicate') pr.inflights.freeLE(m.index);

    if (this.maybeCommit()) this.bcastAppend();
    else if (wasPaused) this.sendAppend(m.from);
    while (this.maybeSendAppend(m.from, false));
    if (m.from === this.leadTransferee && pr.match === this.log.lastIndex()) this.send({ type: 'timeoutNow', to: m.from });
  }

  private handleHeartbeatResponse(m: Message): void {
    const pr = this.trk.progress.get(m.from);
    if (!pr) return;
    pr.recentActive = true;
    pr.probeSent = false;
    // The follower is alive but acks may have been lost: free a slot so replication cannot stall.
    if (pr.state === 'replicate' && pr.inflights.full()) pr.inflights.freeFirstOne();
    if (pr.match < this.log.lastIndex()) this.sendAppend(m.from);
    if (!m.context) return;
    const acks = this.readOnly.ack(m.context, m.from, (id) => this.trk.isVoter(id));
    if (acks === 0 || !this.readOnly.quorumReached(acks, this.trk.voters.size)) return;
    for (const req of this.readOnly.advance(m.context)) this.answerRead(req);
  }

  private handleReadIndex(req: ReadRequest, local: boolean): void {
    if (this.readOnly.size + this.pendingReadIndex.length >= this.cfg.maxPendingReadIndex) {
      if (local) throw new ProposalDroppedError('too many pending reads', { reason: 'read-limit', limit: this.cfg.maxPendingReadIndex });
      return; // a forwarded request is retried by its origin
    }
    if (this.trk.voters.size === 1 && this.trk.isVoter(this.id)) {
      // Alone in the configuration: nobody else can have a newer term.
      this.answerRead({ ...req, index: this.log.committed });
      return;
    }
    if (this.log.term(this.log.committed) !== this.termValue) {
      // Our commit index may lag the previous leader's until an entry of our term commits.
      this.pendingReadIndex.push(req);
      return;
    }
    this.startReadRound([req]);
  }

  private startReadRound(reqs: ReadRequest[]): void {
    let lastCtx: Uint8Array | undefined;
    for (const r of reqs) {
      if (this.readOnly.has(r.ctx)) continue;
      this.readOnly.add({ ...r, index: this.log.committed }, this.id);
      lastCtx = r.ctx;
    }
    if (lastCtx) this.bcastHeartbeat(lastCtx);
  }

  private releasePendingReads(): void {
    if (this.pendingReadIndex.length === 0 || this.log.term(this.log.committed) !== this.termValue) return;
    const reqs = this.pendingReadIndex;
    this.pendingReadIndex = [];
    this.startReadRound(reqs);
  }

  private answerRead(req: ReadRequest): void {
    if (req.from === this.id) this.readStates.push({ index: req.index, ctx: req.ctx });
    else this.send({ type: 'readIndexResp', to: req.from, index: req.index, context: req.ctx });
  }

  // ---- candidate and follower ------------------------------------------------------------------------

  private tickElection(): void {
    this.electionElapsed++;
    if (this.promotable() && this.electionElapsed >= this.randomizedElectionTimeout) {
      this.electionElapsed = 0;
      this.hup(false);
    }
  }

  private stepCandidate(m: Message): void {
    const myResp: MessageType = this.roleValue === 'preCandidate' ? 'preVoteResp' : 'voteResp';
    switch (m.type) {
      case 'app':
        this.becomeFollower(m.term, m.from);
        this.handleAppend(m);
        return;
      case 'heartbeat':
        this.becomeFollower(m.term, m.from);
        this.handleHeartbeat(m);
        return;
      case 'snap':
        this.becomeFollower(m.term, m.from);
        this.handleSnapshot(m);
        return;
      case 'readIndexResp':
        if (m.context) this.readStates.push({ index: m.index, ctx: m.context });
        return;
      default:
        break;
    }
    if (m.type !== myResp) return;
    this.trk.recordVote(m.from, !m.reject);
    const { result } = this.trk.tallyVotes();
    if (result === 'won') {
      if (this.roleValue === 'preCandidate') this.campaignAs('election', false);
      else this.becomeLeader();
    } else if (result === 'lost') {
      this.becomeFollower(this.termValue, 0);
    }
  }

  private stepFollower(m: Message): void {
    switch (m.type) {
      case 'app':
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleAppend(m);
        break;
      case 'heartbeat':
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleHeartbeat(m);
        break;
      case 'snap':
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleSnapshot(m);
        break;
      case 'timeoutNow':
        this.hup(true);
        break;
      case 'readIndexResp':
        if (m.context) this.readStates.push({ index: m.index, ctx: m.context });
        break;
      default:
        break; // forwarded reads reaching a non-leader are dropped; their origin retries
    }
  }

  private handleAppend(m: Message): void {
    if (m.index < this.log.committed) {
      this.send({ type: 'appResp', to: m.from, index: this.log.committed });
      return;
    }
    const last = this.log.maybeAppend(m.index, m.logTerm, m.commit, m.entries);
    if (last !== undefined) {
      this.send({ type: 'appResp', to: m.from, index: last });
      return;
    }
    // Suggest where our logs could agree: skip back over a whole term rather than one index per round trip.
    const hint = this.log.findConflictByTerm(Math.min(m.index, this.log.lastIndex()), m.logTerm);
    this.send({ type: 'appResp', to: m.from, index: m.index, reject: true, rejectHint: hint.index, logTerm: hint.term });
  }

  private handleHeartbeat(m: Message): void {
    this.log.commitTo(m.commit);
    const resp: Partial<Message> & { type: MessageType; to: NodeId } = { type: 'heartbeatResp', to: m.from };
    if (m.context) resp.context = m.context;
    this.send(resp);
  }

  private handleSnapshot(m: Message): void {
    const s = m.snapshot;
    if (!s) return;
    if (this.restore(s)) this.send({ type: 'appResp', to: m.from, index: this.log.lastIndex() });
    else this.send({ type: 'appResp', to: m.from, index: this.log.committed });
  }

  /** Installs snapshot s unless we already have its state; returns whether it was installed. */
  private restore(s: Snapshot): boolean {
    if (s.meta.index <= this.log.committed) return false;
    if (this.log.matchTerm(s.meta.index, s.meta.term)) {
      // We hold the snapshot's last entry: just fast-forward the commit.
      this.log.commitTo(s.meta.index);
      return false;
    }
    this.log.restore(s);
    this.trk.applyConf(s.meta.conf, this.log.lastIndex() + 1);
    return true;
  }

  // ---- output ----------------------------------------------------------------------------------------

  private send(partial: Partial<Message> & { type: MessageType; to: NodeId }): void {
    const m: Message = {
      type: partial.type,
      from: this.id,
      to: partial.to,
      term: partial.term ?? this.termValue,
      logTerm: partial.logTerm ?? 0,
      index: partial.index ?? 0,
      commit: partial.commit ?? 0,
      entries: partial.entries ?? EMPTY,
      reject: partial.reject ?? false,
      rejectHint: partial.rejectHint ?? 0,
    };
    if (partial.transfer) m.transfer = true;
    if (partial.snapshot) m.snapshot = partial.snapshot;
    if (partial.context) m.context = partial.context;
    this.msgs.push(m);
  }
}

function sameHardState(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.vote === b.vote && a.commit === b.commit;
}
