// Owns the request shapes of the executor's operations (the gRPC front converts wire messages into these).
import type { InodeType } from './types.js';

export interface CreateReq {
  mount: string;
  parent: number;
  name: string;
  attrs: { type: InodeType | 'UNSPECIFIED'; size: number; mode: number; createdUnixNs: bigint; updatedUnixNs: bigint; opaqueAttrs: Buffer };
}
export interface NameReq {
  mount: string;
  parent: number;
  name: string;
}
export interface ReadDirReq {
  mount: string;
  parent: number;
  startAfter: string;
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
  fromName: string;
  toParent: number;
  toName: string;
}
export interface SessionReq {
  mount: string;
  inode: number;
  session: string;
  expiresUnixNs: bigint;
}
