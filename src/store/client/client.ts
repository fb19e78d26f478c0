// Owns the transactional client of the store cluster: per-store gRPC clients, region routing with bounded
// retries on region errors, snapshot reads that resolve the locks they meet (CheckTxnStatus → ResolveLock, or
// bypass a lock whose primary was pushed above the read), and transactions: one-phase commit when every key is
// in one region, otherwise Percolator 2PC (primary alone, secondaries grouped by region, commit primary,
// commit secondaries), with the primary kept alive by TxnHeartBeat while a long commit runs (keepalive.ts).
import * as grpc from '@grpc/grpc-js';
import { SystemClock, type Clock } from '../../common/clock.js';
import { RETRY_SYSTEM_CLOCK, retrying, sleep, type RetryPolicy, type Verdict } from '../../common/retry.js';
import { NokvError, NotLeaderError, TimeoutError, UnavailableError, FailedPreconditionError } from '../../common/errors.js';
import { createClient, loadProto, unaryCall } from '../../transport/index.js';
import { compareBytes, inRange } from '../keys.js';
import { descriptorFromJson, type DescriptorJson, type RegionDescriptor } from '../region/descriptor.js';
import { EpochNotMatchError, KeyNotInRegionError, RegionNotFoundError } from '../region/errors.js';
import { STORE_KV_PROTO, STORE_KV_SERVICE } from '../server/service.js';
import { MAX_SCAN_LIMIT } from '../percolator/read.js';
import { startKeepAlive } from './keepalive.js';
import { RouteCache } from './routes.js';
import type { TimestampSource } from './tso.js';
import { fastReadDefinition } from './wire.js';

/** Attempts of one region-addressed call (region errors, leader changes, unreachable stores). */
export const MAX_REGION_ATTEMPTS = 40;
/** Deadline of one attempt against one store (above the store's own propose timeout). */
export const ATTEMPT_DEADLINE_MS = 4_000;
/** Pause after an attempt that found no leader or no reachable store. */
export const RETRY_BACKOFF_MS = 50;
/** Lock resolutions one read may go through before giving up. */
export const MAX_LOCK_RESOLVE_ROUNDS = 50;
/** Pause before retrying a read blocked by a live lock that could not be bypassed. */
export const LOCK_WAIT_MS = 10;
export const DEFAULT_LOCK_TTL_MS = 3_000;
/** Retries of a primary commit whose commit ts was overtaken by a reader's push. */
export const MAX_COMMIT_TS_RETRIES = 5;

/** A transaction failed because of another transaction (conflict, lock, existing key); retrying may work. */
export class TxnConflictError extends NokvError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super('ABORTED', message, details);
  }
}

export interface WireKeyError {
  locked?: any;
  conflict?: any;
  already_exists?: Buffer;
  commit_ts_expired?: any;
  committed?: string;
  txn_not_found?: Buffer;
  abort?: string;
  key?: Buffer;
  error?: string;
}

/** [start, end) of keys; an empty end is open. */
export interface KeyRange {
  start: Buffer;
  end: Buffer;
}

/** The keys and range parts of one request that fall in one region. */
export interface RegionGroup {
  region: RegionDescriptor;
  keys: Buffer[];
  ranges: KeyRange[];
}

/** Whether every key and range part of g lies in d. */
function groupFits(g: RegionGroup, d: RegionDescriptor): boolean {
  const endIn = (e: Buffer) => (e.length === 0 ? d.end.length === 0 : d.end.length === 0 || compareBytes(e, d.end) <= 0);
  return g.keys.every((k) => inRange(k, d.start, d.end)) && g.ranges.every((r) => inRange(r.start, d.start, d.end) && endIn(r.end));
}

const rangeToWire = (r: KeyRange) => ({ start_key: r.start, end_key: r.end });

/** Where a scanned value names another key: prefix ‖ value[offset .. offset + length) (offset < 0: from the end). */
export interface RefSpec {
  prefix: Buffer;
  offset: number;
  length: number;
}

export interface ScanRefsResult {
  /** ref: the named key's value, undefined when it has none. */
  pairs: Array<{ key: Buffer; value: Buffer; ref: Buffer | undefined }>;
  /** Values of the requested keys that have one, keyed by hex. */
  found: Map<string, Buffer>;
}

/** What a `locate` hook answers: the region, plus the leader when the lookup knows it. */
export type LocatedRegion = RegionDescriptor & { leaderStoreId?: number };

