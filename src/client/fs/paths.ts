// Owns what `nokv fs` does with a path: splitting it into names (as bytes) below a mount's root, walking it
// with Lookup, showing names and paths to a person, and saying a gateway error the way coreutils says the
// matching errno ("No such file or directory", "Directory not empty", ...).
import { NokvError } from '../../common/errors.js';
import type { Dentry, FsMetaClient, InodeType } from '../fsmeta.js';

/** A path failure worded like coreutils; `nokv fs` prints it after the verb ("cannot access 'x': ..."). */
export class FsPathError extends Error {
  constructor(readonly reason: string) {
    super(reason);
    this.name = 'FsPathError';
  }
}

export const ENOENT = 'No such file or directory';
export const ENOTDIR = 'Not a directory';
export const EISDIR = 'Is a directory';
export const EEXIST = 'File exists';
export const ENOTEMPTY = 'Directory not empty';

/**
 * The names of a path below the mount root. Paths are always from the root ("a/b" is "/a/b"); "." is dropped
 * and ".." goes up, never above the root (as "/.." is "/").
 */
export function splitPath(path: string): string[] {
  const out: string[] = [];
  for (const part of path.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') out.pop();
    else out.push(part);
  }
  return out;
}

/** A name as a person reads it: UTF-8 text, or with \xNN escapes where the bytes are not valid UTF-8 or not printable. */
export function showName(name: Uint8Array): string {
  const buf = Buffer.from(name.buffer, name.byteOffset, name.byteLength);
  const text = buf.toString('utf8');
  if (Buffer.from(text, 'utf8').equals(buf) && !/[\x00-\x1f\x7f]/.test(text)) return text;
  return [...buf].map((b) => (b >= 0x20 && b < 0x7f && b !== 0x5c ? String.fromCharCode(b) : `\\x${b.toString(16).padStart(2, '0')}`)).join('');
}

export const showPath = (parts: string[]): string => `/${parts.join('/')}`;

/** Where a path leads: its entry in its parent (none for the root), its inode and type. */
export interface Resolved {
  /** The names as shown (showName), for messages and output. */
  parts: string[];
  parent?: bigint;
  /** The entry's name as stored, bytes. */
  name?: Uint8Array;
  inode: bigint;
  type: InodeType;
}

export class PathWalker {
  constructor(
    readonly client: FsMetaClient,
    readonly mount: string,
    readonly root: bigint,
  ) {}

  /** The entry at `parts`; FsPathError ENOENT / ENOTDIR like stat(2). */
  async resolve(parts: string[]): Promise<Resolved> {
    let cur: Resolved = { parts: [], inode: this.root, type: 'directory' };
    for (const name of parts) {
      if (cur.type !== 'directory') throw new FsPathError(ENOTDIR);
      const d: Dentry = await this.lookup(cur.inode, name);
      cur = { parts: [...cur.parts, name], parent: cur.inode, name: d.name, inode: d.inode, type: d.type };
    }
    return cur;
  }

  /** The entry at `parts`, or undefined when the last name does not exist (its parent must). */
  async tryResolve(parts: string[]): Promise<Resolved | undefined> {
    try {
      return await this.resolve(parts);
    } catch (err) {
      if (err instanceof FsPathError && err.reason === ENOENT) {
        const parent = await this.resolve(parts.slice(0, -1));
        if (parent.type !== 'directory') throw new FsPathError(ENOTDIR);
        return undefined;
      }
      throw err;
    }
  }

  /** The directory that holds the last name of `parts` (which must exist and be a directory). */
  async parentDir(parts: string[]): Promise<bigint> {
    const p = await this.resolve(parts.slice(0, -1));
    if (p.type !== 'directory') throw new FsPathError(ENOTDIR);
    return p.inode;
  }

  private async lookup(parent: bigint, name: string): Promise<Dentry> {
    try {
      return await this.client.lookup(this.mount, parent, name);
    } catch (err) {
      throw asPathError(err);
    }
  }
}

/**
 * A gateway error as the errno a POSIX tool would print. Errors that are about the cluster rather than the path
 * (unreachable, unauthenticated, an unregistered mount) pass through unchanged and end the command.
 */
export function asPathError(err: unknown): unknown {
  if (err instanceof FsPathError || !(err instanceof NokvError)) return err;
  const m = err.message;
  if (/mount is not registered/.test(m)) return err;
  switch (err.code) {
    case 'NOT_FOUND':
      return new FsPathError(ENOENT);
    case 'ALREADY_EXISTS':
      return new FsPathError(EEXIST);
    case 'RESOURCE_EXHAUSTED':
      return new FsPathError(/quota/.test(m) ? 'Disk quota exceeded' : m);
    case 'FAILED_PRECONDITION':
      if (/is retired/.test(m)) return new FsPathError('Read-only file system');
      if (/not empty/.test(m)) return new FsPathError(ENOTEMPTY);
      if (/is a directory|replace directory .* with a file/.test(m)) return new FsPathError(EISDIR);
      if (/not a directory|replace file .* with a directory/.test(m)) return new FsPathError(ENOTDIR);
      if (/under itself/.test(m)) return new FsPathError('Invalid argument');
      return new FsPathError(m);
    case 'INVALID_ARGUMENT':
      if (/hard-link a directory/.test(m)) return new FsPathError('hard link not allowed for directory');
      if (/longer than \d+ bytes/.test(m)) return new FsPathError('File name too long');
      return new FsPathError(`Invalid argument (${m})`);
    default:
      return err;
  }
}
