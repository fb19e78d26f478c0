// Owns what of a WatchSubtree stream stays on the main thread whatever the session's placement: the gRPC call
// (grpc-js calls cannot move between threads) and the handle of the stream's router subscription (the watch
// router and its history live on the main thread: see docs/architecture.md). A StreamLink does what the session
// asks (SessionLinks) on these, and forwards to the session what they produce: the client's messages and the
// end of the call, `opened` / `event` / `fail` of the subscription. With the session on the main thread
// (`--workers 0`) the session calls the link directly; with the session on a worker, the stream's port actor
// (streamPortBehaviour) turns the session's messages into the same calls.
//
// A client may send one message per event it was sent, plus its subscribe and CLIENT_MESSAGE_ALLOWANCE more
// (the protocol is subscribe, then one ack per event at most): a client that sends more ends with
// RESOURCE_EXHAUSTED here, before its messages reach the session. So a flood never fills a session's mailbox —
// which for a session on a worker thread would drop messages unseen rather than refuse them.
//
// The link also settles the stream when the session goes without ending it (a crash, a kill, the death of its
// worker thread): the call ends with UNAVAILABLE, so the client resumes from its last cursor, and the
// subscription is closed, including one the router opens after that.
import type * as grpc from '@grpc/grpc-js';
import type { ActorContext, ActorRef, Behaviour, TraceContext } from '../../actors/index.js';
import type { CoordinatorDuties, KvCursor, MountInfo } from '../kv.js';
import type { Subscription, WatchRouter, WatchSpec } from '../watch/router.js';
import type { PortMsg, SessionLinks, SessionMsg } from './session.js';
import { sessionLostStatus, statusOfWire, wireStatus, type WireStatus } from './status.js';
import * as W from './wire.js';
import { ResourceExhaustedError } from '../../common/errors.js';

/** Messages a watch client may send beyond its subscribe and one ack per event it was sent. */
export const CLIENT_MESSAGE_ALLOWANCE = 64;

export interface StreamStats {
  open: number;
  opened: number;
  closedWithError: number;
}

export interface StreamLinkDeps {
  router: WatchRouter;
  duties: CoordinatorDuties;
  stats: StreamStats;
}

export class StreamLink implements SessionLinks {
  private session: ActorRef<SessionMsg> | undefined;
  private sub: Subscription | undefined;
  private finished = false;
  /**
   * Delivered events' messages, by sequence number, until the session has them written: only the cursor
   * crosses to a worker session and only the number comes back, so an event's bytes never cross threads.
   */
  private readonly held = new Map<number, unknown>();
  private seq = 0;
  /** Client messages the link will still forward (see CLIENT_MESSAGE_ALLOWANCE). */
  private clientCredits = 1 + CLIENT_MESSAGE_ALLOWANCE;

  constructor(
    private readonly call: grpc.ServerDuplexStream<any, any>,
    private readonly deps: StreamLinkDeps,
    /** The stream's trace: every message to the session continues it. */
    private readonly trace: TraceContext | undefined,
  ) {
    deps.stats.open++;
    deps.stats.opened++;
  }

  /** Starts forwarding the call to the session. The call is paused until now, so no client message is lost. */
  attach(session: ActorRef<SessionMsg>): void {
    this.session = session;
    this.call.on('data', (msg) => this.fromClient(msg));
    this.call.on('end', () => this.toSession({ t: 'end' }));
    this.call.on('cancelled', () => this.clientGone());
    this.call.on('error', () => this.clientGone());
    if (this.call.cancelled) this.clientGone();
  }

  /**
   * The client cancelled or the call broke: the session is told, and the link settles the stream itself, so the
   * router subscription is closed here and now even if that tell never reaches a session far behind on another
   * thread (a cross-thread tell to a full mailbox is dropped unseen).
   */
  private clientGone(): void {
    this.toSession({ t: 'end' });
    this.finish();
  }

