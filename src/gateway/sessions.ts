// Owns the writer-session transactions: a session record (by id) and an owner record (by inode) that always
// point at each other; liveness is the gateway's wall clock against the record's expiry. Open replaces stale
// partners, Heartbeat extends a live pair, Close removes a session (and its owner if still paired), Expire
// deletes the expired records among the first `limit` session keys (owner keys sort first).
import { FsExistsError, FsInvalidError, FsNotFoundError } from './errors.js';
import * as K from './keys.js';
import type { KvTxn } from './kv.js';
import type { SessionReq } from './requests.js';
import type { SessionRecord } from './types.js';

function decodeOpt(raw: Buffer | undefined): SessionRecord | undefined {
  return raw ? K.decodeSession(raw) : undefined;
}

function sameSession(a: SessionRecord, b: SessionRecord): boolean {
  return a.session === b.session && a.inode === b.inode && a.expiresUnixNs === b.expiresUnixNs;
}

async function deleteIfEqual(tx: KvTxn, key: Buffer, r: SessionRecord): Promise<void> {
  const cur = decodeOpt(await tx.get(key));
  if (cur && sameSession(cur, r)) tx.delete(key);
}

export async function openSessionTxn(tx: KvTxn, req: SessionReq, nowNs: bigint): Promise<SessionRecord> {
  const rec: SessionRecord = { session: req.session, inode: req.inode, expiresUnixNs: req.expiresUnixNs };
  const ikey = K.inodeKey(req.mount, req.inode);
  const skey = K.sessionKey(req.mount, req.session);
  const okey = K.ownerKey(req.mount, req.inode);
  const got = await tx.batchGet([ikey, skey, okey]);
  const iraw = got.get(ikey.toString('hex'));
  if (!iraw) throw new FsNotFoundError(`inode ${req.inode} not found`);
  if (K.decodeInode(iraw).type !== 'FILE') throw new FsInvalidError(`inode ${req.inode} is not a file`);
  const oldSession = decodeOpt(got.get(skey.toString('hex')));
  const oldOwner = decodeOpt(got.get(okey.toString('hex')));
  if (oldSession && oldSession.expiresUnixNs > nowNs) throw new FsExistsError(`session ${req.session} is live`);
  if (oldOwner && oldOwner.expiresUnixNs > nowNs) throw new FsExistsError(`inode ${req.inode} has a live writer ${oldOwner.session}`);
  // Clear the stale partners so every session key and owner key keep pointing at each other.
  if (oldSession) await deleteIfEqual(tx, K.ownerKey(req.mount, oldSession.inode), oldSession);
  if (oldOwner) await deleteIfEqual(tx, K.sessionKey(req.mount, oldOwner.session), oldOwner);
  tx.put(skey, K.encodeSession(rec));
  tx.put(okey, K.encodeSession(rec));
  return rec;
}

export async function heartbeatSessionTxn(tx: KvTxn, req: SessionReq, nowNs: bigint): Promise<SessionRecord> {
  const rec: SessionRecord = { session: req.session, inode: req.inode, expiresUnixNs: req.expiresUnixNs };
  const skey = K.sessionKey(req.mount, req.session);
  const okey = K.ownerKey(req.mount, req.inode);
  const got = await tx.batchGet([skey, okey]);
  const s = decodeOpt(got.get(skey.toString('hex')));
  const o = decodeOpt(got.get(okey.toString('hex')));
  if (!s || s.expiresUnixNs <= nowNs || s.inode !== req.inode || !o || !sameSession(s, o)) {
    throw new FsNotFoundError(`session ${req.session} is lost; reopen it`);
  }
  tx.put(skey, K.encodeSession(rec));
  tx.put(okey, K.encodeSession(rec));
  return rec;
}

export async function closeSessionTxn(tx: KvTxn, mount: string, session: string): Promise<void> {
  const skey = K.sessionKey(mount, session);
  const s = decodeOpt(await tx.get(skey));
  if (!s) throw new FsNotFoundError(`session ${session} not found`);
  tx.delete(skey);
  const okey = K.ownerKey(mount, s.inode);
  const o = decodeOpt(await tx.get(okey));
  if (o && o.session === session) tx.delete(okey);
}

/** Deletes the expired records among the first `limit` session keys; answers how many sessions went. */
export async function expireSessionsTxn(tx: KvTxn, mount: string, limit: number, nowNs: bigint): Promise<number> {
  const prefix = K.sessionPrefix(mount);
  const rows = await tx.scan(prefix, K.prefixEnd(prefix), limit);
  const expired = new Set<string>();
  for (const row of rows) {
    const r = K.decodeSession(row.value);
    if (r.expiresUnixNs > nowNs) continue;
    tx.delete(row.key);
    await deleteIfEqual(tx, K.sessionKey(mount, r.session), r);
    await deleteIfEqual(tx, K.ownerKey(mount, r.inode), r);
    expired.add(r.session);
  }
  return expired.size;
}
