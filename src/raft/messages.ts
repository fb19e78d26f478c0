// Owns the wire vocabulary between raft peers and the Ready batch handed to the host. Messages are plain
// data (numbers, strings, booleans, Uint8Array, arrays, objects) so any transport can encode them.
import type { Entry, HardState, NodeId, Snapshot } from './types.js';

export type MessageType =
  /** Leader → follower: entries following (index, logTerm), and the leader's commit. */
  | 'app'
  /** Follower → leader: accepted up to index, or rejected with a hint of where logs may agree. */
  | 'appResp'
  /** Candidate → voter: vote for me in term (logTerm, index = my last entry). */
  | 'vote'
  | 'voteResp'
  /** Pre-candidate → voter: would you vote for me in term (my term + 1)? Changes no one's term. */
  | 'preVote'
  | 'preVoteResp'
  /** Leader → follower: I am alive; commit up to commit; context echoes a pending ReadIndex round. */
  | 'heartbeat'
  | 'heartbeatResp'
  /** Leader → follower: install this snapshot (the follower's next entry was compacted away). */
  | 'snap'
  /** Leader → transfer target: campaign now, ignoring election timeout and leader lease. */
  | 'timeoutNow'
  /** Follower → leader: a ReadIndex request forwarded on behalf of a local client (context = ctx). */
  | 'readIndex'
  /** Leader → follower: the read index for a forwarded request (index, context). */
  | 'readIndexResp';

export interface Message {
  type: MessageType;
  from: NodeId;
  to: NodeId;
  /** Sender's term; for preVote (and a granted preVoteResp) the term the candidate would campaign in. */
  term: number;
  /** app: term of entry `index`; vote/preVote: candidate's last term; appResp reject: term at rejectHint. */
  logTerm: number;
  /** app: index preceding entries; appResp: last matched (or rejected) index; vote: candidate's last index. */
  index: number;
  commit: number;
  entries: Entry[];
  reject: boolean;
  /** appResp reject: follower's suggestion for the next probe. */
  rejectHint: number;
  /** vote: campaign triggered by a leader transfer; voters ignore their leader lease. */
  transfer?: boolean;
  snapshot?: Snapshot;
  /** heartbeat(Resp)/readIndex(Resp): the ReadIndex request id. */
  context?: Uint8Array;
}

export type Role = 'follower' | 'candidate' | 'preCandidate' | 'leader';

/** Volatile state the host may display or route by; not persisted. */
export interface SoftState {
  leaderId: NodeId; // 0 = unknown
  role: Role;
}

/** A confirmed linearizable read point: once applied >= index, a read for ctx may be served locally. */
export interface ReadState {
  index: number;
  ctx: Uint8Array;
}

/**
 * One batch of work for the host. The host must handle a Ready completely, in this order, then call
 * advance(ready) before asking for the next one:
 *
 *  1. persist `snapshot` (if any), then `entries` (truncating any persisted suffix from entries[0].index on),
 *     then `hardState` (if any) — durably (fsync) when `mustSync` is true;
 *  2. only then send `messages` (they promise votes and acks that rely on step 1 surviving a crash);
 *  3. apply `snapshot` to the state machine, then `committedEntries` in order (calling applyConfChange for
 *     ConfChange entries), and serve `readStates` once applied >= their index;
 *  4. call advance(ready).
 */
export interface Ready {
  /** Present when leader or role changed since the previous Ready. */
  softState?: SoftState;
  /** Present when term, vote or commit changed; persist before sending messages. */
  hardState?: HardState;
  /** Entries to append to durable storage before sending messages. */
  entries: Entry[];
  /** Snapshot to persist (and restore the state machine from) before entries and messages. */
  snapshot?: Snapshot;
  /** Committed entries to apply after persisting; their indices are contiguous and increasing. */
  committedEntries: Entry[];
  /** Messages to send after persisting; order per destination should be preserved where possible. */
  messages: Message[];
  /** ReadIndex results; serve each once the local applied index reaches it. */
  readStates: ReadState[];
  /** True if the writes of this Ready must be fsynced before sending (entries, or term/vote changed). */
  mustSync: boolean;
}