export interface StoreClientOptions {
  /** store id → KV address. Stores missing here are resolved through `resolveStore` and added. */
  stores: Map<number, string>;
  tso: TimestampSource;
  token?: string;
  /** Optional authoritative lookup (the coordinator's GetRegionByKey); else stores are asked (ListRegions). */
  locate?: (key: Buffer) => Promise<LocatedRegion | undefined>;
  /** Optional address lookup for a store id not in `stores` (the coordinator's GetStore). */
  resolveStore?: (storeId: number) => Promise<string | undefined>;
  lockTtlMs?: number;
  /** Keep a long two-phase commit's primary alive with TxnHeartBeat (default true; see keepalive.ts). */
  txnHeartbeat?: boolean;
  /** Schedules the heartbeats, retry pauses and lock waits (default: the system clock). */
  clock?: Clock;
  /** Calls go as messages on one CallStream per store (default true; false: a unary call each). */
  callStream?: boolean;
}

export interface ClientStats {
  attempts: number;
  regionErrors: number;
  notLeader: number;
  unavailable: number;
  lockResolves: number;
  onePc: number;
  twoPc: number;
  /** TxnHeartBeat calls sent for long two-phase commits. */
  txnHeartbeats: number;
}

type Method = 'Get' | 'BatchGet' | 'Scan' | 'ScanRefs' | 'Prewrite' | 'Commit' | 'BatchRollback' | 'ResolveLock' | 'CheckTxnStatus' | 'TxnHeartBeat' | 'OnePhaseCommit' | 'SplitRegion' | 'ListRegions';

/** A bytes field as a Buffer without copying (both decoders give Buffers already). */
const asBuffer = (b: Uint8Array): Buffer => (Buffer.isBuffer(b) ? b : Buffer.from(b));

/** One region-addressed call: a fixed pause after an attempt that found no leader or no reachable store. */
const REGION_RETRY_POLICY: RetryPolicy = {
  attemptDeadlineMs: ATTEMPT_DEADLINE_MS,
  callBudgetMs: Infinity,
  backoffBaseMs: RETRY_BACKOFF_MS,
  backoffMaxMs: RETRY_BACKOFF_MS,
  jitter: 0,
  maxAttempts: MAX_REGION_ATTEMPTS,
};

export function wireToDescriptor(w: any): RegionDescriptor {
  return {
    id: Number(w.region_id),
    start: Buffer.from(w.start_key ?? []),
    end: Buffer.from(w.end_key ?? []),
    epoch: { version: Number(w.epoch?.version ?? 0), confVersion: Number(w.epoch?.conf_version ?? 0) },
    peers: (w.peers ?? []).map((p: any) => Number(p.store_id)),
  };
}

function describeKeyError(e: WireKeyError): string {
  if (e.locked) return `key ${Buffer.from(e.locked.key).toString('hex')} is locked by ${e.locked.lock_version}`;
  if (e.conflict) return `write conflict on ${Buffer.from(e.conflict.key).toString('hex')} (committed at ${e.conflict.conflict_commit_ts})`;
  if (e.already_exists) return `key ${Buffer.from(e.already_exists).toString('hex')} already exists`;
  if (e.commit_ts_expired) return `commit ts expired (min ${e.commit_ts_expired.min_commit_ts})`;
  if (e.committed) return `transaction already committed at ${e.committed}`;
  if (e.txn_not_found) return 'transaction not found';
  return e.abort ?? 'transaction aborted';
}

export class StoreClient {
  readonly routes = new RouteCache();
  readonly stats: ClientStats = { attempts: 0, regionErrors: 0, notLeader: 0, unavailable: 0, lockResolves: 0, onePc: 0, twoPc: 0, txnHeartbeats: 0 };
  private readonly clients = new Map<number, grpc.Client>();
  readonly clock: Clock;
  /** Retry pauses and lock waits: the injected clock, else real time with timers that keep the process alive. */
  readonly retryClock: Clock;
  private readonly ctor: grpc.ServiceClientConstructor;
  private closed = false;

  constructor(readonly opts: StoreClientOptions) {
    // Read responses decode through wire.ts (views of the received bytes); the rest through proto-loader.
    this.ctor = grpc.makeGenericClientConstructor(fastReadDefinition(loadProto(STORE_KV_PROTO).service(STORE_KV_SERVICE)), STORE_KV_SERVICE);
    this.clock = opts.clock ?? new SystemClock();
    this.retryClock = opts.clock ?? RETRY_SYSTEM_CLOCK;
  }

  close(): void {
    this.closed = true;
    for (const c of this.clients.values()) c.close();
    this.clients.clear();
  }

