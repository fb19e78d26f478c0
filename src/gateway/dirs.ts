// Owns the directory rules the namespace writes share — a parent must be a live directory, a directory removed
// or replaced must be empty, a directory must not move under itself — and how each stays true under snapshot
// isolation, where a transaction's reads are not protected unless it says what it depends on:
//
// - Inserting into a directory (Create, Link, Rename into it) reads that the directory exists and asserts its
//   parent record unchanged (KvTxn.assertUnchanged): nothing is written for it, so any number of inserts into
//   one directory commit side by side without conflicting.
// - Removing a directory (RemoveDirectory, or a Rename replacing it) reads that it is empty, asserts the range
//   of its entries unchanged (assertRangeUnchanged) and deletes its parent record. An insert that committed
//   after the removal's start changed that range: the removal conflicts and its retry sees the entry. A
//   removal that committed after an insert's start changed the parent record: the insert conflicts and its
//   retry finds no directory. Either way no entry is left under a removed directory (an orphan).
// - Moving a directory reads its destination's ancestors up to the root and asserts each parent record
//   unchanged, and writes the moved directory's own record: of two crossing moves one changes a record the
//   other depends on, so they cannot form a cycle together.
import { DataLossError } from '../common/errors.js';
import { FsNotFoundError, FsPreconditionError } from './errors.js';
import * as K from './keys.js';
import type { KvTxn, MountInfo } from './kv.js';
import { MAX_TREE_DEPTH, showName } from './types.js';

/** The keys requireDirIn needs read (none for the mount's root, which has no records). */
export function dirKeys(mount: MountInfo, dir: number): Buffer[] {
  return dir === mount.rootInode ? [] : [K.inodeKey(mount.mount, dir), K.parentKey(mount.mount, dir)];
}

/** dir must be a live directory, judged from `got` (a batch read of dirKeys, keyed by hex). */
export function requireDirIn(tx: KvTxn, mount: MountInfo, dir: number, got: Map<string, Buffer>): void {
  if (dir === mount.rootInode) return;
  const iraw = got.get(K.inodeKey(mount.mount, dir).toString('hex'));
  if (!iraw) throw new FsNotFoundError(`parent ${dir} not found`);
  if (K.decodeInode(iraw).type !== 'DIRECTORY') throw new FsPreconditionError(`parent ${dir} is not a directory`);
  const pkey = K.parentKey(mount.mount, dir);
  if (!got.has(pkey.toString('hex'))) throw new DataLossError(`directory ${dir} has no parent record`);
  tx.assertUnchanged(pkey);
}

export async function requireDir(tx: KvTxn, mount: MountInfo, dir: number): Promise<void> {
  const keys = dirKeys(mount, dir);
  requireDirIn(tx, mount, dir, keys.length > 0 ? await tx.batchGet(keys) : new Map());
}

/** dir (named `name`) must have no entries; its entry range must stay so until the commit. */
export async function requireEmptyDir(tx: KvTxn, mount: string, dir: number, name: Buffer): Promise<void> {
  const prefix = K.dentryPrefix(mount, dir);
  const end = K.prefixEnd(prefix);
  if ((await tx.scan(prefix, end, 1)).length > 0) throw new FsPreconditionError(`directory ${showName(name)} is not empty`);
  tx.assertRangeUnchanged(prefix, end);
}

/** Deletes an empty directory's inode and parent record (its dentry is the caller's). */
export function deleteDirRecords(tx: KvTxn, mount: string, dir: number): void {
  tx.delete(K.inodeKey(mount, dir));
  tx.delete(K.parentKey(mount, dir));
}

/** Walks up from the destination; meeting the moved directory means the move would make a cycle. */
export async function refuseCycle(tx: KvTxn, mount: MountInfo, moved: number, dest: number): Promise<void> {
  let cur = dest;
  for (let depth = 0; cur !== mount.rootInode; depth++) {
    if (cur === moved) throw new FsPreconditionError(`cannot move directory ${moved} under itself`);
    if (depth >= MAX_TREE_DEPTH) throw new FsPreconditionError(`directory chain deeper than ${MAX_TREE_DEPTH}`);
    const pkey = K.parentKey(mount.mount, cur);
    const raw = await tx.get(pkey);
    if (!raw) throw new DataLossError(`directory ${cur} has no parent record`);
    tx.assertUnchanged(pkey);
    cur = K.decodeParent(raw).parent;
  }
}
