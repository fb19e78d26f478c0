// Owns the adapter from the coordinator client to the gateway's coordinator duties: TSO and AllocID, mounts
// and quota fences (rooted truth, cached for a short TTL because every write consults them), and publishing
// snapshot-epoch and subtree-handoff events (the handoff protocol is in subtree-handoff.ts).
import type { Clock } from '../../common/clock.js';
import type { CoordinatorClient } from '../../coordinator/client.js';
import type { CoordinatorDuties, FsRootEvent, MountInfo, QuotaFence } from '../kv.js';
import { sleep } from '../../common/retry.js';
import { SubtreeHandoffs } from './subtree-handoff.js';

/** How long a mount or fence answer is reused (misses too, for fences). */
export const ROOTED_CACHE_TTL_MS = 1_000;
/** Entries kept in each cache. */
export const ROOTED_CACHE_MAX = 4_096;

class TtlCache<T> {
  private readonly m = new Map<string, { at: number; v: T }>();
  constructor(private readonly clock: Clock) {}
  get(k: string): { v: T } | undefined {
    const e = this.m.get(k);
    if (!e || this.clock.now() - e.at > ROOTED_CACHE_TTL_MS) return undefined;
    return { v: e.v };
  }
  set(k: string, v: T): void {
    if (this.m.size >= ROOTED_CACHE_MAX) this.m.delete(this.m.keys().next().value!);
    this.m.set(k, { at: this.clock.now(), v });
  }
}

export class CoordinatorDutiesAdapter implements CoordinatorDuties {
  private readonly mounts: TtlCache<MountInfo>;
  private readonly fences: TtlCache<QuotaFence | undefined>;
  private readonly handoffs: SubtreeHandoffs;

  /** `authorityHolder` names this gateway in subtree authority records (e.g. `fsmeta-1`). */
  constructor(
    private readonly client: CoordinatorClient,
    clock: Clock,
    authorityHolder = 'fsmeta',
  ) {
    this.handoffs = new SubtreeHandoffs(client, authorityHolder, (ms) => sleep(clock, ms));
    this.mounts = new TtlCache(clock);
    this.fences = new TtlCache(clock);
  }

  async reserveTimestamps(count: number): Promise<bigint> {
    return (await this.client.tso(count)).timestamp;
  }

  async allocIds(count: number): Promise<number> {
    return Number((await this.client.allocId(count)).first);
  }

  async getMount(mount: string): Promise<MountInfo | undefined> {
    const hit = this.mounts.get(mount);
    if (hit) return hit.v;
    const r = await this.client.getMount(mount);
    if (r.not_found || !r.mount) return undefined; // misses are not cached: a registration shows at once
    const info = { mount, rootInode: Number(r.mount.root_inode), retired: r.mount.state === 'retired' };
    this.mounts.set(mount, info);
    return info;
  }

  async getQuotaFence(mount: string, scope: number): Promise<QuotaFence | undefined> {
    const subject = scope === 0 ? mount : `${mount}/${scope}`;
    const hit = this.fences.get(subject);
    if (hit) return hit.v;
    const r = await this.client.getQuota(subject);
    const fence = r.not_found || !r.fence ? undefined : { limitBytes: Number(r.fence.limit_bytes), limitInodes: Number(r.fence.limit_inodes) };
    this.fences.set(subject, fence);
    return fence;
  }

  async publishRootEvent(ev: FsRootEvent): Promise<void> {
    if (ev.kind === 'snapshot_epoch_published' || ev.kind === 'snapshot_epoch_retired') {
      await this.client.publishRootEvent({ kind: ev.kind, v: 1, mount_id: ev.mount, root_inode: ev.rootInode, read_version: ev.readVersion.toString() });
      return;
    }
    if (ev.kind === 'subtree_handoff_started') await this.handoffs.start(ev.mount, ev.rootInode, ev.frontier);
    else await this.handoffs.complete(ev.mount, ev.rootInode, ev.frontier);
  }
}