  begin(): Promise<Txn> {
    return this.opts.tso.next().then((ts) => new Txn(this, ts));
  }

  tso(): Promise<bigint> {
    return this.opts.tso.next();
  }

  // ---- plumbing --------------------------------------------------------------------------------------------

  private client(storeId: number): grpc.Client {
    if (this.closed) throw new UnavailableError('store client is closed');
    let c = this.clients.get(storeId);
    if (!c) {
      const addr = this.opts.stores.get(storeId);
      if (!addr) throw new UnavailableError(`no address for store ${storeId}`);
      c = createClient(this.ctor, addr, {}, { callStream: this.opts.callStream ?? true });
      this.clients.set(storeId, c);
    }
    return c;
  }

  /** Learns the address of a store this client has not talked to yet (no-op without `resolveStore`). */
  private async ensureStore(storeId: number): Promise<void> {
    if (this.opts.stores.has(storeId) || !this.opts.resolveStore) return;
    const addr = await this.opts.resolveStore(storeId).catch(() => undefined);
    if (addr) this.opts.stores.set(storeId, addr);
  }

  /** Raw call to one store (admin and tests). */
  callStore<T>(storeId: number, method: Method, req: unknown, deadlineMs = ATTEMPT_DEADLINE_MS): Promise<T> {
    return unaryCall<unknown, T>(this.client(storeId), method, req, { deadlineMs, ...(this.opts.token ? { token: this.opts.token } : {}) });
  }

  /** Asks every store for its regions and keeps, per region, the newest epoch and any leader claim. */
  async refreshRoutes(): Promise<void> {
    const replies = await Promise.all(
      [...this.opts.stores.keys()].map((id) => this.callStore<any>(id, 'ListRegions', {}, 1_500).catch(() => undefined)),
    );
    for (const r of replies) {
      for (const st of r?.regions ?? []) this.routes.insert(wireToDescriptor(st.descriptor), st.is_leader ? Number(r.store_id) : Number(st.leader_store_id) || undefined);
    }
  }

  private async route(key: Buffer): Promise<RegionDescriptor> {
    let d = this.routes.locate(key);
    if (d) return d;
    if (this.opts.locate) {
      const found = await this.opts.locate(key).catch(() => undefined);
      if (found) this.routes.insert(found, found.leaderStoreId || undefined);
    } else {
      await this.refreshRoutes();
    }
    d = this.routes.locate(key);
    if (!d) throw new UnavailableError(`no region known for key ${key.toString('hex')}`);
    return d;
  }

  /** Reacts to a failed attempt: whether to retry at once (new routing), after a pause, or not at all. */
  private absorb(err: unknown, d: RegionDescriptor): Verdict {
    if (err instanceof NotLeaderError) {
      this.stats.notLeader++;
      const leader = Number(err.details.leaderId ?? 0);
      if (leader && d.peers.includes(leader) && leader !== this.routes.leaderOf(d)) {
        this.routes.setLeader(d.id, leader);
        return 'now';
      }
      if (leader && !d.peers.includes(leader)) {
        // The leader is a peer this route does not list: the region's membership changed (replica repair).
        this.routes.drop(d.id);
        return 'now';
      }
      this.routes.rotate(d);
      return 'backoff';
    }
    if (err instanceof EpochNotMatchError) {
      this.stats.regionErrors++;
      this.routes.drop(d.id);
      for (const j of (err.details.regions ?? []) as DescriptorJson[]) this.routes.insert(descriptorFromJson(j));
      return 'now';
    }
    if (err instanceof KeyNotInRegionError || err instanceof RegionNotFoundError) {
      this.stats.regionErrors++;
      this.routes.drop(d.id);
      return 'backoff';
    }
    // Any UNAVAILABLE refusal is retried, typed ones included: a raft proposal dropped while the region's
    // leadership moves (transfer-in-progress, leader balance) appended nothing.
    if (err instanceof UnavailableError || err instanceof TimeoutError || (err instanceof NokvError && err.code === 'UNAVAILABLE')) {
      this.stats.unavailable++;
      this.routes.rotate(d);
      return 'backoff';
    }
    return 'stop';
  }

