// Owns the reads a region actor runs over its MVCC view, described as plain data so a request can cross to a
// shard's worker thread (a closure cannot): Get, BatchGet, Scan and ScanRefs, answered in the wire shape of
// nokv.kv.v1.StoreKV. Also the KeyError → wire conversion the replies share with the gRPC front.
import { get as mvccGet, scan as mvccScan, scanRefs, type RefSpec } from '../percolator/read.js';
import type { KeyError, LockInfo } from '../percolator/types.js';
import type { MutationOp } from '../mvcc/types.js';
import { compareBytes } from '../keys.js';
import type { FamilyMvccStore } from '../mvcc/families.js';
import type { RegionDescriptor } from '../region/descriptor.js';
import { checkSplit, type SplitLimits } from '../split/check.js';

export type ReadOp =
  | { kind: 'get'; key: Buffer; readTs: bigint; bypassLocks: bigint[] }
  | { kind: 'batchGet'; keys: Buffer[]; readTs: bigint; bypassLocks: bigint[] }
  | { kind: 'scan'; start: Buffer; end: Buffer; limit: number; keyOnly: boolean; readTs: bigint; bypassLocks: bigint[] }
  | { kind: 'scanRefs'; start: Buffer; end: Buffer; limit: number; ref: RefSpec; keys: Buffer[]; readTs: bigint; bypassLocks: bigint[] }
  /** The store's split check over the whole region (src/store/split/check.ts); readTs and bypassLocks unused. */
  | { kind: 'splitCheck'; limits: SplitLimits; readTs: bigint; bypassLocks: bigint[] };

const OPS: MutationOp[] = ['put', 'delete', 'lock'];
const OP_NAMES = ['PUT', 'DELETE', 'LOCK'];

export function lockToWire(l: LockInfo) {
  return { key: l.key, primary_lock: l.primary, lock_version: l.lockTs.toString(), lock_ttl: l.ttlMs, lock_type: OP_NAMES[OPS.indexOf(l.kind)], min_commit_ts: l.minCommitTs.toString() };
}

export function keyErrorToWire(e: KeyError | undefined): unknown {
  if (!e) return null;
  switch (e.kind) {
    case 'locked':
      return { locked: lockToWire(e.lock), key: e.lock.key };
    case 'write_conflict':
      return { conflict: { key: e.key, start_ts: e.startTs.toString(), conflict_ts: e.conflictTs.toString(), conflict_commit_ts: e.conflictCommitTs.toString(), primary: e.primary }, key: e.key };
    case 'already_exists':
      return { already_exists: e.key, key: e.key };
    case 'commit_ts_expired':
      return { commit_ts_expired: { key: e.key, start_ts: e.startTs.toString(), attempted_commit_ts: e.commitTs.toString(), min_commit_ts: e.minCommitTs.toString() }, key: e.key };
    case 'committed':
      return { committed: e.commitTs.toString(), key: e.key };
    case 'txn_not_found':
      return { txn_not_found: e.key, key: e.key };
    case 'abort':
      return { abort: e.message, key: e.key };
  }
}

/** The end of a scan inside the region: the request's end, cut at the region's. */
function clipEnd(desc: RegionDescriptor, end: Buffer): Buffer {
  return desc.end.length > 0 && (end.length === 0 || compareBytes(desc.end, end) < 0) ? desc.end : end;
}

/** Runs one read over the region's MVCC view (inside its actor, after its read barrier) into its wire reply. */
export function runRead(op: ReadOp, m: FamilyMvccStore, desc: RegionDescriptor): unknown {
  const rq = { readTs: op.readTs, bypassLocks: op.bypassLocks };
  switch (op.kind) {
    case 'get': {
      const r = mvccGet(m, op.key, rq);
      if ('error' in r) return { error: keyErrorToWire(r.error) };
      return r.value === undefined ? { not_found: true } : { value: r.value };
    }
    case 'batchGet': {
      const pairs: Array<{ key: Buffer; value: Buffer }> = [];
      for (const k of op.keys) {
        const r = mvccGet(m, k, rq);
        if ('error' in r) return { pairs: [], error: keyErrorToWire(r.error) };
        if (r.value !== undefined) pairs.push({ key: k, value: r.value });
      }
      return { pairs };
    }
    case 'scan': {
      const r = mvccScan(m, op.start, clipEnd(desc, op.end), op.limit, rq);
      if (r.error) return { pairs: [], error: keyErrorToWire(r.error) };
      return { pairs: r.pairs.map((p) => ({ key: p.key, value: op.keyOnly ? Buffer.alloc(0) : p.value })) };
    }
    case 'scanRefs': {
      const r = scanRefs(m, desc.start, desc.end, { ...rq, start: op.start, end: clipEnd(desc, op.end), limit: op.limit, ref: op.ref, keys: op.keys });
      if (r.error) return { pairs: [], found: [], error: keyErrorToWire(r.error) };
      return {
        pairs: r.pairs.map((p) => ({
          key: p.key,
          value: p.value,
          ...(p.ref.kind === 'found' ? { ref_found: true, ref_value: p.ref.value } : {}),
          ...(p.ref.kind === 'elsewhere' ? { ref_elsewhere: p.ref.key } : {}),
        })),
        found: r.found,
      };
    }
    case 'splitCheck': {
      const r = checkSplit(m, desc.start, desc.end, op.limits);
      return { keys: r.keys, bytes: r.bytes, ...(r.splitKey ? { split_key: r.splitKey } : {}) };
    }
  }
}

/**
 * A structured clone turns Buffers into plain Uint8Arrays; the store's code relies on Buffer (hex keys,
 * compare, concat). Turns every Uint8Array in a message that crossed threads back into a Buffer over the
 * same memory (no copy).
 */
export function asBuffers<T>(v: T, depth = 0): T {
  if (v instanceof Uint8Array) return (Buffer.isBuffer(v) ? v : Buffer.from(v.buffer, v.byteOffset, v.byteLength)) as T;
  if (typeof v !== 'object' || v === null || depth > 16) return v;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) v[i] = asBuffers(v[i], depth + 1);
    return v;
  }
  if (Object.getPrototypeOf(v) === Object.prototype) {
    const o = v as Record<string, unknown>;
    for (const k of Object.keys(o)) o[k] = asBuffers(o[k], depth + 1);
  }
  return v;
}
