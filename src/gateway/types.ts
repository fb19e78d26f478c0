// Owns the records of the filesystem-metadata API (inodes, dentries, writer sessions), its named limits and the
// request validation every RPC shares. Inode ids and sizes are JS numbers (ids come from AllocID and stay below
// 2^53); wall-clock instants are nanoseconds as bigint because they exceed 2^53. Names are bytes, as in POSIX:
// any bytes but "/" and NUL, not "." or "..", never decoded or rewritten (two names differ iff their bytes do).
import { isUtf8 } from 'node:buffer';
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
  name: Buffer;
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

/** Longest mount id, name and session id, in bytes. */
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

const DOT = 0x2e;
const SLASH = 0x2f;

export function validateName(name: Buffer, what = 'name'): void {
  if (name.length === 0) throw new FsInvalidError(`${what} must not be empty`);
  if (name.every((b) => b === DOT) && name.length <= 2) throw new FsInvalidError(`${what} must not be "." or ".."`);
  if (name.includes(SLASH) || name.includes(0)) throw new FsInvalidError(`${what} must not contain "/" or NUL`);
  if (name.length > MAX_NAME_BYTES) throw new FsInvalidError(`${what} longer than ${MAX_NAME_BYTES} bytes`);
}

/** A name for messages: quoted when it is UTF-8, else its bytes in hex. */
export function showName(name: Buffer): string {
  return isUtf8(name) ? JSON.stringify(name.toString('utf8')) : `0x${name.toString('hex')}`;
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

/** Names order by their bytes, the order of their keys. */
export function compareNames(a: Buffer, b: Buffer): number {
  return Buffer.compare(a, b);
}