  private fromClient(msg: unknown): void {
    if (this.finished) return;
    if (--this.clientCredits < 0) {
      this.toSession({ t: 'end' }); // the session stops; the link ends the call with the reason
      this.finish(wireStatus(new ResourceExhaustedError(`the watch client sent more messages than one ack per event it was sent (plus ${CLIENT_MESSAGE_ALLOWANCE})`)));
      return;
    }
    this.toSession({ t: 'client', msg });
  }

  subscribe(spec: WatchSpec): void {
    if (this.finished) return;
    // A prefix from a worker session arrives as a plain Uint8Array.
    const s: WatchSpec = spec.keyPrefix ? { ...spec, keyPrefix: Buffer.from(spec.keyPrefix) } : spec;
    // The router calls the sink in its own order (opened, replay, live); each call becomes a session message.
    this.deps.router
      .subscribe(s, {
        opened: (sub) => {
          if (this.finished) return sub.close();
          this.sub = sub;
          this.toSession({ t: 'opened' });
        },
        deliver: (item) => {
          const out = W.eventOut(item);
          const seq = ++this.seq;
          this.held.set(seq, out);
          this.toSession({ t: 'event', seq, cursor: out.event.cursor });
        },
        close: (err) => this.toSession({ t: 'fail', status: wireStatus(err) }),
      })
      .catch((err) => this.toSession({ t: 'fail', status: wireStatus(err) }));
  }

  ack(cursor: KvCursor): void {
    this.sub?.ack(cursor);
  }

  getMount(mount: string): Promise<MountInfo | undefined> {
    return this.deps.duties.getMount(mount);
  }

  write(msg: unknown): void {
    if (!this.finished) this.call.write(msg);
  }

  writeEvent(seq: number): void {
    const out = this.held.get(seq);
    this.held.delete(seq);
    if (out !== undefined && !this.finished) {
      this.clientCredits++;
      this.call.write(out);
    }
  }

  finish(status?: WireStatus): void {
    if (this.finished) return;
    this.finished = true;
    this.held.clear();
    this.deps.stats.open--;
    this.sub?.close();
    if (status) {
      this.deps.stats.closedWithError++;
      // grpc-js turns an 'error' on a server stream into the final status (destroy() would drop it).
      this.call.emit('error', statusOfWire(status));
    } else {
      this.call.end();
    }
  }

  /** The session is gone; `lost`: without ending the stream itself (crash, kill, thread death). */
  sessionExited(lost: boolean): void {
    this.session = undefined;
    this.finish(lost ? sessionLostStatus() : undefined);
  }

  private toSession(m: SessionMsg): void {
    const session = this.session;
    if (!session || this.finished) return;
    try {
      session.tell(m, this.trace ? { trace: this.trace } : undefined);
    } catch (err) {
      // Only a full mailbox on this thread refuses a tell: a session that far behind ends with that error.
      this.finish(wireStatus(err));
    }
  }
}

/** The stream's port actor (main thread, one per stream whose session runs on a worker): SessionLinks as messages. */
export function streamPortBehaviour(link: StreamLink): Behaviour<PortMsg> {
  return {
    receive(m: PortMsg, ctx: ActorContext<PortMsg>) {
      switch (m.t) {
        case 'subscribe':
          return link.subscribe(m.spec);
        case 'ack':
          return link.ack(m.cursor);
        case 'mount': {
          const r = ctx.deferReply();
          link.getMount(m.mount).then((info) => r.reply(info ?? null), (err: unknown) => r.fail(err));
          return;
        }
        case 'write':
          return link.write(m.msg);
        case 'write-event':
          return link.writeEvent(m.seq);
        case 'finish':
          return link.finish(m.status);
        case 'exited':
          link.sessionExited(m.lost);
          ctx.stop();
          return;
      }
    },
    terminate() {
      // Stopped or crashed before its session: the stream cannot go on without the call's owner.
      link.sessionExited(true);
    },
  };
}
