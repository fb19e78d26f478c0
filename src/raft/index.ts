// Public entry of the raft library: the pure core, its vocabulary and the in-memory storage. Hosts import
// from here only; the leaf modules behind it are internal.
export { RaftCore, type ProgressView } from './core.js';
export { RAFT_DEFAULTS, type RaftConfig } from './config.js';
export type { Message, MessageType, Ready, ReadState, Role, SoftState } from './messages.js';
export { ConfChangeType, decodeConfChange, encodeConfChange, nextConfState, type ConfChange } from './confchange.js';
export { LogCompactedError, LogUnavailableError, ProposalDroppedError, type DropReason } from './errors.js';
export { RaftInvariantError } from './assert.js';
export { BOOTSTRAP_INDEX, BOOTSTRAP_TERM, bootstrapState, MemoryLog } from './memory-log.js';
export { ENTRY_OVERHEAD_BYTES, entrySize } from './log.js';
export {
  EntryType,
  EMPTY_HARD_STATE,
  type ConfState,
  type Entry,
  type HardState,
  type LogReader,
  type NodeId,
  type Snapshot,
  type SnapshotMeta,
} from './types.js';
