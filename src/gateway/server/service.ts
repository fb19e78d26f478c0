// Owns the gRPC front of the gateway, `nokv.fsmeta.v1.FSMetadata`: unary RPCs map wire messages onto the
// executor and typed errors onto statuses; WatchSubtree runs one WatchStream object per client stream.
//
// Why a plain object per stream and not an actor: all of a stream's inputs (client messages, router
// deliveries, cancellation) already arrive one at a time on this process's event loop, and its state is a
// few fields; an actor would add a mailbox hop to every event on the hottest path without adding isolation.
// The stream's limits (window, router backlog) are explicit either way.
import * as grpc from '@grpc/grpc-js';
import type { Logger } from '../../common/log.js';
import { NokvError } from '../../common/errors.js';
import { loadProto, toGrpcError, type ServiceBinding } from '../../transport/index.js';
import { UnauthenticatedError } from '../../transport/grpc/errors.js';
import { FsInvalidError, FsNotFoundError, MountRetiredError, WatchCursorExpiredError } from '../errors.js';
import type { Executor } from '../executor.js';
import type { CoordinatorDuties } from '../kv.js';
import { DEFAULT_WATCH_WINDOW, MAX_WATCH_WINDOW, type Subscription, type WatchRouter, type WatchSpec } from '../watch/router.js';
import * as P from './pb.js';
import * as W from './wire.js';

export interface FsmetaServiceOptions {
  executor: Executor;
  router: WatchRouter;
  duties: CoordinatorDuties;
  logger?: Logger;
}

export interface StreamStats {
  open: number;
  opened: number;
  closedWithError: number;
}

export interface FsmetaService {
  binding: ServiceBinding;
  streams: StreamStats;
  /** Ends every watch stream (shutdown). */
  endStreams(): void;
}

/** The status an fsmeta error travels as; an expired watch cursor is OUT_OF_RANGE. */
export function fsmetaStatus(err: unknown): grpc.StatusObject & Error {
  const e = toGrpcError(err);
  if (err instanceof WatchCursorExpiredError) e.code = grpc.status.OUT_OF_RANGE;
  return e;
}

type Handler = (req: any) => Promise<unknown>;

/** Methods whose responses pb.ts encodes from the executor's records, bypassing proto-loader's writer. */
const HOT_ENCODERS: Record<string, (value: any) => Buffer> = {
  Create: P.encodeCreateResponse,
  Lookup: P.encodeLookupResponse,
  GetAttr: P.encodeGetAttrResponse,
  ReadDir: P.encodeReadDirResponse,
  ReadDirPlus: P.encodeReadDirPlusResponse,
};

let definition: grpc.ServiceDefinition | undefined;

/**
 * The FSMetadata definition from the proto with the hot methods' response writers replaced by pb.ts (requests
 * are still decoded by proto-loader; reflection still describes the proto, gateway.ts passes its package).
 */
export function fsmetaServiceDefinition(): grpc.ServiceDefinition {
  if (definition) return definition;
  const base = loadProto(W.FSMETA_PROTO).service(W.FSMETA_SERVICE);
  const out: Record<string, grpc.MethodDefinition<any, any>> = { ...base };
  for (const [name, encode] of Object.entries(HOT_ENCODERS)) {
    const m = base[name];
    if (!m) throw new Error(`FSMetadata has no method ${name}`);
    out[name] = { ...m, responseSerialize: encode };
  }
  definition = out as grpc.ServiceDefinition;
  return definition;
}

export function fsmetaService(o: FsmetaServiceOptions): FsmetaService {
  const x = o.executor;
  const unary = (fn: Handler): grpc.handleUnaryCall<any, any> => (call, callback) => {
    Promise.resolve()
      .then(() => fn(call.request))
      .then(
        (res) => callback(null, res as any),
        (err: unknown) => {
          if (!(err instanceof NokvError) && !(err instanceof UnauthenticatedError)) o.logger?.error({ err }, 'unexpected error in fsmeta RPC');
          callback(fsmetaStatus(err));
        },
      );
  };
  const streams: StreamStats = { open: 0, opened: 0, closedWithError: 0 };
  const live = new Set<WatchStream>();
  const impl: grpc.UntypedServiceImplementation = {
    // The hot responses go out through pb.ts (see HOT_ENCODERS): their handlers answer with records.
    Create: unary(async (r) => x.create(W.createIn(r))),
    Lookup: unary(async (r) => x.lookup(W.nameIn(r))),
    GetAttr: unary(async (r) => x.getAttr({ mount: r.mount ?? '', inode: W.num(r.inode, 'inode'), snapshotVersion: W.big(r.snapshot_version) })),
    ReadDir: unary(async (r) => x.readDir(W.readDirIn(r))),
    ReadDirPlus: unary(async (r) => x.readDirPlus(W.readDirIn(r))),
    UpdateInode: unary(async (r) => ({ inode: W.inodeOut(await x.updateInode(W.updateIn(r))) })),
    Rename: unary(async (r) => (await x.rename(W.moveIn(r)), {})),
    RenameSubtree: unary(async (r) => (await x.renameSubtree(W.moveIn(r)), {})),
    Link: unary(async (r) => (await x.link(W.moveIn(r)), {})),
    Unlink: unary(async (r) => (await x.unlink(W.nameIn(r)), {})),
    RemoveDirectory: unary(async (r) => (await x.removeDirectory(W.nameIn(r)), {})),
    SnapshotSubtree: unary(async (r) => {
      const root = W.num(r.root_inode, 'root_inode');
      const out = await x.snapshotSubtree({ mount: r.mount ?? '', rootInode: root });
      return { mount: r.mount, root_inode: String(root), read_version: out.readVersion.toString() };
    }),
    RetireSnapshotSubtree: unary(async (r) => {
      await x.retireSnapshotSubtree({ mount: r.mount ?? '', rootInode: W.num(r.root_inode, 'root_inode'), readVersion: W.big(r.read_version) });
      return {};
    }),
    GetQuotaUsage: unary(async (r) => {
      const u = await x.getQuotaUsage({ mount: r.mount ?? '', scope: W.num(r.scope, 'scope') });
      return { bytes: String(u.bytes), inodes: String(u.inodes) };
    }),
    OpenWriteSession: unary(async (r) => ({ session: W.sessionOut(await x.openWriteSession(W.sessionIn(r))) })),
    HeartbeatWriteSession: unary(async (r) => ({ session: W.sessionOut(await x.heartbeatWriteSession(W.sessionIn(r))) })),
    CloseWriteSession: unary(async (r) => (await x.closeWriteSession({ mount: r.mount ?? '', session: r.session ?? '' }), {})),
    ExpireWriteSessions: unary(async (r) => ({ expired: String((await x.expireWriteSessions({ mount: r.mount ?? '', limit: Number(r.limit ?? 0) })).expired) })),
    WatchSubtree: (call: grpc.ServerDuplexStream<any, any>) => {
      const s = new WatchStream(call, o, streams, () => live.delete(s));
      live.add(s);
    },
  };
  return {
    binding: { service: fsmetaServiceDefinition(), impl },
    streams,
    endStreams: () => {
      for (const s of [...live]) s.end();
    },
  };
}

