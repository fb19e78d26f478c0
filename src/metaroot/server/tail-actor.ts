// Owns the tail actor of one meta-root replica: the only owner of the replica's tail ring (tail-hub.ts) and of
// the long-poll waiters. It subscribes to the raft peer actor (peer-actor.ts), which answers with the applied
// cursor and then tells it every applied command and snapshot install, in apply order; WaitTail and Tail
// handlers ask it for the page after a cursor, and a waiter is answered by the next retained entry or by its
// own timeout (a message to self on the injected clock). Also owns the adapter the gRPC front and /debug/vars
// use (everything through the mailbox), and the actor's child spec for the role's supervisor.
//
// It runs on the raft peer's thread (the main thread at `--workers 0`, the peer's worker otherwise), so every
// applied notice is a same-thread tell: a notice that does not fit the mailbox throws at the peer, which then
// sends a reset instead of leaving a silent gap (a tell across threads to a full mailbox is dropped unseen).
// The gRPC front's reads cross to that thread as asks.
import { actorChildSpec, type ActorContext, type ActorRef, type ActorSystem, type Behaviour, type Replier } from '../../actors/index.js';
import { ResourceExhaustedError, UnavailableError } from '../../common/errors.js';
import type { ChildSpec } from '../../supervisor/types.js';
import { MAX_TAIL_WAITERS, TAIL_ACTOR_MAILBOX_LIMIT, TAIL_ASK_SLACK_MS } from '../limits.js';
import type { Cursor } from '../state/index.js';
import type { AppliedNotice, PeerMsg } from './peer-actor.js';
import { TailHub, type TailHubStats, type TailPage } from './tail-hub.js';

/** The actor's name in logs and in the supervisor. */
export const TAIL_ACTOR = 'tail-hub';
/** How long the tail actor waits for the raft peer to answer its subscription. */
const SUBSCRIBE_TIMEOUT_MS = 10_000;
const TAIL_MODULE = new URL('./tail-actor.js', import.meta.url).href;

export type TailMsg =
  | AppliedNotice
  /** Ask: the page after `after`, waiting up to timeoutMs for something to arrive. */
  | { t: 'wait'; after: Cursor; timeoutMs: number }
  | { t: 'expire'; waiter: number }
  /** Ask: TailHubStats. */
  | { t: 'stats' };

interface Waiter {
  after: Cursor;
  replier: Replier;
  cancel: () => void;
}

type Ctx = ActorContext<TailMsg>;

/** Spawn args (plain data and a ref), so the actor can start on a worker thread. */
export interface TailActorArgs {
  capacity: number;
  peer: ActorRef<PeerMsg>;
}

export class TailActor implements Behaviour<TailMsg> {
  readonly hub: TailHub;
  private readonly waiters = new Map<number, Waiter>();
  private nextWaiter = 1;
  private self: ActorRef<TailMsg> | undefined;

  constructor(private readonly deps: TailActorArgs) {
    this.hub = new TailHub(deps.capacity);
  }

  async init(ctx: Ctx): Promise<void> {
    this.self = ctx.self;
    // The peer answers with its applied cursor and, from that same message on, tells us every applied command.
    const at = await ctx.ask<Cursor>(this.deps.peer, { t: 'subscribe', to: ctx.self as ActorRef<AppliedNotice> }, { timeoutMs: SUBSCRIBE_TIMEOUT_MS });
    this.hub.reset(at);
  }

  receive(msg: TailMsg, ctx: Ctx): void {
    switch (msg.t) {
      case 'applied':
        if (this.hub.push(msg.cursor, msg.events)) this.wake(false);
        return;
      case 'reset':
        this.hub.reset(msg.at);
        return this.wake(false);
      case 'wait':
        return this.wait(msg.after, msg.timeoutMs, ctx);
      case 'expire': {
        const w = this.waiters.get(msg.waiter);
        if (!w) return;
        this.waiters.delete(msg.waiter);
        w.replier.reply(this.hub.read(w.after));
        return;
      }
      case 'stats':
        return ctx.reply(this.stats());
    }
  }

