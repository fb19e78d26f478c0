// Owns the lease holder actor: the Eunomia campaign, renewal, release and handover of one coordinator, and the
// ID and TSO windows it serves from while, and only while, it holds a live era. Every input is a message —
// timer ticks (sendSelfAfter), rooted view advances, duty requests, handover and take-over, release on stop —
// and every root call it makes re-enters as a message carrying its result, so the state below is only ever
// touched by one handler at a time and a duty request never waits behind a renewal in flight.
//
// One incarnation holds at most the era it issued itself. A crash (a broken invariant throws) loses that era
// with the rest of the state: the supervisor starts a fresh incarnation, which is a standby like a restarted
// process — it never adopts the tenure it finds, even one naming this coordinator, and campaigns once it
// expires. Values of the lost window are skipped, because the next era starts above the rooted fence.
import type { Clock, TimerHandle } from '../common/clock.js';
import { FailedPreconditionError, InvalidArgumentError, NokvError, UnavailableError } from '../common/errors.js';
import type { Logger } from '../common/log.js';
import type { Prng } from '../common/prng.js';
import { Backoff } from '../common/retry.js';
import type { ActorContext, ActorRef, Behaviour, Replier, TraceContext } from '../actors/index.js';
import type { ExitReason } from '../supervisor/types.js';
import {
  digestOfLegacy,
  isSealed,
  maxDescriptorRootEpoch,
  maxU64,
  u64FromNumber,
  type Frontiers,
  type RootState,
  type TenureView,
} from '../metaroot/state/index.js';
import { LeaseCore, type LeaseTiming } from './lease.js';
import { WindowAllocator, idPolicy, tsoPolicy } from './allocator.js';
import type { RootOutcome, RootPort } from './root-port.js';
import { VIEW_ASK_TIMEOUT_MS, type RootedNotice, type ViewMsg } from './root-view.js';

/** Standbys wait a random 0..this before campaigning, so three of them rarely collide at meta-root. */
export const CAMPAIGN_JITTER_MS = 20;
/** Backoff after a failed campaign or renewal (doubling up to the max); small so failover stays fast. */
export const RETRY_MIN_MS = 50;
export const RETRY_MAX_MS = 1_000;
/** How long a stopping holder tries to release before giving up (then the tenure simply expires). */
export const RELEASE_TIMEOUT_MS = 2_000;
/** Fence attempts per duty call (a window may need one refill; more means the root keeps refusing). */
export const MAX_FENCE_ATTEMPTS = 3;
/** Attempts at each handover stage (confirm, close) before leaving it to the next holder. */
export const MAX_STAGE_ATTEMPTS = 3;

export type Duty = 'id' | 'tso';

export interface HolderMetrics {
  campaigns: number;
  campaigns_won: number;
  renewals: number;
  renew_failures: number;
  releases: number;
  era_transitions: number;
  handovers: number;
  fences: number;
  not_holder_rejections: number;
}

export function newHolderMetrics(): HolderMetrics {
  return { campaigns: 0, campaigns_won: 0, renewals: 0, renew_failures: 0, releases: 0, era_transitions: 0, handovers: 0, fences: 0, not_holder_rejections: 0 };
}

/** What the actor is given on every (re)start; live objects, so it runs on the thread that owns them. */
export interface HolderDeps {
  selfId: string;
  timing: LeaseTiming;
  root: RootPort;
  /** The rooted view actor (root-view.ts): the holder subscribes to it and asks it to reload. */
  view: { readonly current: ActorRef<ViewMsg> | undefined };
  prng: Prng;
  /** Counters survive restarts: they describe the process, not one incarnation. */
  metrics: HolderMetrics;
  addrOf?: (id: string) => string | undefined;
  /** `trace` is the handover request's, so the peer's TakeOver continues it. */
  takeOverPeer?: (to: string, legacyEra: number, trace?: TraceContext) => Promise<{ era: number; stage: string }>;
}

type Result<T> = { ok: true; value: T } | { ok: false; error: unknown };