  /**
   * Runs `fn` against the region holding `key` with its context, retrying on region errors. `fn` gets the
   * descriptor too, so it can trim what it sends (keys of other regions are the caller's business).
   */
  async onRegion<T>(key: Buffer, method: Method, build: (d: RegionDescriptor) => Record<string, unknown>): Promise<{ res: T; region: RegionDescriptor }> {
    let d: RegionDescriptor | undefined;
    let sent = false;
    return retrying({
      policy: REGION_RETRY_POLICY,
      clock: this.retryClock,
      attempt: async () => {
        d = undefined;
        sent = false;
        d = await this.route(key);
        const storeId = this.routes.leaderOf(d);
        await this.ensureStore(storeId);
        const req = { ...build(d), context: { region_id: d.id, epoch: { version: d.epoch.version, conf_version: d.epoch.confVersion }, store_id: storeId } };
        this.stats.attempts++;
        sent = true;
        return { res: await this.callStore<T>(storeId, method, req), region: d };
      },
      // No route yet: wait and look again. A request that could not even be built is the caller's error.
      onFailure: (err) => (!d ? 'backoff' : sent ? this.absorb(err, d) : 'stop'),
      exhausted: (last) => new UnavailableError(`${method} failed after ${MAX_REGION_ATTEMPTS} attempts: ${(last as Error)?.message ?? last}`),
    });
  }

  /** Groups keys by cached region (sorted by key). */
  async groupByRegion(keys: Buffer[]): Promise<Array<{ region: RegionDescriptor; keys: Buffer[] }>> {
    return (await this.groupItems(keys, [])).map(({ region, keys: ks }) => ({ region, keys: ks }));
  }

  /** Groups keys and the per-region parts of ranges by cached region (keys sorted). */
  async groupItems(keys: Buffer[], ranges: KeyRange[]): Promise<RegionGroup[]> {
    const groups = new Map<number, RegionGroup>();
    const groupOf = (d: RegionDescriptor) => {
      let g = groups.get(d.id);
      if (!g) groups.set(d.id, (g = { region: d, keys: [], ranges: [] }));
      return g;
    };
    for (const k of [...keys].sort(compareBytes)) groupOf(await this.route(k)).keys.push(k);
    for (const r of ranges) {
      for (let from = r.start; ; ) {
        const d = await this.route(from);
        const regionEndsFirst = d.end.length > 0 && (r.end.length === 0 || compareBytes(d.end, r.end) < 0);
        groupOf(d).ranges.push({ start: from, end: regionEndsFirst ? d.end : r.end });
        if (!regionEndsFirst) break;
        from = d.end;
      }
    }
    return [...groups.values()];
  }

  /**
   * Runs `fn` once per region over its keys; a group whose region changed (split, stale route) is re-grouped
   * and retried, so every key is served by exactly the region that owns it.
   */
  async forKeys<T>(keys: Buffer[], method: Method, build: (keys: Buffer[]) => Record<string, unknown>, onReply: (keys: Buffer[], res: T) => void): Promise<void> {
    await this.forItems<T>(keys, [], method, (g) => build(g.keys), (g, res) => onReply(g.keys, res));
  }

  /** forKeys over keys and range parts together: one request per region carries both. */
  async forItems<T>(keys: Buffer[], ranges: KeyRange[], method: Method, build: (g: RegionGroup) => Record<string, unknown>, onReply: (g: RegionGroup, res: T) => void): Promise<void> {
    let pending = { keys, ranges };
    for (let round = 0; pending.keys.length + pending.ranges.length > 0; round++) {
      if (round >= MAX_REGION_ATTEMPTS) throw new UnavailableError(`${method}: keys keep moving between regions`);
      const groups = await this.groupItems(pending.keys, pending.ranges);
      const retry: typeof pending = { keys: [], ranges: [] };
      await Promise.all(
        groups.map(async (g) => {
          try {
            const { res } = await this.onRegion<T>(g.keys[0] ?? g.ranges[0]!.start, method, (d) => {
              if (!groupFits(g, d)) throw new KeyNotInRegionError('keys moved to another region');
              return build(g);
            });
            onReply(g, res);
          } catch (err) {
            if (!(err instanceof EpochNotMatchError || err instanceof KeyNotInRegionError)) throw err;
            retry.keys.push(...g.keys);
            retry.ranges.push(...g.ranges);
          }
        }),
      );
      pending = retry;
    }
  }

  // ---- reads -------------------------------------------------------------------------------------------

  /** Snapshot read of one key at ts (a fresh TSO timestamp if not given). */
  async get(key: Buffer, ts?: bigint): Promise<Buffer | undefined> {
    const readTs = ts ?? (await this.tso());
    const bypass: bigint[] = [];
    for (let round = 0; round < MAX_LOCK_RESOLVE_ROUNDS; round++) {
      const { res } = await this.onRegion<any>(key, 'Get', () => ({ key, version: readTs.toString(), bypass_locks: bypass.map(String) }));
      if (!res.error) return res.not_found ? undefined : asBuffer(res.value);
      await this.handleReadError(res.error, readTs, bypass);
    }
    throw new TxnConflictError(`read of ${key.toString('hex')} kept meeting locks`);
  }

