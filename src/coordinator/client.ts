// Owns the coordinator client library: a list of endpoints with a sticky preferred one, failover on "not
// holder" (straight to the named holder when its address is known) and on UNAVAILABLE or deadline, bounded
// retries with exponential backoff and jitter (the common retry policy, src/common/retry.ts, on an injectable
// clock), a deadline per attempt, and an era floor: a duty reply from an era older than one this client has
// already seen is refused as stale (Silence) and retried elsewhere. Tso
// requests are batched: one call in flight, the requests that arrive meanwhile share the next (tso-batch.ts).
import type * as grpc from '@grpc/grpc-js';
import { NokvError, UnavailableError } from '../common/errors.js';
import type { Clock } from '../common/clock.js';
import { defaultPrng, type Prng } from '../common/prng.js';
import { retrying, type RetryPolicy } from '../common/retry.js';
import { createClient, unaryCall } from '../transport/index.js';
import { MAX_BATCH } from './allocator.js';
import { isNotHolder, StaleEraError } from './errors.js';
import { COORDINATOR_SERVICE, coordinatorProto } from './service.js';
import { TsoBatcher } from './tso-batch.js';
import { eventToMsg } from '../metaroot/event-wire.js';
import type { RootEvent } from '../metaroot/state/index.js';

/** One attempt against one coordinator. */
export const DEFAULT_ATTEMPT_DEADLINE_MS = 2_000;
/** Whole call, all attempts and backoff included (covers a takeover after a crashed holder's TTL). */
export const DEFAULT_CALL_BUDGET_MS = 10_000;
/** Backoff after a full round of endpoints failed, doubling to the cap, ±25 % jitter. */
export const BACKOFF_BASE_MS = 25;
export const BACKOFF_MAX_MS = 500;
export const BACKOFF_JITTER = 0.25;
/** Hard cap on attempts per call, whatever the budget. */
export const MAX_ATTEMPTS = 200;

export interface CoordinatorClientOptions {
  endpoints: string[];
  token?: string;
  attemptDeadlineMs?: number;
  callBudgetMs?: number;
  prng?: Prng;
  /** Time for the call budget and backoff sleeps (default: real time). */
  clock?: Clock;
  /** Calls go as messages on one CallStream per coordinator (default true; false: a unary call each). */
  callStream?: boolean;
}

export interface TsoReply {
  timestamp: bigint;
  count: number;
  era: number;
  served_by: string;
}

export interface IdReply {
  first: bigint;
  count: number;
  era: number;
  served_by: string;
}

type Reply = Record<string, any>;

export class CoordinatorClient {
  private readonly clients: grpc.Client[];
  private preferred = 0;
  /** Highest era seen in any duty reply. */
  private eraFloor = 0;
  private readonly prng: Prng;
  private readonly policy: RetryPolicy;
  private readonly tsoBatch: TsoBatcher<TsoReply>;
  readonly stats = { attempts: 0, failovers: 0, stale_replies: 0 };

  constructor(private readonly o: CoordinatorClientOptions) {
    if (o.endpoints.length === 0) throw new NokvError('INVALID_ARGUMENT', 'coordinator client needs at least one endpoint');
    const ctor = coordinatorProto().clientConstructor(COORDINATOR_SERVICE);
    this.clients = o.endpoints.map((addr) => createClient(ctor, addr, {}, { callStream: o.callStream ?? true }));
    this.prng = o.prng ?? defaultPrng();
    this.policy = {
      attemptDeadlineMs: o.attemptDeadlineMs ?? DEFAULT_ATTEMPT_DEADLINE_MS,
      callBudgetMs: o.callBudgetMs ?? DEFAULT_CALL_BUDGET_MS,
      backoffBaseMs: BACKOFF_BASE_MS,
      backoffMaxMs: BACKOFF_MAX_MS,
      jitter: BACKOFF_JITTER,
      maxAttempts: MAX_ATTEMPTS,
    };
    this.tsoBatch = new TsoBatcher(async (count) => {
      const r = await this.call('Tso', { count }, true);
      return { timestamp: BigInt(r.timestamp), count: r.count, era: Number(r.era), served_by: r.served_by };
    }, MAX_BATCH);
  }

  /** Tso requests and the calls that carried them (batching at work when calls < requests). */
  get tsoStats(): { requests: number; calls: number } {
    return { ...this.tsoBatch.stats };
  }

  get endpoints(): readonly string[] {
    return this.o.endpoints;
  }

  get era(): number {
    return this.eraFloor;
  }

  close(): void {
    for (const c of this.clients) c.close();
  }

  /** `count` consecutive timestamps, each above every timestamp issued before this call began. */
  tso(count = 1): Promise<TsoReply> {
    return this.tsoBatch.next(count);
  }

  async allocId(count = 1): Promise<IdReply> {
    const r = await this.call('AllocID', { count }, true);
    return { first: BigInt(r.first_id), count: r.count, era: Number(r.era), served_by: r.served_by };
  }

