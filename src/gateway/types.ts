// Owns the records of the filesystem-metadata API (inodes, dentries, writer sessions), its named limits and the
// request validation every RPC shares. Inode ids and sizes are JS numbers (ids come from AllocID and stay below
// 2^53); wall-clock instants are nanoseconds as bigint because they exceed 2^53.
import { FsInvalidError } from './errors.js';

export type InodeType = 'FILE' | 'DIRECTORY';

export interface InodeRecord {
  inode: number;
  type: InodeType;
  size: number;
  mode: number;
  linkCount: number;
  createdUnixNs: bigint;
  updatedUnixNs: bigint;
  opaqueAttrs: Buffer;
}

export interface DentryRecord {
  parent: number;
  name: string;
  inode: number;
  type: InodeType;
}

export interface SessionRecord {
  session: string;
  inode: number;
  expiresUnixNs: bigint;
}

export interface DirEntryPlus {
  dentry: DentryRecord;
  inode: InodeRecord;
}

export interface QuotaUsage {
  bytes: number;
  inodes: number;
}

/** Longest mount id, name and session id, in UTF-8 bytes. */
export const MAX_MOUNT_BYTES = 255;
export const MAX_NAME_BYTES = 255;
export const MAX_SESSION_BYTES = 255;
/** Largest opaque attribute blob carried on an inode. */
export const MAX_OPAQUE_ATTRS_BYTES = 16 * 1024;
/** ReadDir page: 0 asks for the default; more than the maximum is refused. */
export const DEFAULT_PAGE_LIMIT = 1024;
export const MAX_PAGE_LIMIT = 16_384;
/** ExpireWriteSessions scan: 0 asks for the default; more than the maximum is refused. */
export const DEFAULT_EXPIRE_LIMIT = 1024;
export const MAX_EXPIRE_LIMIT = 16_384;
/** Link counts are 32-bit on the wire. */
export const MAX_LINK_COUNT = 0xffff_ffff;
/** Deepest directory chain a rename's cycle check or a recursive watch walks before giving up. */
export const MAX_TREE_DEPTH = 4096;

export function validateMount(mount: string): void {
  if (!mount) throw new FsInvalidError('mount must not be empty');
  if (Buffer.byteLength(mount) > MAX_MOUNT_BYTES) throw new FsInvalidError(`mount longer than ${MAX_MOUNT_BYTES} bytes`);
}

export function validateInode(inode: number, what = 'inode'): void {
  if (!Number.isSafeInteger(inode) || inode <= 0) throw new FsInvalidError(`${what} must be a non-zero id, got ${inode}`);
}

export function validateName(name: string, what = 'name'): void {
  if (!name) throw new FsInvalidError(`${what} must not be empty`);
  if (name === '.' || name === '..') throw new FsInvalidError(`${what} must not be "." or ".."`);
  if (name.includes('/') || name.includes('\0')) throw new FsInvalidError(`${what} must not contain "/" or NUL`);
  if (Buffer.byteLength(name) > MAX_NAME_BYTES) throw new FsInvalidError(`${what} longer than ${MAX_NAME_BYTES} bytes`);
}

export function validateSession(session: string): void {
  if (!session) throw new FsInvalidError('session must not be empty');
  if (session.includes('\0')) throw new FsInvalidError('session must not contain NUL');
  if (Buffer.byteLength(session) > MAX_SESSION_BYTES) throw new FsInvalidError(`session longer than ${MAX_SESSION_BYTES} bytes`);
}

export function validateOpaque(attrs: Buffer): void {
  if (attrs.length > MAX_OPAQUE_ATTRS_BYTES) throw new FsInvalidError(`opaque_attrs larger than ${MAX_OPAQUE_ATTRS_BYTES} bytes`);
}

export function validateUint(value: number, what: string, max = Number.MAX_SAFE_INTEGER): void {
  if (!Number.isSafeInteger(value) || value < 0 || value > max) throw new FsInvalidError(`${what} out of range: ${value}`);
}

export function pageLimit(limit: number): number {
  if (!Number.isSafeInteger(limit) || limit < 0 || limit > MAX_PAGE_LIMIT) throw new FsInvalidError(`page limit must be 0..${MAX_PAGE_LIMIT}, got ${limit}`);
  return limit === 0 ? DEFAULT_PAGE_LIMIT : limit;
}

export function expireLimit(limit: number): number {
  if (!Number.isSafeInteger(limit) || limit < 0 || limit > MAX_EXPIRE_LIMIT) throw new FsInvalidError(`expire limit must be 0..${MAX_EXPIRE_LIMIT}, got ${limit}`);
  return limit === 0 ? DEFAULT_EXPIRE_LIMIT : limit;
}

/** Names order by their UTF-8 bytes, the order of their keys. */
export function compareNames(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}