export type HolderMsg =
  // inputs
  | { t: 'tick'; jittered?: boolean }
  | { t: 'rooted'; state: RootState }
  | { t: 'allocate'; duty: Duty; count: number }
  | { t: 'handover'; to: string }
  | { t: 'take-over'; legacyEra: number }
  | { t: 'release' }
  /** Ask → the era this coordinator serves with now, or fails with the typed "not holder" refusal. */
  | { t: 'serving' }
  /** Ask → HolderStatus. */
  | { t: 'status' }
  // results of this actor's own root calls
  | { t: 'campaigned'; sealedEra: number | null; result: Result<RootOutcome> }
  | { t: 'stages-done'; outs: RootOutcome[] }
  | { t: 'renewed'; era: number; result: Result<RootOutcome> }
  | { t: 'fenced'; duty: Duty; era: number; minimum: bigint; result: Result<RootOutcome> }
  | { t: 'take-over-loaded'; seq: number; legacyEra: number; result: Result<RootState | null> }
  | { t: 'sealed'; era: number; to: string; result: Result<RootOutcome> }
  | { t: 'handed-over'; era: number; to: string; result: Result<{ era: number; stage: string }> }
  | { t: 'released'; era: number; result: Result<RootOutcome> };

/** The lease as the holder actor sees it, for the gRPC front and /debug/vars. */
export interface HolderStatus {
  selfId: string;
  era: number;
  tenure: { holder_id: string; era: number; expires_unix_ms: number; sealed: boolean };
  /** Whether this coordinator may serve duties right now. */
  serving: boolean;
  ids: { current: string; window_high: string };
  tso: { current: string; window_high: string };
}

export interface Allocation {
  first: bigint;
  era: number;
}

interface PendingAlloc {
  count: number;
  replier: Replier;
  attempts: number;
}

type Ctx = ActorContext<HolderMsg>;

export class HolderActor implements Behaviour<HolderMsg> {
  readonly core: LeaseCore;
  readonly ids = new WindowAllocator(idPolicy);
  readonly tso = new WindowAllocator(tsoPolicy);
  /** A campaign, renewal or the handover stages after a campaign is in flight (or the campaign jitter). */
  private busy = false;
  /** An input arrived while busy: evaluate again once the step is done. */
  private dirty = false;
  private timer?: TimerHandle;
  /** After a failed campaign or renewal; reset by a granted or renewed tenure. */
  private readonly backoff = new Backoff({ backoffBaseMs: RETRY_MIN_MS, backoffMaxMs: RETRY_MAX_MS, jitter: 0 });
  private released = false;
  private lastLogged = { holder: '', era: -1 };
  /** The handover record as of this coordinator's last handover command (the view may not show it yet). */
  private lastHandover: { successor_era: number; stage: string } | null = null;
  private readonly queues: Record<Duty, PendingAlloc[]> = { id: [], tso: [] };
  private readonly fencing: Record<Duty, boolean> = { id: false, tso: false };
  /** A planned handover waiting for fences in flight, so the sealed frontiers cover everything served. */
  private handoverWaiting: { to: string; era: number; replier: Replier } | null = null;
  private handoverReplier: Replier | null = null;
  /** Take-over requests: re-reading rooted state, then waiting for, then inside the forced campaign. */
  private readonly takeOverLoading = new Map<number, Replier>();
  private nextTakeOverSeq = 1;
  private takeOverQueued: Replier[] = [];
  private takeOverCampaign: Replier[] = [];
  private releaseReplier: Replier | null = null;
  /** The newest rooted state the view told this actor about. */
  private rooted: RootState | null = null;

  constructor(private readonly d: HolderDeps) {
    this.core = new LeaseCore(d.selfId, d.timing);
  }

  async init(ctx: Ctx): Promise<void> {
    // The view answers with its state and then tells this actor every advance (`rooted`).
    const view = this.d.view.current;
    const state = view ? await ctx.ask<RootState | null>(view, { t: 'subscribe', to: ctx.self as ActorRef<RootedNotice> }, { timeoutMs: VIEW_ASK_TIMEOUT_MS }) : null;
    if (state) this.onRooted(state, ctx);
    this.evaluate(ctx);
  }

