// Owns the fsmeta operations as transactions over the KV port: validation, mount admission, the namespace
// rules (stricter than upstream: parents must exist and be directories, renames refuse cycles, non-empty
// directories cannot be removed, directories are removed only by RemoveDirectory), quota accounting in the same
// transaction, writer sessions, and bounded retries on contention. A pure core: time, ids and the KV are
// injected, so the seeded model and history checkers drive this very code.
//
// Why writes touch keys they do not change: snapshot isolation only catches write-write conflicts, so an op
// that merely *reads* a directory's existence (Create/Link/Rename into it) rewrites that directory's parent
// record unchanged. RemoveDirectory deletes that record, so the two conflict instead of leaving an orphan; a
// directory rename rewrites the whole ancestor chain it checked, so two crossing renames cannot form a cycle.
// UpdateInode rewrites the dentry unchanged so that a watch on the parent sees the entry updated.
import type { Clock } from '../common/clock.js';
import { DataLossError } from '../common/errors.js';
import {
  FsExistsError,
  FsInvalidError,
  FsNotFoundError,
  FsPreconditionError,
  MountRetiredError,
  QuotaExceededError,
  TxnAbortedError,
} from './errors.js';
import * as K from './keys.js';
import { KvAlreadyExistsError, KvConflictError, type CoordinatorDuties, type KvTxn, type MountInfo, type TransactionalKv } from './kv.js';
import type { CreateReq, MoveReq, NameReq, ReadDirReq, SessionReq, UpdateInodeReq } from './requests.js';
import {
  MAX_LINK_COUNT,
  MAX_TREE_DEPTH,
  expireLimit,
  pageLimit,
  validateInode,
  validateMount,
  validateName,
  validateOpaque,
  validateSession,
  validateUint,
  type DentryRecord,
  type DirEntryPlus,
  type InodeRecord,
  type QuotaUsage,
  type SessionRecord,
} from './types.js';

/** Attempts of one write transaction (the first plus retries) before ABORTED. */
export const DEFAULT_MAX_TXN_ATTEMPTS = 4;
/** Backoff before retry n is base << n milliseconds. */
export const DEFAULT_TXN_BACKOFF_BASE_MS = 1;
/** Inode ids fetched from the coordinator per AllocID call. */
export const DEFAULT_ID_BATCH = 256;

export interface ExecutorOptions {
  kv: TransactionalKv;
  duties: CoordinatorDuties;
  clock: Clock;
  maxTxnAttempts?: number;
  /** 0 retries without waiting (the seeded checkers, whose clock is virtual). */
  txnBackoffBaseMs?: number;
  idBatch?: number;
}

export interface ExecutorStats {
  ops: Record<string, { calls: number; errors: number }>;
  commits: number;
  conflicts: number;
  aborted: number;
}

/** What the gateway shows for a mount's root, which has no record of its own. */
export function rootInodeRecord(inode: number): InodeRecord {
  return { inode, type: 'DIRECTORY', size: 0, mode: 0o755, linkCount: 1, createdUnixNs: 0n, updatedUnixNs: 0n, opaqueAttrs: Buffer.alloc(0) };
}

interface QuotaDelta {
  scope: number;
  bytes: number;
  inodes: number;
}

export class Executor {
  readonly stats: ExecutorStats = { ops: {}, commits: 0, conflicts: 0, aborted: 0 };
  private readonly kv: TransactionalKv;
  private readonly duties: CoordinatorDuties;
  private readonly clock: Clock;
  private readonly maxAttempts: number;
  private readonly backoffBaseMs: number;
  private readonly idBatch: number;
  private idNext = 0;
  private idEnd = 0;

  constructor(opts: ExecutorOptions) {
    this.kv = opts.kv;
    this.duties = opts.duties;
    this.clock = opts.clock;
    this.maxAttempts = opts.maxTxnAttempts ?? DEFAULT_MAX_TXN_ATTEMPTS;
    this.backoffBaseMs = opts.txnBackoffBaseMs ?? DEFAULT_TXN_BACKOFF_BASE_MS;
    this.idBatch = opts.idBatch ?? DEFAULT_ID_BATCH;
  }

