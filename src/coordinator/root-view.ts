// Owns the coordinator's rebuildable view of rooted state, as an actor: one snapshot, then the rooted tail
// (long-poll) applied entry by entry with the same pure apply every meta-root replica runs. The actor is the
// only owner of the view; its root calls run as jobs whose results come back as messages to self, so a
// long-poll in flight never holds its mailbox. Subscribers (the lease holder and catalog actors) are told
// every advance, which is how a standby notices a release or a new era without any client traffic; the gRPC
// front and /debug/vars ask (RootViewHandle).
import { actorChildSpec, type ActorContext, type ActorRef, type ActorSystem, type Behaviour, type Replier } from '../actors/index.js';
import type { Clock, TimerHandle } from '../common/clock.js';
import { UnavailableError } from '../common/errors.js';
import { Backoff, sleep } from '../common/retry.js';
import { applyBatch, noteApplied, type Cursor, type RootState } from '../metaroot/state/index.js';
import type { ChildSpec } from '../supervisor/types.js';
import type { RootPort, TailEntry, TailResult } from './root-port.js';

/** One long-poll waits at most this long; it stays below any per-call deadline of the root client. */
export const TAIL_POLL_MS = 1_000;
/** After a failed poll or snapshot, wait this long (doubling) before the next try, up to the max. */
export const TAIL_RETRY_MIN_MS = 50;
export const TAIL_RETRY_MAX_MS = 1_000;
/** Between failed polls or reloads, no jitter (one view per coordinator); reset by a poll that reached the root. */
const TAIL_RETRY_POLICY = { backoffBaseMs: TAIL_RETRY_MIN_MS, backoffMaxMs: TAIL_RETRY_MAX_MS, jitter: 0 };
/** A poll or load result that met a full mailbox is offered again after this long. */
const FULL_MAILBOX_RETRY_MS = 5;
/** How long a write waits for the view to include what it wrote. */
export const CATCH_UP_TIMEOUT_MS = 3_000;
/** The actor's name in logs, in the supervisor and on /debug/vars. */
export const ROOT_VIEW_ACTOR = 'root-view';
/** An ask to the view answers from memory; this bounds a stuck mailbox (reloads have their own bound). */
export const VIEW_ASK_TIMEOUT_MS = 5_000;

type Result<T> = { ok: true; value: T } | { ok: false; error: unknown };

/** What a subscriber hears on every advance of the view. */
export type RootedNotice = { t: 'rooted'; state: RootState };

export type ViewMsg =
  | { t: 'poll' }
  | { t: 'polled'; result: Result<TailResult> }
  | { t: 'loaded'; seq: number; result: Result<RootState> }
  | { t: 'caught-up'; waiter: number }
  /** Ask → ViewRead. */
  | { t: 'get' }
  /** Ask → ViewRead once the view applied `index` (or after CATCH_UP_TIMEOUT_MS, whichever is first). */
  | { t: 'wait-for'; index: number }
  /** Ask → RootState: a fresh snapshot now (after a write the tail has not shown yet, or a gap). */
  | { t: 'reload'; linearizable: boolean }
  /** Ask → the state now (null before the first load); `to` then hears every advance. */
  | { t: 'subscribe'; to: ActorRef<RootedNotice> }
  | { t: 'unsubscribe'; to: ActorRef<RootedNotice> }
  /** Ask → ViewStats. */
  | { t: 'stats' };

export interface ViewRead {
  state: RootState | null;
  lagMs: number;
}

export interface ViewStats {
  applied_index: number;
  lag_ms: number;
  last_contact_unix_ms: number;
  last_error: string;
  reloads: number;
  id_fence: string;
  tso_fence: string;
  legacy_era: number;
  handover: RootState['handover'] | null;
}

type Ctx = ActorContext<ViewMsg>;

export class RootViewActor implements Behaviour<ViewMsg> {
  private current: RootState | null = null;
  private readonly subscribers = new Map<number, ActorRef<RootedNotice>>();
  private readonly waiters = new Map<number, { index: number; replier: Replier; timer: TimerHandle }>();
  private readonly reloads = new Map<number, { replier?: Replier; fromTail: boolean }>();
  private nextSeq = 1;
  private stopped = false;
  /** Unix ms of the last poll that reached the root (lag is measured from it). */
  private lastContactMs = 0;
  private lastError = '';
  private reloadCount = 0;

  private readonly backoff = new Backoff(TAIL_RETRY_POLICY);

  constructor(private readonly d: { root: RootPort }) {}