  receive(msg: HolderMsg, ctx: Ctx): void {
    switch (msg.t) {
      case 'tick':
        if (msg.jittered) return this.afterJitter(ctx);
        return this.evaluate(ctx);
      case 'rooted':
        return this.onRooted(msg.state, ctx);
      case 'allocate':
        this.queues[msg.duty].push({ count: msg.count, replier: ctx.deferReply(), attempts: 0 });
        return this.drain(msg.duty, ctx);
      case 'handover':
        return this.startHandover(msg.to, ctx);
      case 'take-over':
        return this.startTakeOver(msg.legacyEra, ctx);
      case 'release':
        return this.startRelease(ctx);
      case 'serving': {
        const now = ctx.clock.now();
        return this.core.serving(now) ? ctx.reply(this.core.era) : ctx.fail(this.refuse(now));
      }
      case 'status':
        return ctx.reply(this.status(ctx.clock.now()));
      case 'campaigned':
        return this.onCampaigned(msg.sealedEra, msg.result, ctx);
      case 'stages-done':
        for (const out of msg.outs) {
          this.observeOutcome(out, ctx);
          if (out.handover) this.lastHandover = { successor_era: out.handover.successor_era, stage: out.handover.stage };
        }
        return this.endStep(true, ctx);
      case 'renewed':
        return this.onRenewed(msg.era, msg.result, ctx);
      case 'fenced':
        return this.onFenced(msg, ctx);
      case 'take-over-loaded':
        return this.onTakeOverLoaded(msg.seq, msg.legacyEra, msg.result, ctx);
      case 'sealed':
        return this.onSealed(msg.era, msg.to, msg.result, ctx);
      case 'handed-over':
        return this.onHandedOver(msg.era, msg.to, msg.result, ctx);
      case 'released':
        return this.onReleased(msg.era, msg.result, ctx);
    }
  }

  /** Answers everything still waiting, so no caller hangs on a stopped or crashed incarnation. */
  terminate(_reason: ExitReason, _ctx: Ctx): void {
    const gone = new UnavailableError(`lease holder ${this.d.selfId} stopped`);
    for (const duty of ['id', 'tso'] as const) for (const p of this.queues[duty].splice(0)) p.replier.fail(gone);
    for (const r of [...this.takeOverLoading.values(), ...this.takeOverQueued, ...this.takeOverCampaign]) r.fail(gone);
    this.takeOverLoading.clear();
    this.handoverWaiting?.replier.fail(gone);
    this.handoverReplier?.fail(gone);
    this.releaseReplier?.reply(undefined);
    try {
      const view = this.d.view.current;
      if (view) view.tell({ t: 'unsubscribe', to: _ctx.self as ActorRef<RootedNotice> });
    } catch {
      // The view is gone or full; it forgets subscribers when it restarts.
    }
  }

  inspect(): unknown {
    return { era: this.core.era, tenure: this.core.tenure, busy: this.busy, released: this.released };
  }

  status(now: number): HolderStatus {
    const t = this.core.tenure;
    const ids = this.ids.stats();
    const tso = this.tso.stats();
    return {
      selfId: this.d.selfId,
      era: this.core.era,
      tenure: { holder_id: t.holder_id, era: t.era, expires_unix_ms: t.expires_unix_ms, sealed: t.sealed },
      serving: this.core.serving(now),
      ids: { current: String(ids.current), window_high: String(ids.window_high) },
      tso: { current: String(tso.current), window_high: String(tso.window_high) },
    };
  }

  /** The typed "not holder" refusal, naming the live holder and its address when known. */
  notHolderError(now: number): FailedPreconditionError {
    const t = this.core.tenure;
    const live = t.holder_id !== '' && !this.core.vacant(now) && !t.sealed;
    const held = live ? `held by ${t.holder_id} era ${t.era}` : `no live tenure (last ${t.holder_id || 'nobody'} era ${t.era})`;
    const details: Record<string, unknown> = { reason: 'not_holder', holder_id: live ? t.holder_id : '', era: t.era };
    const addr = live ? this.d.addrOf?.(t.holder_id) : undefined;
    if (addr) details.holder_addr = addr;
    return new FailedPreconditionError(`not holder: ${this.d.selfId} does not hold the lease; ${held}`, details);
  }