  /** Gateway wall clock in nanoseconds (session liveness). */
  nowNs(): bigint {
    return BigInt(Math.floor(this.clock.now())) * 1_000_000n;
  }

  // ---- namespace writes --------------------------------------------------------------------------------------

  create(req: CreateReq): Promise<{ dentry: DentryRecord; inode: InodeRecord }> {
    return this.op('create', async () => {
      validateMount(req.mount);
      validateInode(req.parent, 'parent');
      validateName(req.name);
      const a = req.attrs;
      if (a.type !== 'FILE' && a.type !== 'DIRECTORY') throw new FsInvalidError('attrs.type must be FILE or DIRECTORY');
      validateUint(a.size, 'size');
      validateUint(a.mode, 'mode', 0xffff_ffff);
      validateOpaque(a.opaqueAttrs);
      const mount = await this.admit(req.mount);
      const id = await this.nextInodeId(mount);
      const inode: InodeRecord = { inode: id, type: a.type, size: a.size, mode: a.mode, linkCount: 1, createdUnixNs: a.createdUnixNs, updatedUnixNs: a.updatedUnixNs, opaqueAttrs: a.opaqueAttrs };
      const dentry: DentryRecord = { parent: req.parent, name: req.name, inode: id, type: a.type };
      await this.write(async (tx) => {
        await this.requireDir(tx, mount, req.parent);
        // A taken name outranks a quota refusal; the assertion alone would report it only at commit.
        const nameTaken = async () => {
          if (await tx.get(K.dentryKey(req.mount, req.parent, req.name))) throw new FsExistsError(`"${req.name}" already exists in ${req.parent}`);
        };
        await this.applyQuota(tx, req.mount, [{ scope: req.parent, bytes: a.size, inodes: 1 }], nameTaken);
        tx.put(K.dentryKey(req.mount, req.parent, req.name), K.encodeDentry(dentry), { assertNotExist: true });
        tx.put(K.inodeKey(req.mount, id), K.encodeInode(inode), { assertNotExist: true });
        if (a.type === 'DIRECTORY') tx.put(K.parentKey(req.mount, id), K.encodeParent({ parent: req.parent, name: req.name }), { assertNotExist: true });
      }, () => new FsExistsError(`"${req.name}" already exists in ${req.parent}`));
      return { dentry, inode };
    });
  }

  updateInode(req: UpdateInodeReq): Promise<InodeRecord> {
    return this.op('update_inode', async () => {
      this.validateNameReq(req);
      validateInode(req.inode);
      if (req.size === undefined && req.mode === undefined && req.updatedUnixNs === undefined && req.opaqueAttrs === undefined) {
        throw new FsInvalidError('UpdateInode needs at least one set_* field');
      }
      if (req.size !== undefined) validateUint(req.size, 'size');
      if (req.mode !== undefined) validateUint(req.mode, 'mode', 0xffff_ffff);
      if (req.opaqueAttrs !== undefined) validateOpaque(req.opaqueAttrs);
      const mount = await this.admit(req.mount);
      const { value } = await this.write(async (tx) => {
        const dkey = K.dentryKey(req.mount, req.parent, req.name);
        const got = await tx.batchGet([dkey, K.inodeKey(req.mount, req.inode)]);
        const draw = got.get(dkey.toString('hex'));
        if (!draw) throw new FsNotFoundError(`"${req.name}" not found in ${req.parent}`);
        const dentry = K.decodeDentry(draw);
        if (dentry.inode !== req.inode) throw new FsInvalidError(`"${req.name}" names inode ${dentry.inode}, not ${req.inode}`);
        const iraw = got.get(K.inodeKey(req.mount, req.inode).toString('hex'));
        if (!iraw) throw new FsNotFoundError(`inode ${req.inode} not found`);
        const cur = K.decodeInode(iraw);
        if (cur.type !== dentry.type) throw new FsInvalidError(`inode ${req.inode} type differs from its dentry`);
        if (cur.linkCount !== 1) throw new FsInvalidError(`inode ${req.inode} is hard-linked (link_count ${cur.linkCount})`);
        const next: InodeRecord = {
          ...cur,
          ...(req.size !== undefined ? { size: req.size } : {}),
          ...(req.mode !== undefined ? { mode: req.mode } : {}),
          ...(req.updatedUnixNs !== undefined ? { updatedUnixNs: req.updatedUnixNs } : {}),
          ...(req.opaqueAttrs !== undefined ? { opaqueAttrs: req.opaqueAttrs } : {}),
        };
        tx.put(K.inodeKey(req.mount, req.inode), K.encodeInode(next));
        tx.put(dkey, draw);
        await this.applyQuota(tx, req.mount, [{ scope: req.parent, bytes: next.size - cur.size, inodes: 0 }]);
        return next;
      });
      return value;
    });
  }