  /**
   * The latest value of key, linearizable, without this client's TSO call: a Get at version 0, for which the
   * region leader takes the read's timestamp from the TSO while its ReadIndex round runs (RegionActor.read).
   * When the leader cannot (a lock at that version, which needs the version to be resolved and read past, or a
   * store with no TSO) the key is read again at a fresh timestamp of this client's, which is just as recent.
   */
  async getLatest(key: Buffer): Promise<Buffer | undefined> {
    try {
      const { res } = await this.onRegion<any>(key, 'Get', () => ({ key, version: '0', bypass_locks: [] }));
      if (!res.error) return res.not_found ? undefined : asBuffer(res.value);
    } catch (err) {
      if (!(err instanceof FailedPreconditionError)) throw err;
    }
    return this.get(key);
  }

  /**
   * Snapshot read of many keys at one ts with one BatchGet per region (one ReadIndex per region, not one per
   * key); absent keys are missing from the map (keyed by hex). A region's batch stops at the first lock it
   * meets; the lock is settled (or, when its primary was pushed above the read, bypassed) and that region's
   * keys are read again, at most MAX_LOCK_RESOLVE_ROUNDS times.
   */
  async batchGet(keys: Buffer[], ts?: bigint): Promise<Map<string, Buffer>> {
    const readTs = ts ?? (await this.tso());
    const out = new Map<string, Buffer>();
    const bypass: bigint[] = [];
    let pending = keys;
    for (let round = 0; pending.length > 0; round++) {
      if (round >= MAX_LOCK_RESOLVE_ROUNDS) throw new TxnConflictError('batch read kept meeting locks');
      const locks: any[] = [];
      const again: Buffer[] = [];
      await this.forKeys<any>(pending, 'BatchGet', (ks) => ({ keys: ks, version: readTs.toString(), bypass_locks: bypass.map(String) }), (ks, res) => {
        if (res.error?.locked) {
          locks.push(res.error.locked);
          again.push(...ks);
        } else if (res.error) {
          throw new TxnConflictError(`batch read refused: ${describeKeyError(res.error)}`);
        } else {
          for (const p of res.pairs ?? []) out.set(asBuffer(p.key).toString('hex'), asBuffer(p.value));
        }
      });
      const outcomes = await Promise.all(locks.map((l) => this.resolveLock(l, readTs)));
      outcomes.forEach((o, i) => o === 'bypass' && bypass.push(BigInt(locks[i].lock_version)));
      if (outcomes.includes('wait')) await sleep(this.retryClock, LOCK_WAIT_MS);
      pending = again;
    }
    return out;
  }

  /**
   * scan at ts, plus for each pair the value of the key its value names (`ref`, see ScanRefs) and the values
   * of `keys`, all at ts: one ScanRefs per region the scan walks; references and keys in other regions are
   * read there with one batchGet at the end.
   */
  async scanRefs(start: Buffer, end: Buffer, limit: number, ts: bigint, ref: RefSpec, keys: Buffer[] = []): Promise<ScanRefsResult> {
    const pairs: ScanRefsResult['pairs'] = [];
    const found = new Map<string, Buffer>();
    const elsewhere: Array<{ at: number; key: Buffer }> = [];
    const bypass: bigint[] = [];
    let unread = keys;
    for (let from = start, rounds = 0; pairs.length < limit; rounds++) {
      if (rounds > MAX_LOCK_RESOLVE_ROUNDS * 4) throw new TxnConflictError('scan kept meeting locks');
      let sent: Buffer[] = [];
      const { res, region } = await this.onRegion<any>(from, 'ScanRefs', (d) => {
        sent = unread.filter((k) => inRange(k, d.start, d.end));
        return {
          start_key: from, end_key: end, limit: Math.min(limit - pairs.length, MAX_SCAN_LIMIT), version: ts.toString(), bypass_locks: bypass.map(String),
          ref_prefix: ref.prefix, ref_offset: ref.offset, ref_length: ref.length, keys: sent,
        };
      });
      if (res.error) {
        await this.handleReadError(res.error, ts, bypass);
        continue;
      }
      for (const p of res.pairs) {
        if (p.ref_elsewhere?.length > 0) elsewhere.push({ at: pairs.length, key: asBuffer(p.ref_elsewhere) });
        pairs.push({ key: asBuffer(p.key), value: asBuffer(p.value), ref: p.ref_found ? asBuffer(p.ref_value) : undefined });
      }
      for (const f of res.found ?? []) found.set(asBuffer(f.key).toString('hex'), asBuffer(f.value));
      unread = unread.filter((k) => !sent.includes(k));
      if (pairs.length >= limit || region.end.length === 0 || (end.length > 0 && compareBytes(region.end, end) >= 0)) break;
      from = region.end;
    }
    const rest = [...unread, ...elsewhere.map((e) => e.key)];
    if (rest.length > 0) {
      const got = await this.batchGet(rest, ts);
      for (const k of unread) if (got.has(k.toString('hex'))) found.set(k.toString('hex'), got.get(k.toString('hex'))!);
      for (const e of elsewhere) pairs[e.at]!.ref = got.get(e.key.toString('hex'));
    }
    return { pairs, found };
  }