  private refuse(now: number): FailedPreconditionError {
    this.d.metrics.not_holder_rejections++;
    return this.notHolderError(now);
  }

  // ---- the step loop: campaign and renew, one at a time -------------------------------------------------------

  private evaluate(ctx: Ctx): void {
    if (this.released) return;
    if (this.busy) {
      this.dirty = true;
      return;
    }
    this.cancelTimer();
    if (this.takeOverQueued.length > 0) return this.startCampaign(ctx);
    const now = ctx.clock.now();
    const action = this.core.next(now);
    switch (action.kind) {
      case 'campaign': {
        const jitter = this.core.era === 0 ? this.d.prng.int(CAMPAIGN_JITTER_MS + 1) : 0;
        if (jitter === 0) return this.startCampaign(ctx);
        this.busy = true;
        this.timer = ctx.sendSelfAfter(jitter, { t: 'tick', jittered: true });
        return;
      }
      case 'renew':
        return this.startRenew(ctx);
      case 'wait':
        if (Number.isFinite(action.wakeAtMs)) this.timer = ctx.sendSelfAfter(Math.max(1, action.wakeAtMs - now + 1), { t: 'tick' });
    }
  }

  private afterJitter(ctx: Ctx): void {
    this.timer = undefined;
    this.busy = false;
    if (this.released) return this.endStep(false, ctx);
    if (this.takeOverQueued.length > 0 || this.core.next(ctx.clock.now()).kind === 'campaign') return this.startCampaign(ctx);
    this.evaluate(ctx);
  }

  /** A step ended: answer take-overs waiting for it, release if asked to, else look again when told to. */
  private endStep(again: boolean, ctx: Ctx): void {
    this.busy = false;
    this.answerTakeOvers(ctx);
    if (this.releaseReplier) return this.doRelease(ctx);
    if (again || this.dirty) {
      this.dirty = false;
      this.evaluate(ctx);
    }
  }

  private retryLater(ctx: Ctx): void {
    const delay = this.backoff.next();
    this.cancelTimer();
    this.timer = ctx.sendSelfAfter(delay, { t: 'tick' });
  }

  private cancelTimer(): void {
    this.timer?.cancel();
    this.timer = undefined;
  }

  /** One Issue, presenting the rooted fences (raised to a sealed legacy's frontiers) as what it covers. */
  private startCampaign(ctx: Ctx): void {
    this.takeOverCampaign.push(...this.takeOverQueued.splice(0));
    const state = this.rooted;
    if (!state) {
      this.retryLater(ctx);
      return this.endStep(false, ctx);
    }
    this.busy = true;
    const now = ctx.clock.now();
    const sealed = isSealed(state);
    this.d.metrics.campaigns++;
    const cmd = {
      op: 'issue' as const,
      holder_id: this.d.selfId,
      expires_unix_ms: this.core.expiryFor(now),
      now_ms: now,
      lineage_digest: sealed ? digestOfLegacy(state.legacy!) : '',
      frontiers: coveringFrontiers(state),
    };
    this.job(ctx, () => this.d.root.applyTenure(cmd), (result) => ({ t: 'campaigned', sealedEra: sealed ? state.legacy!.era : null, result }));
  }