  /** Moves one entry (file or directory); descendants follow because their keys hold the parent's inode. */
  rename(req: MoveReq): Promise<void> {
    return this.op('rename', async () => {
      await this.move(req, false);
    });
  }

  /** Rename with the subtree-authority handoff recorded in rooted truth around it. */
  renameSubtree(req: MoveReq): Promise<void> {
    return this.op('rename_subtree', async () => {
      await this.move(req, true);
    });
  }

  link(req: MoveReq): Promise<void> {
    return this.op('link', async () => {
      this.validateMove(req);
      const mount = await this.admit(req.mount);
      await this.write(async (tx) => {
        const from = await this.getDentry(tx, req.mount, req.fromParent, req.fromName);
        if (from.type === 'DIRECTORY') throw new FsInvalidError('cannot hard-link a directory');
        const iraw = await tx.get(K.inodeKey(req.mount, from.inode));
        if (!iraw) throw new FsNotFoundError(`inode ${from.inode} not found`);
        const inode = K.decodeInode(iraw);
        if (inode.type === 'DIRECTORY') throw new FsInvalidError('cannot hard-link a directory');
        await this.requireDir(tx, mount, req.toParent);
        const toKey = K.dentryKey(req.mount, req.toParent, req.toName);
        if (await tx.get(toKey)) throw new FsExistsError(`"${req.toName}" already exists in ${req.toParent}`);
        const links = Math.max(inode.linkCount, 1);
        if (links >= MAX_LINK_COUNT) throw new FsInvalidError(`inode ${inode.inode} has the maximum link count`);
        tx.put(toKey, K.encodeDentry({ parent: req.toParent, name: req.toName, inode: inode.inode, type: inode.type }), { assertNotExist: true });
        tx.put(K.inodeKey(req.mount, inode.inode), K.encodeInode({ ...inode, linkCount: links + 1 }));
        await this.applyQuota(tx, req.mount, [{ scope: req.toParent, bytes: inode.size, inodes: 1 }]);
      });
    });
  }

  unlink(req: NameReq): Promise<void> {
    return this.op('unlink', async () => {
      this.validateNameReq(req);
      const mount = await this.admit(req.mount);
      await this.write(async (tx) => {
        const d = await this.getDentry(tx, req.mount, req.parent, req.name);
        if (d.type === 'DIRECTORY') throw new FsPreconditionError(`"${req.name}" is a directory; use RemoveDirectory`);
        tx.delete(K.dentryKey(req.mount, req.parent, req.name));
        const ikey = K.inodeKey(req.mount, d.inode);
        const iraw = await tx.get(ikey);
        let size = 0;
        if (iraw) {
          const inode = K.decodeInode(iraw);
          size = inode.size;
          if (inode.linkCount <= 1) tx.delete(ikey);
          else tx.put(ikey, K.encodeInode({ ...inode, linkCount: inode.linkCount - 1 }));
        }
        await this.applyQuota(tx, req.mount, [{ scope: req.parent, bytes: -size, inodes: -1 }]);
      });
    });
  }

