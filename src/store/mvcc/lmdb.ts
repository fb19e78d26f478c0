// Owns the store's MVCC column families on LMDB (mvcc.lock / mvcc.write / mvcc.data) shared by every region
// of the process, and how raft apply writes them. Apply is synchronous but a durable LMDB write is not, so
// every put/delete lands in an in-memory overlay at once (reads see it immediately and deterministically)
// and in the pending batch; commit() hands the batch, with the region's applied index and descriptor, to the
// storage's group-committed write. An overlay entry leaves once its write is durable. Because the applied
// index travels in the same LMDB transaction as the data, what is on disk is always the state after some
// applied index: recovery skips entries at or below it and replays the rest.
import type { Logger } from '../../common/log.js';
import { DB_NAMES, type BinaryDb, type Storage, type WriteOp, type WriteOptions } from '../../storage/index.js';
import type { Families, OrderedFamily } from './families.js';

/** A buffer lmdb-js handed out (its own copy) as a Buffer, without copying it again. */
function asOwnBuffer(b: Uint8Array): Buffer {
  return Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength);
}

interface OverlayEntry {
  key: Buffer;
  value: Buffer | null;
  seq: number;
}

interface PendingOp {
  family: LmdbFamily;
  key: Buffer;
  value: Buffer | null;
  seq: number;
}

class LmdbFamily implements OrderedFamily {
  readonly overlay = new Map<string, OverlayEntry>();

  constructor(
    readonly db: BinaryDb,
    private readonly backend: LmdbMvccBackend,
  ) {}

  get(key: Buffer): Buffer | undefined {
    // The overlay is empty whenever every write is durable (most reads): skip hexing the key then.
    const o = this.overlay.size > 0 ? this.overlay.get(key.toString('hex')) : undefined;
    if (o) return o.value ?? undefined;
    // lmdb-js returns a binary value as a buffer of its own (a copy out of the map), so it is not copied again.
    const v = this.db.get(key);
    return v ? asOwnBuffer(v) : undefined;
  }

  put(key: Buffer, value: Buffer): void {
    this.record(key, Buffer.from(value));
  }

  del(key: Buffer): void {
    this.record(key, null);
  }

  private record(key: Buffer, value: Buffer | null): void {
    const seq = this.backend.nextSeq();
    const k = Buffer.from(key);
    this.overlay.set(k.toString('hex'), { key: k, value, seq });
    this.backend.pending.push({ family: this, key: k, value, seq });
  }

  *range(start: Buffer, end?: Buffer): Iterable<[Buffer, Buffer]> {
    const opts = end === undefined ? { start } : { start, end };
    // Keys and values of a binary range come out of lmdb-js as buffers of their own (copies out of the map), so
    // they are yielded as they are. With nothing in the overlay there is nothing to merge.
    if (this.overlay.size === 0) {
      for (const { key, value } of this.db.getRange(opts)) yield [asOwnBuffer(key), asOwnBuffer(value)];
      return;
    }
    // Merge the durable range with the overlay's entries in range (the overlay wins on equal keys).
    const over = [...this.overlay.values()]
      .filter((o) => Buffer.compare(o.key, start) >= 0 && (end === undefined || Buffer.compare(o.key, end) < 0))
      .sort((a, b) => Buffer.compare(a.key, b.key));
    let i = 0;
    for (const { key, value } of this.db.getRange(opts)) {
      const k = asOwnBuffer(key);
      while (i < over.length && Buffer.compare(over[i]!.key, k) < 0) {
        const o = over[i++]!;
        if (o.value) yield [o.key, o.value];
      }
      if (i < over.length && Buffer.compare(over[i]!.key, k) === 0) {
        const o = over[i++]!;
        if (o.value) yield [o.key, o.value];
        continue;
      }
      yield [k, asOwnBuffer(value)];
    }
    for (; i < over.length; i++) {
      const o = over[i]!;
      if (o.value) yield [o.key, o.value];
    }
  }
}

export class LmdbMvccBackend {
  readonly families: Families & { lock: LmdbFamily; write: LmdbFamily; data: LmdbFamily };
  pending: PendingOp[] = [];
  private seq = 0;
  private failure: unknown;

  constructor(
    private readonly storage: Storage,
    private readonly logger: Logger,
    private readonly onFailure: (err: unknown) => void,
  ) {
    this.families = {
      lock: new LmdbFamily(storage.db(DB_NAMES.mvccLock), this),
      write: new LmdbFamily(storage.db(DB_NAMES.mvccWrite), this),
      data: new LmdbFamily(storage.db(DB_NAMES.mvccData), this),
    };
  }

  nextSeq(): number {
    return ++this.seq;
  }

  get failed(): boolean {
    return this.failure !== undefined;
  }

  /** Overlay entries not yet durable (bounded by what one or two group commits carry). */
  get overlaySize(): number {
    return this.families.lock.overlay.size + this.families.write.overlay.size + this.families.data.overlay.size;
  }

  /**
   * Submits everything written since the last commit, plus `extra` raw writes (applied index, descriptor) to
   * the next group commit. Returns at once; durability follows. A failed write stops the store's regions.
   * `lazy` (a command applied from the raft log): the write need not start a transaction and fsync of its own
   * — a crash before it is durable loses an applied state that recovery replays from the log (Storage header).
   */
  commit(extra: Array<{ db: BinaryDb; key: Buffer; value: Buffer | null }>, opts: WriteOptions = {}): void {
    const ops = this.pending;
    this.pending = [];
    if (ops.length === 0 && extra.length === 0) return;
    const writes: WriteOp[] = ops.map((op) => ({ db: op.family.db, key: op.key, value: op.value }));
    for (const e of extra) writes.push(e);
    this.storage
      .writeOps(writes, opts)
      .then(
        () => {
          for (const op of ops) {
            const h = op.key.toString('hex');
            if (op.family.overlay.get(h)?.seq === op.seq) op.family.overlay.delete(h);
          }
        },
        (err: unknown) => {
          if (this.failure !== undefined) return;
          this.failure = err;
          this.logger.error({ err }, 'MVCC write failed; the store stops serving');
          this.onFailure(err);
        },
      );
  }
}