  private onCampaigned(sealedEra: number | null, result: Result<RootOutcome>, ctx: Ctx): void {
    if (!result.ok) {
      ctx.log.debug({ err: errMessage(result.error) }, 'campaign failed to reach the root');
      this.retryLater(ctx);
      return this.endStep(false, ctx);
    }
    const out = result.value;
    this.observeOutcome(out, ctx);
    if (!out.accepted || !out.tenure || out.tenure.holder_id !== this.d.selfId) {
      ctx.log.debug({ err: out.error?.message }, 'campaign refused');
      if (!out.tenure || this.core.vacant(ctx.clock.now())) {
        // The view may be stale (a write it has not seen yet); the reload reaches us as a rooted message.
        const view = this.d.view.current;
        if (view) ctx.tell(view, { t: 'reload', linearizable: false });
        this.retryLater(ctx);
        return this.endStep(false, ctx);
      }
      return this.endStep(true, ctx);
    }
    const era = out.tenure.era;
    const previous = this.core.era;
    this.core.granted(era);
    this.backoff.reset();
    if (era !== previous) {
      this.ids.reset(out.id_fence);
      this.tso.reset(out.tso_fence);
      this.d.metrics.campaigns_won++;
      ctx.log.info(
        { era, holder_id: this.d.selfId, expires_unix_ms: out.tenure.expires_unix_ms, id_fence: out.id_fence, tso_fence: out.tso_fence, inherited_sealed_era: sealedEra ?? undefined },
        'campaign won: this coordinator holds the lease',
      );
    }
    const succeededSealed = out.legacy !== null && out.legacy.era === era - 1;
    const stageLeft = !out.handover || out.handover.successor_era !== era || out.handover.stage === 'confirmed';
    if (succeededSealed && stageLeft) {
      this.job(ctx, () => finishHandover(this.d, era, out, ctx.clock, ctx.log), (r) => ({ t: 'stages-done', outs: r.ok ? r.value : [] }));
      return;
    }
    this.endStep(true, ctx);
  }

  private startRenew(ctx: Ctx): void {
    this.busy = true;
    const era = this.core.era;
    const now = ctx.clock.now();
    const cmd = { op: 'renew' as const, holder_id: this.d.selfId, era, expires_unix_ms: this.core.expiryFor(now), now_ms: now };
    this.job(ctx, () => this.d.root.applyTenure(cmd), (result) => ({ t: 'renewed', era, result }));
  }

  private onRenewed(era: number, result: Result<RootOutcome>, ctx: Ctx): void {
    if (!result.ok) {
      this.d.metrics.renew_failures++;
      ctx.log.warn({ era, err: errMessage(result.error) }, 'renewal failed; retrying');
      this.retryLater(ctx);
      return this.endStep(false, ctx);
    }
    const out = result.value;
    if (out.accepted && out.tenure && (out.tenure.holder_id !== this.d.selfId || out.tenure.era !== era)) {
      // A renewal is compare-and-set on (holder, era): an accepted one naming anything else is a broken
      // invariant. Crash, so this incarnation's idea of its era is thrown away with it.
      throw new Error(`assertion: renewal of era ${era} accepted for ${out.tenure.holder_id} era ${out.tenure.era}`);
    }
    this.observeOutcome(out, ctx);
    if (!out.accepted) {
      this.d.metrics.renew_failures++;
      this.core.drop();
      ctx.log.warn({ era, holder_id: this.d.selfId, err: out.error?.message }, 'renewal refused: lease lost');
      return this.endStep(true, ctx);
    }
    this.d.metrics.renewals++;
    this.backoff.reset();
    this.endStep(true, ctx);
  }

  // ---- duties -------------------------------------------------------------------------------------------------

  /** Serves queued requests of one duty in order; the first that needs a window refill waits for its fence. */
  private drain(duty: Duty, ctx: Ctx): void {
    const queue = this.queues[duty];
    const alloc = duty === 'id' ? this.ids : this.tso;
    while (!this.fencing[duty] && queue.length > 0) {
      const head = queue[0]!;
      const now = ctx.clock.now();
      if (!this.core.serving(now)) {
        queue.shift();
        head.replier.fail(this.refuse(now));
        continue;
      }
      if (head.attempts >= MAX_FENCE_ATTEMPTS) {
        queue.shift();
        head.replier.fail(new UnavailableError(`${duty} window could not be refilled in ${MAX_FENCE_ATTEMPTS} attempts`));
        continue;
      }
      const era = this.core.era;
      const plan = alloc.plan(head.count, now);
      if (plan.kind === 'serve') {
        queue.shift();
        head.replier.reply({ first: plan.first, era } satisfies Allocation);
        continue;
      }
      head.attempts++;
      this.fencing[duty] = true;
      const req = { kind: duty, minimum: plan.minimum.toString(), holder_id: this.d.selfId, era, now_ms: now };
      ctx.log.debug({ duty, era, minimum: req.minimum }, 'refilling window');
      this.job(ctx, () => this.d.root.fenceAllocator(req), (result) => ({ t: 'fenced', duty, era, minimum: plan.minimum, result }));
    }
  }

