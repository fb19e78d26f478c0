// Owns the transaction of a rename, as rename(2) defines it: the entry (file or directory) moves, an existing
// destination is replaced — a file by a file, an empty directory by a directory — and the other pairings are
// refused (FAILED_PRECONDITION, like ENOTDIR / EISDIR / ENOTEMPTY); with noReplace (RENAME_NOREPLACE) an
// existing destination is ALREADY_EXISTS; two names of the same inode make it a successful no-op. A directory
// may not move under itself. Descendants follow a moved directory because their keys hold its inode.
import type { CoordinatorDuties, KvTxn, MountInfo } from './kv.js';
import { deleteDirRecords, refuseCycle, requireDir, requireEmptyDir } from './dirs.js';
import { FsExistsError, FsNotFoundError, FsPreconditionError } from './errors.js';
import * as K from './keys.js';
import { applyQuota, type QuotaDelta } from './quota.js';
import type { MoveReq } from './requests.js';
import { showName, type DentryRecord } from './types.js';

async function getDentry(tx: KvTxn, mount: string, parent: number, name: Buffer): Promise<DentryRecord> {
  const raw = await tx.get(K.dentryKey(mount, parent, name));
  if (!raw) throw new FsNotFoundError(`${showName(name)} not found in ${parent}`);
  return K.decodeDentry(raw);
}

async function sizeOf(tx: KvTxn, mount: string, inode: number): Promise<number> {
  const raw = await tx.get(K.inodeKey(mount, inode));
  return raw ? K.decodeInode(raw).size : 0;
}

/**
 * Removes the destination `dst` that src replaces (the caller overwrites its dentry); answers its quota delta,
 * or undefined when both names are the same inode (nothing to do).
 */
async function replace(tx: KvTxn, mount: string, src: DentryRecord, dst: DentryRecord, req: MoveReq): Promise<QuotaDelta | undefined> {
  if (req.noReplace) throw new FsExistsError(`${showName(req.toName)} already exists in ${req.toParent}`);
  if (dst.inode === src.inode) return undefined;
  if (src.type === 'DIRECTORY' && dst.type !== 'DIRECTORY') throw new FsPreconditionError(`cannot replace file ${showName(req.toName)} with a directory`);
  if (src.type !== 'DIRECTORY' && dst.type === 'DIRECTORY') throw new FsPreconditionError(`cannot replace directory ${showName(req.toName)} with a file`);
  const ikey = K.inodeKey(mount, dst.inode);
  const raw = await tx.get(ikey);
  const inode = raw ? K.decodeInode(raw) : undefined;
  if (dst.type === 'DIRECTORY') {
    await requireEmptyDir(tx, mount, dst.inode, req.toName);
    deleteDirRecords(tx, mount, dst.inode);
  } else if (inode && inode.linkCount > 1) {
    tx.put(ikey, K.encodeInode({ ...inode, linkCount: inode.linkCount - 1 }));
  } else {
    tx.delete(ikey);
  }
  return { scope: req.toParent, bytes: -(inode?.size ?? 0), inodes: -1 };
}

export async function moveTxn(tx: KvTxn, duties: CoordinatorDuties, mount: MountInfo, req: MoveReq): Promise<void> {
  const m = mount.mount;
  const src = await getDentry(tx, m, req.fromParent, req.fromName);
  await requireDir(tx, mount, req.toParent);
  const toKey = K.dentryKey(m, req.toParent, req.toName);
  const existing = await tx.get(toKey);
  const deltas: QuotaDelta[] = [];
  if (existing) {
    const gone = await replace(tx, m, src, K.decodeDentry(existing), req);
    if (!gone) return;
    deltas.push(gone);
  }
  if (src.type === 'DIRECTORY') {
    if (req.fromParent !== req.toParent) await refuseCycle(tx, mount, src.inode, req.toParent);
    tx.put(K.parentKey(m, src.inode), K.encodeParent({ parent: req.toParent, name: req.toName }));
  }
  tx.delete(K.dentryKey(m, req.fromParent, req.fromName));
  tx.put(toKey, K.encodeDentry({ ...src, parent: req.toParent, name: req.toName }), { assertNotExist: !existing });
  if (req.fromParent !== req.toParent) {
    const size = await sizeOf(tx, m, src.inode);
    deltas.push({ scope: req.fromParent, bytes: -size, inodes: -1 }, { scope: req.toParent, bytes: size, inodes: 1 });
  }
  await applyQuota(tx, duties, m, deltas);
}
