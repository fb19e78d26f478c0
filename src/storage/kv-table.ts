// Owns the small, generic durable key-value table other roles build on (meta-root applied state, later the
// MVCC column families): ordered byte keys, checksummed values, synchronous reads, and writes that share the
// environment's group commit and resolve only once on disk.
//
// Every write submitted in the same event-loop turn — to any table of the same Storage, and raft log writes
// too — commits in ONE transaction, so writes issued together (e.g. a lock and its data) are atomic.
import { pack, unpack } from 'msgpackr';
import { DataLossError, InvalidArgumentError } from '../common/errors.js';
import { RecordKind, checkRecord, encodeRecord, recordPayload } from './codec.js';
import { checkDbName, type BinaryDb, type Storage } from './storage.js';

/** LMDB's default key-size limit; keys are validated against it so a bad key fails at the call, not in a batch. */
export const MAX_KEY_BYTES = 511;

export type KvKey = Uint8Array | string;

export interface ValueCodec<V> {
  encode(value: V): Uint8Array;
  decode(bytes: Uint8Array): V;
}

export const binaryCodec: ValueCodec<Uint8Array> = {
  encode: (v) => v,
  decode: (b) => b,
};

export const stringCodec: ValueCodec<string> = {
  encode: (v) => Buffer.from(v, 'utf8'),
  decode: (b) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('utf8'),
};

/** Structured values through msgpackr (plain objects, arrays, numbers, strings, Uint8Array). */
export function msgpackCodec<T>(): ValueCodec<T> {
  return { encode: (v) => pack(v), decode: (b) => unpack(b) as T };
}

export type KvOp<V> = { type: 'put'; key: KvKey; value: V } | { type: 'delete'; key: KvKey };

export interface KvRangeOptions {
  /** Inclusive lower bound. */
  start?: KvKey;
  /** Exclusive upper bound. */
  end?: KvKey;
  /** Only keys starting with these bytes (combined with start/end when both are given). */
  prefix?: KvKey;
  limit?: number;
  /** Descending key order (same [start, end) bounds). */
  reverse?: boolean;
}

export interface KvEntry<V> {
  key: Buffer;
  value: V;
}

export function openKvTable<V = Uint8Array>(storage: Storage, name: string, codec?: ValueCodec<V>): KvTable<V> {
  checkDbName(name);
  return new KvTable<V>(storage, name, codec ?? (binaryCodec as unknown as ValueCodec<V>));
}

export function keyBytes(key: KvKey): Buffer {
  const b = typeof key === 'string' ? Buffer.from(key, 'utf8') : Buffer.from(key.buffer, key.byteOffset, key.byteLength);
  if (b.length === 0 || b.length > MAX_KEY_BYTES) {
    throw new InvalidArgumentError(`key length ${b.length} outside 1..${MAX_KEY_BYTES}`, { keyBytes: b.length });
  }
  return b;
}

/** The smallest key greater than every key with this prefix, or undefined if there is none (all 0xff). */
export function prefixEnd(prefix: Uint8Array): Buffer | undefined {
  const b = Buffer.from(prefix);
  for (let i = b.length - 1; i >= 0; i--) {
    if (b[i]! < 0xff) {
      b[i]!++;
      return b.subarray(0, i + 1);
    }
  }
  return undefined;
}

export class KvTable<V = Uint8Array> {
  private readonly db: BinaryDb;

  constructor(
    private readonly storage: Storage,
    readonly name: string,
    private readonly codec: ValueCodec<V>,
  ) {
    this.db = storage.db(`kv.${name}`);
  }

  get(key: KvKey): V | undefined {
    const k = keyBytes(key);
    const rec = this.db.get(k);
    return rec === undefined ? undefined : this.decode(k, rec);
  }

  has(key: KvKey): boolean {
    return this.db.doesExist(keyBytes(key));
  }

  /** Resolves once the value is on disk. */
  put(key: KvKey, value: V): Promise<void> {
    return this.write([{ type: 'put', key, value }]);
  }

  /** Resolves once the removal is on disk. */
  delete(key: KvKey): Promise<void> {
    return this.write([{ type: 'delete', key }]);
  }

  /** Applies the operations atomically, in order; resolves once on disk. */
  write(ops: KvOp<V>[]): Promise<void> {
    // Encode now, so a bad key or value fails this call instead of aborting a shared batch.
    const planned = ops.map((op) => {
      const key = keyBytes(op.key);
      return { db: this.db, key, value: op.type === 'put' ? encodeRecord(key, RecordKind.KvValue, this.codec.encode(op.value)) : null };
    });
    return this.storage.writeOps(planned);
  }

  /** Entries in key order within the bounds (synchronous; reads the latest committed state). */
  range(opts: KvRangeOptions = {}): KvEntry<V>[] {
    let lo = opts.start !== undefined ? keyBytes(opts.start) : undefined;
    let hi = opts.end !== undefined ? keyBytes(opts.end) : undefined;
    if (opts.prefix !== undefined) {
      const p = keyBytes(opts.prefix);
      if (!lo || Buffer.compare(lo, p) < 0) lo = p;
      const pe = prefixEnd(p);
      if (pe && (!hi || Buffer.compare(hi, pe) > 0)) hi = pe;
    }
    if (lo && hi && Buffer.compare(lo, hi) >= 0) return [];
    const out: KvEntry<V>[] = [];
    const iter = opts.reverse
      ? this.db.getRange({
          reverse: true,
          ...(hi ? { start: hi, exclusiveStart: true } : {}),
          ...(lo ? { end: lo, inclusiveEnd: true } : {}),
          ...(opts.limit !== undefined ? { limit: opts.limit } : {}),
        })
      : this.db.getRange({
          ...(lo ? { start: lo } : {}),
          ...(hi ? { end: hi } : {}),
          ...(opts.limit !== undefined ? { limit: opts.limit } : {}),
        });
    for (const { key, value } of iter) out.push({ key, value: this.decode(key, value) });
    return out;
  }

  private decode(key: Buffer, rec: Uint8Array): V {
    const bad = checkRecord(key, rec, RecordKind.KvValue);
    if (bad) {
      throw new DataLossError(`value of key ${key.toString('hex')} in table ${this.name} is corrupt: ${bad}`, {
        table: this.name,
        key: key.toString('hex'),
      });
    }
    return this.codec.decode(recordPayload(rec));
  }
}