  private onFenced(msg: Extract<HolderMsg, { t: 'fenced' }>, ctx: Ctx): void {
    const { duty, era, result } = msg;
    this.fencing[duty] = false;
    const head = this.queues[duty][0];
    const failHead = (err: unknown) => {
      this.queues[duty].shift();
      head?.replier.fail(err);
    };
    if (!result.ok) failHead(result.error);
    else {
      const out = result.value;
      this.observeOutcome(out, ctx);
      if (!out.accepted) {
        this.core.drop();
        failHead(this.notHolderError(ctx.clock.now()));
        this.evaluate(ctx);
      } else if (this.core.era !== era) failHead(this.notHolderError(ctx.clock.now()));
      else {
        this.d.metrics.fences++;
        const rooted = BigInt(duty === 'id' ? out.id_fence : out.tso_fence);
        (duty === 'id' ? this.ids : this.tso).raised(rooted > msg.minimum ? rooted : msg.minimum);
        ctx.log.debug({ duty, era, fence: rooted.toString() }, 'window refilled');
      }
    }
    this.drain(duty, ctx);
    if (this.handoverWaiting && !this.fencing.id && !this.fencing.tso) this.seal(ctx);
  }

  // ---- planned handover (on the holder) and take-over (on the target) -----------------------------------------

  private startHandover(to: string, ctx: Ctx): void {
    const now = ctx.clock.now();
    if (!this.core.serving(now)) return ctx.fail(this.refuse(now));
    if (to === this.d.selfId) return ctx.fail(new InvalidArgumentError(`${to} already holds the lease`));
    if (!this.d.takeOverPeer) return ctx.fail(new FailedPreconditionError('handover is not configured on this coordinator'));
    // Refuse an unknown target before sealing: a sealed era with nobody to take it over is an outage until a
    // standby notices the seal.
    if (this.d.addrOf && !this.d.addrOf(to)) return ctx.fail(new InvalidArgumentError(`unknown coordinator ${to}`));
    if (this.handoverWaiting || this.handoverReplier) return ctx.fail(new FailedPreconditionError('a handover is already in progress'));
    this.core.resign();
    this.handoverWaiting = { to, era: this.core.era, replier: ctx.deferReply() };
    // Duty calls already inside a window refill finish first, so the sealed frontiers cover them.
    if (!this.fencing.id && !this.fencing.tso) this.seal(ctx);
  }

  private seal(ctx: Ctx): void {
    const { to, era, replier } = this.handoverWaiting!;
    this.handoverWaiting = null;
    this.handoverReplier = replier;
    const state = this.rooted!;
    const frontiers: Frontiers = {
      alloc_id: this.ids.stats().window_high,
      tso: this.tso.stats().window_high,
      region_lookup: u64FromNumber(maxDescriptorRootEpoch(state)),
    };
    const cmd = { op: 'seal' as const, holder_id: this.d.selfId, era, now_ms: ctx.clock.now(), frontiers };
    this.job(ctx, () => this.d.root.applyHandover(cmd), (result) => ({ t: 'sealed', era, to, result }));
  }

  private onSealed(era: number, to: string, result: Result<RootOutcome>, ctx: Ctx): void {
    const replier = this.handoverReplier!;
    if (!result.ok || !result.value.accepted) {
      if (result.ok) this.observeOutcome(result.value, ctx);
      this.handoverReplier = null;
      this.core.granted(era); // nothing was sealed: keep serving if the era is still ours
      replier.fail(result.ok ? (result.value.error ?? new FailedPreconditionError('seal refused')) : result.error);
      return this.evaluate(ctx);
    }
    this.observeOutcome(result.value, ctx);
    this.core.drop();
    ctx.log.info({ era, holder_id: this.d.selfId, to }, 'handover: sealed era');
    this.job(ctx, () => this.d.takeOverPeer!(to, era, ctx.trace), (r) => ({ t: 'handed-over', era, to, result: r }));
  }