  removeDirectory(req: NameReq): Promise<void> {
    return this.op('remove_directory', async () => {
      this.validateNameReq(req);
      const mount = await this.admit(req.mount);
      await this.write(async (tx) => {
        const d = await this.getDentry(tx, req.mount, req.parent, req.name);
        if (d.type !== 'DIRECTORY') throw new FsPreconditionError(`"${req.name}" is not a directory`);
        const prefix = K.dentryPrefix(req.mount, d.inode);
        if ((await tx.scan(prefix, K.prefixEnd(prefix), 1)).length > 0) throw new FsPreconditionError(`directory "${req.name}" is not empty`);
        const ikey = K.inodeKey(req.mount, d.inode);
        const iraw = await tx.get(ikey);
        tx.delete(K.dentryKey(req.mount, req.parent, req.name));
        tx.delete(ikey);
        tx.delete(K.parentKey(req.mount, d.inode));
        const size = iraw ? K.decodeInode(iraw).size : 0;
        await this.applyQuota(tx, req.mount, [{ scope: req.parent, bytes: -size, inodes: -1 }]);
      });
    });
  }

  // ---- namespace reads ---------------------------------------------------------------------------------------

  lookup(req: NameReq): Promise<DentryRecord> {
    return this.op('lookup', async () => {
      this.validateNameReq(req);
      const tx = this.kv.begin(await this.duties.reserveTimestamps(1));
      return this.getDentry(tx, req.mount, req.parent, req.name);
    });
  }

  /** snapshotVersion (0n or absent = now) reads the inode as of an earlier version. */
  getAttr(req: { mount: string; inode: number; snapshotVersion?: bigint }): Promise<InodeRecord> {
    return this.op('get_attr', async () => {
      validateMount(req.mount);
      validateInode(req.inode);
      const ts = req.snapshotVersion && req.snapshotVersion > 0n ? req.snapshotVersion : await this.duties.reserveTimestamps(1);
      const tx = this.kv.begin(ts);
      const raw = await tx.get(K.inodeKey(req.mount, req.inode));
      if (raw) return K.decodeInode(raw);
      const m = await this.duties.getMount(req.mount);
      if (m && m.rootInode === req.inode) return rootInodeRecord(req.inode);
      throw new FsNotFoundError(`inode ${req.inode} not found`);
    });
  }

  readDir(req: ReadDirReq): Promise<{ entries: DentryRecord[]; readVersion: bigint }> {
    return this.op('read_dir', async () => {
      const { tx, pairs } = await this.scanDir(req);
      return { entries: pairs.map((p) => K.decodeDentry(p.value)), readVersion: tx.startTs };
    });
  }

  /** One scan and one batch get, both at the same version; a page is never partial. */
  readDirPlus(req: ReadDirReq): Promise<{ entries: DirEntryPlus[]; readVersion: bigint }> {
    return this.op('read_dir_plus', async () => {
      const { tx, pairs } = await this.scanDir(req);
      const dentries = pairs.map((p) => K.decodeDentry(p.value));
      const keys = dentries.map((d) => K.inodeKey(req.mount, d.inode));
      const got = keys.length > 0 ? await tx.batchGet(keys) : new Map<string, Buffer>();
      const entries = dentries.map((dentry, i) => {
        const raw = got.get(keys[i]!.toString('hex'));
        if (!raw) throw new FsNotFoundError(`inode ${dentry.inode} of "${dentry.name}" not found`);
        return { dentry, inode: K.decodeInode(raw) };
      });
      return { entries, readVersion: tx.startTs };
    });
  }

  getQuotaUsage(req: { mount: string; scope: number }): Promise<QuotaUsage> {
    return this.op('get_quota_usage', async () => {
      validateMount(req.mount);
      validateUint(req.scope, 'scope');
      const tx = this.kv.begin(await this.duties.reserveTimestamps(1));
      const raw = await tx.get(K.usageKey(req.mount, req.scope));
      return raw ? K.decodeUsage(raw) : { bytes: 0, inodes: 0 };
    });
  }

  // ---- snapshots -----------------------------------------------------------------------------------------------

