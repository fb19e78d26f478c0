// Public entry of the storage layer: one LMDB environment per process (openStorage), durable multi-group
// raft logs on it (openRaftLogStore), and small checksummed KV tables (openKvTable).
export { openStorage, Storage, DB_NAMES, MAX_NAMED_DBS, LAZY_WRITE_DELAY_MS } from './storage.js';
export type { StorageOptions, StorageStats, BinaryDb, WriteOp, WriteOptions } from './storage.js';
export {
  openRaftLogStore,
  RaftLogStore,
  GroupLog,
  entrySizeBytes,
  ENTRY_SIZE_OVERHEAD_BYTES,
  DEFAULT_TAIL_CACHE_ENTRIES,
  DEFAULT_TAIL_CACHE_BYTES,
} from './raft-log-store.js';
export type { PersistRequest, RaftLogStoreOptions } from './raft-log-store.js';
export { openKvTable, KvTable, binaryCodec, stringCodec, msgpackCodec, prefixEnd, MAX_KEY_BYTES } from './kv-table.js';
export type { KvKey, KvOp, KvEntry, KvRangeOptions, ValueCodec } from './kv-table.js';
export { LogCompactedError, LogUnavailableError } from '../raft/errors.js';
export { crc32, crc32Update } from '../common/crc32.js';
