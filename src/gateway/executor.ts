// Owns the fsmeta operations as transactions over the KV port: validation, mount admission, the namespace
// rules (stricter than upstream: parents must exist and be directories, renames refuse cycles and replace as
// rename(2) does, non-empty directories cannot be removed, directories are removed only by RemoveDirectory,
// directory pages of a missing or non-directory parent are errors), quota accounting in the same transaction,
// writer sessions, and bounded retries on contention. A pure core: time, ids and the KV are injected, so the
// seeded model and history checkers drive this very code. How the directory rules stay true under snapshot
// isolation without making one directory's inserts conflict is in dirs.ts.
//
// UpdateInode rewrites the dentry unchanged so that a watch on the parent sees the entry updated.
import type { Clock } from '../common/clock.js';
import { backoffMs, sleep } from '../common/retry.js';
import { dirKeys, deleteDirRecords, requireDir, requireDirIn, requireEmptyDir } from './dirs.js';
import { FsExistsError, FsInvalidError, FsNotFoundError, FsPreconditionError, MountRetiredError, TxnAbortedError } from './errors.js';
import * as K from './keys.js';
import { KvAlreadyExistsError, KvConflictError, type CoordinatorDuties, type KvRefScan, type KvTxn, type MountInfo, type TransactionalKv } from './kv.js';
import { moveTxn } from './move.js';
import { applyQuota, chargeQuota, planQuota } from './quota.js';
import type { CreateReq, MoveReq, NameReq, ReadDirReq, SessionReq, UpdateInodeReq } from './requests.js';
import { closeSessionTxn, expireSessionsTxn, heartbeatSessionTxn, openSessionTxn } from './sessions.js';
import {
  MAX_LINK_COUNT,
  expireLimit,
  pageLimit,
  showName,
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

/** A page without references (ReadDir). */
const NO_REF = { prefix: Buffer.alloc(0), offset: 0, length: 0 };

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
  /** A batch fetched ahead of need, used when the current one runs out. */
  private idSpare: [number, number] | undefined;
  private idRefill: Promise<void> | undefined;

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
      const taken = () => new FsExistsError(`${showName(req.name)} already exists in ${req.parent}`);
      await this.write(async (tx) => {
        const dkey = K.dentryKey(req.mount, req.parent, req.name);
        const charges = await planQuota(this.duties, req.mount, [{ scope: req.parent, bytes: a.size, inodes: 1 }]);
        // Parent, name and quota usage in one read; a taken name outranks a quota refusal.
        const got = await tx.batchGet([...dirKeys(mount, req.parent), dkey, ...charges.map((c) => c.key)]);
        requireDirIn(tx, mount, req.parent, got);
        if (got.has(dkey.toString('hex'))) throw taken();
        chargeQuota(tx, req.mount, charges, got);
        tx.put(dkey, K.encodeDentry(dentry), { assertNotExist: true });
        tx.put(K.inodeKey(req.mount, id), K.encodeInode(inode), { assertNotExist: true });
        if (a.type === 'DIRECTORY') tx.put(K.parentKey(req.mount, id), K.encodeParent({ parent: req.parent, name: req.name }), { assertNotExist: true });
      }, taken);
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
      await this.admit(req.mount);
      const { value } = await this.write(async (tx) => {
        const dkey = K.dentryKey(req.mount, req.parent, req.name);
        const ikey = K.inodeKey(req.mount, req.inode);
        const got = await tx.batchGet([dkey, ikey]);
        const draw = got.get(dkey.toString('hex'));
        if (!draw) throw new FsNotFoundError(`${showName(req.name)} not found in ${req.parent}`);
        const dentry = K.decodeDentry(draw);
        if (dentry.inode !== req.inode) throw new FsInvalidError(`${showName(req.name)} names inode ${dentry.inode}, not ${req.inode}`);
        const iraw = got.get(ikey.toString('hex'));
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
        tx.put(ikey, K.encodeInode(next));
        tx.put(dkey, draw);
        await applyQuota(tx, this.duties, req.mount, [{ scope: req.parent, bytes: next.size - cur.size, inodes: 0 }]);
        return next;
      });
      return value;
    });
  }

  /** Moves one entry (file or directory), replacing an existing destination as rename(2) does (move.ts). */
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
        await requireDir(tx, mount, req.toParent);
        const toKey = K.dentryKey(req.mount, req.toParent, req.toName);
        if (await tx.get(toKey)) throw new FsExistsError(`${showName(req.toName)} already exists in ${req.toParent}`);
        const links = Math.max(inode.linkCount, 1);
        if (links >= MAX_LINK_COUNT) throw new FsInvalidError(`inode ${inode.inode} has the maximum link count`);
        tx.put(toKey, K.encodeDentry({ parent: req.toParent, name: req.toName, inode: inode.inode, type: inode.type }), { assertNotExist: true });
        tx.put(K.inodeKey(req.mount, inode.inode), K.encodeInode({ ...inode, linkCount: links + 1 }));
        await applyQuota(tx, this.duties, req.mount, [{ scope: req.toParent, bytes: inode.size, inodes: 1 }]);
      });
    });
  }

  unlink(req: NameReq): Promise<void> {
    return this.op('unlink', async () => {
      this.validateNameReq(req);
      await this.admit(req.mount);
      await this.write(async (tx) => {
        const d = await this.getDentry(tx, req.mount, req.parent, req.name);
        if (d.type === 'DIRECTORY') throw new FsPreconditionError(`${showName(req.name)} is a directory; use RemoveDirectory`);
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
        await applyQuota(tx, this.duties, req.mount, [{ scope: req.parent, bytes: -size, inodes: -1 }]);
      });
    });
  }

  removeDirectory(req: NameReq): Promise<void> {
    return this.op('remove_directory', async () => {
      this.validateNameReq(req);
      await this.admit(req.mount);
      await this.write(async (tx) => {
        const d = await this.getDentry(tx, req.mount, req.parent, req.name);
        if (d.type !== 'DIRECTORY') throw new FsPreconditionError(`${showName(req.name)} is not a directory`);
        await requireEmptyDir(tx, req.mount, d.inode, req.name);
        const iraw = await tx.get(K.inodeKey(req.mount, d.inode));
        tx.delete(K.dentryKey(req.mount, req.parent, req.name));
        deleteDirRecords(tx, req.mount, d.inode);
        const size = iraw ? K.decodeInode(iraw).size : 0;
        await applyQuota(tx, this.duties, req.mount, [{ scope: req.parent, bytes: -size, inodes: -1 }]);
      });
    });
  }

  // ---- namespace reads ---------------------------------------------------------------------------------------

  lookup(req: NameReq): Promise<DentryRecord> {
    return this.op('lookup', async () => {
      this.validateNameReq(req);
      const raw = await this.kv.readLatest(K.dentryKey(req.mount, req.parent, req.name));
      if (!raw) throw new FsNotFoundError(`${showName(req.name)} not found in ${req.parent}`);
      return K.decodeDentry(raw);
    });
  }

  /** snapshotVersion (0n or absent = now) reads the inode as of an earlier version. */
  getAttr(req: { mount: string; inode: number; snapshotVersion?: bigint }): Promise<InodeRecord> {
    return this.op('get_attr', async () => {
      validateMount(req.mount);
      validateInode(req.inode);
      const ikey = K.inodeKey(req.mount, req.inode);
      const raw = req.snapshotVersion && req.snapshotVersion > 0n ? await this.kv.begin(req.snapshotVersion).get(ikey) : await this.kv.readLatest(ikey);
      if (raw) return K.decodeInode(raw);
      const m = await this.duties.getMount(req.mount);
      if (m && m.rootInode === req.inode) return rootInodeRecord(req.inode);
      throw new FsNotFoundError(`inode ${req.inode} not found`);
    });
  }

  readDir(req: ReadDirReq): Promise<{ entries: DentryRecord[]; readVersion: bigint }> {
    return this.op('read_dir', async () => {
      const { tx, pairs } = await this.readPage(req, false);
      return { entries: pairs.map((p) => K.decodeDentry(p.value)), readVersion: tx.startTs };
    });
  }

  /** The page and its entries' inodes at one version, in one read per region; a page is never partial. */
  readDirPlus(req: ReadDirReq): Promise<{ entries: DirEntryPlus[]; readVersion: bigint }> {
    return this.op('read_dir_plus', async () => {
      const { tx, pairs } = await this.readPage(req, true);
      const entries = pairs.map((p) => {
        const dentry = K.decodeDentry(p.value);
        if (!p.ref) throw new FsNotFoundError(`inode ${dentry.inode} of ${showName(dentry.name)} not found`);
        return { dentry, inode: K.decodeInode(p.ref) };
      });
      return { entries, readVersion: tx.startTs };
    });
  }

  getQuotaUsage(req: { mount: string; scope: number }): Promise<QuotaUsage> {
    return this.op('get_quota_usage', async () => {
      validateMount(req.mount);
      validateUint(req.scope, 'scope');
      const raw = await this.kv.readLatest(K.usageKey(req.mount, req.scope));
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

  // ---- writer sessions (sessions.ts) -------------------------------------------------------------------------------

  openWriteSession(req: SessionReq): Promise<SessionRecord> {
    return this.op('open_write_session', async () => {
      this.validateSessionReq(req);
      await this.admit(req.mount);
      const now = this.nowNs();
      return (await this.write((tx) => openSessionTxn(tx, req, now))).value;
    });
  }

  heartbeatWriteSession(req: SessionReq): Promise<SessionRecord> {
    return this.op('heartbeat_write_session', async () => {
      this.validateSessionReq(req);
      await this.admit(req.mount);
      const now = this.nowNs();
      return (await this.write((tx) => heartbeatSessionTxn(tx, req, now))).value;
    });
  }

  closeWriteSession(req: { mount: string; session: string }): Promise<void> {
    return this.op('close_write_session', async () => {
      validateMount(req.mount);
      validateSession(req.session);
      await this.write((tx) => closeSessionTxn(tx, req.mount, req.session));
    });
  }

  /** Deletes the expired records among the first `limit` session keys (owner keys sort first). */
  expireWriteSessions(req: { mount: string; limit: number }): Promise<{ expired: number }> {
    return this.op('expire_write_sessions', async () => {
      validateMount(req.mount);
      const limit = expireLimit(req.limit);
      const now = this.nowNs();
      return { expired: (await this.write((tx) => expireSessionsTxn(tx, req.mount, limit, now))).value };
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
    // base << attempt: the common policy doubling from 2 * base, uncapped (attempts are few), no jitter.
    return sleep(this.clock, backoffMs({ backoffBaseMs: this.backoffBaseMs * 2, backoffMaxMs: Infinity, jitter: 0 }, attempt - 1));
  }

  private async admit(mount: string): Promise<MountInfo> {
    const m = await this.duties.getMount(mount);
    if (!m) throw new FsNotFoundError('fsmeta: mount is not registered', { mount });
    if (m.retired) throw new MountRetiredError(`fsmeta: mount ${mount} is retired`, { mount });
    return m;
  }

  /**
   * The next inode id of the gateway's current AllocID batch. One refill is in flight at a time, however many
   * creates wait for it (each caller used to fetch a batch of its own and all but one were thrown away), and
   * the next batch is fetched when a quarter of the current one is left, so a create rarely waits for AllocID.
   */
  private async nextInodeId(mount: MountInfo): Promise<number> {
    for (;;) {
      if (this.idNext >= this.idEnd) {
        if (this.idSpare) {
          [this.idNext, this.idEnd] = this.idSpare;
          this.idSpare = undefined;
        } else {
          await this.refillIds();
          continue;
        }
      }
      if (!this.idSpare && this.idEnd - this.idNext <= this.idBatch / 4) void this.refillIds().catch(() => undefined);
      const id = this.idNext++;
      if (id !== mount.rootInode && id > 0) return id;
    }
  }

  /** Fetches one batch (sharing a fetch already in flight) into the current range, or as the spare one. */
  private refillIds(): Promise<void> {
    this.idRefill ??= this.duties.allocIds(this.idBatch).then(
      (first) => {
        this.idRefill = undefined;
        const range: [number, number] = [first, first + this.idBatch];
        if (this.idNext >= this.idEnd && !this.idSpare) [this.idNext, this.idEnd] = range;
        else this.idSpare ??= range;
      },
      (err) => {
        this.idRefill = undefined;
        throw err;
      },
    );
    return this.idRefill;
  }

  private async getDentry(tx: KvTxn, mount: string, parent: number, name: Buffer): Promise<DentryRecord> {
    const raw = await tx.get(K.dentryKey(mount, parent, name));
    if (!raw) throw new FsNotFoundError(`${showName(name)} not found in ${parent}`);
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
      const { commitTs } = await this.write((tx) => moveTxn(tx, this.duties, mount, req));
      if (commitTs > frontier) frontier = commitTs;
    } finally {
      // Always finish a started handoff, so no handoff stays half-done even when the move failed.
      if (handoff) await this.duties.publishRootEvent({ kind: 'subtree_handoff_completed', mount: req.mount, rootInode: mount.rootInode, frontier });
    }
  }

  /**
   * A directory page at one version, with its entries' inodes when `plus`, read together with the parent's own
   * record: the parent must be the mount's root or a directory at that version (NOT_FOUND for a missing one or
   * an unknown mount, FAILED_PRECONDITION for a file).
   */
  private async readPage(req: ReadDirReq, plus: boolean): Promise<{ tx: KvTxn; pairs: KvRefScan['pairs'] }> {
    validateMount(req.mount);
    validateInode(req.parent, 'parent');
    if (req.startAfter.length > 0) validateName(req.startAfter, 'start_after');
    const limit = pageLimit(req.limit);
    const mount = await this.duties.getMount(req.mount);
    if (!mount) throw new FsNotFoundError('fsmeta: mount is not registered', { mount: req.mount });
    const ts = req.snapshotVersion > 0n ? req.snapshotVersion : await this.duties.reserveTimestamps(1);
    const tx = this.kv.begin(ts);
    const prefix = K.dentryPrefix(req.mount, req.parent);
    const start = req.startAfter.length > 0 ? Buffer.concat([K.dentryKey(req.mount, req.parent, req.startAfter), Buffer.from([0])]) : prefix;
    const dirKey = req.parent === mount.rootInode ? [] : [K.inodeKey(req.mount, req.parent)];
    const { pairs, found } = await tx.scanRefs(start, K.prefixEnd(prefix), limit, plus ? K.dentryInodeRef(req.mount) : NO_REF, dirKey);
    if (dirKey.length > 0) {
      const raw = found.get(dirKey[0]!.toString('hex'));
      if (!raw) throw new FsNotFoundError(`directory ${req.parent} not found`);
      if (K.decodeInode(raw).type !== 'DIRECTORY') throw new FsPreconditionError(`inode ${req.parent} is not a directory`);
    }
    return { tx, pairs };
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
    if (req.fromParent === req.toParent && req.fromName.equals(req.toName)) throw new FsInvalidError('source and destination are the same');
  }

  private validateSessionReq(req: SessionReq): void {
    validateMount(req.mount);
    validateInode(req.inode);
    validateSession(req.session);
    if (req.expiresUnixNs <= this.nowNs()) throw new FsInvalidError('expires_unix_ns must be in the future');
  }
}