  /** Answers every waiter with what there is, so a stopping replica never leaves a long-poll hanging. */
  terminate(): void {
    try {
      if (this.self) this.deps.peer.tell({ t: 'unsubscribe', to: this.self as ActorRef<AppliedNotice> });
    } catch {
      // The peer is gone or full: it forgets subscribers when it restarts anyway.
    }
    this.wake(true);
  }

  inspect(): unknown {
    return this.stats();
  }

  stats(): TailHubStats {
    return this.hub.stats(this.waiters.size);
  }

  private wait(after: Cursor, timeoutMs: number, ctx: Ctx): void {
    const page = this.hub.read(after);
    if (page.entries.length > 0 || page.snapshot_required || timeoutMs <= 0) return ctx.reply(page);
    if (this.waiters.size >= MAX_TAIL_WAITERS) return ctx.fail(new ResourceExhaustedError(`too many tail waiters (${MAX_TAIL_WAITERS})`));
    const id = this.nextWaiter++;
    const timer = ctx.sendSelfAfter(timeoutMs, { t: 'expire', waiter: id });
    this.waiters.set(id, { after: { ...after }, replier: ctx.deferReply(), cancel: () => timer.cancel() });
  }

  /** Answers the waiters that now have something to read (all of them when `all`). */
  private wake(all: boolean): void {
    for (const [id, w] of this.waiters) {
      const page = this.hub.read(w.after);
      if (!all && page.entries.length === 0 && !page.snapshot_required) continue;
      this.waiters.delete(id);
      w.cancel();
      w.replier.reply(page);
    }
  }
}

/**
 * What the gRPC front and /debug/vars hold: wait() and stats() are asks to the running tail actor. While it
 * is not running (a restart after the raft peer's), reads answer UNAVAILABLE and the client reads elsewhere.
 */
export class TailHubActor {
  private ref: ActorRef<TailMsg> | undefined;

  constructor(
    private readonly actors: ActorSystem,
    private readonly capacity: number,
    /** The raft peer actor at the time of each (re)start (it starts first in the role's tree). */
    private readonly peer: () => ActorRef<PeerMsg> | undefined,
  ) {}

  /** Placed on the thread of the peer it subscribes to. */
  childSpec(): ChildSpec {
    return actorChildSpec<TailMsg>(
      this.actors,
      () => {
        const peer = this.peer();
        if (!peer) throw new UnavailableError('tail hub started before the raft peer');
        const args: TailActorArgs = { capacity: this.capacity, peer };
        const common = { name: TAIL_ACTOR, thread: peer.thread, mailboxLimit: TAIL_ACTOR_MAILBOX_LIMIT };
        return peer.thread === 0 ? { ...common, behaviour: () => new TailActor(args) } : { ...common, module: TAIL_MODULE, export: 'TailActor', args };
      },
      {
        id: TAIL_ACTOR,
        onStart: (ref) => {
          this.ref = ref;
          this.actors.onExit(ref, () => {
            if (this.ref === ref) this.ref = undefined;
          });
        },
      },
    );
  }

  get running(): boolean {
    return this.ref !== undefined;
  }

  /** The page after `after`, at once when there is one, else after the next retained entry or timeoutMs. */
  wait(after: Cursor, timeoutMs: number): Promise<TailPage> {
    const ref = this.ref;
    if (!ref) return Promise.reject(new UnavailableError('tail hub is not running'));
    return ref.ask<TailPage>({ t: 'wait', after, timeoutMs }, { timeoutMs: Math.max(0, timeoutMs) + TAIL_ASK_SLACK_MS });
  }

  /** The ring's counters, from the actor (null while it is not running). */
  async stats(): Promise<TailHubStats | null> {
    const ref = this.ref;
    if (!ref) return null;
    return ref.ask<TailHubStats>({ t: 'stats' }, { timeoutMs: TAIL_ASK_SLACK_MS }).catch(() => null);
  }
}