  snapshotSubtree(req: { mount: string; rootInode: number }): Promise<{ readVersion: bigint }> {
    return this.op('snapshot_subtree', async () => {
      validateMount(req.mount);
      validateInode(req.rootInode, 'root_inode');
      await this.admit(req.mount);
      const readVersion = await this.duties.reserveTimestamps(1);
      const ev = { mount: req.mount, rootInode: req.rootInode, readVersion };
      try {
        await this.duties.publishRootEvent({ kind: 'snapshot_epoch_published', ...ev });
      } catch (err) {
        await this.duties.publishRootEvent({ kind: 'snapshot_epoch_retired', ...ev }).catch(() => undefined);
        throw err;
      }
      return { readVersion };
    });
  }

  retireSnapshotSubtree(req: { mount: string; rootInode: number; readVersion: bigint }): Promise<void> {
    return this.op('retire_snapshot_subtree', async () => {
      validateMount(req.mount);
      validateInode(req.rootInode, 'root_inode');
      if (req.readVersion <= 0n) throw new FsInvalidError('read_version must be set');
      await this.duties.publishRootEvent({ kind: 'snapshot_epoch_retired', mount: req.mount, rootInode: req.rootInode, readVersion: req.readVersion });
    });
  }

  // ---- writer sessions -------------------------------------------------------------------------------------------

  openWriteSession(req: SessionReq): Promise<SessionRecord> {
    return this.op('open_write_session', async () => {
      this.validateSessionReq(req);
      await this.admit(req.mount);
      const now = this.nowNs();
      const rec: SessionRecord = { session: req.session, inode: req.inode, expiresUnixNs: req.expiresUnixNs };
      await this.write(async (tx) => {
        const iraw = await tx.get(K.inodeKey(req.mount, req.inode));
        if (!iraw) throw new FsNotFoundError(`inode ${req.inode} not found`);
        if (K.decodeInode(iraw).type !== 'FILE') throw new FsInvalidError(`inode ${req.inode} is not a file`);
        const skey = K.sessionKey(req.mount, req.session);
        const okey = K.ownerKey(req.mount, req.inode);
        const got = await tx.batchGet([skey, okey]);
        const oldSession = decodeOpt(got.get(skey.toString('hex')));
        const oldOwner = decodeOpt(got.get(okey.toString('hex')));
        if (oldSession && oldSession.expiresUnixNs > now) throw new FsExistsError(`session ${req.session} is live`);
        if (oldOwner && oldOwner.expiresUnixNs > now) throw new FsExistsError(`inode ${req.inode} has a live writer ${oldOwner.session}`);
        // Clear the stale partners so every session key and owner key keep pointing at each other.
        if (oldSession) await this.deleteIfEqual(tx, K.ownerKey(req.mount, oldSession.inode), oldSession);
        if (oldOwner) await this.deleteIfEqual(tx, K.sessionKey(req.mount, oldOwner.session), oldOwner);
        tx.put(skey, K.encodeSession(rec));
        tx.put(okey, K.encodeSession(rec));
      });
      return rec;
    });
  }

  heartbeatWriteSession(req: SessionReq): Promise<SessionRecord> {
    return this.op('heartbeat_write_session', async () => {
      this.validateSessionReq(req);
      await this.admit(req.mount);
      const now = this.nowNs();
      const rec: SessionRecord = { session: req.session, inode: req.inode, expiresUnixNs: req.expiresUnixNs };
      await this.write(async (tx) => {
        const skey = K.sessionKey(req.mount, req.session);
        const okey = K.ownerKey(req.mount, req.inode);
        const got = await tx.batchGet([skey, okey]);
        const s = decodeOpt(got.get(skey.toString('hex')));
        const o = decodeOpt(got.get(okey.toString('hex')));
        if (!s || s.expiresUnixNs <= now || s.inode !== req.inode || !o || !sameSession(s, o)) {
          throw new FsNotFoundError(`session ${req.session} is lost; reopen it`);
        }
        tx.put(skey, K.encodeSession(rec));
        tx.put(okey, K.encodeSession(rec));
      });
      return rec;
    });
  }