  getRegionByKey(key: Uint8Array): Promise<Reply> {
    return this.call('GetRegionByKey', { key: Buffer.from(key) }, true);
  }

  storeHeartbeat(req: Reply): Promise<Reply> {
    return this.call('StoreHeartbeat', req, false);
  }
  getStore(storeId: number): Promise<Reply> {
    return this.call('GetStore', { store_id: storeId }, false);
  }
  listStores(includeRetired = false): Promise<Reply> {
    return this.call('ListStores', { include_retired: includeRetired }, false);
  }
  registerMount(mountId: string, rootInode = 1, schemaVersion = 1): Promise<Reply> {
    return this.call('RegisterMount', { mount_id: mountId, root_inode: rootInode, schema_version: schemaVersion }, false);
  }
  retireMount(mountId: string): Promise<Reply> {
    return this.call('RetireMount', { mount_id: mountId }, false);
  }
  getMount(mountId: string): Promise<Reply> {
    return this.call('GetMount', { mount_id: mountId }, false);
  }
  listMounts(includeRetired = false): Promise<Reply> {
    return this.call('ListMounts', { include_retired: includeRetired }, false);
  }
  setQuota(subject: string, limitBytes: number, limitInodes: number, era = 0): Promise<Reply> {
    return this.call('SetQuotaFence', { subject, limit_bytes: limitBytes, limit_inodes: limitInodes, era }, false);
  }
  getQuota(subject: string): Promise<Reply> {
    return this.call('GetQuotaFence', { subject }, false);
  }
  listQuotas(): Promise<Reply> {
    return this.call('ListQuotaFences', {}, false);
  }
  publishRootEvent(event: unknown, expectedClusterEpoch = 0): Promise<Reply> {
    return this.call('PublishRootEvent', { event: eventToMsg(event as RootEvent), expected_cluster_epoch: expectedClusterEpoch }, false);
  }
  /** A subtree's authority (era, frontier, open handoff) from the answering coordinator's rooted view. */
  getSubtreeAuthority(mountId: string, rootInode = 0): Promise<Reply> {
    return this.call('GetSubtreeAuthority', { mount_id: mountId, root_inode: rootInode }, false);
  }
  listSubtreeAuthorities(): Promise<Reply> {
    return this.call('ListSubtreeAuthorities', {}, false);
  }
  /** The lease as one coordinator sees it (no failover: asks endpoint `index`). */
  leaseAt(index: number): Promise<Reply> {
    return unaryCall(this.clients[index]!, 'GetLease', {}, { deadlineMs: this.o.attemptDeadlineMs ?? DEFAULT_ATTEMPT_DEADLINE_MS });
  }
  /** Planned handover: finds the holder and asks it to hand the lease to `to`. */
  handover(to: string): Promise<Reply> {
    return this.call('Handover', { to }, true);
  }

  /**
   * Calls `method`, failing over across endpoints. `duty` calls fail over on "not holder" and check the era
   * floor; other calls fail over only when an endpoint is unreachable.
   */
  async call(method: string, req: unknown, duty: boolean): Promise<Reply> {
    const policy = this.policy;
    let triedInRound = 0;
    let i = this.preferred;
    return retrying({
      policy,
      prng: this.prng,
      ...(this.o.clock ? { clock: this.o.clock } : {}),
      attempt: async ({ deadlineMs }) => {
        i = this.preferred;
        this.stats.attempts++;
        const res = await unaryCall<unknown, Reply>(this.clients[i]!, method, req, { deadlineMs, token: this.o.token });
        if (duty && res.era !== undefined) this.checkEra(Number(res.era), i);
        return res;
      },
      onFailure: (err) => {
        if (!retryable(err, duty)) return 'stop';
        const hinted = isNotHolder(err) ? this.indexOf((err as NokvError).details.holder_addr) : -1;
        this.preferred = hinted >= 0 && hinted !== i ? hinted : (i + 1) % this.clients.length;
        this.stats.failovers++;
        if (++triedInRound < this.clients.length) return 'now';
        triedInRound = 0;
        return 'backoff';
      },
      exhausted: (lastErr) =>
        lastErr instanceof NokvError ? lastErr : new UnavailableError(`${method}: no coordinator answered within ${policy.callBudgetMs} ms`, { cause: String(lastErr) }),
    });
  }

  private checkEra(era: number, endpoint: number): void {
    if (era < this.eraFloor) {
      this.stats.stale_replies++;
      throw new StaleEraError(`reply from era ${era} below the era floor ${this.eraFloor} (${this.o.endpoints[endpoint]})`, { era, floor: this.eraFloor });
    }
    this.eraFloor = era;
  }

  private indexOf(addr: unknown): number {
    return typeof addr === 'string' ? this.o.endpoints.indexOf(addr) : -1;
  }
}

function retryable(err: unknown, duty: boolean): boolean {
  if (err instanceof StaleEraError) return true;
  if (!(err instanceof NokvError)) return false;
  if (err.code === 'UNAVAILABLE' || err.code === 'DEADLINE_EXCEEDED') return true;
  return duty && isNotHolder(err);
}
