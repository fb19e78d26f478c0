// Owns the request shapes of the executor's operations (the gRPC front converts wire messages into these).
import type { InodeType } from './types.js';

export interface CreateReq {
  mount: string;
  parent: number;
  name: Buffer;
  attrs: { type: InodeType | 'UNSPECIFIED'; size: number; mode: number; createdUnixNs: bigint; updatedUnixNs: bigint; opaqueAttrs: Buffer };
}
export interface NameReq {
  mount: string;
  parent: number;
  name: Buffer;
}
export interface ReadDirReq {
  mount: string;
  parent: number;
  /** Empty = from the first entry. */
  startAfter: Buffer;
  limit: number;
  /** 0n = read at a fresh timestamp. */
  snapshotVersion: bigint;
}
export interface UpdateInodeReq extends NameReq {
  inode: number;
  size?: number;
  mode?: number;
  updatedUnixNs?: bigint;
  opaqueAttrs?: Buffer;
}
export interface MoveReq {
  mount: string;
  fromParent: number;
  fromName: Buffer;
  toParent: number;
  toName: Buffer;
  /** Refuse an existing destination (ALREADY_EXISTS) instead of replacing it (RENAME_NOREPLACE); Rename only. */
  noReplace?: boolean;
}
export interface SessionReq {
  mount: string;
  inode: number;
  session: string;
  expiresUnixNs: bigint;
}
