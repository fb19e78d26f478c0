// Owns the fsmeta session actor: one actor per WatchSubtree stream. It owns the stream's protocol state (subscribe
// first, then acks), its subscription's spec, back-pressure window and resume position, the acks that arrive
// before the subscription is live, and the decision of how the stream ends. Everything reaches it as a message:
// the client's messages and the end of the call, `opened` / `event` / `fail` of its router subscription, the
// result of its own async set-up (a message to self, so the mailbox never waits on the coordinator), and `end`
// when the gateway stops. Nothing outside reads or changes its state; the service keeps only its ref.
//
// Placement (`--workers`): at 0 it runs on the main thread and its links (SessionLinks) are direct calls on the
// stream's main-thread link (stream-link.ts); at N it runs on a worker thread, spawned from
// `watchSessionOnWorker` with plain data, and the same links are messages to the stream's port actor on the main
// thread, which owns the gRPC call (grpc-js calls cannot move between threads) and the router subscription
// handle. The session's code is the same either way.
//
// Writer sessions (OpenWriteSession and friends) are leases stored in the KV and changed by transactions from
// any gateway, not state of a connection, so they stay with the executor.
import type { ActorContext, ActorRef, Behaviour, TraceContext } from '../../actors/index.js';
import { FsInvalidError, FsNotFoundError, MountRetiredError } from '../errors.js';
import type { KvCursor, MountInfo } from '../kv.js';
import { DEFAULT_WATCH_WINDOW, MAX_WATCH_WINDOW, releaseAcked, type WatchSpec } from '../watch/router.js';
import { wireStatus, type WireStatus } from './status.js';
import * as W from './wire.js';

export type SessionMsg =
  | { t: 'client'; msg: any }
  | { t: 'spec'; spec: WatchSpec }
  | { t: 'opened' }
  /**
   * One router delivery: its cursor (wire form) and the sequence number under which the link holds the event's
   * message. The message itself stays with the call: the session answers writeEvent(seq) to send it.
   */
  | { t: 'event'; seq: number; cursor: any }
  | { t: 'fail'; status: WireStatus }
  | { t: 'end' };

/** What a session asks of the main thread: its router subscription, the coordinator, and its gRPC call. */
export interface SessionLinks {
  /** Subscribe; the outcome comes back as `opened` (then events) or `fail`. */
  subscribe(spec: WatchSpec): void;
  ack(cursor: KvCursor): void;
  getMount(mount: string): Promise<MountInfo | undefined>;
  /** One message to the client. */
  write(msg: unknown): void;
  /** Sends the client the event the link holds under `seq`. */
  writeEvent(seq: number): void;
  /** Ends the call: cleanly, or with this status; the subscription goes with it. */
  finish(status?: WireStatus): void;
}

/** What a worker session sends its stream's port actor (stream-link.ts): SessionLinks as messages. */
export type PortMsg =
  | { t: 'subscribe'; spec: WatchSpec }
  | { t: 'ack'; cursor: KvCursor }
  /** Ask → MountInfo or null. */
  | { t: 'mount'; mount: string }
  | { t: 'write'; msg: unknown }
  | { t: 'write-event'; seq: number }
  | { t: 'finish'; status?: WireStatus }
  /** From the main thread's exit listener: the session is gone; end the call if it is still open. */
  | { t: 'exited'; lost: boolean };

/**
 * Mailbox room of a session: the router never has more than the window (at most MAX_WATCH_WINDOW) events
 * unacknowledged for one subscription, and the client's own messages come on top — at most one ack per event
 * it was sent plus a small allowance (the stream link refuses more: stream-link.ts), so also at most a window's
 * worth plus that allowance. A session's mailbox therefore never fills, on a worker thread either.
 */
export const SESSION_MAILBOX_LIMIT = 2 * MAX_WATCH_WINDOW + 4_096;
/** The actor's name (logs, /debug/vars). */
export const WATCH_SESSION_ACTOR = 'fsmeta-watch-session';
/** A worker session's mount lookup waits this long for the port (the coordinator client has its own deadline). */
const MOUNT_ASK_TIMEOUT_MS = 30_000;

export class WatchSession implements Behaviour<SessionMsg> {
  private state: 'new' | 'subscribing' | 'live' | 'closed' = 'new';
  private spec: WatchSpec | undefined;
  /** Cursors delivered and not yet acknowledged: the window as the session sees it. */
  private readonly pending: KvCursor[] = [];
  private readonly earlyAcks: KvCursor[] = [];
  private self!: ActorRef<SessionMsg>;

