// Owns the lease holder driver: the thin asynchronous shell around LeaseCore. It handles one step at a time
// (campaign, renew, wait, release, handover), so two RPCs of the same coordinator never race each other. It
// campaigns through ApplyTenure Issue, renews before expiry, releases on stop, follows the rooted view to
// notice vacancies, and serves the ID and TSO windows while, and only while, it holds a live era.
import type { Clock, TimerHandle } from '../common/clock.js';
import { FailedPreconditionError, InvalidArgumentError, NokvError, UnavailableError } from '../common/errors.js';
import type { Logger } from '../common/log.js';
import type { Prng } from '../common/prng.js';
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
import type { RootView } from './root-view.js';

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

export interface HolderOptions {
  selfId: string;
  timing: LeaseTiming;
  root: RootPort;
  view: RootView;
  clock: Clock;
  prng: Prng;
  logger: Logger;
  /** Address of a coordinator id, for not-holder hints; undefined when unknown. */
  addrOf?: (id: string) => string | undefined;
  /** Asks coordinator `to` to take over sealed era `legacyEra` (planned handover). */
  takeOverPeer?: (to: string, legacyEra: number) => Promise<{ era: number; stage: string }>;
}

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

export class LeaseHolder {
  readonly core: LeaseCore;
  readonly ids = new WindowAllocator(idPolicy);
  readonly tso = new WindowAllocator(tsoPolicy);
  readonly metrics: HolderMetrics = {
    campaigns: 0,
    campaigns_won: 0,
    renewals: 0,
    renew_failures: 0,
    releases: 0,
    era_transitions: 0,
    handovers: 0,
    fences: 0,
    not_holder_rejections: 0,
  };
  private running = false;
  private busy: Promise<void> | null = null;
  private again = false;
  private timer?: TimerHandle;
  private backoffMs = RETRY_MIN_MS;
  private readonly locks = new Map<string, Promise<unknown>>();
  private lastLogged = { holder: '', era: -1 };
  /** The handover record as of this coordinator's last handover command (the view may not show it yet). */
  private lastHandover: { successor_era: number; stage: string } | null = null;

  constructor(private readonly o: HolderOptions) {
    this.core = new LeaseCore(o.selfId, o.timing);
    o.view.onChange((s) => this.onRooted(s));
  }

  start(): void {
    this.running = true;
    if (this.o.view.state) this.onRooted(this.o.view.state);
    this.kick();
  }

  /** Stops campaigning and releases a held era so a standby can take over at once. */
  async stop(): Promise<void> {
    this.running = false;
    this.timer?.cancel();
    const era = this.core.era;
    this.core.resign();
    await this.busy;
    if (era === 0 || this.core.era !== era) return;
    try {
      const out = await withTimeout(
        this.o.root.applyTenure({ op: 'release', holder_id: this.o.selfId, era, now_ms: this.o.clock.now() }),
        RELEASE_TIMEOUT_MS,
      );
      if (out.accepted) {
        this.metrics.releases++;
        this.o.logger.info({ era, holder_id: this.o.selfId }, 'released tenure on shutdown');
      }
    } catch (err) {
      this.o.logger.warn({ era, err: (err as Error).message }, 'could not release tenure; it will expire');
    }
    this.core.drop();
  }

  /** The era this coordinator serves with now, or the typed "not holder" refusal. */
  requireServing(): number {
    if (this.core.serving(this.o.clock.now())) return this.core.era;
    this.metrics.not_holder_rejections++;
    throw this.notHolderError();
  }

  notHolderError(): FailedPreconditionError {
    const t = this.core.tenure;
    const live = t.holder_id !== '' && !this.core.vacant(this.o.clock.now()) && !t.sealed;
    const held = live ? `held by ${t.holder_id} era ${t.era}` : `no live tenure (last ${t.holder_id || 'nobody'} era ${t.era})`;
    const details: Record<string, unknown> = { reason: 'not_holder', holder_id: live ? t.holder_id : '', era: t.era };
    const addr = live ? this.o.addrOf?.(t.holder_id) : undefined;
    if (addr) details.holder_addr = addr;
    return new FailedPreconditionError(`not holder: ${this.o.selfId} does not hold the lease; ${held}`, details);
  }

