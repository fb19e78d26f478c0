// Owns the gRPC front of the gateway, `nokv.fsmeta.v1.FSMetadata`: unary RPCs map wire messages onto the
// executor and typed errors onto statuses (the hot responses encoded by pb.ts); WatchSubtree spawns one
// session actor per client stream (session.ts) on the gateway's actor system — on the main thread at
// `--workers 0`, else on a worker thread behind a main-thread port actor that owns the call (stream-link.ts) —
// and keeps only its ref.
import * as grpc from '@grpc/grpc-js';
import { actorTrace, type ActorRef, type ActorSystem, type TraceContext } from '../../actors/index.js';
import type { ExitReason } from '../../supervisor/types.js';
import type { Logger } from '../../common/log.js';
import { NokvError } from '../../common/errors.js';
import { loadProto, traceOf, type ServiceBinding } from '../../transport/index.js';
import { UnauthenticatedError } from '../../transport/grpc/errors.js';
import type { Executor } from '../executor.js';
import type { CoordinatorDuties } from '../kv.js';
import type { WatchRouter } from '../watch/router.js';
import * as P from './pb.js';
import { SESSION_MAILBOX_LIMIT, WATCH_SESSION_ACTOR, WatchSession, type PortMsg, type SessionMsg, type WorkerSessionArgs } from './session.js';
import { fsmetaStatus, wireStatus } from './status.js';
import { StreamLink, streamPortBehaviour, type StreamStats } from './stream-link.js';
import * as W from './wire.js';

export interface FsmetaServiceOptions {
  executor: Executor;
  router: WatchRouter;
  duties: CoordinatorDuties;
  /** Where the session actors run: its owner thread without workers, else its worker threads. */
  actors: ActorSystem;
  logger?: Logger;
}

export type { StreamStats } from './stream-link.js';
export { fsmetaStatus } from './status.js';

/** The stream's main-thread port actor, with a session on a worker thread. */
export const WATCH_PORT_ACTOR = 'fsmeta-watch-port';
const SESSION_MODULE = new URL('./session.js', import.meta.url).href;

/** A session that exits without having ended its stream itself (crash, kill, its thread gone) lost it. */
function lostBy(reason: ExitReason): boolean {
  return reason !== 'normal' && reason !== 'shutdown';
}

export interface FsmetaService {
  binding: ServiceBinding;
  streams: StreamStats;
  /** Ends every watch stream (shutdown): each session actor is told to end, and awaited. */
  endStreams(): Promise<void>;
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
  const actors = o.actors;
  /** Sessions that exited before their spawn resolved (their thread died at once): never added to `live`. */
  const gone = (ref: ActorRef<SessionMsg> | undefined, early: { exited: boolean }) => {
    early.exited = true;
    if (ref) live.delete(ref);
    for (const f of exited) f();
  };
  /**
   * One session actor per stream: on the main thread, its links the stream's link itself; or, with worker
   * threads, on a worker (round-robin) with a port actor on the main thread between it and the link.
   */
  const spawnSession = async (link: StreamLink, trace: TraceContext | undefined): Promise<void> => {
    let ref: ActorRef<SessionMsg> | undefined;
    const early = { exited: false };
    if (actors.workers === 0) {
      ref = await actors.spawn<SessionMsg>({
        name: WATCH_SESSION_ACTOR,
        behaviour: new WatchSession(link, trace),
        thread: 0,
        mailboxLimit: SESSION_MAILBOX_LIMIT,
        onExit: (reason) => {
          link.sessionExited(lostBy(reason));
          gone(ref, early);
        },
      });
    } else {
      const port = await actors.spawn<PortMsg>({ name: WATCH_PORT_ACTOR, behaviour: streamPortBehaviour(link), thread: 0, mailboxLimit: SESSION_MAILBOX_LIMIT });
      const args: WorkerSessionArgs = { port, ...(trace ? { trace } : {}) };
      try {
        ref = await actors.spawn<SessionMsg>({
          name: WATCH_SESSION_ACTOR,
          module: SESSION_MODULE,
          export: 'watchSessionOnWorker',
          args,
          mailboxLimit: SESSION_MAILBOX_LIMIT,
          onExit: (reason) => {
            try {
              port.tell({ t: 'exited', lost: lostBy(reason) });
            } catch {
              // The port went first and settled the stream already.
            }
            gone(ref, early);
          },
        });
      } catch (err) {
        await actors.stop(port);
        throw err;
      }
      // A port that goes first (it only fails on a bug) takes its session with it.
      const session = ref;
      actors.onExit(port, () => void actors.stop(session));
    }
    if (early.exited) return;
    live.add(ref);
    link.attach(ref);
  };
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
      const trace = actorTrace(traceOf(call), 'grpc:WatchSubtree');
      const link = new StreamLink(call, { router: o.router, duties: o.duties, stats: streams }, trace);
      spawnSession(link, trace).catch((err: unknown) => link.finish(wireStatus(err)));
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