/** One client's watch stream: subscribe first, then only acks; events flow out until the window overflows. */
class WatchStream {
  private state: 'new' | 'subscribing' | 'live' | 'closed' = 'new';
  private sub: Subscription | undefined;
  private readonly earlyAcks: Array<ReturnType<typeof W.cursorIn>> = [];

  constructor(
    private readonly call: grpc.ServerDuplexStream<any, any>,
    private readonly o: FsmetaServiceOptions,
    private readonly stats: StreamStats,
    private readonly onGone: () => void,
  ) {
    stats.open++;
    stats.opened++;
    call.on('data', (msg) => this.onMessage(msg));
    call.on('end', () => this.end());
    call.on('cancelled', () => this.end());
    call.on('error', () => this.end());
  }

  private onMessage(msg: any): void {
    if (this.state === 'closed') return;
    try {
      if (this.state === 'new') {
        if (msg.body !== 'subscribe') throw new FsInvalidError('the first watch message must be subscribe');
        this.state = 'subscribing';
        void this.subscribe(msg.subscribe).catch((err) => this.fail(err));
        return;
      }
      if (msg.body !== 'ack') throw new FsInvalidError('after subscribe, a watch stream accepts only acks');
      const cursor = W.cursorIn(msg.ack.cursor);
      if (this.sub) this.sub.ack(cursor);
      else this.earlyAcks.push(cursor);
    } catch (err) {
      this.fail(err);
    }
  }

  private async subscribe(m: any): Promise<void> {
    const spec = await this.specOf(m);
    await this.o.router.subscribe(spec, {
      opened: (sub) => {
        if (this.state === 'closed') return sub.close();
        this.sub = sub;
        this.state = 'live';
        for (const c of this.earlyAcks.splice(0)) sub.ack(c);
        this.call.write({ ready: { cursor: W.cursorOut(spec.resume) } });
      },
      deliver: (item) => {
        if (this.state === 'live') this.call.write(W.eventOut(item));
      },
      close: (err) => this.fail(err),
    });
  }

  private async specOf(m: any): Promise<WatchSpec> {
    const prefix = Buffer.from(m.key_prefix ?? []);
    const mount: string = m.mount ?? '';
    const root = W.num(m.root_inode, 'root_inode');
    const windowIn = Number(m.back_pressure_window ?? 0);
    if (windowIn < 0 || windowIn > MAX_WATCH_WINDOW) throw new FsInvalidError(`back_pressure_window must be 0..${MAX_WATCH_WINDOW}`);
    const base = { recursive: !!m.descend_recursively, resume: W.cursorIn(m.resume_cursor), window: windowIn || DEFAULT_WATCH_WINDOW };
    if (prefix.length > 0) {
      if (mount || root) throw new FsInvalidError('key_prefix excludes mount and root_inode');
      if (base.recursive) throw new FsInvalidError('descend_recursively needs mount and root_inode');
      return { ...base, keyPrefix: prefix };
    }
    if (!mount || !root) throw new FsInvalidError('a watch needs mount and root_inode, or key_prefix');
    const info = await this.o.duties.getMount(mount);
    if (!info) throw new FsNotFoundError('fsmeta: mount is not registered', { mount });
    if (info.retired) throw new MountRetiredError(`fsmeta: mount ${mount} is retired`, { mount });
    return { ...base, mount, rootInode: root };
  }

  private fail(err: unknown): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.stats.closedWithError++;
    this.release();
    // grpc-js turns an 'error' on a server stream into the final status (destroy() would drop it).
    this.call.emit('error', fsmetaStatus(err));
  }

  /** Client went away or the server is stopping. */
  end(): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.release();
    this.call.end();
  }

  private release(): void {
    this.stats.open--;
    this.sub?.close();
    this.onGone();
  }
}