  closeWriteSession(req: { mount: string; session: string }): Promise<void> {
    return this.op('close_write_session', async () => {
      validateMount(req.mount);
      validateSession(req.session);
      await this.write(async (tx) => {
        const skey = K.sessionKey(req.mount, req.session);
        const s = decodeOpt(await tx.get(skey));
        if (!s) throw new FsNotFoundError(`session ${req.session} not found`);
        tx.delete(skey);
        const okey = K.ownerKey(req.mount, s.inode);
        const o = decodeOpt(await tx.get(okey));
        if (o && o.session === req.session) tx.delete(okey);
      });
    });
  }

  /** Deletes the expired records among the first `limit` session keys (owner keys sort first). */
  expireWriteSessions(req: { mount: string; limit: number }): Promise<{ expired: number }> {
    return this.op('expire_write_sessions', async () => {
      validateMount(req.mount);
      const limit = expireLimit(req.limit);
      const now = this.nowNs();
      const { value } = await this.write(async (tx) => {
        const prefix = K.sessionPrefix(req.mount);
        const rows = await tx.scan(prefix, K.prefixEnd(prefix), limit);
        const expired = new Set<string>();
        for (const row of rows) {
          const r = K.decodeSession(row.value);
          if (r.expiresUnixNs > now) continue;
          tx.delete(row.key);
          await this.deleteIfEqual(tx, K.sessionKey(req.mount, r.session), r);
          await this.deleteIfEqual(tx, K.ownerKey(req.mount, r.inode), r);
          expired.add(r.session);
        }
        return expired.size;
      });
      return { expired: value };
    });
  }

  // ---- internals -----------------------------------------------------------------------------------------------

  private async op<T>(name: string, fn: () => Promise<T>): Promise<T> {
    const s = (this.stats.ops[name] ??= { calls: 0, errors: 0 });
    s.calls++;
    try {
      return await fn();
    } catch (err) {
      s.errors++;
      throw err;
    }
  }

  /** Runs body in a fresh transaction, retrying conflicts up to the attempt budget. */
  private async write<T>(body: (tx: KvTxn) => Promise<T>, onExists?: () => Error): Promise<{ value: T; commitTs: bigint }> {
    for (let attempt = 1; ; attempt++) {
      const tx = this.kv.begin(await this.duties.reserveTimestamps(1));
      try {
        const value = await body(tx);
        const commitTs = await tx.commit();
        this.stats.commits++;
        return { value, commitTs };
      } catch (err) {
        if (err instanceof KvAlreadyExistsError) throw onExists?.() ?? new FsExistsError(err.message);
        if (!(err instanceof KvConflictError)) throw err;
        this.stats.conflicts++;
        if (attempt >= this.maxAttempts) {
          this.stats.aborted++;
          throw new TxnAbortedError(`transaction kept conflicting (${attempt} attempts): ${err.message}`);
        }
        await this.backoff(attempt);
      }
    }
  }

  private backoff(attempt: number): Promise<void> {
    if (this.backoffBaseMs <= 0) return Promise.resolve();
    return new Promise((resolve) => this.clock.setTimer(this.backoffBaseMs << attempt, resolve));
  }

  private async admit(mount: string): Promise<MountInfo> {
    const m = await this.duties.getMount(mount);
    if (!m) throw new FsNotFoundError('fsmeta: mount is not registered', { mount });
    if (m.retired) throw new MountRetiredError(`fsmeta: mount ${mount} is retired`, { mount });
    return m;
  }

  private async nextInodeId(mount: MountInfo): Promise<number> {
    for (;;) {
      if (this.idNext >= this.idEnd) {
        const first = await this.duties.allocIds(this.idBatch);
        if (this.idNext >= this.idEnd) {
          this.idNext = first;
          this.idEnd = first + this.idBatch;
        }
      }
      const id = this.idNext++;
      if (id !== mount.rootInode && id > 0) return id;
    }
  }

