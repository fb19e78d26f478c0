// Owns size- and key-triggered splits, planned by the store that leads a region, recorded in rooted truth the
// upstream way: every period, each region this store leads whose applied index moved since its last check is
// checked inside its actor (check.ts); one over a threshold gets a new region id from the coordinator
// (AllocID, unique cluster-wide), then
//   1. `split_planned {parent, base_epoch, left, right}` through a coordinator — meta-root refuses it unless the
//      rooted parent is at the epoch this store split from, and marks both halves `splitting` (routing answers
//      "range change pending" for them meanwhile);
//   2. the split command through the region's raft group (every replica applies it; both halves get version + 1,
//      exactly the descriptors planned);
//   3. `split_committed {parent}`: both halves `running` in rooted truth; clients holding the old descriptor get
//      EpochNotMatch from the stores, carrying the new ones.
// A split that fails in raft is cancelled in rooted truth (`split_cancelled`); should it apply later after all,
// the control plane's descriptor publishes bring rooted truth to it (parent upsert, child bootstrap). A commit
// or cancel that cannot reach meta-root is retried every round until it is accepted or meta-root says the
// change is no longer open. Runs on the role's clock; one round at a time; the data plane never waits for it.
import type { Clock } from '../../common/clock.js';
import { PeriodicRounds } from '../../common/periodic.js';
import type { Logger } from '../../common/log.js';
import { events, type RootEvent } from '../../metaroot/state/index.js';
import type { RegionDescriptor, RegionEpoch } from '../region/descriptor.js';
import { regionInputOf } from '../control/descriptors.js';
import type { SplitLimits } from './check.js';

export const DEFAULT_SPLIT_KEYS = 200_000;
export const DEFAULT_SPLIT_BYTES = 64 * 1024 * 1024;
export const DEFAULT_SPLIT_CHECK_MS = 10_000;
/** Most splits one round starts (each is three rooted writes and a raft proposal). */
export const MAX_SPLITS_PER_ROUND = 4;

/** A region this store leads, as the splitter needs it. */
export interface LedRegion {
  desc: RegionDescriptor;
  applied: number;
}

/** The data plane, as the splitter uses it. */
export interface SplitterNode {
  led(): LedRegion[];
  check(desc: RegionDescriptor, limits: SplitLimits): Promise<{ keys: number; bytes: number; split_key?: Buffer }>;
  split(desc: RegionDescriptor, splitKey: Buffer, newId: number): Promise<{ left: RegionDescriptor; right: RegionDescriptor }>;
}

/** The control plane, as the splitter uses it. */
export interface SplitterPort {
  publish(ev: RootEvent): Promise<void>;
  allocId(): Promise<number>;
}

export interface SplitterOptions extends SplitLimits {
  node: SplitterNode;
  port: SplitterPort;
  clock: Clock;
  logger: Logger;
  checkIntervalMs: number;
}

export interface SplitterStats {
  checks: number;
  planned: number;
  committed: number;
  cancelled: number;
  /** Plans meta-root refused (rooted parent not at this store's epoch yet, an open change): tried again later. */
  refused: number;
  errors: number;
  last_error: string;
  /** Parent ids whose commit or cancel is still to reach meta-root. */
  unfinished: number[];
  /** Keys and bytes of the regions this store leads, as last checked (region id → estimate). */
  sizes: Record<string, { keys: number; bytes: number }>;
}

type Finish = 'commit' | 'cancel';

export class AutoSplitter {
  readonly stats: SplitterStats = { checks: 0, planned: 0, committed: 0, cancelled: 0, refused: 0, errors: 0, last_error: '', unfinished: [], sizes: {} };
  /** Region id → applied index at its last check: an unchanged region is not scanned again. */
  private readonly checkedAt = new Map<number, number>();
  private readonly unfinished = new Map<number, Finish>();
  private readonly rounds: PeriodicRounds;

  constructor(private readonly o: SplitterOptions) {
    this.rounds = new PeriodicRounds({ clock: o.clock, intervalMs: o.checkIntervalMs, round: () => this.round(), onError: (err) => this.fail('round', err) });
  }

  start(): void {
    this.rounds.start();
  }

  stop(): Promise<void> {
    return this.rounds.stop();
  }