  /** `trace`: the stream's, so the session's own messages continue it. */
  constructor(
    private readonly links: SessionLinks,
    private readonly trace: TraceContext | undefined,
  ) {}

  init(ctx: ActorContext<SessionMsg>): void {
    this.self = ctx.self;
  }

  receive(m: SessionMsg, ctx: ActorContext<SessionMsg>): void {
    if (this.state === 'closed') return;
    switch (m.t) {
      case 'client':
        return this.onClient(m.msg, ctx);
      case 'spec':
        this.spec = m.spec;
        this.links.subscribe(m.spec);
        return;
      case 'opened':
        this.state = 'live';
        for (const c of this.earlyAcks.splice(0)) this.ack(c);
        this.links.write({ ready: { cursor: W.cursorOut(this.spec!.resume) } });
        return;
      case 'event':
        if (this.state !== 'live') return;
        // The router enforces the window at the source (a cross-thread mailbox never overflows); this mirror
        // is what inspect() reports.
        this.pending.push(W.cursorIn(m.cursor));
        this.links.writeEvent(m.seq);
        return;
      case 'fail':
        // A failed subscription (router refusal, expired cursor) or the router closing a live one (overflow).
        return this.close(ctx, m.status);
      case 'end':
        return this.close(ctx);
    }
  }

  inspect(): unknown {
    return { state: this.state, outstanding: this.pending.length, window: this.spec?.window ?? 0 };
  }

  private onClient(msg: any, ctx: ActorContext<SessionMsg>): void {
    try {
      if (this.state === 'new') {
        if (msg.body !== 'subscribe') throw new FsInvalidError('the first watch message must be subscribe');
        this.state = 'subscribing';
        // Async set-up comes back as a message to self; the mailbox keeps taking acks meanwhile.
        this.specOf(msg.subscribe).then(
          (spec) => this.toSelf({ t: 'spec', spec }),
          (err) => this.toSelf({ t: 'fail', status: wireStatus(err) }),
        );
        return;
      }
      if (msg.body !== 'ack') throw new FsInvalidError('after subscribe, a watch stream accepts only acks');
      const cursor = W.cursorIn(msg.ack.cursor);
      if (this.state === 'live') this.ack(cursor);
      else this.earlyAcks.push(cursor);
    } catch (err) {
      this.close(ctx, wireStatus(err));
    }
  }

  private ack(cursor: KvCursor): void {
    releaseAcked(this.pending, cursor);
    this.links.ack(cursor);
  }

  private toSelf(m: SessionMsg): void {
    try {
      this.self.tell(m, this.trace ? { trace: this.trace } : undefined);
    } catch {
      // Stopped meanwhile (the stream ended): nothing waits for the outcome.
    }
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
    const info = await this.links.getMount(mount);
    if (!info) throw new FsNotFoundError('fsmeta: mount is not registered', { mount });
    if (info.retired) throw new MountRetiredError(`fsmeta: mount ${mount} is retired`, { mount });
    return { ...base, mount, rootInode: root };
  }

  /** Ends the stream (with status: as an error) and stops; the link releases the subscription. */
  private close(ctx: ActorContext<SessionMsg>, status?: WireStatus): void {
    this.state = 'closed';
    this.links.finish(status);
    ctx.stop();
  }
}

/** Spawn args of a session on a worker thread: its stream's port actor and the stream's trace. */
export interface WorkerSessionArgs {
  port: ActorRef<PortMsg>;
  trace?: TraceContext;
}

/** Spawn export for a worker thread: the session, its links messages to the stream's port on the main thread. */
export function watchSessionOnWorker(args: WorkerSessionArgs): WatchSession {
  return new WatchSession(portLinks(args.port, args.trace), args.trace);
}

function portLinks(port: ActorRef<PortMsg>, trace: TraceContext | undefined): SessionLinks {
  const opts = trace ? { trace } : undefined;
  // A tell to another thread never throws (a full mailbox drops it, counted): the port's mailbox has the
  // session's room, and the session never has more than its window of events in flight.
  return {
    subscribe: (spec) => port.tell({ t: 'subscribe', spec }, opts),
    ack: (cursor) => port.tell({ t: 'ack', cursor }, opts),
    getMount: async (mount) => (await port.ask<MountInfo | null>({ t: 'mount', mount }, { timeoutMs: MOUNT_ASK_TIMEOUT_MS, ...opts })) ?? undefined,
    write: (msg) => port.tell({ t: 'write', msg }, opts),
    writeEvent: (seq) => port.tell({ t: 'write-event', seq }, opts),
    finish: (status) => port.tell({ t: 'finish', ...(status ? { status } : {}) }, opts),
  };
}
