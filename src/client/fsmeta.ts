// Owns FsMetaClient, the typed client of the fsmeta gateway (nokv.fsmeta.v1.FSMetadata): plain records with
// bigint ids, names as bytes (a string goes out as its UTF-8 bytes), failover across gateway endpoints with
// retries, backoff and jitter inside one call budget, a deadline per attempt, and watches that reconnect and
// resume from the last delivered cursor. Errors are the shared typed errors (NokvError with the gRPC code).
import * as grpc from '@grpc/grpc-js';
import { NokvError } from '../common/errors.js';
import { defaultPrng, type Prng } from '../common/prng.js';
import { FSMETA_PROTO, FSMETA_SERVICE } from '../gateway/server/wire.js';
import { createClient, fromGrpcError, loadProto, setToken, unaryCall } from '../transport/index.js';
import type { Clock } from '../common/clock.js';
import { RETRY_SYSTEM_CLOCK, backoffMs, sleep } from '../common/retry.js';
import { DEFAULT_RETRY_POLICY, withRetries, type RetryPolicy } from './retry.js';

export type InodeType = 'file' | 'directory';
/** A name as sent: bytes, or a string sent as its UTF-8 bytes. */
export type Name = string | Uint8Array;

export interface Inode {
  inode: bigint;
  type: InodeType;
  size: bigint;
  mode: number;
  linkCount: number;
  createdUnixNs: bigint;
  updatedUnixNs: bigint;
  opaqueAttrs: Uint8Array;
}

export interface Dentry {
  parent: bigint;
  name: Buffer;
  inode: bigint;
  type: InodeType;
}

export interface DirPage<E> {
  entries: E[];
  readVersion: bigint;
}

export interface NewInode {
  type: InodeType;
  mode: number;
  size?: bigint | number;
  createdUnixNs?: bigint;
  updatedUnixNs?: bigint;
  opaqueAttrs?: Uint8Array;
}

export interface InodeUpdate {
  size?: bigint | number;
  mode?: number;
  updatedUnixNs?: bigint;
  opaqueAttrs?: Uint8Array;
}

export interface WatchCursor {
  regionId: bigint;
  term: bigint;
  index: bigint;
}

export type WatchEventKind = 'created' | 'updated' | 'deleted';

export interface WatchEvent {
  cursor: WatchCursor;
  commitVersion: bigint;
  kind: WatchEventKind;
  parent: bigint;
  name: Buffer;
  key: Buffer;
}

export interface WatchSpec {
  mount: string;
  rootInode: bigint | number;
  /** Also report the entries of every directory below rootInode. */
  recursive?: boolean;
  /** Replay what followed this cursor (from an earlier watch) before going live. */
  resumeFrom?: WatchCursor;
  /** Unacknowledged events the gateway allows (0 = its default). Events are acknowledged as they are consumed. */
  window?: number;
  /** Called each time the gateway confirms the subscription (the first time and after every reconnect). */
  onReady?: () => void;
  /** Ends the watch (the loop finishes without an error). */
  signal?: AbortSignal;
}

export interface FsMetaClientOptions {
  /** Gateway addresses, host:port; the client fails over between them. */
  endpoints: string[];
  /** Cluster token, sent as `authorization: Bearer` (mutations need it when the cluster has one). */
  token?: string;
  retry?: Partial<RetryPolicy>;
  prng?: Prng;
  /** Time for retry budgets and backoff sleeps (default: real time; a simulator or test passes its own). */
  clock?: Clock;
}

type Wire = Record<string, any>;

const TYPE_OUT: Record<InodeType, string> = { file: 'INODE_TYPE_FILE', directory: 'INODE_TYPE_DIRECTORY' };
const typeIn = (t: unknown): InodeType => (t === 'INODE_TYPE_DIRECTORY' ? 'directory' : 'file');
const KIND_IN: Record<string, WatchEventKind> = { WATCH_EVENT_KIND_CREATED: 'created', WATCH_EVENT_KIND_UPDATED: 'updated', WATCH_EVENT_KIND_DELETED: 'deleted' };
const u64 = (v: unknown): bigint => BigInt(String(v ?? 0));
const nameOut = (n: Name): Buffer => (typeof n === 'string' ? Buffer.from(n, 'utf8') : Buffer.from(n.buffer, n.byteOffset, n.byteLength));
const bytesIn = (v: unknown): Buffer => (Buffer.isBuffer(v) ? v : Buffer.alloc(0));

