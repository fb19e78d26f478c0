// Owns the lease holder's pure decision core: given what this coordinator knows about the rooted tenure and
// the time, may it serve duties now, and what should it do next (campaign, renew, or wait until when)?
// No I/O, timers or clock reads: the driver (holder.ts) passes `now` and carries out the action.
//
// Timing (see docs/coordinator.md): a holder renews once `now >= expires - renewBefore` and serves only while
// `now < expires - skewMargin`. A standby campaigns only once `now >= expires` by its own clock. With clocks
// that differ by less than skewMargin, the old holder has stopped serving before any successor can start.

/** Most skew margin we ever assume, whatever the renew window. */
export const MAX_SKEW_MARGIN_MS = 500;

export interface LeaseTiming {
  ttlMs: number;
  renewBeforeMs: number;
  /** The holder stops serving this long before the rooted expiry (assumed bound on clock skew). */
  skewMarginMs: number;
}

/** Derives the skew margin: at most MAX_SKEW_MARGIN_MS and at most half the renew window. */
export function leaseTiming(ttlMs: number, renewBeforeMs: number): LeaseTiming {
  if (!(renewBeforeMs > 0 && renewBeforeMs < ttlMs)) throw new RangeError(`renewBeforeMs ${renewBeforeMs} must be in (0, ${ttlMs})`);
  return { ttlMs, renewBeforeMs, skewMarginMs: Math.min(MAX_SKEW_MARGIN_MS, Math.floor(renewBeforeMs / 2)) };
}

/** The rooted tenure as observed, with the log index it was read at (observations arrive out of order). */
export interface ObservedTenure {
  holder_id: string;
  era: number;
  expires_unix_ms: number;
  sealed: boolean;
  index: number;
}

export type LeaseAction =
  | { kind: 'campaign' }
  | { kind: 'renew' }
  /** Nothing to do before wakeAtMs (absolute); Infinity when only a new observation can change anything. */
  | { kind: 'wait'; wakeAtMs: number };

export class LeaseCore {
  private view: ObservedTenure = { holder_id: '', era: 0, expires_unix_ms: 0, sealed: false, index: -1 };
  /** The era this incarnation was granted by its own Issue; 0 when it holds nothing. */
  private heldEra = 0;
  /** Set while a planned handover is sealing: the holder has given up serving this era. */
  private resigned = false;

  constructor(readonly selfId: string, readonly timing: LeaseTiming) {}

  get tenure(): Readonly<ObservedTenure> {
    return this.view;
  }

  get era(): number {
    return this.heldEra;
  }

  /** Takes a newer observation; returns true when the holder or era changed. Older ones are ignored. */
  observe(t: ObservedTenure): boolean {
    if (t.index < this.view.index) return false;
    const changed = t.holder_id !== this.view.holder_id || t.era !== this.view.era;
    this.view = { ...t };
    if (this.heldEra !== 0 && (t.era !== this.heldEra || t.holder_id !== this.selfId || t.sealed)) {
      this.heldEra = 0;
      this.resigned = false;
    }
    return changed;
  }

  /** Records a granted Issue or Renew (the observation from the same outcome is passed to observe too). */
  granted(era: number): void {
    this.heldEra = era;
    this.resigned = false;
  }

  /** Stops serving at once (release on shutdown, seal of a planned handover). */
  resign(): void {
    this.resigned = true;
  }

  /** Forgets the held era (a renew or fence was refused, or the release went through). */
  drop(): void {
    this.heldEra = 0;
    this.resigned = false;
  }

  /** Whether this coordinator may serve duties at `now`. */
  serving(now: number): boolean {
    const v = this.view;
    return (
      this.heldEra !== 0 &&
      !this.resigned &&
      v.holder_id === this.selfId &&
      v.era === this.heldEra &&
      !v.sealed &&
      now < v.expires_unix_ms - this.timing.skewMarginMs
    );
  }

  /** Whether the rooted tenure is vacant at `now` as this coordinator's clock sees it. */
  vacant(now: number): boolean {
    return this.view.holder_id === '' || this.view.expires_unix_ms <= now;
  }

  next(now: number): LeaseAction {
    const v = this.view;
    if (this.heldEra !== 0 && !this.resigned) {
      if (now >= v.expires_unix_ms) return { kind: 'campaign' }; // renewals failed until expiry: start over
      const renewAt = v.expires_unix_ms - this.timing.renewBeforeMs;
      return now >= renewAt ? { kind: 'renew' } : { kind: 'wait', wakeAtMs: renewAt };
    }
    if (this.resigned) return { kind: 'wait', wakeAtMs: Infinity };
    // A tenure this incarnation did not issue (someone else's, or a previous life of this coordinator) is
    // never adopted: wait for its expiry, then compete for a new era like everyone else.
    if (this.vacant(now)) return { kind: 'campaign' };
    return { kind: 'wait', wakeAtMs: v.expires_unix_ms };
  }

  /** The expiry to ask for when campaigning or renewing at `now`. */
  expiryFor(now: number): number {
    return now + this.timing.ttlMs;
  }
}
