// Owns the gRPC front of the gateway, `nokv.fsmeta.v1.FSMetadata`: unary RPCs map wire messages onto the
// executor and typed errors onto statuses (the hot responses encoded by pb.ts); WatchSubtree spawns one
// session actor per client stream (session.ts) on the gateway's actor system and keeps only its ref.
import * as grpc from '@grpc/grpc-js';
import type { ActorRef, ActorSystem } from '../../actors/index.js';
import type { Logger } from '../../common/log.js';
import { NokvError } from '../../common/errors.js';
import { loadProto, toGrpcError, type ServiceBinding } from '../../transport/index.js';
import { UnauthenticatedError } from '../../transport/grpc/errors.js';
import { WatchCursorExpiredError } from '../errors.js';
import type { Executor } from '../executor.js';
import type { CoordinatorDuties } from '../kv.js';
import type { WatchRouter } from '../watch/router.js';
import * as P from './pb.js';
import { SESSION_MAILBOX_LIMIT, WatchSession, type SessionMsg, type StreamStats } from './session.js';
import * as W from './wire.js';

export interface FsmetaServiceOptions {
  executor: Executor;
  router: WatchRouter;
  duties: CoordinatorDuties;
  /** Where the session actors run (on its owner thread). */
  actors: ActorSystem;
  logger?: Logger;
}

export type { StreamStats } from './session.js';

export interface FsmetaService {
  binding: ServiceBinding;
  streams: StreamStats;
  /** Ends every watch stream (shutdown): each session actor is told to end, and awaited. */
  endStreams(): Promise<void>;
}

/** The status an fsmeta error travels as; an expired watch cursor is OUT_OF_RANGE. */
export function fsmetaStatus(err: unknown): grpc.StatusObject & Error {
  const e = toGrpcError(err);
  if (err instanceof WatchCursorExpiredError) e.code = grpc.status.OUT_OF_RANGE;
  return e;
}

type Handler = (req: any) => Promise<unknown>;

/** How long a gateway stop waits for its session actors to end their streams. */
export const END_STREAMS_TIMEOUT_MS = 2_000;

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
  const live = new Set<ActorRef<SessionMsg>>();
  const exited = new Set<() => void>();
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
      let ref: ActorRef<SessionMsg> | undefined;
      o.actors
        .spawn<SessionMsg>({
          name: 'fsmeta-watch-session',
          behaviour: new WatchSession(call, { router: o.router, duties: o.duties, stats: streams, status: fsmetaStatus }),
          thread: 0,
          mailboxLimit: SESSION_MAILBOX_LIMIT,
          onExit: () => {
            if (ref) live.delete(ref);
            for (const f of exited) f();
          },
        })
        .then(
          (r) => {
            ref = r;
            live.add(r);
          },
          (err) => call.emit('error', fsmetaStatus(err)),
        );
    },
  };
  return {
    binding: { service: fsmetaServiceDefinition(), impl },
    streams,
    endStreams: async () => {
      if (live.size === 0) return;
      const gone = new Promise<void>((resolve) => {
        const check = () => live.size === 0 && (exited.delete(check), resolve());
        exited.add(check);
      });
      for (const r of live) r.tell({ t: 'end' });
      // Each session ends its call and stops at once; the bound only guards a stop against a stuck mailbox.
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([gone, new Promise<void>((r) => (timer = setTimeout(r, END_STREAMS_TIMEOUT_MS)))]);
      clearTimeout(timer);
    },
  };
}
