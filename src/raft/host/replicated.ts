// Owns the contract between a raft-replicated service (meta-root, a store region) and the raft host that
// replicates it. The service supplies a deterministic StateMachine; the host supplies a ReplicatedLog that
// proposes, applies committed entries in order on every replica, and offers linearizable read barriers.

export interface AppliedEntry {
  index: number;
  term: number;
  data: Uint8Array;
}

/**
 * Deterministic application state. apply() runs on every replica for every committed entry in log order and
 * must not depend on anything but the state and the entry (no clocks, no randomness, no I/O). Its return value
 * is handed to the proposer on the replica that proposed the entry.
 */
export interface StateMachine<R = unknown> {
  apply(entry: AppliedEntry): R;
  /** Whole state at the last applied index, for raft snapshots. */
  snapshot(): Uint8Array;
  /** Replaces the state with a snapshot taken at index. */
  restore(data: Uint8Array, index: number, term: number): void;
}

export type RaftRole = 'follower' | 'candidate' | 'precandidate' | 'leader';

export interface ReplicationStatus {
  nodeId: number;
  role: RaftRole;
  term: number;
  leaderId: number; // 0 = unknown
  commitIndex: number;
  appliedIndex: number;
  lastIndex: number;
  voters: number[];
}

export interface ProposeOptions {
  timeoutMs?: number;
}

export interface ReplicatedLog<R = unknown> {
  /**
   * Proposes data; resolves once the entry is committed AND applied on this replica, with apply()'s result.
   * Rejects with NotLeaderError (details.leaderId) on a follower, TimeoutError if not applied in time, and
   * ResourceExhaustedError when too much is in flight, and RaftGroupFailedError (UNAVAILABLE) once this replica
   * stopped after a storage or state-machine failure (go to another replica).
   */
  propose(data: Uint8Array, opts?: ProposeOptions): Promise<{ index: number; term: number; result: R }>;
  /** Resolves once this replica has applied everything committed before the call (a linearizable read point). */
  readBarrier(opts?: ProposeOptions): Promise<void>;
  status(): ReplicationStatus;
  transferLeader(to: number): void;
  onLeaderChange(listener: (leaderId: number, term: number) => void): () => void;
}