  /** Loads the first snapshot, retrying with backoff until it succeeds: spawn resolves once the view is loaded. */
  async init(ctx: Ctx): Promise<void> {
    for (;;) {
      try {
        const { state } = await this.d.root.snapshot({});
        this.loaded(state, ctx);
        break;
      } catch (err) {
        const msg = errMessage(err);
        if (msg !== this.lastError) ctx.log.warn({ err: msg }, 'rooted snapshot unavailable; retrying');
        this.lastError = msg;
        await sleep(ctx.clock, this.backoff.next());
      }
    }
    this.lastError = '';
    this.backoff.reset();
    ctx.log.info({ index: this.cursor.index, era: this.current!.tenure.era, holder_id: this.current!.tenure.holder_id }, 'rooted view loaded');
    ctx.self.tell({ t: 'poll' });
  }

  receive(msg: ViewMsg, ctx: Ctx): void {
    switch (msg.t) {
      case 'poll':
        return this.poll(ctx);
      case 'polled':
        return this.onPolled(msg.result, ctx);
      case 'loaded':
        return this.onLoaded(msg.seq, msg.result, ctx);
      case 'caught-up': {
        const w = this.waiters.get(msg.waiter);
        if (!w) return;
        this.waiters.delete(msg.waiter);
        w.replier.reply(this.read(ctx));
        return;
      }
      case 'get':
        return ctx.reply(this.read(ctx));
      case 'wait-for': {
        if (this.cursor.index >= msg.index) return ctx.reply(this.read(ctx));
        const id = this.nextSeq++;
        const timer = ctx.sendSelfAfter(CATCH_UP_TIMEOUT_MS, { t: 'caught-up', waiter: id });
        this.waiters.set(id, { index: msg.index, replier: ctx.deferReply(), timer });
        return;
      }
      case 'reload':
        return this.reload(msg.linearizable, false, ctx, ctx.deferReply());
      case 'subscribe':
        this.subscribers.set(msg.to.id, msg.to);
        return ctx.reply(this.current);
      case 'unsubscribe':
        this.subscribers.delete(msg.to.id);
        return;
      case 'stats':
        return ctx.reply(this.stats(ctx));
    }
  }

  /** Answers every waiter with what there is, so no write waits on a stopped view. */
  terminate(_reason: unknown, ctx: Ctx): void {
    this.stopped = true;
    for (const w of this.waiters.values()) {
      w.timer.cancel();
      w.replier.reply(this.read(ctx));
    }
    this.waiters.clear();
    const gone = new UnavailableError('rooted view stopped');
    for (const r of this.reloads.values()) r.replier?.fail(gone);
    this.reloads.clear();
  }

  inspect(): unknown {
    return { applied_index: this.cursor.index, subscribers: this.subscribers.size, waiters: this.waiters.size };
  }

  private get cursor(): Cursor {
    return this.current?.last_applied ?? { term: 0, index: 0 };
  }

  private lagMs(now: number): number {
    return this.lastContactMs === 0 ? 0 : Math.max(0, now - this.lastContactMs - TAIL_POLL_MS);
  }

  private read(ctx: Ctx): ViewRead {
    return { state: this.current, lagMs: this.lagMs(ctx.clock.now()) };
  }

  private stats(ctx: Ctx): ViewStats {
    const s = this.current;
    return {
      applied_index: this.cursor.index,
      lag_ms: this.lagMs(ctx.clock.now()),
      last_contact_unix_ms: this.lastContactMs,
      last_error: this.lastError,
      reloads: this.reloadCount,
      id_fence: s?.id_fence ?? '0',
      tso_fence: s?.tso_fence ?? '0',
      legacy_era: s?.legacy?.era ?? 0,
      handover: s?.handover ?? null,
    };
  }

  /** One long-poll as a job: its answer comes back as `polled`. */
  private poll(ctx: Ctx): void {
    if (this.stopped) return;
    const { self, clock } = ctx;
    this.d.root.waitTail({ after: this.cursor, timeoutMs: TAIL_POLL_MS }).then(
      (value) => tellQuietly(clock, self, { t: 'polled', result: { ok: true, value } }),
      (error: unknown) => tellQuietly(clock, self, { t: 'polled', result: { ok: false, error } }),
    );
  }

  private onPolled(result: Result<TailResult>, ctx: Ctx): void {
    if (!result.ok) {
      const msg = errMessage(result.error);
      if (msg !== this.lastError) ctx.log.warn({ err: msg }, 'rooted tail unavailable; retrying');
      this.lastError = msg;
      ctx.sendSelfAfter(this.backoff.next(), { t: 'poll' });
      return;
    }
    this.lastContactMs = ctx.clock.now();
    this.lastError = '';
    this.backoff.reset();
    if (result.value.snapshot_required) return this.reload(false, true, ctx);
    this.applyTail(result.value.entries, ctx);
    this.poll(ctx);
  }

  /** A snapshot as a job: its answer comes back as `loaded`; the tail keeps polling after a tail-driven one. */
  private reload(linearizable: boolean, fromTail: boolean, ctx: Ctx, replier?: Replier): void {
    const seq = this.nextSeq++;
    this.reloads.set(seq, { ...(replier ? { replier } : {}), fromTail });
    const { self, clock } = ctx;
    this.d.root.snapshot({ linearizable }).then(
      ({ state }) => tellQuietly(clock, self, { t: 'loaded', seq, result: { ok: true, value: state } }),
      (error: unknown) => tellQuietly(clock, self, { t: 'loaded', seq, result: { ok: false, error } }),
    );
  }

