// Public entry of the meta-root rooted state machine and Eunomia. Everything here is pure: no I/O, clocks or
// randomness; times come from the caller's commands and cursors from the raft log.
export type {
  Cursor,
  Frontiers,
  Handover,
  HandoverStage,
  Legacy,
  MapName,
  MountRecord,
  PendingPeerChange,
  PendingRangeChange,
  Peer,
  QuotaFence,
  RegionDescriptor,
  RegionEpoch,
  RegionState,
  RootState,
  SnapshotEpoch,
  StoreRecord,
  SubtreeAuthority,
  SubtreeHandoff,
  Tenure,
} from './types.js';
export {
  HANDOVER_STAGES,
  MANDATE_ALLOC_ID,
  MANDATE_BITS,
  MANDATE_DEFAULT,
  MANDATE_REGION_LOOKUP,
  MANDATE_TSO,
  STATE_VERSION,
  ZERO_CURSOR,
  ZERO_FRONTIERS,
  compareCursors,
  emptyState,
  snapshotEpochId,
  subtreeId,
} from './types.js';
export type { U64 } from './u64.js';
export { U64_MAX, U64_ZERO, compareU64, isU64, maxU64, u64FromBigInt, u64FromNumber, u64ToBigInt } from './u64.js';
export type { HexKey } from './keys.js';
export { compareKeys, hexKey, isHexKey, keyBytes, keyInRange, rangesOverlap } from './keys.js';
export type { RegionInput, RootEvent, RootEventKind } from './events.js';
export {
  AUTHORITY_EVENT_KINDS,
  EVENT_KINDS,
  EVENT_VERSION,
  MAX_DIGEST_CHARS,
  MAX_EVENTS_PER_BATCH,
  MAX_EVENT_BYTES,
  MAX_PEERS,
  checkEventShape,
} from './events.js';
export { MAX_KEY_BYTES, MAX_NAME_CHARS } from './schema.js';
export type { Validation } from './apply.js';
export { applyBatch, applyEvent, noteApplied, validateBatch, validateEvent } from './apply.js';
export { isSealed } from './apply-authority.js';
export { digestOfLegacy } from './lineage.js';
export type { Decision, FenceRequest, HandoverCommand, RefusalReason, TenureCommand, TenureView } from './eunomia.js';
export { decideFence, decideFence as fenceAllocator, decideHandover, decideTenure, holdsLiveEra, tenureView } from './eunomia.js';
export type { CommandOutcome, RootCommand } from './commands.js';
export {
  COMMAND_VERSION,
  applyAppend,
  applyCommand,
  applyFence,
  applyHandover,
  applyTenure,
  checkCommandShape,
  evaluateCommand,
} from './commands.js';
export { MAX_COMMAND_BYTES, MAX_SNAPSHOT_MAP_ENTRIES, decodeCommand, decodeSnapshot, encodeCommand, encodeSnapshot } from './codec.js';
export type { StateSummary } from './query.js';
export {
  listMounts,
  listQuotaFences,
  listStores,
  maxDescriptorRootEpoch,
  regionById,
  regionByKey,
  regionsByStartKey,
  stateSummary,
} from './query.js';
export { commands, events, regionInput } from './builders.js';