  private onHandedOver(era: number, to: string, result: Result<{ era: number; stage: string }>, ctx: Ctx): void {
    const replier = this.handoverReplier!;
    this.handoverReplier = null;
    if (!result.ok) return replier.fail(result.error);
    this.d.metrics.handovers++;
    const res = result.value;
    ctx.log.info({ legacy_era: era, successor_era: res.era, holder_id: to, stage: res.stage }, 'handover: successor took over');
    replier.reply({ legacyEra: era, successorEra: res.era, stage: res.stage });
  }

  private startTakeOver(legacyEra: number, ctx: Ctx): void {
    const seq = this.nextTakeOverSeq++;
    this.takeOverLoading.set(seq, ctx.deferReply());
    // Linearizable: a follower replica may not have applied the seal that was just committed.
    const reload = (): Promise<RootState | null> => {
      const view = this.d.view.current;
      if (!view) return Promise.reject(new UnavailableError('rooted view is not running'));
      return ctx.ask<RootState | null>(view, { t: 'reload', linearizable: true }, { timeoutMs: VIEW_ASK_TIMEOUT_MS * 3 });
    };
    this.job(ctx, reload, (result) => ({ t: 'take-over-loaded', seq, legacyEra, result }));
  }

  private onTakeOverLoaded(seq: number, legacyEra: number, result: Result<RootState | null>, ctx: Ctx): void {
    const replier = this.takeOverLoading.get(seq);
    this.takeOverLoading.delete(seq);
    if (!replier) return;
    const s = result.ok ? result.value : null;
    const refusal = !result.ok
      ? result.error
      : !s || !s.legacy || s.legacy.era !== legacyEra || !isSealed(s)
        ? new FailedPreconditionError(`era ${legacyEra} is not the sealed era (legacy era ${s?.legacy?.era ?? 0})`)
        : null;
    if (refusal) return replier.fail(refusal);
    if (this.released) return replier.fail(new UnavailableError(`lease holder ${this.d.selfId} is stopping`));
    this.takeOverQueued.push(replier);
    this.evaluate(ctx);
  }

  private answerTakeOvers(ctx: Ctx): void {
    const h = this.lastHandover;
    for (const r of this.takeOverCampaign.splice(0)) {
      if (this.core.era === 0) r.fail(this.notHolderError(ctx.clock.now()));
      else r.reply({ era: this.core.era, stage: h && h.successor_era === this.core.era ? h.stage : 'none' });
    }
  }

  // ---- release on stop ----------------------------------------------------------------------------------------

  private startRelease(ctx: Ctx): void {
    this.released = true;
    this.releaseReplier = ctx.deferReply();
    this.core.resign();
    if (!this.busy) this.doRelease(ctx);
  }

  private doRelease(ctx: Ctx): void {
    this.cancelTimer();
    this.busy = true; // nothing else starts now
    const era = this.core.era;
    if (era === 0) return this.finishRelease();
    const cmd = { op: 'release' as const, holder_id: this.d.selfId, era, now_ms: ctx.clock.now() };
    this.job(ctx, () => withTimeout(this.d.root.applyTenure(cmd), RELEASE_TIMEOUT_MS, ctx.clock), (result) => ({ t: 'released', era, result }));
  }

  private onReleased(era: number, result: Result<RootOutcome>, ctx: Ctx): void {
    if (!result.ok) ctx.log.warn({ era, err: errMessage(result.error) }, 'could not release tenure; it will expire');
    else if (result.value.accepted) {
      this.d.metrics.releases++;
      ctx.log.info({ era, holder_id: this.d.selfId }, 'released tenure on shutdown');
    }
    this.finishRelease();
  }

  private finishRelease(): void {
    this.core.drop();
    this.releaseReplier?.reply(undefined);
    this.releaseReplier = null;
  }

  // ---- observations -------------------------------------------------------------------------------------------

  private onRooted(s: RootState, ctx: Ctx): void {
    if (!this.rooted || s.last_applied.index >= this.rooted.last_applied.index) this.rooted = s;
    this.noteTenure({ holder_id: s.tenure.holder_id, era: s.tenure.era, expires_unix_ms: s.tenure.expires_unix_ms, sealed: isSealed(s), index: s.last_applied.index }, ctx);
  }

  private observeOutcome(out: RootOutcome, ctx: Ctx): void {
    if (out.tenure) this.noteTenure(viewOf(out.tenure, out.cursor.index), ctx);
  }