  /** The directory must exist; its parent record is rewritten unchanged so a concurrent removal conflicts. */
  private async requireDir(tx: KvTxn, mount: MountInfo, dir: number): Promise<void> {
    if (dir === mount.rootInode) return;
    const ikey = K.inodeKey(mount.mount, dir);
    const pkey = K.parentKey(mount.mount, dir);
    const got = await tx.batchGet([ikey, pkey]);
    const iraw = got.get(ikey.toString('hex'));
    if (!iraw) throw new FsNotFoundError(`parent ${dir} not found`);
    if (K.decodeInode(iraw).type !== 'DIRECTORY') throw new FsPreconditionError(`parent ${dir} is not a directory`);
    const praw = got.get(pkey.toString('hex'));
    if (!praw) throw new DataLossError(`directory ${dir} has no parent record`);
    tx.put(pkey, praw);
  }

  private async getDentry(tx: KvTxn, mount: string, parent: number, name: string): Promise<DentryRecord> {
    const raw = await tx.get(K.dentryKey(mount, parent, name));
    if (!raw) throw new FsNotFoundError(`"${name}" not found in ${parent}`);
    return K.decodeDentry(raw);
  }

  private async move(req: MoveReq, handoff: boolean): Promise<void> {
    this.validateMove(req);
    const mount = await this.admit(req.mount);
    let frontier = 0n;
    if (handoff) {
      frontier = await this.duties.reserveTimestamps(1);
      await this.duties.publishRootEvent({ kind: 'subtree_handoff_started', mount: req.mount, rootInode: mount.rootInode, frontier });
    }
    try {
      const { commitTs } = await this.write((tx) => this.moveTxn(tx, mount, req));
      if (commitTs > frontier) frontier = commitTs;
    } finally {
      // Always finish a started handoff, so no handoff stays half-done even when the move failed.
      if (handoff) await this.duties.publishRootEvent({ kind: 'subtree_handoff_completed', mount: req.mount, rootInode: mount.rootInode, frontier });
    }
  }

  private async moveTxn(tx: KvTxn, mount: MountInfo, req: MoveReq): Promise<void> {
    const src = await this.getDentry(tx, req.mount, req.fromParent, req.fromName);
    await this.requireDir(tx, mount, req.toParent);
    const toKey = K.dentryKey(req.mount, req.toParent, req.toName);
    if (await tx.get(toKey)) throw new FsExistsError(`"${req.toName}" already exists in ${req.toParent}`);
    if (src.type === 'DIRECTORY') {
      if (req.fromParent !== req.toParent) await this.refuseCycle(tx, mount, src.inode, req.toParent);
      tx.put(K.parentKey(req.mount, src.inode), K.encodeParent({ parent: req.toParent, name: req.toName }));
    }
    tx.delete(K.dentryKey(req.mount, req.fromParent, req.fromName));
    tx.put(toKey, K.encodeDentry({ ...src, parent: req.toParent, name: req.toName }), { assertNotExist: true });
    if (req.fromParent !== req.toParent) {
      const iraw = await tx.get(K.inodeKey(req.mount, src.inode));
      const size = iraw ? K.decodeInode(iraw).size : 0;
      await this.applyQuota(tx, req.mount, [
        { scope: req.fromParent, bytes: -size, inodes: -1 },
        { scope: req.toParent, bytes: size, inodes: 1 },
      ]);
    }
  }

  /** Walks up from the destination; meeting the moved directory means the move would make a cycle. */
  private async refuseCycle(tx: KvTxn, mount: MountInfo, moved: number, dest: number): Promise<void> {
    let cur = dest;
    for (let depth = 0; cur !== mount.rootInode; depth++) {
      if (cur === moved) throw new FsPreconditionError(`cannot move directory ${moved} under itself`);
      if (depth >= MAX_TREE_DEPTH) throw new FsPreconditionError(`directory chain deeper than ${MAX_TREE_DEPTH}`);
      const pkey = K.parentKey(mount.mount, cur);
      const raw = await tx.get(pkey);
      if (!raw) throw new DataLossError(`directory ${cur} has no parent record`);
      tx.put(pkey, raw); // conflict with any concurrent move of an ancestor
      cur = K.decodeParent(raw).parent;
    }
  }