  /** Visible pairs in [start, end) at ts, at most limit, walking regions in key order. */
  async scan(start: Buffer, end: Buffer, limit: number, ts?: bigint): Promise<Array<{ key: Buffer; value: Buffer }>> {
    const readTs = ts ?? (await this.tso());
    const out: Array<{ key: Buffer; value: Buffer }> = [];
    let from = start;
    const bypass: bigint[] = [];
    for (let rounds = 0; out.length < limit; rounds++) {
      if (rounds > MAX_LOCK_RESOLVE_ROUNDS * 4) throw new TxnConflictError('scan kept meeting locks');
      const { res, region } = await this.onRegion<any>(from, 'Scan', () => ({
        start_key: from,
        end_key: end,
        limit: Math.min(limit - out.length, MAX_SCAN_LIMIT),
        version: readTs.toString(),
        bypass_locks: bypass.map(String),
      }));
      if (res.error) {
        await this.handleReadError(res.error, readTs, bypass);
        continue;
      }
      for (const p of res.pairs) out.push({ key: asBuffer(p.key), value: asBuffer(p.value) });
      if (out.length >= limit || region.end.length === 0 || (end.length > 0 && compareBytes(region.end, end) >= 0)) break;
      from = region.end;
    }
    return out;
  }

  /** A read met a lock: settle it (commit/rollback) or learn it may be bypassed. */
  private async handleReadError(e: WireKeyError, readTs: bigint, bypass: bigint[]): Promise<void> {
    if (!e.locked) throw new TxnConflictError(describeKeyError(e));
    const outcome = await this.resolveLock(e.locked, readTs);
    if (outcome === 'bypass') bypass.push(BigInt(e.locked.lock_version));
    else if (outcome === 'wait') await sleep(this.retryClock, LOCK_WAIT_MS);
  }

  /**
   * CheckTxnStatus on the lock's primary (pushing its min commit ts above callerTs), then ResolveLock of the
   * key when the transaction is decided. 'bypass' = alive but committing above callerTs.
   */
  async resolveLock(lock: any, callerTs: bigint): Promise<'resolved' | 'bypass' | 'wait'> {
    this.stats.lockResolves++;
    const primary = Buffer.from(lock.primary_lock);
    const key = Buffer.from(lock.key);
    const lockTs = String(lock.lock_version);
    const { res: st } = await this.onRegion<any>(primary, 'CheckTxnStatus', () => ({
      primary_key: primary,
      lock_ts: lockTs,
      caller_start_ts: callerTs.toString(),
      rollback_if_not_exist: true,
    }));
    if (st.error) return 'wait';
    const commitTs = BigInt(st.commit_version ?? 0);
    if (commitTs === 0n && Number(st.lock_ttl) > 0) return callerTs > 0n ? 'bypass' : 'wait';
    await this.onRegion<any>(key, 'ResolveLock', () => ({ start_version: lockTs, commit_version: commitTs.toString(), keys: [key] }));
    return 'resolved';
  }
}

export interface TxnMutation {
  op: 'PUT' | 'DELETE' | 'LOCK';
  key: Buffer;
  value?: Buffer;
  assert_not_exist?: boolean;
}

/**
 * One optimistic transaction: buffered writes, snapshot reads at startTs, and the reads it depends on (LOCKed
 * keys, read ranges) checked where it commits; commit by 1PC (commit ts picked by the region leader) or 2PC.
 */
export class Txn {
  private readonly writes = new Map<string, TxnMutation>();
  private readonly ranges: KeyRange[] = [];
  private done = false;

