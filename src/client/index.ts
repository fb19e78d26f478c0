// The client package (`import { FsMetaClient } from 'nokv-ts/client'`): typed clients of the fsmeta gateway,
// the coordinators and the meta-root, with the typed errors they reject with. docs/client.md shows how to use
// them. Everything exported here is the public API; the rest of the package is the server.
export { FsMetaClient } from './fsmeta.js';
export type {
  FsMetaClientOptions, Inode, InodeType, Dentry, DirPage, Name, NewInode, InodeUpdate, WatchCursor, WatchEvent, WatchEventKind, WatchSpec,
} from './fsmeta.js';
export { CoordinatorClient } from './coordinator.js';
export type { CoordinatorClientOptions, Mount, QuotaFence } from './coordinator.js';
export { MetaRootClient } from './metaroot.js';
export type { MetaRootClientOptions, RootLogEntry, RootWatchOptions, StatusReply, SnapshotReply, Cursor, RootEvent, RootState } from './metaroot.js';
export { DEFAULT_RETRY_POLICY, type RetryPolicy } from './retry.js';
export { NokvError, type ErrorCode } from '../common/errors.js';
export { UnauthenticatedError } from '../transport/grpc/errors.js';
export { WatchCursorExpiredError } from '../gateway/errors.js';
/** Mutual TLS for every client of this process: useTls(loadTlsMaterial(dir, CLIENT_TLS_NAME)) before making clients. */
export { useTls, loadTlsMaterial, CLIENT_TLS_NAME } from '../transport/index.js';
