// Owns the durable vocabulary shared by the raft core and its storage: entries, hard state, snapshots and
// the read-only log interface the core consults. Kept dependency-free so storage and core stay acyclic.

export type NodeId = number;

export enum EntryType {
  /** An application command (or an empty entry a new leader appends to commit its term). */
  Normal = 0,
  /** A single-step membership change; data is an encoded ConfChange. */
  ConfChange = 1,
}

export interface Entry {
  term: number;
  index: number;
  type: EntryType;
  data: Uint8Array;
}

/** What must be on disk before a message that depends on it leaves the node. */
export interface HardState {
  term: number;
  vote: NodeId; // 0 = none
  commit: number;
}

export interface ConfState {
  voters: NodeId[];
  learners: NodeId[];
}

export interface SnapshotMeta {
  index: number;
  term: number;
  conf: ConfState;
}

/** A snapshot carries the real application state (data) at meta.index. */
export interface Snapshot {
  meta: SnapshotMeta;
  data: Uint8Array;
}

export const EMPTY_HARD_STATE: HardState = Object.freeze({ term: 0, vote: 0, commit: 0 });

/**
 * Read side of a raft log as the core sees it (after restart, what is durable; during a run, what has been
 * persisted). Indices are 1-based; firstIndex() is the first entry still retained (snapshot index + 1).
 */
export interface LogReader {
  initialState(): { hardState: HardState; conf: ConfState };
  /** Entries in [lo, hi), at most maxBytes total (always at least one if lo < hi). */
  entries(lo: number, hi: number, maxBytes?: number): Entry[];
  /** Term of entry i; valid for snapshot index .. lastIndex. */
  term(i: number): number;
  firstIndex(): number;
  lastIndex(): number;
  snapshot(): Snapshot;
}
