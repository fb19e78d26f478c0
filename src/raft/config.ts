// Owns the core's tunables and their defaults. Every buffer the core keeps has a named limit here.
import type { Prng } from '../common/prng.js';
import type { NodeId } from './types.js';

export interface RaftConfig {
  /** This node's id; nonzero and unique for the group's lifetime (never reuse a removed node's id). */
  id: NodeId;
  /** Followers wait a random [electionTimeoutTicks, 2*electionTimeoutTicks) without a leader before campaigning. */
  electionTimeoutTicks: number;
  /** Leader heartbeat period; must be less than electionTimeoutTicks. */
  heartbeatTimeoutTicks: number;
  /** Source of election-timeout jitter; seed it to replay a run. */
  prng: Prng;
  /** Highest index already applied to the state machine (restart without re-applying); default: snapshot index. */
  appliedIndex?: number;
  /** Ask "would you vote for me" before bumping the term, so a rejoining node cannot disrupt a live leader. */
  preVote?: boolean;
  /** Leader steps down when it has not heard from a quorum within an election timeout; voters honour a leader lease. */
  checkQuorum?: boolean;
  /** Upper bound on the entry bytes of one append message (one entry may exceed it alone). */
  maxSizePerMsgBytes?: number;
  /** Appends in flight per follower in replicate state before the leader waits for acks. */
  maxInflightMsgs?: number;
  /** Payload bytes a leader accepts but has not committed; proposals beyond are dropped (ProposalDroppedError). */
  maxUncommittedEntriesBytes?: number;
  /** Entry bytes of committedEntries in one Ready (at least one entry). */
  maxCommittedBytesPerReady?: number;
  /** ReadIndex requests a leader holds (waiting for a heartbeat quorum or a commit in its term). */
  maxPendingReadIndex?: number;
  /** Leader ticks to wait for a snapshot to be acknowledged before probing (and re-sending) again. */
  snapshotRetryTicks?: number;
}

export type ResolvedRaftConfig = Required<Omit<RaftConfig, 'appliedIndex'>> & { appliedIndex: number };

export const RAFT_DEFAULTS = Object.freeze({
  preVote: true,
  checkQuorum: true,
  maxSizePerMsgBytes: 1 << 20,
  maxInflightMsgs: 256,
  maxUncommittedEntriesBytes: 64 << 20,
  maxCommittedBytesPerReady: 16 << 20,
  maxPendingReadIndex: 4096,
});

export function resolveConfig(cfg: RaftConfig): ResolvedRaftConfig {
  if (!Number.isInteger(cfg.id) || cfg.id <= 0) throw new RangeError(`raft node id must be a positive integer, got ${cfg.id}`);
  if (!(cfg.heartbeatTimeoutTicks > 0)) throw new RangeError('heartbeatTimeoutTicks must be positive');
  if (!(cfg.electionTimeoutTicks > cfg.heartbeatTimeoutTicks)) {
    throw new RangeError('electionTimeoutTicks must exceed heartbeatTimeoutTicks');
  }
  const r: ResolvedRaftConfig = {
    ...RAFT_DEFAULTS,
    snapshotRetryTicks: cfg.electionTimeoutTicks * 2,
    ...stripUndefined(cfg),
    appliedIndex: cfg.appliedIndex ?? 0,
  } as ResolvedRaftConfig;
  if (!(r.maxInflightMsgs >= 1)) throw new RangeError('maxInflightMsgs must be at least 1');
  if (!(r.maxSizePerMsgBytes >= 1)) throw new RangeError('maxSizePerMsgBytes must be at least 1');
  if (!(r.maxPendingReadIndex >= 1)) throw new RangeError('maxPendingReadIndex must be at least 1');
  return r;
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  const out: Partial<T> = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) (out as Record<string, unknown>)[k] = v;
  return out;
}