export function inodeFromWire(w: Wire): Inode {
  return {
    inode: u64(w.inode), type: typeIn(w.type), size: u64(w.size), mode: Number(w.mode ?? 0), linkCount: Number(w.link_count ?? 0),
    createdUnixNs: u64(w.created_unix_ns), updatedUnixNs: u64(w.updated_unix_ns), opaqueAttrs: bytesIn(w.opaque_attrs),
  };
}
export function dentryFromWire(w: Wire): Dentry {
  return { parent: u64(w.parent), name: bytesIn(w.name), inode: u64(w.inode), type: typeIn(w.type) };
}
const cursorIn = (w: Wire | undefined): WatchCursor => ({ regionId: u64(w?.region_id), term: u64(w?.term), index: u64(w?.index) });
const cursorOut = (c: WatchCursor): Wire => ({ region_id: c.regionId.toString(), term: c.term.toString(), index: c.index.toString() });

/** Idempotent calls retry on every transient failure; the others only where the gateway did not apply them. */
const READS = new Set(['Lookup', 'GetAttr', 'ReadDir', 'ReadDirPlus', 'GetQuotaUsage']);

function transient(method: string, err: unknown): boolean {
  if (!(err instanceof NokvError)) return false;
  if (err.code === 'UNAVAILABLE') return true;
  return READS.has(method) && (err.code === 'DEADLINE_EXCEEDED' || err.code === 'ABORTED');
}

export class FsMetaClient {
  private readonly clients: grpc.Client[];
  private readonly policy: RetryPolicy;
  private readonly prng: Prng;
  private readonly clock: Clock;
  private preferred = 0;

  constructor(private readonly o: FsMetaClientOptions) {
    if (o.endpoints.length === 0) throw new NokvError('INVALID_ARGUMENT', 'fsmeta client needs at least one endpoint');
    const ctor = loadProto(FSMETA_PROTO).clientConstructor(FSMETA_SERVICE);
    this.clients = o.endpoints.map((a) => createClient(ctor, a));
    this.policy = { ...DEFAULT_RETRY_POLICY, ...o.retry };
    this.prng = o.prng ?? defaultPrng();
    this.clock = o.clock ?? RETRY_SYSTEM_CLOCK;
  }

  close(): void {
    for (const c of this.clients) c.close();
  }

  async create(mount: string, parent: bigint | number, name: Name, attrs: NewInode): Promise<{ dentry: Dentry; inode: Inode }> {
    const r = await this.call('Create', {
      mount, parent: String(parent), name: nameOut(name),
      attrs: {
        type: TYPE_OUT[attrs.type], mode: attrs.mode, size: String(attrs.size ?? 0), created_unix_ns: String(attrs.createdUnixNs ?? 0),
        updated_unix_ns: String(attrs.updatedUnixNs ?? 0), opaque_attrs: attrs.opaqueAttrs ?? Buffer.alloc(0),
      },
    });
    return { dentry: dentryFromWire(r.dentry ?? {}), inode: inodeFromWire(r.inode ?? {}) };
  }

  async lookup(mount: string, parent: bigint | number, name: Name): Promise<Dentry> {
    return dentryFromWire((await this.call('Lookup', { mount, parent: String(parent), name: nameOut(name) })).dentry ?? {});
  }

  async getAttr(mount: string, inode: bigint | number, snapshotVersion: bigint = 0n): Promise<Inode> {
    return inodeFromWire((await this.call('GetAttr', { mount, inode: String(inode), snapshot_version: String(snapshotVersion) })).inode ?? {});
  }

  /** One page of a directory (names after `startAfter`, at most `limit`). */
  async readDir(mount: string, parent: bigint | number, page: { startAfter?: Name; limit?: number; snapshotVersion?: bigint } = {}): Promise<DirPage<Dentry>> {
    const r = await this.call('ReadDir', this.pageReq(mount, parent, page));
    return { entries: (r.entries ?? []).map(dentryFromWire), readVersion: u64(r.read_version) };
  }