  /** Reserves `count` consecutive values of a duty; refills the window through a fenced root commit first. */
  allocate(duty: Duty, count: number): Promise<{ first: bigint; era: number }> {
    if (!(Number.isInteger(count) && count >= 1)) throw new InvalidArgumentError(`count must be a positive integer, got ${count}`);
    return this.serialised(duty, async () => {
      const alloc = duty === 'id' ? this.ids : this.tso;
      for (let attempt = 0; attempt < MAX_FENCE_ATTEMPTS; attempt++) {
        const era = this.requireServing();
        const plan = alloc.plan(count, this.o.clock.now());
        if (plan.kind === 'serve') return { first: plan.first, era };
        const out = await this.o.root.fenceAllocator({
          kind: duty,
          minimum: plan.minimum.toString(),
          holder_id: this.o.selfId,
          era,
          now_ms: this.o.clock.now(),
        });
        this.observeOutcome(out);
        if (!out.accepted) {
          this.core.drop();
          this.kick();
          throw this.notHolderError();
        }
        if (this.core.era !== era) throw this.notHolderError();
        this.metrics.fences++;
        const rooted = BigInt(duty === 'id' ? out.id_fence : out.tso_fence);
        alloc.raised(rooted > plan.minimum ? rooted : plan.minimum);
      }
      throw new UnavailableError(`${duty} window could not be refilled in ${MAX_FENCE_ATTEMPTS} attempts`);
    });
  }

  /** Planned handover, run on the holder: seal this era, then have `to` issue the next one and close it. */
  async handover(to: string): Promise<{ legacyEra: number; successorEra: number; stage: string }> {
    const era = this.requireServing();
    if (to === this.o.selfId) throw new InvalidArgumentError(`${to} already holds the lease`);
    if (!this.o.takeOverPeer) throw new FailedPreconditionError('handover is not configured on this coordinator');
    this.core.resign();
    // Wait for duty calls already inside a window so the sealed frontiers cover everything served.
    await Promise.all([...this.locks.values()].map((p) => p.catch(() => undefined)));
    const state = this.o.view.state!;
    const frontiers: Frontiers = {
      alloc_id: this.ids.stats().window_high,
      tso: this.tso.stats().window_high,
      region_lookup: u64FromNumber(maxDescriptorRootEpoch(state)),
    };
    const sealed = await this.o.root.applyHandover({ op: 'seal', holder_id: this.o.selfId, era, now_ms: this.o.clock.now(), frontiers });
    this.observeOutcome(sealed);
    if (!sealed.accepted) {
      this.core.granted(era); // nothing was sealed: keep serving if the era is still ours
      throw sealed.error ?? new FailedPreconditionError('seal refused');
    }
    this.core.drop();
    this.o.logger.info({ era, holder_id: this.o.selfId, to }, 'handover: sealed era');
    const res = await this.o.takeOverPeer(to, era);
    this.metrics.handovers++;
    this.o.logger.info({ legacy_era: era, successor_era: res.era, holder_id: to, stage: res.stage }, 'handover: successor took over');
    return { legacyEra: era, successorEra: res.era, stage: res.stage };
  }

  /** Runs on the handover target: take over the sealed era `legacyEra` now. */
  async takeOver(legacyEra: number): Promise<{ era: number; stage: string }> {
    // Linearizable: a follower replica may not have applied the seal that was just committed.
    await this.o.view.reload(true);
    const s = this.o.view.state!;
    if (!s.legacy || s.legacy.era !== legacyEra || !isSealed(s)) {
      throw new FailedPreconditionError(`era ${legacyEra} is not the sealed era (legacy era ${s.legacy?.era ?? 0})`);
    }
    return this.serialisedStep(async () => {
      await this.campaign();
      const h = this.lastHandover;
      if (this.core.era === 0) throw this.notHolderError();
      return { era: this.core.era, stage: h && h.successor_era === this.core.era ? h.stage : 'none' };
    });
  }

  // ---- the step loop ------------------------------------------------------------------------------------------

  private kick(): void {
    if (!this.running) return;
    if (this.busy) {
      this.again = true;
      return;
    }
    this.busy = (async () => {
      try {
        do {
          this.again = false;
          await this.step();
        } while (this.again && this.running);
      } catch (err) {
        this.o.logger.error({ err }, 'lease step failed');
        this.retryLater();
      } finally {
        this.busy = null;
      }
    })();
  }