  /**
   * Adds the deltas to the direct-parent scope and the mount scope (0), only for scopes that have a fence,
   * refusing growth beyond a non-zero limit. The usage keys are written in the same transaction, so
   * concurrent writers under one fence serialise on them.
   */
  private async applyQuota(tx: KvTxn, mount: string, deltas: QuotaDelta[], beforeFenced?: () => Promise<void>): Promise<void> {
    const byScope = new Map<number, QuotaDelta>();
    for (const d of deltas) {
      for (const scope of [d.scope, 0]) {
        const cur = byScope.get(scope) ?? { scope, bytes: 0, inodes: 0 };
        byScope.set(scope, { scope, bytes: cur.bytes + d.bytes, inodes: cur.inodes + d.inodes });
      }
    }
    for (const d of byScope.values()) {
      if (d.bytes === 0 && d.inodes === 0) continue;
      const fence = await this.duties.getQuotaFence(mount, d.scope);
      if (!fence) continue;
      await beforeFenced?.();
      beforeFenced = undefined;
      const key = K.usageKey(mount, d.scope);
      const raw = await tx.get(key);
      const cur = raw ? K.decodeUsage(raw) : { bytes: 0, inodes: 0 };
      const next = { bytes: Math.max(0, cur.bytes + d.bytes), inodes: Math.max(0, cur.inodes + d.inodes) };
      if ((d.bytes > 0 && fence.limitBytes > 0 && next.bytes > fence.limitBytes) || (d.inodes > 0 && fence.limitInodes > 0 && next.inodes > fence.limitInodes)) {
        throw new QuotaExceededError(`quota exceeded for ${mount} scope ${d.scope}`, { scope: d.scope });
      }
      if (next.bytes === 0 && next.inodes === 0) tx.delete(key);
      else tx.put(key, K.encodeUsage(next));
    }
  }

  private async deleteIfEqual(tx: KvTxn, key: Buffer, r: SessionRecord): Promise<void> {
    const cur = decodeOpt(await tx.get(key));
    if (cur && sameSession(cur, r)) tx.delete(key);
  }

  private async scanDir(req: ReadDirReq): Promise<{ tx: KvTxn; pairs: Array<{ key: Buffer; value: Buffer }> }> {
    validateMount(req.mount);
    validateInode(req.parent, 'parent');
    if (req.startAfter) validateName(req.startAfter, 'start_after');
    const limit = pageLimit(req.limit);
    const ts = req.snapshotVersion > 0n ? req.snapshotVersion : await this.duties.reserveTimestamps(1);
    const tx = this.kv.begin(ts);
    const prefix = K.dentryPrefix(req.mount, req.parent);
    const start = req.startAfter ? Buffer.concat([K.dentryKey(req.mount, req.parent, req.startAfter), Buffer.from([0])]) : prefix;
    return { tx, pairs: await tx.scan(start, K.prefixEnd(prefix), limit) };
  }

  private validateNameReq(req: NameReq): void {
    validateMount(req.mount);
    validateInode(req.parent, 'parent');
    validateName(req.name);
  }

  private validateMove(req: MoveReq): void {
    validateMount(req.mount);
    validateInode(req.fromParent, 'from_parent');
    validateName(req.fromName, 'from_name');
    validateInode(req.toParent, 'to_parent');
    validateName(req.toName, 'to_name');
    if (req.fromParent === req.toParent && req.fromName === req.toName) throw new FsInvalidError('source and destination are the same');
  }

  private validateSessionReq(req: SessionReq): void {
    validateMount(req.mount);
    validateInode(req.inode);
    validateSession(req.session);
    if (req.expiresUnixNs <= this.nowNs()) throw new FsInvalidError('expires_unix_ns must be in the future');
  }
}

function decodeOpt(raw: Buffer | undefined): SessionRecord | undefined {
  return raw ? K.decodeSession(raw) : undefined;
}

function sameSession(a: SessionRecord, b: SessionRecord): boolean {
  return a.session === b.session && a.inode === b.inode && a.expiresUnixNs === b.expiresUnixNs;
}
