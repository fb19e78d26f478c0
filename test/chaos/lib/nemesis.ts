// Owns the chaos nemesis for the store cluster: a seeded cycle of faults, each healed before the next —
// SIGKILL + restart of a region leader, SIGSTOP then SIGCONT, isolating one store's raft links through its
// `/debug/faults` route, lossy links (drop, duplicate, reorder, delay) on every store, and raft leader transfers
// (what the coordinator's leader balance hints do) moving both regions' leaders around every few hundred ms. The seed fixes the
// sequence of faults, targets and durations; wall-clock timing (and so who leads when) still varies.
import { SeededPrng, type Prng } from '../../../src/common/prng.js';
import type { ChaosStoreCluster } from '../../fixtures/chaos-store-cluster.js';

export type FaultKind = 'kill-leader' | 'pause' | 'isolate' | 'lossy' | 'transfer-leader';
export const FAULT_KINDS: FaultKind[] = ['kill-leader', 'pause', 'isolate', 'lossy', 'transfer-leader'];
/** Pause between two leader transfers of a `transfer-leader` fault. */
export const TRANSFER_EVERY_MS: [number, number] = [150, 400];

/** How long a fault lasts, per kind, [min, max] ms. */
export const FAULT_MS: Record<FaultKind, [number, number]> = {
  'kill-leader': [300, 1_500],
  pause: [1_000, 2_000],
  isolate: [1_500, 3_000],
  lossy: [2_000, 3_500],
  'transfer-leader': [1_000, 2_000],
};
/** Quiet gap after each healed fault, [min, max] ms. */
export const GAP_MS: [number, number] = [400, 1_000];
/** The lossy-link rule every store gets during a `lossy` fault. */
export const LOSSY_RULE = { from: '*' as const, to: '*' as const, drop: 0.15, duplicate: 0.1, reorder: 0.1, delayMs: [0, 30] as [number, number] };

export interface FaultEvent {
  kind: FaultKind;
  target: number;
  region?: number;
  /** transfer-leader: how many transfers a leader accepted. */
  transfers?: number;
  startMs: number;
  healedMs: number;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export class Nemesis {
  readonly events: FaultEvent[] = [];
  private readonly prng: Prng;
  private stopping = false;

  constructor(
    private readonly cluster: ChaosStoreCluster,
    readonly seed: number,
    private readonly log: (line: string) => void = () => undefined,
  ) {
    this.prng = new SeededPrng(seed);
  }

  private between([min, max]: [number, number]): number {
    return min + this.prng.int(max - min + 1);
  }

  /** Runs faults until untilMs (wall clock); the fault in progress is always healed before this returns. */
  /**
   * Injects faults until `untilMs`; with `atLeast`, goes on past it until that many faults were injected (a
   * saturated machine makes each fault slower, so a fixed time alone may not reach every kind), but never past
   * `hardStopMs`.
   */
  async run(untilMs: number, opts: { atLeast?: number; hardStopMs?: number } = {}): Promise<void> {
    // Start at a seeded point of the cycle so short runs still meet every kind across seeds.
    let i = this.prng.int(FAULT_KINDS.length);
    const first = i;
    const more = () => i - first < (opts.atLeast ?? 0) && Date.now() < (opts.hardStopMs ?? untilMs);
    while (!this.stopping && (Date.now() < untilMs || more())) {
      const kind = FAULT_KINDS[i++ % FAULT_KINDS.length]!;
      await this.inject(kind);
      await sleep(this.between(GAP_MS));
    }
  }

  stop(): void {
    this.stopping = true;
  }

  private async inject(kind: FaultKind): Promise<void> {
    const c = this.cluster;
    const region = 1 + this.prng.int(2);
    const duration = this.between(FAULT_MS[kind]);
    const aimAtLeader = this.prng.chance(0.6);
    const random = c.ids[this.prng.int(c.ids.length)]!;
    const leader = await c.leaderOf(region, 3_000);
    const target = kind === 'kill-leader' ? leader || random : aimAtLeader && leader ? leader : random;
    const startMs = Date.now();
    let transfers: number | undefined;
    this.log(`nemesis: ${kind} store ${target}${kind === 'kill-leader' ? ` (leader of region ${region})` : ''} for ${duration} ms`);
    switch (kind) {
      case 'kill-leader':
        await c.kill(target);
        await sleep(duration);
        await c.start(target);
        break;
      case 'pause':
        c.pause(target);
        await sleep(duration);
        c.resume(target);
        break;
      case 'isolate':
        await c.setFaults(target, { rules: [{ from: target, to: '*', block: true }, { from: '*', to: target, block: true }] });
        await sleep(duration);
        await c.heal(target);
        break;
      case 'lossy':
        await Promise.all(c.ids.map((id) => c.setFaults(id, { seed: this.seed + id, rules: [LOSSY_RULE] })));
        await sleep(duration);
        await Promise.all(c.ids.map((id) => c.heal(id)));
        break;
      case 'transfer-leader': {
        // Nothing to heal: each transfer either completes or raft abandons it after an election timeout.
        let moved = 0;
        while (Date.now() - startMs < duration) {
          const r = 1 + this.prng.int(2);
          const from = await c.leaderOf(r, 1_000);
          const others = c.ids.filter((id) => id !== from);
          const to = others[this.prng.int(others.length)]!;
          if (from && (await c.transferLeader(from, r, to))) moved++;
          await sleep(this.between(TRANSFER_EVERY_MS));
        }
        this.log(`nemesis: ${moved} leader transfers started`);
        transfers = moved;
        break;
      }
    }
    this.events.push({ kind, target, region, ...(transfers !== undefined ? { transfers } : {}), startMs, healedMs: Date.now() });
  }

  /** Undoes whatever may be left (after a failure mid-fault): continue, restart, heal every store. */
  async healAll(): Promise<void> {
    const c = this.cluster;
    for (const id of c.ids) {
      if (c.paused(id)) c.resume(id);
      if (!c.running(id)) await c.start(id);
    }
    await Promise.all(c.ids.map((id) => c.heal(id).catch(() => undefined)));
  }
}