  private onLoaded(seq: number, result: Result<RootState>, ctx: Ctx): void {
    const r = this.reloads.get(seq);
    this.reloads.delete(seq);
    if (!r) return;
    if (result.ok) this.loaded(result.value, ctx);
    if (r.replier) {
      if (result.ok) r.replier.reply(this.current);
      else r.replier.fail(result.error);
    }
    if (!r.fromTail) return;
    if (result.ok) return this.poll(ctx);
    // The tail needs a snapshot and none came: retry the poll (which asks for the snapshot again) later.
    ctx.sendSelfAfter(this.backoff.next(), { t: 'poll' });
  }

  private loaded(state: RootState, ctx: Ctx): void {
    this.reloadCount++;
    this.lastContactMs = ctx.clock.now();
    if (!this.current || state.last_applied.index >= this.current.last_applied.index) this.publish(state, ctx);
  }

  private publish(state: RootState, ctx: Ctx): void {
    this.current = state;
    for (const s of this.subscribers.values()) {
      try {
        ctx.tell(s, { t: 'rooted', state });
      } catch {
        // A full mailbox: the next advance carries a newer state anyway.
      }
    }
    const idx = state.last_applied.index;
    for (const [id, w] of this.waiters) {
      if (w.index > idx) continue;
      this.waiters.delete(id);
      w.timer.cancel();
      w.replier.reply(this.read(ctx));
    }
  }

  private applyTail(entries: TailEntry[], ctx: Ctx): void {
    let s = this.current!;
    try {
      for (const e of entries) {
        if (e.cursor.index <= s.last_applied.index) continue;
        s = e.events.length > 0 ? applyBatch(s, e.events, e.cursor) : noteApplied(s, e.cursor);
      }
    } catch (err) {
      // The view disagrees with what the root applied (it should never happen): start over from a snapshot.
      ctx.log.error({ err: (err as Error).message }, 'rooted tail did not apply to the local view; reloading');
      this.reload(false, false, ctx);
      return;
    }
    if (s !== this.current) this.publish(s, ctx);
  }
}

/**
 * What the role, the gRPC front, the other actors and /debug/vars hold: the view actor's supervisor child and
 * asks to the running one (UNAVAILABLE while there is none).
 */
export class RootViewHandle {
  private ref: ActorRef<ViewMsg> | undefined;

  constructor(
    private readonly actors: ActorSystem,
    private readonly root: RootPort,
  ) {}

  childSpec(): ChildSpec {
    return actorChildSpec<ViewMsg>(
      this.actors,
      { name: ROOT_VIEW_ACTOR, thread: 0, behaviour: () => new RootViewActor({ root: this.root }) },
      {
        onStart: (ref) => {
          this.ref = ref;
          this.actors.onExit(ref, () => {
            if (this.ref === ref) this.ref = undefined;
          });
        },
      },
    );
  }

  /** The running view actor (for actors that subscribe or ask it themselves). */
  get current(): ActorRef<ViewMsg> | undefined {
    return this.ref;
  }

  private ask<R>(msg: ViewMsg, timeoutMs = VIEW_ASK_TIMEOUT_MS): Promise<R> {
    const ref = this.ref;
    if (!ref) return Promise.reject(new UnavailableError('rooted view is not running'));
    return ref.ask<R>(msg, { timeoutMs });
  }

  /** The state as the view holds it now, and how far behind the root it may be. */
  get(): Promise<ViewRead> {
    return this.ask({ t: 'get' });
  }

  /** Resolves once the view has applied `index` (or after CATCH_UP_TIMEOUT_MS, whichever is first). */
  waitFor(index: number): Promise<ViewRead> {
    return this.ask({ t: 'wait-for', index }, CATCH_UP_TIMEOUT_MS + VIEW_ASK_TIMEOUT_MS);
  }

  /** A fresh snapshot now; resolves with the view's state after it. */
  reload(linearizable = false): Promise<RootState> {
    return this.ask({ t: 'reload', linearizable }, VIEW_ASK_TIMEOUT_MS * 3);
  }

  stats(): Promise<ViewStats> {
    return this.ask({ t: 'stats' });
  }
}

function errMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** A job's result to an actor that may have stopped meanwhile: then it is simply dropped. */
function tellQuietly<M>(clock: Clock, ref: ActorRef<M>, msg: M): void {
  try {
    ref.tell(msg);
  } catch {
    // Full mailbox: a lost poll result is retried by nothing, so try again shortly.
    clock.setTimer(FULL_MAILBOX_RETRY_MS, () => tellQuietly(clock, ref, msg));
  }
}
