// Owns the fsmeta session actor: one actor per WatchSubtree stream, on the gateway's actor system (the owner
// thread: the gRPC call it serves cannot cross threads). It owns everything the stream has — its protocol state,
// its router subscription (and with it the back-pressure window of unacknowledged events), acks that arrive
// before the subscription is live — and everything reaches it as a message: client messages and the end of
// the call from the gRPC stream, `opened` / `event` / `overflow` from the watch router, the result of its own
// async subscription set-up (a message to self, so the mailbox never waits on the coordinator), and `end` when
// the gateway stops. Nothing outside reads or changes its state; the service only keeps its ref.
//
// Writer sessions (OpenWriteSession and friends) are leases stored in the KV and changed by transactions from
// any gateway, not state of a connection, so they stay with the executor.
import type * as grpc from '@grpc/grpc-js';
import { actorTrace, type ActorContext, type ActorRef, type Behaviour, type TraceContext } from '../../actors/index.js';
import { traceOf } from '../../transport/index.js';
import type { ExitReason } from '../../supervisor/types.js';
import { FsInvalidError, FsNotFoundError, MountRetiredError } from '../errors.js';
import type { CoordinatorDuties, KvCursor } from '../kv.js';
import { DEFAULT_WATCH_WINDOW, MAX_WATCH_WINDOW, type Subscription, type WatchItem, type WatchRouter, type WatchSpec } from '../watch/router.js';
import * as W from './wire.js';

export type SessionMsg =
  | { t: 'client'; msg: any }
  | { t: 'spec'; spec: WatchSpec }
  | { t: 'opened'; sub: Subscription; resume: KvCursor }
  | { t: 'event'; item: WatchItem }
  | { t: 'fail'; err: unknown }
  | { t: 'end' };

export interface StreamStats {
  open: number;
  opened: number;
  closedWithError: number;
}

export interface SessionDeps {
  router: WatchRouter;
  duties: CoordinatorDuties;
  stats: StreamStats;
  /** The status an error travels as (service.ts). */
  status(err: unknown): grpc.StatusObject & Error;
}

/**
 * Mailbox room of a session: the router never has more than the window (at most MAX_WATCH_WINDOW) events
 * unacknowledged for one subscription, and the client's own messages come on top.
 */
export const SESSION_MAILBOX_LIMIT = MAX_WATCH_WINDOW + 4_096;

export class WatchSession implements Behaviour<SessionMsg> {
  private state: 'new' | 'subscribing' | 'live' | 'closed' = 'new';
  private sub: Subscription | undefined;
  private readonly earlyAcks: KvCursor[] = [];
  /** Subscribe sent and neither `opened` nor its failure back yet. */
  private setupPending = false;
  private self!: ActorRef<SessionMsg>;
  /** The stream's trace: every message of this session, from the call or the router, continues it. */
  private readonly trace: TraceContext | undefined;

  constructor(
    private readonly call: grpc.ServerDuplexStream<any, any>,
    private readonly deps: SessionDeps,
  ) {
    this.trace = actorTrace(traceOf(call), 'grpc:WatchSubtree');
  }

  init(ctx: ActorContext<SessionMsg>): void {
    this.self = ctx.self;
    this.deps.stats.open++;
    this.deps.stats.opened++;
    // The call is paused until a 'data' listener is attached, so no client message is lost before this.
    this.call.on('data', (msg) => this.send({ t: 'client', msg }));
    this.call.on('end', () => this.send({ t: 'end' }));
    this.call.on('cancelled', () => this.send({ t: 'end' }));
    this.call.on('error', () => this.send({ t: 'end' }));
    if (this.call.cancelled) this.send({ t: 'end' });
  }

  /** Into this actor's mailbox; a session too far behind to take a message is closed with that error. */
  private send(m: SessionMsg): void {
    try {
      this.self.tell(m, this.trace ? { trace: this.trace } : undefined);
    } catch (err) {
      // Only a full mailbox refuses a tell on this thread: end the call, and let the actor wind down.
      if (this.state !== 'closed') this.call.emit('error', this.deps.status(err));
    }
  }

