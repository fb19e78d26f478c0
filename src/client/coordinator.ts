// Owns the public CoordinatorClient: typed records (camelCase, bigint for 64-bit values) over the coordinator
// client library, which follows the lease holder (straight to the holder a "not holder" reply names), retries
// with backoff and jitter inside a call budget, gives each attempt a deadline, batches timestamp requests and
// refuses replies from an era older than one already seen. The wire shape can change under it; this API does not.
import type { Prng } from '../common/prng.js';
import { CoordinatorClient as Inner } from '../coordinator/client.js';

export interface CoordinatorClientOptions {
  /** Coordinator addresses, host:port (all three: the client finds the lease holder). */
  endpoints: string[];
  /** Cluster token (every coordinator call needs it when the cluster has one). */
  token?: string;
  /** One attempt against one coordinator (default 2 s). */
  attemptDeadlineMs?: number;
  /** The whole call, attempts and backoff included (default 10 s). */
  callBudgetMs?: number;
  prng?: Prng;
}

export interface Mount {
  mountId: string;
  rootInode: bigint;
  schemaVersion: bigint;
  state: 'registered' | 'retired';
}

export interface QuotaFence {
  /** A mount ("m") or a directory of it ("m/123"). */
  subject: string;
  /** 0 = unlimited. */
  limitBytes: bigint;
  limitInodes: bigint;
  era: bigint;
}

type Wire = Record<string, any>;
const u64 = (v: unknown): bigint => BigInt(String(v ?? 0));
const mountIn = (m: Wire): Mount => ({ mountId: String(m.mount_id ?? ''), rootInode: u64(m.root_inode), schemaVersion: u64(m.schema_version), state: m.state === 'retired' ? 'retired' : 'registered' });
const fenceIn = (f: Wire): QuotaFence => ({ subject: String(f.subject ?? ''), limitBytes: u64(f.limit_bytes), limitInodes: u64(f.limit_inodes), era: u64(f.era) });

export class CoordinatorClient {
  private readonly inner: Inner;

  constructor(o: CoordinatorClientOptions) {
    this.inner = new Inner(o);
  }

  close(): void {
    this.inner.close();
  }

  /** `count` consecutive timestamps starting at `timestamp`, strictly above every one handed out before. */
  async tso(count = 1): Promise<{ timestamp: bigint; count: number; era: bigint }> {
    const r = await this.inner.tso(count);
    return { timestamp: r.timestamp, count: r.count, era: BigInt(r.era) };
  }

  /** `count` cluster-unique ids: first .. first + count - 1. */
  async allocIds(count = 1): Promise<{ first: bigint; count: number; era: bigint }> {
    const r = await this.inner.allocId(count);
    return { first: r.first, count: r.count, era: BigInt(r.era) };
  }

  /** Registers a mount; idempotent (created is false when the same registration already existed). */
  async registerMount(mountId: string, o: { rootInode?: number; schemaVersion?: number } = {}): Promise<{ mount: Mount; created: boolean }> {
    const r = await this.inner.registerMount(mountId, o.rootInode ?? 1, o.schemaVersion ?? 1);
    return { mount: mountIn(r.mount ?? {}), created: Boolean(r.created) };
  }

  async retireMount(mountId: string): Promise<Mount> {
    return mountIn((await this.inner.retireMount(mountId)).mount ?? {});
  }

  async getMount(mountId: string): Promise<Mount | undefined> {
    const r = await this.inner.getMount(mountId);
    return r.not_found ? undefined : mountIn(r.mount ?? {});
  }

  async listMounts(o: { includeRetired?: boolean } = {}): Promise<Mount[]> {
    return ((await this.inner.listMounts(Boolean(o.includeRetired))).mounts ?? []).map(mountIn);
  }

  /** Sets a quota fence; era 0 = the current era + 1. */
  async setQuota(subject: string, o: { limitBytes?: number; limitInodes?: number; era?: number }): Promise<QuotaFence> {
    return fenceIn((await this.inner.setQuota(subject, o.limitBytes ?? 0, o.limitInodes ?? 0, o.era ?? 0)).fence ?? {});
  }

  async getQuota(subject: string): Promise<QuotaFence | undefined> {
    const r = await this.inner.getQuota(subject);
    return r.not_found ? undefined : fenceIn(r.fence ?? {});
  }

  async listQuotas(): Promise<QuotaFence[]> {
    return ((await this.inner.listQuotas()).fences ?? []).map(fenceIn);
  }
}