  private noteTenure(t: { holder_id: string; era: number; expires_unix_ms: number; sealed: boolean; index: number }, ctx: Ctx): void {
    const heldBefore = this.core.era;
    this.core.observe(t);
    const cur = this.core.tenure;
    if (cur.holder_id !== this.lastLogged.holder || cur.era !== this.lastLogged.era) {
      if (this.lastLogged.era !== -1 && cur.era !== this.lastLogged.era) this.d.metrics.era_transitions++;
      this.lastLogged = { holder: cur.holder_id, era: cur.era };
      ctx.log.info({ holder_id: cur.holder_id, era: cur.era, held_by_self: cur.holder_id === this.d.selfId }, 'tenure changed');
    }
    if (heldBefore !== 0 && this.core.era === 0) ctx.log.info({ era: heldBefore, holder_id: cur.holder_id, now_era: cur.era }, 'no longer the holder');
    this.evaluate(ctx);
  }

  /** Starts a root call; its result comes back as the message `done` builds, in the caller's trace. */
  private job<T>(ctx: Ctx, call: () => Promise<T>, done: (r: Result<T>) => HolderMsg): void {
    void Promise.resolve()
      .then(call)
      .then(
        (value): Result<T> => ({ ok: true, value }),
        (error: unknown): Result<T> => ({ ok: false, error }),
      )
      .then((r) => {
        try {
          ctx.tell(ctx.self, done(r));
        } catch (err) {
          ctx.log.error({ err }, 'lease holder could not deliver a result to itself');
        }
      });
  }
}

/** Confirm and Close the handover after succeeding a sealed era (Finality: none stays half-finished). */
async function finishHandover(d: HolderDeps, era: number, issued: RootOutcome, clock: { now(): number }, log: Logger): Promise<RootOutcome[]> {
  const outs: RootOutcome[] = [];
  for (const op of ['confirm', 'close'] as const) {
    if (op === 'confirm' && issued.handover?.successor_era === era) continue;
    for (let i = 0; i < MAX_STAGE_ATTEMPTS; i++) {
      try {
        const out = await d.root.applyHandover({ op, holder_id: d.selfId, era, now_ms: clock.now() });
        outs.push(out);
        if (out.accepted) {
          log.info({ era, legacy_era: era - 1, holder_id: d.selfId, stage: out.handover?.stage }, op === 'confirm' ? 'handover confirmed' : 'handover closed');
          break;
        }
        log.warn({ era, err: out.error?.message }, `handover ${op} refused`);
        return outs;
      } catch (err) {
        if (i === MAX_STAGE_ATTEMPTS - 1) log.warn({ era, err: errMessage(err) }, `handover ${op} failed`);
      }
    }
  }
  return outs;
}

function viewOf(t: TenureView, index: number) {
  return { holder_id: t.holder_id, era: t.era, expires_unix_ms: t.expires_unix_ms, sealed: t.sealed, index };
}

function errMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** What a candidate presents: the rooted fences, raised to a sealed legacy's frontiers when there is one. */
export function coveringFrontiers(s: RootState): Frontiers {
  const f: Frontiers = { alloc_id: s.id_fence, tso: s.tso_fence, region_lookup: u64FromNumber(maxDescriptorRootEpoch(s)) };
  if (!s.legacy) return f;
  return {
    alloc_id: maxU64(f.alloc_id, s.legacy.frontiers.alloc_id),
    tso: maxU64(f.tso, s.legacy.frontiers.tso),
    region_lookup: maxU64(f.region_lookup, s.legacy.frontiers.region_lookup),
  };
}

/** `p`, or DEADLINE_EXCEEDED after `ms` on the actor's clock (the injected one, so a simulator controls it). */
function withTimeout<T>(p: Promise<T>, ms: number, clock: Clock): Promise<T> {
  let t: TimerHandle | undefined;
  return Promise.race([
    p,
    new Promise<T>((_, reject) => {
      t = clock.setTimer(ms, () => reject(new NokvError('DEADLINE_EXCEEDED', `no answer within ${ms} ms`)));
    }),
  ]).finally(() => t?.cancel());
}