  async readDirPlus(mount: string, parent: bigint | number, page: { startAfter?: Name; limit?: number; snapshotVersion?: bigint } = {}): Promise<DirPage<{ dentry: Dentry; inode: Inode }>> {
    const r = await this.call('ReadDirPlus', this.pageReq(mount, parent, page));
    return { entries: (r.entries ?? []).map((e: Wire) => ({ dentry: dentryFromWire(e.dentry ?? {}), inode: inodeFromWire(e.inode ?? {}) })), readVersion: u64(r.read_version) };
  }

  /** Every entry of a directory with its inode, page by page, all pages read at the first page's version. */
  async *list(mount: string, parent: bigint | number, pageSize = 1024): AsyncGenerator<{ dentry: Dentry; inode: Inode }> {
    let startAfter: Buffer | undefined;
    let snapshotVersion = 0n;
    for (;;) {
      const page = await this.readDirPlus(mount, parent, { limit: pageSize, snapshotVersion, ...(startAfter ? { startAfter } : {}) });
      snapshotVersion = page.readVersion;
      yield* page.entries;
      if (page.entries.length < pageSize) return;
      startAfter = page.entries[page.entries.length - 1]!.dentry.name;
    }
  }

  async updateInode(mount: string, parent: bigint | number, name: Name, inode: bigint | number, u: InodeUpdate): Promise<Inode> {
    const r = await this.call('UpdateInode', {
      mount, parent: String(parent), name: nameOut(name), inode: String(inode),
      set_size: u.size !== undefined, size: String(u.size ?? 0), set_mode: u.mode !== undefined, mode: u.mode ?? 0,
      set_updated_unix_ns: u.updatedUnixNs !== undefined, updated_unix_ns: String(u.updatedUnixNs ?? 0),
      set_opaque_attrs: u.opaqueAttrs !== undefined, opaque_attrs: u.opaqueAttrs ?? Buffer.alloc(0),
    });
    return inodeFromWire(r.inode ?? {});
  }

  /** rename(2): an existing destination is replaced unless noReplace. */
  async rename(mount: string, from: { parent: bigint | number; name: Name }, to: { parent: bigint | number; name: Name }, opts: { noReplace?: boolean; subtree?: boolean } = {}): Promise<void> {
    await this.call(opts.subtree ? 'RenameSubtree' : 'Rename', { ...moveReq(mount, from, to), no_replace: Boolean(opts.noReplace) });
  }

  /** A hard link `to` of the file at `from`. */
  async link(mount: string, from: { parent: bigint | number; name: Name }, to: { parent: bigint | number; name: Name }): Promise<void> {
    await this.call('Link', moveReq(mount, from, to));
  }

  async unlink(mount: string, parent: bigint | number, name: Name): Promise<void> {
    await this.call('Unlink', { mount, parent: String(parent), name: nameOut(name) });
  }

  async removeDirectory(mount: string, parent: bigint | number, name: Name): Promise<void> {
    await this.call('RemoveDirectory', { mount, parent: String(parent), name: nameOut(name) });
  }

  /** Usage charged to a quota subject: the whole mount (scope 0) or a directory's direct children. */
  async quotaUsage(mount: string, scope: bigint | number = 0): Promise<{ bytes: bigint; inodes: bigint }> {
    const r = await this.call('GetQuotaUsage', { mount, scope: String(scope) });
    return { bytes: u64(r.bytes), inodes: u64(r.inodes) };
  }

  async snapshotSubtree(mount: string, rootInode: bigint | number): Promise<bigint> {
    return u64((await this.call('SnapshotSubtree', { mount, root_inode: String(rootInode) })).read_version);
  }

  async retireSnapshotSubtree(mount: string, rootInode: bigint | number, readVersion: bigint): Promise<void> {
    await this.call('RetireSnapshotSubtree', { mount, root_inode: String(rootInode), read_version: readVersion.toString() });
  }