  /** Runs fn as a step of the loop (after the current one), so it never interleaves with a campaign. */
  private async serialisedStep<T>(fn: () => Promise<T>): Promise<T> {
    while (this.busy) await this.busy;
    let result!: T;
    let error: unknown;
    this.busy = fn().then((r) => void (result = r), (e) => void (error = e));
    await this.busy;
    this.busy = null;
    this.kick();
    if (error) throw error;
    return result;
  }

  private async step(): Promise<void> {
    this.timer?.cancel();
    if (!this.running) return;
    const now = this.o.clock.now();
    const action = this.core.next(now);
    switch (action.kind) {
      case 'campaign':
        if (this.core.era === 0) await sleepOn(this.o.clock, this.o.prng.int(CAMPAIGN_JITTER_MS + 1));
        if (!this.running || this.core.next(this.o.clock.now()).kind !== 'campaign') {
          this.again = true;
          return;
        }
        if (await this.campaign()) this.again = true;
        return;
      case 'renew':
        if (await this.renew()) this.again = true;
        return;
      case 'wait':
        if (Number.isFinite(action.wakeAtMs)) {
          this.timer = this.o.clock.setTimer(Math.max(1, action.wakeAtMs - now + 1), () => this.kick());
        }
    }
  }

  private retryLater(): void {
    const delay = this.backoffMs;
    this.backoffMs = Math.min(RETRY_MAX_MS, this.backoffMs * 2);
    this.timer?.cancel();
    this.timer = this.o.clock.setTimer(delay, () => this.kick());
  }

  /** One Issue. Returns true to re-evaluate at once, false when a retry timer was set instead. */
  private async campaign(): Promise<boolean> {
    const state = this.o.view.state;
    if (!state) return this.failLater();
    const now = this.o.clock.now();
    const frontiers = coveringFrontiers(state);
    const sealed = isSealed(state);
    this.metrics.campaigns++;
    let out: RootOutcome;
    try {
      out = await this.o.root.applyTenure({
        op: 'issue',
        holder_id: this.o.selfId,
        expires_unix_ms: this.core.expiryFor(now),
        now_ms: now,
        lineage_digest: sealed ? digestOfLegacy(state.legacy!) : '',
        frontiers,
      });
    } catch (err) {
      this.o.logger.debug({ err: (err as Error).message }, 'campaign failed to reach the root');
      return this.failLater();
    }
    this.observeOutcome(out);
    if (!out.accepted || !out.tenure || out.tenure.holder_id !== this.o.selfId) {
      this.o.logger.debug({ err: out.error?.message }, 'campaign refused');
      if (!out.tenure || this.core.vacant(this.o.clock.now())) {
        await this.o.view.reload().catch(() => undefined);
        return this.failLater();
      }
      return true;
    }
    const era = out.tenure.era;
    const previous = this.core.era;
    this.core.granted(era);
    this.backoffMs = RETRY_MIN_MS;
    if (era !== previous) {
      this.ids.reset(out.id_fence);
      this.tso.reset(out.tso_fence);
      this.metrics.campaigns_won++;
      this.o.logger.info(
        { era, holder_id: this.o.selfId, expires_unix_ms: out.tenure.expires_unix_ms, id_fence: out.id_fence, tso_fence: out.tso_fence, inherited_sealed_era: sealed ? state.legacy!.era : undefined },
        'campaign won: this coordinator holds the lease',
      );
    }
    if (out.legacy && out.legacy.era < era && (!out.handover || out.handover.successor_era !== era || out.handover.stage === 'confirmed')) {
      await this.finishHandover(era, out);
    }
    return true;
  }