  constructor(
    private readonly client: StoreClient,
    readonly startTs: bigint,
  ) {}

  async get(key: Buffer): Promise<Buffer | undefined> {
    const own = this.writes.get(key.toString('hex'));
    if (own && own.op !== 'LOCK') return own.op === 'PUT' ? own.value : undefined;
    return this.client.get(key, this.startTs);
  }

  put(key: Buffer, value: Buffer, opts: { assertNotExist?: boolean } = {}): void {
    this.writes.set(key.toString('hex'), { op: 'PUT', key, value, ...(opts.assertNotExist ? { assert_not_exist: true } : {}) });
  }

  delete(key: Buffer): void {
    this.writes.set(key.toString('hex'), { op: 'DELETE', key });
  }

  /** The commit fails (conflict) if key changed after startTs; a write of the same key supersedes it. */
  lock(key: Buffer): void {
    const hex = key.toString('hex');
    if (!this.writes.has(hex)) this.writes.set(hex, { op: 'LOCK', key });
  }

  /** The commit fails (conflict) if any key in [start, end) (empty end = open) changed after startTs. */
  readRange(start: Buffer, end: Buffer): void {
    this.ranges.push({ start, end });
  }

  /**
   * Commits; resolves with the commit ts (0n when nothing is written: LOCKs and read ranges alone are not
   * checked). Throws TxnConflictError on conflict.
   */
  async commit(): Promise<bigint> {
    if (this.done) throw new FailedPreconditionError('transaction already finished');
    this.done = true;
    const muts = [...this.writes.values()].sort((a, b) => compareBytes(a.key, b.key));
    if (!muts.some((m) => m.op !== 'LOCK')) return 0n;
    const groups = await this.client.groupItems(muts.map((m) => m.key), this.ranges);
    if (groups.length === 1) {
      try {
        const committed = await this.commitOnePhase(muts);
        if (committed !== undefined) return committed;
        // The leader's floor is still the wall-clock fallback (or our commit ts was overtaken): two phases.
      } catch (err) {
        if (!(err instanceof EpochNotMatchError || err instanceof KeyNotInRegionError)) throw err;
        // The keys no longer share a region: fall back to two phases.
      }
    }
    return this.commitTwoPhase(muts);
  }

  /**
   * The commit ts, or undefined when the leader refused to pick one (nothing was written). Another
   * transaction's lock (a two-phase commit whose secondaries are still being committed, or one that died) is
   * settled through its primary and the commit sent again.
   */
  private async commitOnePhase(muts: TxnMutation[]): Promise<bigint | undefined> {
    for (let round = 0; ; round++) {
      const { res } = await this.client.onRegion<any>(muts[0]!.key, 'OnePhaseCommit', (d) => {
        if (!groupFits({ region: d, keys: muts.map((m) => m.key), ranges: this.ranges }, d)) throw new EpochNotMatchError('keys span regions');
        return { mutations: muts, start_version: this.startTs.toString(), commit_version: '0', read_ranges: this.ranges.map(rangeToWire) };
      });
      const errors: WireKeyError[] = res.errors ?? [];
      const err = errors[0];
      if (err?.commit_ts_expired) return undefined;
      // An earlier attempt of this very commit applied (a retry after a lost reply).
      if (err?.committed) return BigInt(err.committed);
      if (err && errors.every((e) => e.locked) && round < MAX_LOCK_RESOLVE_ROUNDS) {
        const outcomes = await Promise.all(errors.map((e) => this.client.resolveLock(e.locked, 0n)));
        if (outcomes.includes('wait')) await sleep(this.client.retryClock, LOCK_WAIT_MS);
        continue;
      }
      if (err) throw new TxnConflictError(describeKeyError(err), { startTs: this.startTs.toString() });
      this.client.stats.onePc++;
      return BigInt(res.commit_version);
    }
  }

