// Owns the leader's view of each peer: how far its log matches (match), what to send next (next), and the
// flow-control state — probe (one append at a time until the match point is found), replicate (pipelined
// appends within a bounded in-flight window) or snapshot (waiting for a snapshot to land). The tracker holds
// the configuration (voters, learners) and the votes of the current election.
import { assert } from './assert.js';
import { Inflights } from './inflights.js';
import { committedIndex, hasQuorum, voteResult, type VoteResult } from './quorum.js';
import type { ConfState, NodeId } from './types.js';

export type ProgressState = 'probe' | 'replicate' | 'snapshot';

export class Progress {
  match = 0;
  state: ProgressState = 'probe';
  /** In probe state: an append is outstanding, wait for its answer (or a heartbeat reply) before another. */
  probeSent = false;
  /** Index of the snapshot being installed (snapshot state only). */
  pendingSnapshot = 0;
  /** Leader ticks spent in snapshot state; a lost snapshot is retried after a bound. */
  snapshotTicks = 0;
  /** Heard from since the last check-quorum round. */
  recentActive = false;
  readonly inflights: Inflights;

  constructor(public next: number, maxInflightMsgs: number, public isLearner: boolean) {
    this.inflights = new Inflights(maxInflightMsgs);
  }

  private resetState(state: ProgressState): void {
    this.probeSent = false;
    this.pendingSnapshot = 0;
    this.snapshotTicks = 0;
    this.state = state;
    this.inflights.reset();
  }

  becomeProbe(): void {
    // Coming back from a snapshot, the follower holds at least the snapshot: probe just past it.
    if (this.state === 'snapshot') {
      const pending = this.pendingSnapshot;
      this.resetState('probe');
      this.next = Math.max(this.match + 1, pending + 1);
    } else {
      this.resetState('probe');
      this.next = this.match + 1;
    }
  }

  becomeReplicate(): void {
    this.resetState('replicate');
    this.next = this.match + 1;
  }

  becomeSnapshot(snapshotIndex: number): void {
    this.resetState('snapshot');
    this.pendingSnapshot = snapshotIndex;
  }

  /** An ack for index n arrived. Returns false if it was stale (nothing new matched). */
  maybeUpdate(n: number): boolean {
    let updated = false;
    if (this.match < n) {
      this.match = n;
      updated = true;
      this.probeSent = false;
    }
    this.next = Math.max(this.next, n + 1);
    return updated;
  }

  /** Records an append ending at lastIndex as sent (pipelining moves next ahead of the ack). */
  sentEntries(lastIndex: number, entryCount: number): void {
    if (this.state === 'replicate') {
      if (entryCount > 0) {
        this.next = lastIndex + 1;
        this.inflights.add(lastIndex);
      }
    } else if (this.state === 'probe') {
      this.probeSent = true;
    }
  }

  /**
   * A rejection of an append at `rejected` arrived; matchHint is the follower's best guess of where the logs
   * could agree. Returns false if the rejection is stale (about an index we no longer probe).
   */
  maybeDecrTo(rejected: number, matchHint: number): boolean {
    if (this.state === 'replicate') {
      if (rejected <= this.match) return false;
      this.next = this.match + 1;
      return true;
    }
    if (this.next - 1 !== rejected) return false;
    this.next = Math.max(Math.min(rejected, matchHint + 1), this.match + 1, 1);
    this.probeSent = false;
    return true;
  }

  isPaused(): boolean {
    switch (this.state) {
      case 'probe':
        return this.probeSent;
      case 'replicate':
        return this.inflights.full();
      case 'snapshot':
        return true;
    }
  }
}

export class ProgressTracker {
  voters = new Set<NodeId>();
  learners = new Set<NodeId>();
  readonly progress = new Map<NodeId, Progress>();
  readonly votes = new Map<NodeId, boolean>();

  constructor(private readonly maxInflightMsgs: number) {}

  confState(): ConfState {
    return { voters: [...this.voters].sort((a, b) => a - b), learners: [...this.learners].sort((a, b) => a - b) };
  }

  /** Replaces the configuration; existing progress is kept for surviving members, new ones start at next. */
  applyConf(conf: ConfState, next: number): void {
    this.voters = new Set(conf.voters);
    this.learners = new Set(conf.learners);
    assert(![...this.voters].some((v) => this.learners.has(v)), 'a node is both voter and learner');
    for (const id of [...this.progress.keys()]) {
      if (!this.voters.has(id) && !this.learners.has(id)) this.progress.delete(id);
    }
    for (const id of [...this.voters, ...this.learners]) {
      let pr = this.progress.get(id);
      if (!pr) {
        pr = new Progress(next, this.maxInflightMsgs, false);
        // A new member has not had a chance to answer yet; count it live until the next quorum check.
        pr.recentActive = true;
        this.progress.set(id, pr);
      }
      pr.isLearner = this.learners.has(id);
    }
  }

  isVoter(id: NodeId): boolean {
    return this.voters.has(id);
  }

  committed(): number {
    return committedIndex(this.voters, (id) => this.progress.get(id)?.match ?? 0);
  }

  resetVotes(): void {
    this.votes.clear();
  }

  recordVote(id: NodeId, granted: boolean): void {
    if (!this.votes.has(id)) this.votes.set(id, granted);
  }

  tallyVotes(): { granted: number; rejected: number; result: VoteResult } {
    let granted = 0;
    let rejected = 0;
    for (const id of this.voters) {
      const v = this.votes.get(id);
      if (v === true) granted++;
      else if (v === false) rejected++;
    }
    return { granted, rejected, result: voteResult(this.voters, this.votes) };
  }

  /** True if a majority of voters (self included via `self`) were active since the last check. */
  quorumActive(self: NodeId): boolean {
    return hasQuorum(this.voters, (id) => id === self || (this.progress.get(id)?.recentActive ?? false));
  }

  forEach(fn: (id: NodeId, pr: Progress) => void): void {
    for (const [id, pr] of this.progress) fn(id, pr);
  }
}
