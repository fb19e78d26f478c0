// Owns the tail actor of one meta-root replica: the only owner of the replica's tail ring (tail-hub.ts) and of
// the long-poll waiters. The state machine's applied commands and snapshot installs arrive as messages, in
// apply order; WaitTail and Tail handlers ask it for the page after a cursor, and a waiter is answered by the
// next retained entry or by its own timeout (a message to self on the injected clock). Also owns the adapter
// the gRPC front and /debug/vars use, and the actor's child spec for the role's supervisor.
//
// It runs on the owner thread: the state machine that feeds it is applied there by the raft peer, and the pages
// go out through the gRPC front there too, so a worker thread would add two crossings per applied entry and
// per read with nothing to gain.
import { actorChildSpec, type ActorContext, type ActorRef, type ActorSystem, type Behaviour, type Replier, type TraceContext } from '../../actors/index.js';
import { ResourceExhaustedError, UnavailableError } from '../../common/errors.js';
import type { ChildSpec } from '../../supervisor/types.js';
import { MAX_TAIL_WAITERS, TAIL_ACTOR_MAILBOX_LIMIT, TAIL_ASK_SLACK_MS } from '../limits.js';
import type { Cursor, RootEvent } from '../state/index.js';
import type { RootStateMachine } from './state-machine.js';
import { TailHub, type TailHubStats, type TailPage } from './tail-hub.js';

/** The actor's name in logs and in the supervisor. */
export const TAIL_ACTOR = 'tail-hub';

export type TailMsg =
  | { t: 'applied'; cursor: Cursor; events: RootEvent[] }
  | { t: 'reset'; at: Cursor }
  /** Ask: the page after `after`, waiting up to timeoutMs for something to arrive. */
  | { t: 'wait'; after: Cursor; timeoutMs: number }
  | { t: 'expire'; waiter: number };

interface Waiter {
  after: Cursor;
  replier: Replier;
  cancel: () => void;
}

type Ctx = ActorContext<TailMsg>;

export class TailActor implements Behaviour<TailMsg> {
  readonly hub: TailHub;
  private readonly waiters = new Map<number, Waiter>();
  private nextWaiter = 1;
  private unlisten: (() => void) | undefined;

  constructor(private readonly deps: { capacity: number; sm: RootStateMachine }) {
    this.hub = new TailHub(deps.capacity);
  }

  init(ctx: Ctx): void {
    const { sm } = this.deps;
    this.hub.reset(sm.state.last_applied);
    // A full mailbox must never become a silent gap: the next message that fits is a reset at the applied
    // cursor instead, which sends every older reader to a snapshot.
    let lost = false;
    const send = (msg: TailMsg) => {
      try {
        if (lost) {
          ctx.self.tell({ t: 'reset', at: sm.state.last_applied });
          lost = false;
        } else ctx.self.tell(msg);
      } catch {
        lost = true;
      }
    };
    this.unlisten = sm.listen({
      applied: (cursor, outcome) => send({ t: 'applied', cursor, events: outcome.events }),
      restored: (state) => send({ t: 'reset', at: state.last_applied }),
    });
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
      }
    }
  }

  /** Answers every waiter with what there is, so a stopping replica never leaves a long-poll hanging. */
  terminate(): void {
    this.unlisten?.();
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
 * What the gRPC front and /debug/vars hold: wait() is an ask to the running tail actor, carrying the caller's
 * trace. After the actor stopped, reads answer at once from the last ring (as a closed hub did), so a Tail
 * stream that races the shutdown ends quietly instead of failing.
 */
export class TailHubActor {
  private current: TailActor | undefined;
  private last: TailActor | undefined;
  private ref: ActorRef<TailMsg> | undefined;

  constructor(
    private readonly actors: ActorSystem,
    private readonly capacity: number,
    /** The raft peer's state machine at the time of each (re)start. */
    private readonly sm: () => RootStateMachine,
  ) {}

  childSpec(): ChildSpec {
    return actorChildSpec<TailMsg>(
      this.actors,
      {
        name: TAIL_ACTOR,
        thread: 0,
        mailboxLimit: TAIL_ACTOR_MAILBOX_LIMIT,
        behaviour: () => {
          const actor = new TailActor({ capacity: this.capacity, sm: this.sm() });
          this.current = actor;
          this.last = actor;
          return actor;
        },
      },
      {
        onStart: (ref) => {
          this.ref = ref;
          this.actors.onExit(ref, () => {
            if (this.ref !== ref) return;
            this.ref = undefined;
            this.current = undefined;
          });
        },
      },
    );
  }

  get running(): boolean {
    return this.ref !== undefined;
  }

  /** The page after `after`, at once when there is one, else after the next retained entry or timeoutMs. */
  async wait(after: Cursor, timeoutMs: number, trace?: TraceContext): Promise<TailPage> {
    const ref = this.ref;
    if (!ref) {
      if (this.last) return this.last.hub.read(after);
      throw new UnavailableError('tail hub is not running');
    }
    try {
      return await ref.ask<TailPage>({ t: 'wait', after, timeoutMs }, { timeoutMs: Math.max(0, timeoutMs) + TAIL_ASK_SLACK_MS, ...(trace ? { trace } : {}) });
    } catch (err) {
      // The actor stopped while the ask was on its way: answer like a closed hub.
      if (this.ref !== ref && this.last) return this.last.hub.read(after);
      throw err;
    }
  }

  stats(): TailHubStats | null {
    return this.current?.stats() ?? null;
  }
}