  /** Confirm and Close the handover after succeeding a sealed era (Finality: none stays half-finished). */
  private async finishHandover(era: number, issued: RootOutcome): Promise<void> {
    const sealedSuccessor = issued.legacy !== null && issued.legacy.era === era - 1;
    if (!sealedSuccessor) return;
    for (const op of ['confirm', 'close'] as const) {
      if (op === 'confirm' && issued.handover?.successor_era === era) continue;
      for (let i = 0; i < MAX_STAGE_ATTEMPTS; i++) {
        try {
          const out = await this.o.root.applyHandover({ op, holder_id: this.o.selfId, era, now_ms: this.o.clock.now() });
          this.observeOutcome(out);
          if (out.handover) this.lastHandover = { successor_era: out.handover.successor_era, stage: out.handover.stage };
          if (out.accepted) {
            this.o.logger.info({ era, legacy_era: era - 1, holder_id: this.o.selfId, stage: out.handover?.stage }, op === 'confirm' ? 'handover confirmed' : 'handover closed');
            break;
          }
          this.o.logger.warn({ era, err: out.error?.message }, `handover ${op} refused`);
          return;
        } catch (err) {
          if (i === MAX_STAGE_ATTEMPTS - 1) this.o.logger.warn({ era, err: (err as Error).message }, `handover ${op} failed`);
        }
      }
    }
  }

  private async renew(): Promise<boolean> {
    const era = this.core.era;
    const now = this.o.clock.now();
    let out: RootOutcome;
    try {
      out = await this.o.root.applyTenure({ op: 'renew', holder_id: this.o.selfId, era, expires_unix_ms: this.core.expiryFor(now), now_ms: now });
    } catch (err) {
      this.metrics.renew_failures++;
      this.o.logger.warn({ era, err: (err as Error).message }, 'renewal failed; retrying');
      return this.failLater();
    }
    this.observeOutcome(out);
    if (!out.accepted) {
      this.metrics.renew_failures++;
      this.core.drop();
      this.o.logger.warn({ era, holder_id: this.o.selfId, err: out.error?.message }, 'renewal refused: lease lost');
      return true;
    }
    this.metrics.renewals++;
    this.backoffMs = RETRY_MIN_MS;
    return true;
  }

  private failLater(): boolean {
    this.retryLater();
    return false;
  }

  // ---- observations ---------------------------------------------------------------------------------------------

  private onRooted(s: RootState): void {
    this.noteTenure({
      holder_id: s.tenure.holder_id,
      era: s.tenure.era,
      expires_unix_ms: s.tenure.expires_unix_ms,
      sealed: isSealed(s),
      index: s.last_applied.index,
    });
  }

  private observeOutcome(out: RootOutcome): void {
    if (out.tenure) this.noteTenure(viewOf(out.tenure, out.cursor.index));
  }

  private noteTenure(t: { holder_id: string; era: number; expires_unix_ms: number; sealed: boolean; index: number }): void {
    const heldBefore = this.core.era;
    this.core.observe(t);
    const cur = this.core.tenure;
    if (cur.holder_id !== this.lastLogged.holder || cur.era !== this.lastLogged.era) {
      if (this.lastLogged.era !== -1 && cur.era !== this.lastLogged.era) this.metrics.era_transitions++;
      this.lastLogged = { holder: cur.holder_id, era: cur.era };
      this.o.logger.info({ holder_id: cur.holder_id, era: cur.era, held_by_self: cur.holder_id === this.o.selfId }, 'tenure changed');
    }
    if (heldBefore !== 0 && this.core.era === 0) this.o.logger.info({ era: heldBefore, holder_id: cur.holder_id, now_era: cur.era }, 'no longer the holder');
    this.kick();
  }

  private serialised<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.locks.get(key) ?? Promise.resolve();
    const next = prev.catch(() => undefined).then(fn);
    const tail = next.catch(() => undefined);
    this.locks.set(key, tail);
    void tail.then(() => {
      if (this.locks.get(key) === tail) this.locks.delete(key);
    });
    return next;
  }
}

function viewOf(t: TenureView, index: number) {
  return { holder_id: t.holder_id, era: t.era, expires_unix_ms: t.expires_unix_ms, sealed: t.sealed, index };
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

function sleepOn(clock: Clock, ms: number): Promise<void> {
  if (ms <= 0) return Promise.resolve();
  return new Promise((resolve) => clock.setTimer(ms, resolve));
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let t: NodeJS.Timeout;
  return Promise.race([
    p,
    new Promise<T>((_, reject) => {
      t = setTimeout(() => reject(new NokvError('DEADLINE_EXCEEDED', `no answer within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(t));
}
