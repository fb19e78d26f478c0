// Owns the Percolator column families as ordered byte maps, and MvccStore on top of them: the lock family is
// keyed by the encoded user key, the write family by encoded key + inverted commit ts, the data family by
// encoded key + inverted start ts. One implementation of the layout serves both back ends (memory for the
// pure tests, LMDB for the store), so the encoding is written and tested once.
import { compareBytes, decodeDescTs, decodeKey, encodeKey, versionedKey, MAX_TS, type Bytes } from '../keys.js';
import { decodeLock, decodeWrite, encodeLock, encodeWrite, type LockRecord, type MvccStore, type VersionedWrite, type WriteRecord } from './types.js';

/** An ordered map of byte strings. range() yields [start, end) in byte order; an undefined end = +inf. */
export interface OrderedFamily {
  get(key: Buffer): Buffer | undefined;
  put(key: Buffer, value: Buffer): void;
  del(key: Buffer): void;
  range(start: Buffer, end?: Buffer): Iterable<[Buffer, Buffer]>;
}

export interface Families {
  lock: OrderedFamily;
  write: OrderedFamily;
  data: OrderedFamily;
}

/** The first byte string after every encoded key that starts with `enc` (enc is never all 0xFF). */
function after(enc: Buffer): Buffer {
  const b = Buffer.from(enc);
  for (let i = b.length - 1; i >= 0; i--) {
    if (b[i]! < 0xff) {
      b[i]!++;
      return b.subarray(0, i + 1);
    }
  }
  throw new RangeError('no successor');
}

export function encodedRange(start: Bytes, end: Bytes): { from: Buffer; to: Buffer | undefined } {
  return { from: encodeKey(start), to: end.length === 0 ? undefined : encodeKey(end) };
}

export class FamilyMvccStore implements MvccStore {
  constructor(readonly families: Families) {}

  getLock(key: Bytes): LockRecord | undefined {
    const v = this.families.lock.get(encodeKey(key));
    return v ? decodeLock(v) : undefined;
  }

  putLock(key: Bytes, lock: LockRecord): void {
    this.families.lock.put(encodeKey(key), encodeLock(lock));
  }

  deleteLock(key: Bytes): void {
    this.families.lock.del(encodeKey(key));
  }

  *writes(key: Bytes, maxTs: bigint = MAX_TS): Iterable<VersionedWrite> {
    const enc = encodeKey(key);
    for (const [k, v] of this.families.write.range(versionedKey(key, maxTs), after(enc))) {
      yield { commitTs: decodeDescTs(k, enc.length), write: decodeWrite(v) };
    }
  }

  putWrite(key: Bytes, commitTs: bigint, write: WriteRecord): void {
    this.families.write.put(versionedKey(key, commitTs), encodeWrite(write));
  }

  deleteWrite(key: Bytes, commitTs: bigint): void {
    this.families.write.del(versionedKey(key, commitTs));
  }

  getData(key: Bytes, startTs: bigint): Buffer | undefined {
    return this.families.data.get(versionedKey(key, startTs));
  }

  putData(key: Bytes, startTs: bigint, value: Bytes): void {
    this.families.data.put(versionedKey(key, startTs), Buffer.from(value));
  }

  deleteData(key: Bytes, startTs: bigint): void {
    this.families.data.del(versionedKey(key, startTs));
  }

  *writeKeys(start: Bytes, end: Bytes): Iterable<Buffer> {
    const { from, to } = encodedRange(start, end);
    let last: Buffer | undefined;
    for (const [k] of this.families.write.range(from, to)) {
      const { key } = decodeKey(k);
      if (last && compareBytes(last, key) === 0) continue;
      last = key;
      yield key;
    }
  }

  *visibleChanges(start: Bytes, end: Bytes, maxTs: bigint): Iterable<{ key: Buffer } & VersionedWrite> {
    const { from, to } = encodedRange(start, end);
    // Rows are (encoded key ‖ inverted commit ts): a key's versions are adjacent, newest first. The encoded
    // key is compared as raw bytes and decoded only for the version that is yielded.
    let group: Buffer | undefined;
    let decided = false;
    for (const [k, v] of this.families.write.range(from, to)) {
      const enc = k.subarray(0, k.length - 8);
      if (!group || !enc.equals(group)) {
        group = enc;
        decided = false;
      }
      if (decided) continue;
      const commitTs = decodeDescTs(k, enc.length);
      if (commitTs > maxTs) continue;
      const write = decodeWrite(v);
      if (write.kind !== 'put' && write.kind !== 'delete') continue;
      decided = true;
      yield { key: decodeKey(enc).key, commitTs, write };
    }
  }

  *locks(start: Bytes, end: Bytes): Iterable<{ key: Buffer; lock: LockRecord }> {
    const { from, to } = encodedRange(start, end);
    for (const [k, v] of this.families.lock.range(from, to)) yield { key: decodeKey(k).key, lock: decodeLock(v) };
  }
}

/** An in-memory ordered family (sorted key list + map); for tests and the pure logic. */
export class MemoryFamily implements OrderedFamily {
  private readonly map = new Map<string, Buffer>();
  private sorted: string[] = [];

  get(key: Buffer): Buffer | undefined {
    return this.map.get(key.toString('hex'));
  }

  put(key: Buffer, value: Buffer): void {
    const h = key.toString('hex');
    if (!this.map.has(h)) this.sorted.splice(this.lowerBound(h), 0, h);
    this.map.set(h, Buffer.from(value));
  }

  del(key: Buffer): void {
    const h = key.toString('hex');
    if (!this.map.delete(h)) return;
    this.sorted.splice(this.lowerBound(h), 1);
  }

  *range(start: Buffer, end?: Buffer): Iterable<[Buffer, Buffer]> {
    const s = start.toString('hex');
    const e = end?.toString('hex');
    // Snapshot of the keys: callers may write while iterating.
    const keys = this.sorted.slice(this.lowerBound(s));
    for (const h of keys) {
      if (e !== undefined && h >= e) return;
      const v = this.map.get(h);
      if (v) yield [Buffer.from(h, 'hex'), v];
    }
  }

  get size(): number {
    return this.map.size;
  }

  private lowerBound(h: string): number {
    let lo = 0;
    let hi = this.sorted.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.sorted[mid]! < h) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

export function memoryMvccStore(): FamilyMvccStore {
  return new FamilyMvccStore({ lock: new MemoryFamily(), write: new MemoryFamily(), data: new MemoryFamily() });
}