  /**
   * Prewrites every key (and checks the read ranges) with one request per region, all regions at once;
   * answers the commit ts instead when they turn out committed already (see below).
   */
  private async prewrite(muts: TxnMutation[], primary: Buffer, lockTtlMs: number): Promise<bigint | undefined> {
    const byKey = new Map(muts.map((m) => [m.key.toString('hex'), m]));
    let pending = { keys: muts.map((m) => m.key), ranges: this.ranges };
    for (let round = 0; pending.keys.length + pending.ranges.length > 0; round++) {
      const locked: any[] = [];
      const again: typeof pending = { keys: [], ranges: [] };
      let conflict: WireKeyError | undefined;
      let committed: bigint | undefined;
      await this.client.forItems<any>(
        pending.keys,
        pending.ranges,
        'Prewrite',
        (g) => ({
          mutations: g.keys.map((k) => byKey.get(k.toString('hex'))),
          read_ranges: g.ranges.map(rangeToWire),
          primary_lock: primary,
          start_version: this.startTs.toString(),
          lock_ttl: lockTtlMs,
        }),
        (g, res) => {
          let blocked = false;
          for (const e of res.errors ?? []) {
            if (e.locked && round < MAX_LOCK_RESOLVE_ROUNDS) {
              locked.push(e.locked);
              blocked = true;
            } else if (e.committed) committed = BigInt(e.committed);
            else conflict ??= e;
          }
          // A refused prewrite wrote nothing in its region: the whole group goes again.
          if (blocked) {
            again.keys.push(...g.keys);
            again.ranges.push(...g.ranges);
          }
        },
      );
      // Our own commit record: a one-phase attempt of this transaction applied after its reply was lost.
      // It covered every key atomically, so the transaction is committed.
      if (committed !== undefined && !conflict) return committed;
      if (conflict) throw new TxnConflictError(describeKeyError(conflict), { startTs: this.startTs.toString() });
      if (locked.length === 0) return undefined;
      // Settle other transactions' locks (expired or decided ones go away), then prewrite those groups again.
      const outcomes = await Promise.all(locked.map((l) => this.client.resolveLock(l, 0n)));
      if (outcomes.includes('wait')) await sleep(this.client.retryClock, LOCK_WAIT_MS * 5);
      pending = again;
    }
  }

  private async rollback(keys: Buffer[]): Promise<void> {
    await this.client
      .forKeys<any>(keys, 'BatchRollback', (ks) => ({ start_version: this.startTs.toString(), keys: ks }), () => undefined)
      .catch(() => undefined); // best effort: readers roll back expired locks themselves
  }

  /** Pushes the primary's expiry `adviseTtlMs` ahead; false once the lock is gone (decided or rolled back). */
  private async heartbeat(primary: Buffer, adviseTtlMs: number): Promise<boolean> {
    this.client.stats.txnHeartbeats++;
    const { res } = await this.client.onRegion<any>(primary, 'TxnHeartBeat', () => ({ primary_lock: primary, start_version: this.startTs.toString(), advise_lock_ttl: adviseTtlMs }));
    return !res.error;
  }

  private async commitTwoPhase(muts: TxnMutation[]): Promise<bigint> {
    const ttl = this.client.opts.lockTtlMs ?? DEFAULT_LOCK_TTL_MS;
    const keepAlive = this.client.opts.txnHeartbeat === false ? undefined : startKeepAlive({ lockTtlMs: ttl, clock: this.client.clock, beat: (ms) => this.heartbeat(muts[0]!.key, ms) });
    try {
      return await this.commitTwoPhaseLocked(muts, ttl);
    } finally {
      keepAlive?.stop();
    }
  }

  private async commitTwoPhaseLocked(muts: TxnMutation[], ttl: number): Promise<bigint> {
    const primary = muts[0]!.key;
    const secondaries = muts.slice(1);
    try {
      const already = await this.prewrite(muts, primary, ttl);
      if (already !== undefined) return already;
    } catch (err) {
      await this.rollback(muts.map((m) => m.key));
      throw err;
    }
    let commitTs = 0n;
    for (let attempt = 0; ; attempt++) {
      commitTs = await this.client.tso();
      const { res } = await this.client.onRegion<any>(primary, 'Commit', () => ({ start_version: this.startTs.toString(), commit_version: commitTs.toString(), keys: [primary] }));
      if (!res.error) break;
      if (res.error.commit_ts_expired && attempt < MAX_COMMIT_TS_RETRIES) continue;
      if (!res.error.committed) {
        await this.rollback(muts.map((m) => m.key));
        throw new TxnConflictError(`primary commit failed: ${describeKeyError(res.error)}`, { startTs: this.startTs.toString() });
      }
    }
    this.client.stats.twoPc++;
    // The transaction is committed once the primary is: the secondaries are committed in the background, and a
    // reader that meets one still locked resolves it through the primary.
    if (secondaries.length > 0) {
      void this.client
        .forKeys<any>(secondaries.map((m) => m.key), 'Commit', (ks) => ({ start_version: this.startTs.toString(), commit_version: commitTs.toString(), keys: ks }), () => undefined)
        .catch(() => undefined);
    }
    return commitTs;
  }
}
