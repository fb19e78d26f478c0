// Owns the gRPC face of a store: nokv.kv.v1.StoreKV. It validates and converts requests (bad input is
// INVALID_ARGUMENT before anything reaches raft), admits them through the StoreNode (region errors travel as
// typed statuses), and converts Percolator outcomes into KeyError messages. Also the apply-event stream.
import type * as grpc from '@grpc/grpc-js';
import { InvalidArgumentError, UnavailableError } from '../../common/errors.js';
import type { Logger } from '../../common/log.js';
import { loadProto, toGrpcError, traceOf, u64ToNumber, unaryHandler, type ServiceBinding } from '../../transport/index.js';
import { MAX_SCAN_LIMIT, type RefSpec } from '../percolator/read.js';
import { keyErrorToWire, lockToWire, type ReadOp } from './reads.js';
import type { CheckTxnStatusResult, KeyError, KeyRange, Mutation } from '../percolator/types.js';
import { uniqueKeys } from '../percolator/txn.js';
import type { MutationOp } from '../mvcc/types.js';
import { compareBytes } from '../keys.js';
import type { RegionDescriptor } from '../region/descriptor.js';
import type { ApplyEvent } from '../region/state-machine.js';
import type { RequestContext, StoreNode, StoreRequests } from './node.js';
import { actorTrace } from '../../actors/index.js';

export const STORE_KV_PROTO = 'nokv/kv/v1/store_kv.proto';
export const STORE_KV_SERVICE = 'nokv.kv.v1.StoreKV';
/** Longest user key: its memcomparable encoding plus a version must fit LMDB's 511-byte key limit. */
export const MAX_USER_KEY_BYTES = 400;
export const MAX_VALUE_BYTES = 1 << 20;
/** Keys or mutations in one request. */
export const MAX_KEYS_PER_REQUEST = 10_000;
/** Lock TTL bounds (ms). */
export const MAX_LOCK_TTL_MS = 600_000;
/** Events buffered per watch stream before the stream is ended as too slow. */
export const MAX_WATCH_BUFFERED_EVENTS = 10_000;

const OPS: MutationOp[] = ['put', 'delete', 'lock'];
const OP_NAMES = ['PUT', 'DELETE', 'LOCK'];

// ---- request validation --------------------------------------------------------------------------------

function ts(v: unknown, field: string, required = true): bigint {
  let n: bigint;
  try {
    n = BigInt((v as string | number | undefined) ?? 0);
  } catch {
    throw new InvalidArgumentError(`${field} is not an unsigned integer`);
  }
  if (n < 0n) throw new InvalidArgumentError(`${field} must not be negative`);
  if (required && n === 0n) throw new InvalidArgumentError(`${field} is required`);
  return n;
}

function key(v: unknown, field: string): Buffer {
  if (!(v instanceof Uint8Array) || v.length === 0) throw new InvalidArgumentError(`${field} must be a non-empty key`);
  if (v.length > MAX_USER_KEY_BYTES) throw new InvalidArgumentError(`${field} is ${v.length} bytes; the limit is ${MAX_USER_KEY_BYTES}`);
  return Buffer.from(v);
}

function keys(v: unknown, field: string): Buffer[] {
  if (!Array.isArray(v) || v.length === 0) throw new InvalidArgumentError(`${field} must list at least one key`);
  if (v.length > MAX_KEYS_PER_REQUEST) throw new InvalidArgumentError(`${field} lists ${v.length} keys; the limit is ${MAX_KEYS_PER_REQUEST}`);
  return uniqueKeys(v.map((k, i) => key(k, `${field}[${i}]`)));
}

function context(v: any): RequestContext {
  if (!v) throw new InvalidArgumentError('context is required');
  const regionId = u64ToNumber(v.region_id ?? 0);
  if (regionId <= 0) throw new InvalidArgumentError('context.region_id is required');
  const ctx: RequestContext = { regionId };
  if (v.epoch) ctx.epoch = { version: u64ToNumber(v.epoch.version), confVersion: u64ToNumber(v.epoch.conf_version) };
  const storeId = u64ToNumber(v.store_id ?? 0);
  if (storeId > 0) ctx.storeId = storeId;
  return ctx;
}