  receive(m: SessionMsg, ctx: ActorContext<SessionMsg>): void {
    if (this.state === 'closed') {
      // Closed while its set-up was under way: the actor stayed to take the outcome, so that a subscription
      // the router opens meanwhile is closed here instead of lingering in the router.
      if (m.t === 'opened') m.sub.close();
      if (this.setupPending && (m.t === 'opened' || m.t === 'fail' || m.t === 'spec')) {
        this.setupPending = false;
        ctx.stop();
      }
      return;
    }
    switch (m.t) {
      case 'client':
        return this.onClient(m.msg, ctx);
      case 'spec':
        this.subscribe(m.spec);
        return;
      case 'opened':
        this.setupPending = false;
        this.sub = m.sub;
        this.state = 'live';
        for (const c of this.earlyAcks.splice(0)) m.sub.ack(c);
        this.call.write({ ready: { cursor: W.cursorOut(m.resume) } });
        return;
      case 'event':
        if (this.state === 'live') this.call.write(W.eventOut(m.item));
        return;
      case 'fail':
        // A failed set-up (mount lookup, router refusal) or the router closing a live subscription.
        this.setupPending = false;
        return this.fail(m.err, ctx);
      case 'end':
        return this.end(ctx);
    }
  }

  terminate(reason: ExitReason): void {
    // Stopped from outside (actor system shutdown) or crashed: the subscription and the call go with the actor.
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.release();
    if (typeof reason === 'object' && 'error' in reason) {
      this.deps.stats.closedWithError++;
      this.call.emit('error', this.deps.status(reason.error));
    } else {
      this.call.end();
    }
  }

  inspect(): unknown {
    return { state: this.state, outstanding: this.sub?.outstanding ?? 0, window: this.sub?.spec.window ?? 0 };
  }

  private onClient(msg: any, ctx: ActorContext<SessionMsg>): void {
    try {
      if (this.state === 'new') {
        if (msg.body !== 'subscribe') throw new FsInvalidError('the first watch message must be subscribe');
        this.state = 'subscribing';
        this.setupPending = true;
        // Async set-up comes back as a message to self; the mailbox keeps taking acks meanwhile.
        this.specOf(msg.subscribe).then(
          (spec) => this.send({ t: 'spec', spec }),
          (err) => this.send({ t: 'fail', err }),
        );
        return;
      }
      if (msg.body !== 'ack') throw new FsInvalidError('after subscribe, a watch stream accepts only acks');
      const cursor = W.cursorIn(msg.ack.cursor);
      if (this.sub) this.sub.ack(cursor);
      else this.earlyAcks.push(cursor);
    } catch (err) {
      this.fail(err, ctx);
    }
  }

  private subscribe(spec: WatchSpec): void {
    // The router calls the sink in its own order (opened, replay, live); each call becomes a message here.
    this.deps.router
      .subscribe(spec, {
        opened: (sub) => this.send({ t: 'opened', sub, resume: spec.resume }),
        deliver: (item) => this.send({ t: 'event', item }),
        close: (err) => this.send({ t: 'fail', err }),
      })
      .catch((err) => this.send({ t: 'fail', err }));
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
    const info = await this.deps.duties.getMount(mount);
    if (!info) throw new FsNotFoundError('fsmeta: mount is not registered', { mount });
    if (info.retired) throw new MountRetiredError(`fsmeta: mount ${mount} is retired`, { mount });
    return { ...base, mount, rootInode: root };
  }

  private fail(err: unknown, ctx: ActorContext<SessionMsg>): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.deps.stats.closedWithError++;
    this.release();
    // grpc-js turns an 'error' on a server stream into the final status (destroy() would drop it).
    this.call.emit('error', this.deps.status(err));
    this.stopUnlessSetupPending(ctx);
  }

  /** The client went away, or the gateway is stopping. */
  private end(ctx: ActorContext<SessionMsg>): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.release();
    this.call.end();
    this.stopUnlessSetupPending(ctx);
  }

  private stopUnlessSetupPending(ctx: ActorContext<SessionMsg>): void {
    if (!this.setupPending) ctx.stop();
  }

  private release(): void {
    this.deps.stats.open--;
    this.sub?.close();
  }
}