  /**
   * The changes under a directory, as they are applied, acknowledged as the loop consumes them. A broken stream
   * is reopened (backoff with jitter, within the retry budget counted from the last message) and resumed after
   * the last delivered cursor, so no event of that region is lost or repeated. Ends with the gateway's error
   * otherwise (OUT_OF_RANGE: the cursor is older than the gateway's history; list again and watch anew).
   * Leaving the loop closes the stream.
   */
  async *watch(spec: WatchSpec): AsyncGenerator<WatchEvent> {
    let resume = spec.resumeFrom;
    let failures = 0;
    let lastProgress = this.clock.now();
    for (;;) {
      if (spec.signal?.aborted) return;
      const stream = this.openWatch(spec, resume);
      const cancel = () => stream.cancel();
      spec.signal?.addEventListener('abort', cancel, { once: true });
      try {
        for await (const msg of stream as AsyncIterable<Wire>) {
          // Any answer shows the gateway is there (the budget restarts); only an event resets the backoff, so a
          // gateway that accepts and then ends every stream is retried at a growing interval, not in a tight loop.
          lastProgress = this.clock.now();
          if (msg.ready) {
            const c = cursorIn(msg.ready.cursor);
            if (!resume && c.regionId !== 0n) resume = c;
            spec.onReady?.();
            continue;
          }
          if (!msg.event) continue;
          failures = 0;
          const ev: WatchEvent = {
            cursor: cursorIn(msg.event.cursor), commitVersion: u64(msg.event.commit_version), kind: KIND_IN[msg.event.kind] ?? 'updated',
            parent: u64(msg.event.parent), name: bytesIn(msg.event.name), key: bytesIn(msg.event.key),
          };
          yield ev;
          resume = ev.cursor;
          stream.write({ ack: { cursor: cursorOut(ev.cursor) } });
        }
        throw new NokvError('UNAVAILABLE', 'watch stream ended by the gateway');
      } catch (err) {
        if (spec.signal?.aborted) return;
        const e = fromGrpcError(err);
        if (!(e instanceof NokvError) || e.code !== 'UNAVAILABLE' || this.clock.now() - lastProgress > this.policy.callBudgetMs) throw e;
        this.preferred = (this.preferred + 1) % this.clients.length;
        await sleep(this.clock, backoffMs(this.policy, failures++, this.prng));
      } finally {
        spec.signal?.removeEventListener('abort', cancel);
        stream.cancel();
      }
    }
  }

  private openWatch(spec: WatchSpec, resume: WatchCursor | undefined): grpc.ClientDuplexStream<Wire, Wire> {
    const md = new grpc.Metadata();
    if (this.o.token) setToken(md, this.o.token);
    const stream = (this.clients[this.preferred] as unknown as { WatchSubtree(md: grpc.Metadata): grpc.ClientDuplexStream<Wire, Wire> }).WatchSubtree(md);
    stream.write({
      subscribe: {
        mount: spec.mount, root_inode: String(spec.rootInode), descend_recursively: Boolean(spec.recursive), back_pressure_window: spec.window ?? 0,
        ...(resume ? { resume_cursor: cursorOut(resume) } : {}),
      },
    });
    return stream;
  }

  private pageReq(mount: string, parent: bigint | number, page: { startAfter?: Name; limit?: number; snapshotVersion?: bigint }): Wire {
    return {
      mount, parent: String(parent), start_after: page.startAfter === undefined ? Buffer.alloc(0) : nameOut(page.startAfter),
      limit: page.limit ?? 0, snapshot_version: String(page.snapshotVersion ?? 0n),
    };
  }

  private call(method: string, req: Wire): Promise<Wire> {
    return withRetries({
      what: `fsmeta ${method}`,
      endpoints: this.clients.length,
      policy: this.policy,
      prng: this.prng,
      clock: this.clock,
      start: this.preferred,
      attempt: ({ endpoint, deadlineMs }) => unaryCall<Wire, Wire>(this.clients[endpoint]!, method, req, { deadlineMs, ...(this.o.token ? { token: this.o.token } : {}) }),
      retryable: (err) => transient(method, err),
      onSuccess: (endpoint) => (this.preferred = endpoint),
    });
  }
}

function moveReq(mount: string, from: { parent: bigint | number; name: Name }, to: { parent: bigint | number; name: Name }): Wire {
  return { mount, from_parent: String(from.parent), from_name: nameOut(from.name), to_parent: String(to.parent), to_name: nameOut(to.name) };
}