function mutations(v: unknown, allowEmpty = false): Mutation[] {
  if (allowEmpty && (v === undefined || (Array.isArray(v) && v.length === 0))) return [];
  if (!Array.isArray(v) || v.length === 0) throw new InvalidArgumentError('mutations must not be empty');
  if (v.length > MAX_KEYS_PER_REQUEST) throw new InvalidArgumentError(`too many mutations (limit ${MAX_KEYS_PER_REQUEST})`);
  const out = v.map((m: any, i: number): Mutation => {
    const op = OPS[OP_NAMES.indexOf(String(m.op))];
    if (!op) throw new InvalidArgumentError(`mutations[${i}].op is not PUT, DELETE or LOCK`);
    const value = Buffer.from(m.value ?? []);
    if (value.length > MAX_VALUE_BYTES) throw new InvalidArgumentError(`mutations[${i}].value exceeds ${MAX_VALUE_BYTES} bytes`);
    return { op, key: key(m.key, `mutations[${i}].key`), ...(op === 'put' ? { value } : {}), assertNotExist: Boolean(m.assert_not_exist) };
  });
  const sorted = [...out].sort((a, b) => compareBytes(a.key, b.key));
  for (let i = 1; i < sorted.length; i++) {
    if (compareBytes(sorted[i]!.key, sorted[i - 1]!.key) === 0) throw new InvalidArgumentError(`key ${sorted[i]!.key.toString('hex')} appears twice in mutations`);
  }
  return out;
}

/** Read ranges: [start, end) with a non-empty start (admitted like a key) and an end above it (empty = open). */
function readRanges(v: unknown): KeyRange[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw new InvalidArgumentError('read_ranges must be a list');
  if (v.length > MAX_KEYS_PER_REQUEST) throw new InvalidArgumentError(`too many read_ranges (limit ${MAX_KEYS_PER_REQUEST})`);
  return v.map((r: any, i: number) => {
    const start = key(r?.start_key, `read_ranges[${i}].start_key`);
    const end = Buffer.from(r?.end_key ?? []);
    if (end.length > MAX_USER_KEY_BYTES) throw new InvalidArgumentError(`read_ranges[${i}].end_key is longer than ${MAX_USER_KEY_BYTES} bytes`);
    if (end.length > 0 && compareBytes(end, start) <= 0) throw new InvalidArgumentError(`read_ranges[${i}] is empty (end_key not above start_key)`);
    return { start, end };
  });
}

function scanLimit(v: unknown): number {
  const limit = Number(v);
  if (!(limit > 0 && limit <= MAX_SCAN_LIMIT)) throw new InvalidArgumentError(`limit must be 1..${MAX_SCAN_LIMIT}`);
  return limit;
}

function refSpec(req: any): RefSpec {
  const prefix = Buffer.from(req.ref_prefix ?? []);
  const length = Number(req.ref_length ?? 0);
  const offset = Number(req.ref_offset ?? 0);
  if (!Number.isInteger(length) || length < 0 || prefix.length + length > MAX_USER_KEY_BYTES) {
    throw new InvalidArgumentError(`ref_prefix and ref_length make keys longer than ${MAX_USER_KEY_BYTES} bytes`);
  }
  if (!Number.isInteger(offset) || Math.abs(offset) > MAX_VALUE_BYTES) throw new InvalidArgumentError('ref_offset out of range');
  return { prefix, offset, length };
}

/** The first key above every key that starts with prefix (empty = none: the prefix is all 0xff or empty). */
function prefixUpperBound(prefix: Buffer): Buffer {
  for (let i = prefix.length - 1; i >= 0; i--) {
    if (prefix[i]! < 0xff) return Buffer.concat([prefix.subarray(0, i), Buffer.from([prefix[i]! + 1])]);
  }
  return Buffer.alloc(0);
}