  private get stopped(): boolean {
    return this.rounds.stopped;
  }

  private fail(what: string, err: unknown): void {
    this.stats.errors++;
    this.stats.last_error = `${what}: ${(err as Error)?.message ?? String(err)}`;
  }

  /** One round: finish what is unfinished, then check the regions that changed and split those over a threshold. */
  async round(): Promise<void> {
    for (const [parent, how] of [...this.unfinished]) await this.finish(parent, how);
    const led = this.o.node.led();
    const ids = new Set(led.map((r) => r.desc.id));
    for (const id of this.checkedAt.keys()) if (!ids.has(id)) this.checkedAt.delete(id);
    for (const id of Object.keys(this.stats.sizes)) if (!ids.has(Number(id))) delete this.stats.sizes[id];
    let splits = 0;
    for (const r of led) {
      if (this.stopped || splits >= MAX_SPLITS_PER_ROUND) break;
      if (this.checkedAt.get(r.desc.id) === r.applied) continue;
      let res;
      try {
        res = await this.o.node.check(r.desc, { maxKeys: this.o.maxKeys, maxBytes: this.o.maxBytes });
      } catch (err) {
        this.o.logger.debug({ err, region: r.desc.id }, 'split check failed; next round');
        continue;
      }
      this.stats.checks++;
      this.checkedAt.set(r.desc.id, r.applied);
      this.stats.sizes[String(r.desc.id)] = { keys: res.keys, bytes: res.bytes };
      if (!res.split_key) continue;
      splits++;
      if (await this.splitOne(r.desc, Buffer.from(res.split_key), res)) this.checkedAt.delete(r.desc.id);
    }
    this.stats.unfinished = [...this.unfinished.keys()];
  }

  /** Plans, splits and commits one region; true once the split applied. */
  private async splitOne(d: RegionDescriptor, splitKey: Buffer, size: { keys: number; bytes: number }): Promise<boolean> {
    let newId: number;
    try {
      newId = await this.o.port.allocId();
    } catch (err) {
      this.fail(`region ${d.id}: alloc id`, err);
      return false;
    }
    const next: RegionEpoch = { version: d.epoch.version + 1, confVersion: d.epoch.confVersion };
    const left: RegionDescriptor = { ...d, end: splitKey, epoch: next };
    const right: RegionDescriptor = { id: newId, start: splitKey, end: d.end, epoch: next, peers: [...d.peers] };
    try {
      await this.o.port.publish(events.splitPlanned(d.id, { version: d.epoch.version, conf_version: d.epoch.confVersion }, regionInputOf(left), regionInputOf(right)));
    } catch (err) {
      // Usually rooted truth has not caught up with this region's epoch yet (the control plane publishes it).
      this.stats.refused++;
      this.o.logger.debug({ err, region: d.id }, 'split plan refused; checked again next round');
      return false;
    }
    this.stats.planned++;
    this.o.logger.info({ region: d.id, child: newId, split_key: splitKey.toString('hex'), keys: size.keys, bytes: size.bytes }, 'split planned in rooted truth');
    try {
      await this.o.node.split(d, splitKey, newId);
    } catch (err) {
      this.fail(`region ${d.id}: split`, err);
      this.o.logger.warn({ err, region: d.id, child: newId }, 'planned split did not apply; cancelling it in rooted truth');
      await this.finish(d.id, 'cancel');
      return false;
    }
    await this.finish(d.id, 'commit');
    return true;
  }

  private async finish(parent: number, how: Finish): Promise<void> {
    try {
      await this.o.port.publish(how === 'commit' ? events.splitCommitted(parent) : events.splitCancelled(parent));
      this.unfinished.delete(parent);
      if (how === 'commit') this.stats.committed++;
      else this.stats.cancelled++;
      this.o.logger.info({ region: parent, outcome: how }, how === 'commit' ? 'split committed in rooted truth' : 'split cancelled in rooted truth');
    } catch (err) {
      if (/no open split/.test((err as Error)?.message ?? '')) {
        this.unfinished.delete(parent); // someone finished it already
        return;
      }
      this.unfinished.set(parent, how);
      this.fail(`region ${parent}: split ${how}`, err);
    }
    this.stats.unfinished = [...this.unfinished.keys()];
  }
}
