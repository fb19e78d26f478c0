// Owns the adapters from the store cluster to the gateway's ports: TransactionalKv over the store client's
// Percolator transactions (1PC when one region holds every key, else 2PC; snapshot reads that resolve locks,
// batch reads as one BatchGet per region, a directory page with its inodes as one ScanRefs per region),
// and an ApplyEventSource over every store's WatchApplied stream (reconnecting with capped backoff; duplicates
// from several replicas are dropped by the router).
import type * as grpc from '@grpc/grpc-js';
import type { Clock, TimerHandle } from '../../common/clock.js';
import type { Logger } from '../../common/log.js';
import { Backoff } from '../../common/retry.js';
import { StoreClient, Txn, TxnConflictError } from '../../store/client/client.js';
import { STORE_KV_PROTO, STORE_KV_SERVICE } from '../../store/server/service.js';
import { createClient, loadProto, setToken } from '../../transport/index.js';
import * as grpcjs from '@grpc/grpc-js';
import {
  KvAlreadyExistsError,
  KvConflictError,
  type ApplyEventSource,
  type KvApplyEvent,
  type KvPair,
  type KvRef,
  type KvRefScan,
  type KvTxn,
  type TransactionalKv,
} from '../kv.js';

/** Reconnect backoff of a store's apply stream: first and largest pause. */
export const WATCH_RECONNECT_MIN_MS = 100;
export const WATCH_RECONNECT_MAX_MS = 2_000;

function mapConflict(err: unknown): unknown {
  if (!(err instanceof TxnConflictError)) return err;
  if (/already exists/.test(err.message)) return new KvAlreadyExistsError(err.message, err.details);
  return new KvConflictError(err.message, err.details);
}

class StoreTxn implements KvTxn {
  private readonly txn: Txn;
  constructor(
    private readonly client: StoreClient,
    readonly startTs: bigint,
  ) {
    this.txn = new Txn(client, startTs);
  }
  get(key: Buffer): Promise<Buffer | undefined> {
    return this.txn.get(key).catch((e) => Promise.reject(mapConflict(e)));
  }
  batchGet(keys: Buffer[]): Promise<Map<string, Buffer>> {
    return this.client.batchGet(keys, this.startTs).catch((e) => Promise.reject(mapConflict(e)));
  }
  scan(start: Buffer, end: Buffer, limit: number): Promise<KvPair[]> {
    return this.client.scan(start, end, limit, this.startTs).catch((e) => Promise.reject(mapConflict(e)));
  }
  scanRefs(start: Buffer, end: Buffer, limit: number, ref: KvRef, keys: Buffer[]): Promise<KvRefScan> {
    return this.client.scanRefs(start, end, limit, this.startTs, ref, keys).catch((e) => Promise.reject(mapConflict(e)));
  }
  put(key: Buffer, value: Buffer, opts: { assertNotExist?: boolean } = {}): void {
    this.txn.put(key, value, opts);
  }
  delete(key: Buffer): void {
    this.txn.delete(key);
  }
  assertUnchanged(key: Buffer): void {
    this.txn.lock(key);
  }
  assertRangeUnchanged(start: Buffer, end: Buffer): void {
    this.txn.readRange(start, end);
  }
  commit(): Promise<bigint> {
    return this.txn.commit().catch((e) => Promise.reject(mapConflict(e)));
  }
}

export class StoreKvAdapter implements TransactionalKv {
  constructor(readonly client: StoreClient) {}
  begin(startTs: bigint): KvTxn {
    return new StoreTxn(this.client, startTs);
  }
  readLatest(key: Buffer): Promise<Buffer | undefined> {
    return this.client.getLatest(key).catch((e) => Promise.reject(mapConflict(e)));
  }
}

export interface StoreEventSourceOptions {
  /** store id → KV address. */
  stores: Map<number, string>;
  clock: Clock;
  token?: string;
  logger?: Logger;
}

/** Follows WatchApplied on every store while at least one listener is subscribed. */
export class StoreEventSource implements ApplyEventSource {
  private readonly listeners = new Set<(ev: KvApplyEvent) => void>();
  private readonly links: Array<{ stop(): void }> = [];

  constructor(private readonly o: StoreEventSourceOptions) {}

  subscribe(listener: (ev: KvApplyEvent) => void): () => void {
    this.listeners.add(listener);
    if (this.links.length === 0) for (const [id, addr] of this.o.stores) this.links.push(this.follow(id, addr));
    return () => {
      this.listeners.delete(listener);
      if (this.listeners.size === 0) for (const l of this.links.splice(0)) l.stop();
    };
  }

  private follow(storeId: number, addr: string): { stop(): void } {
    const client = createClient(loadProto(STORE_KV_PROTO).clientConstructor(STORE_KV_SERVICE), addr);
    let stopped = false;
    let call: grpc.ClientReadableStream<any> | undefined;
    let timer: TimerHandle | undefined;
    const backoff = new Backoff({ backoffBaseMs: WATCH_RECONNECT_MIN_MS, backoffMaxMs: WATCH_RECONNECT_MAX_MS, jitter: 0 });
    const connect = () => {
      if (stopped) return;
      const md = new grpcjs.Metadata();
      if (this.o.token) setToken(md, this.o.token);
      call = (client as any).WatchApplied({ region_id: 0 }, md) as grpc.ClientReadableStream<any>;
      call.on('data', (w: any) => {
        backoff.reset();
        const ev = toEvent(w);
        if (ev) for (const l of this.listeners) l(ev);
      });
      const again = () => {
        call?.removeAllListeners();
        call = undefined;
        if (stopped) return;
        timer = this.o.clock.setTimer(backoff.next(), connect);
      };
      call.on('error', (err) => {
        this.o.logger?.debug({ err, storeId }, 'apply stream ended; reconnecting');
        again();
      });
      call.on('end', again);
    };
    connect();
    return {
      stop: () => {
        stopped = true;
        timer?.cancel();
        call?.cancel();
        client.close();
      },
    };
  }
}

/**
 * A store emits an apply event only for entries that wrote committed records (put/delete in the write family),
 * whatever the command was called (one_pc, commit, resolve), so the commit version and the mutations decide:
 * a rollback or a prewrite carries no committed mutation.
 */
function toEvent(w: any): KvApplyEvent | undefined {
  const commitVersion = BigInt(w.commit_version ?? 0);
  if (commitVersion === 0n || !(w.mutations?.length > 0)) return undefined;
  return {
    cursor: { regionId: Number(w.region_id), term: Number(w.term), index: Number(w.index) },
    commitVersion,
    mutations: (w.mutations ?? []).map((m: any) => ({ op: m.op === 'DELETE' ? 'delete' : 'put', key: Buffer.from(m.key) })),
  };
}