/** The smallest range holding [start, end), every key ref can name and `keys`: what a read must wait on. */
function covering(start: Buffer, end: Buffer, ref: RefSpec, extra: Buffer[]): { start: Buffer; end: Buffer } {
  const lows = [start, ...extra, ...(ref.length > 0 ? [ref.prefix] : [])];
  const highs = [end, ...extra.map((k) => Buffer.concat([k, Buffer.from([0])])), ...(ref.length > 0 ? [prefixUpperBound(ref.prefix)] : [])];
  const low = lows.reduce((a, b) => (compareBytes(a, b) <= 0 ? a : b));
  if (highs.some((h) => h.length === 0)) return { start: low, end: Buffer.alloc(0) };
  return { start: low, end: highs.reduce((a, b) => (compareBytes(a, b) >= 0 ? a : b)) };
}

function ttl(v: unknown): number {
  const n = u64ToNumber((v as string) ?? 0);
  if (n <= 0 || n > MAX_LOCK_TTL_MS) throw new InvalidArgumentError(`lock_ttl must be 1..${MAX_LOCK_TTL_MS} ms`);
  return n;
}

// ---- response conversion -------------------------------------------------------------------------------

export { keyErrorToWire } from './reads.js';

export function descriptorToWire(d: RegionDescriptor) {
  return {
    region_id: d.id,
    start_key: d.start,
    end_key: d.end,
    epoch: { version: d.epoch.version, conf_version: d.epoch.confVersion },
    peers: d.peers.map((p) => ({ store_id: p, peer_id: p })),
  };
}

function eventToWire(ev: ApplyEvent) {
  return {
    region_id: ev.regionId,
    index: ev.index,
    term: ev.term,
    command: ev.command,
    start_version: ev.startTs.toString(),
    commit_version: ev.commitTs.toString(),
    mutations: ev.mutations.map((m) => ({ op: m.op === 'put' ? 'PUT' : 'DELETE', key: m.key })),
  };
}

const ACTIONS: Record<CheckTxnStatusResult['action'], string> = {
  none: 'NO_ACTION',
  ttl_expire_rollback: 'TTL_EXPIRE_ROLLBACK',
  lock_not_exist_rollback: 'LOCK_NOT_EXIST_ROLLBACK',
  min_commit_ts_pushed: 'MIN_COMMIT_TS_PUSHED',
};

// ---- the service ---------------------------------------------------------------------------------------

export interface StoreKvServiceOptions {
  node: () => StoreNode | undefined;
  storeId: number;
  logger: Logger;
  /**
   * A cluster-unique id for the new region of a SplitRegion that names none (the coordinators' AllocID). Without
   * it (a store outside a cluster) the store takes one above the ids it hosts, which two stores splitting at the
   * same time, or one whose apply lags, can both take.
   */
  allocRegionId?: () => Promise<number>;
}

export interface StoreKvService {
  binding: ServiceBinding;
  /** Ends every watch stream (shutdown). */
  endStreams(): void;
}

export function storeKvService(opts: StoreKvServiceOptions): StoreKvService {
  const proto = loadProto(STORE_KV_PROTO);
  // The call's trace (x-nokv-trace) becomes the trace of the region actor's message, so the region's log
  // lines for this request carry the caller's trace id.
  const h = <Req, Res>(method: string, fn: (node: StoreRequests, req: any) => Promise<Res>) =>
    unaryHandler<Req, Res>(
      async (req, call) => {
        const node = opts.node();
        if (!node) throw new UnavailableError('store is not serving yet');
        return fn(node.traced(actorTrace(traceOf(call), `grpc:${method}`)), req);
      },
      { logger: opts.logger },
    );
  const bypass = (v: unknown): bigint[] => (Array.isArray(v) ? v.map((x, i) => ts(x, `bypass_locks[${i}]`)) : []);
  const streams = new Map<grpc.ServerWritableStream<any, any>, () => void>();

  const impl: grpc.UntypedServiceImplementation = {
    Get: h('Get', async (node, req) => {
      const k = key(req.key, 'key');
      // 0: the latest version — the region leader takes the read's timestamp from the TSO itself (RegionActor.read).
      const readTs = ts(req.version, 'version', false);
      return node.read(context(req.context), [k], { kind: 'get', key: k, readTs, bypassLocks: bypass(req.bypass_locks) }, { readTs });
    }),
    BatchGet: h('BatchGet', async (node, req) => {
      const ks = keys(req.keys, 'keys');
      const readTs = ts(req.version, 'version');
      return node.read(context(req.context), ks, { kind: 'batchGet', keys: ks, readTs, bypassLocks: bypass(req.bypass_locks) }, { readTs });
    }),
    Scan: h('Scan', async (node, req) => {
      const start = Buffer.from(req.start_key ?? []);
      const end = Buffer.from(req.end_key ?? []);
      const limit = scanLimit(req.limit);
      if (end.length > 0 && compareBytes(end, start) <= 0) throw new InvalidArgumentError('end_key must be above start_key');
      const readTs = ts(req.version, 'version');
      const op: ReadOp = { kind: 'scan', start, end, limit, keyOnly: Boolean(req.key_only), readTs, bypassLocks: bypass(req.bypass_locks) };
      return node.read(context(req.context), [start], op, { readTs, range: { start, end } });
    }),
    ScanRefs: h('ScanRefs', async (node, req) => {
      const start = Buffer.from(req.start_key ?? []);
      const end = Buffer.from(req.end_key ?? []);
      const limit = scanLimit(req.limit);
      if (end.length > 0 && compareBytes(end, start) <= 0) throw new InvalidArgumentError('end_key must be above start_key');
      const ref = refSpec(req);
      const extra = Array.isArray(req.keys) && req.keys.length > 0 ? keys(req.keys, 'keys') : [];
      const readTs = ts(req.version, 'version');
      const op: ReadOp = { kind: 'scanRefs', start, end, limit, ref, keys: extra, readTs, bypassLocks: bypass(req.bypass_locks) };
      return node.read(context(req.context), [start, ...extra], op, { readTs, range: covering(start, end, ref, extra) });
    }),
    // Commands go to the region as data: it sets the epoch version `v` it admits them at and, where a
    // request carries `nowMs`, its own clock (see RegionActor.stamp).
    Prewrite: h('Prewrite', async (node, req) => {
      const ranges = readRanges(req.read_ranges);
      const muts = mutations(req.mutations, ranges.length > 0);
      const primary = key(req.primary_lock, 'primary_lock');
      const startTs = ts(req.start_version, 'start_version');
      const lockTtlMs = ttl(req.lock_ttl);
      const minCommitTs = ts(req.min_commit_ts, 'min_commit_ts', false);
      const admitted = [...muts.map((m) => m.key), ...ranges.map((r) => r.start)];
      const errs = (await node.propose(context(req.context), admitted, {
        t: 'prewrite',
        v: 0,
        req: { mutations: muts, primary, startTs, lockTtlMs, minCommitTs, nowMs: 0, ...(ranges.length > 0 ? { readRanges: ranges } : {}) },
      })) as KeyError[];
      return { errors: errs.map(keyErrorToWire) };
    }),
    Commit: h('Commit', async (node, req) => {
      const ks = keys(req.keys, 'keys');
      const startTs = ts(req.start_version, 'start_version');
      const commitTs = ts(req.commit_version, 'commit_version');
      const err = (await node.propose(context(req.context), ks, { t: 'commit', v: 0, req: { keys: ks, startTs, commitTs } })) as KeyError | undefined;
      return { error: keyErrorToWire(err) };
    }),
    BatchRollback: h('BatchRollback', async (node, req) => {
      const ks = keys(req.keys, 'keys');
      const startTs = ts(req.start_version, 'start_version');
      const err = (await node.propose(context(req.context), ks, { t: 'rollback', v: 0, req: { keys: ks, startTs } })) as KeyError | undefined;
      return { error: keyErrorToWire(err) };
    }),
    ResolveLock: h('ResolveLock', async (node, req) => {
      const ks = Array.isArray(req.keys) && req.keys.length > 0 ? keys(req.keys, 'keys') : [];
      const startTs = ts(req.start_version, 'start_version');
      const commitTs = ts(req.commit_version, 'commit_version', false);
      const n = (await node.propose(context(req.context), ks, { t: 'resolve', v: 0, req: { keys: ks, startTs, commitTs } })) as number;
      return { resolved: n };
    }),
    CheckTxnStatus: h('CheckTxnStatus', async (node, req) => {
      const primary = key(req.primary_key, 'primary_key');
      const lockTs = ts(req.lock_ts, 'lock_ts');
      const callerStartTs = ts(req.caller_start_ts, 'caller_start_ts', false);
      const r = (await node.propose(context(req.context), [primary], {
        t: 'check',
        v: 0,
        req: { primary, lockTs, callerStartTs, rollbackIfNotExist: Boolean(req.rollback_if_not_exist), nowMs: 0 },
      })) as CheckTxnStatusResult;
      return {
        error: keyErrorToWire(r.error),
        lock_ttl: r.lockTtlMs,
        commit_version: r.commitTs.toString(),
        action: ACTIONS[r.action],
        lock: r.lock ? lockToWire(r.lock) : null,
      };
    }),
    TxnHeartBeat: h('TxnHeartBeat', async (node, req) => {
      const primary = key(req.primary_lock, 'primary_lock');
      const startTs = ts(req.start_version, 'start_version');
      const adviseTtlMs = ttl(req.advise_lock_ttl);
      const r = (await node.propose(context(req.context), [primary], { t: 'heartbeat', v: 0, req: { primary, startTs, adviseTtlMs, nowMs: 0 } })) as {
        ttlMs: number;
        error?: KeyError;
      };
      return { error: keyErrorToWire(r.error), lock_ttl: r.ttlMs };
    }),
    OnePhaseCommit: h('OnePhaseCommit', async (node, req) => {
      const ranges = readRanges(req.read_ranges);
      const muts = mutations(req.mutations);
      const startTs = ts(req.start_version, 'start_version');
      const asked = ts(req.commit_version, 'commit_version', false);
      if (asked > 0n && asked <= startTs) throw new InvalidArgumentError('commit_version must be above start_version');
      const admitted = [...muts.map((m) => m.key), ...ranges.map((r) => r.start)];
      const writes = muts.filter((m) => m.op !== 'lock').map((m) => m.key);
      // commitTs 0n in the command: the region's guard picks it (or takes `asked`).
      const r = await node.onePhaseCommit(context(req.context), admitted, writes, startTs, asked, {
        t: 'one_pc',
        v: 0,
        req: { mutations: muts, startTs, commitTs: 0n, ...(ranges.length > 0 ? { readRanges: ranges } : {}) },
      });
      return { errors: r.errors.map(keyErrorToWire), commit_version: r.commitTs.toString() };
    }),
    SplitRegion: h('SplitRegion', async (node, req) => {
      const splitKey = key(req.split_key, 'split_key');
      let newId = u64ToNumber(req.new_region_id ?? 0);
      if (newId === 0 && opts.allocRegionId) newId = await opts.allocRegionId();
      const r = await node.split(context(req.context), splitKey, newId);
      return { left: descriptorToWire(r.left), right: descriptorToWire(r.right) };
    }),
    ListRegions: h('ListRegions', async (node) => ({
      store_id: opts.storeId,
      regions: [...node.regions.values()].flatMap((e) => {
        const v = e.view;
        if (!v) return [];
        return [{ descriptor: descriptorToWire(v.desc), leader_store_id: v.leaderId, term: v.term, applied_index: v.applied, is_leader: v.isLeader && e.state === 'running' }];
      }),
    })),
    WatchApplied: (call: grpc.ServerWritableStream<any, any>) => {
      const node = opts.node();
      if (!node) return call.destroy(toGrpcError(new UnavailableError('store is not serving yet')));
      const regionId = Number(call.request.region_id ?? 0);
      let unlisten: () => void;
      try {
        unlisten = node.onApplied((ev) => {
          if (regionId !== 0 && ev.regionId !== regionId) return;
          if (call.writableLength > MAX_WATCH_BUFFERED_EVENTS) {
            end();
            return;
          }
          call.write(eventToWire(ev));
        });
      } catch (err) {
        return call.destroy(toGrpcError(err));
      }
      streams.set(call, () => end());
      const end = () => {
        if (!streams.delete(call)) return;
        unlisten();
        call.end();
      };
      call.on('cancelled', end);
      call.on('close', end);
    },
  };
  return {
    binding: { service: proto.service(STORE_KV_SERVICE), impl },
    endStreams: () => {
      for (const end of [...streams.values()]) end();
    },
  };
}
