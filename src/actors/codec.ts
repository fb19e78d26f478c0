// Owns how a Batch crosses a MessagePort. Chosen by measurement (bench/actors.bench.ts): structured clone is
// faster for a batch of a few envelopes (msgpackr pays a fixed cost per pack: record definitions, buffer copy),
// msgpackr into one transferred ArrayBuffer is faster from about a dozen envelopes up. The default 'auto' codec
// picks per batch; the receiver tells them apart by the data's type. Every codec carries ActorRefs inside
// messages and re-binds them to the receiving thread's router.
import { Packr, addExtension } from 'msgpackr';
import { ActorRef, REF_BRAND, isClonedRef, type Router } from './ref.js';
import type { ActorAddress, Batch } from './protocol.js';

export type CodecName = 'auto' | 'msgpack' | 'clone';

export interface EncodedBatch {
  data: unknown;
  transfer: ArrayBuffer[];
}

export interface BatchCodec {
  readonly name: CodecName;
  encode(batch: Batch): EncodedBatch;
  /** `router` is the receiving thread's: every ActorRef in the batch comes out bound to it. */
  decode(data: unknown, router: Router): Batch;
}

/** msgpack extension type for ActorRef (application range is 0..127). */
const REF_EXT_TYPE = 0x41;

// msgpackr extensions are process-global and their read() has no context argument, so the router of the
// decode in progress is parked here. decode() is synchronous, so no other decode can interleave.
let decodingRouter: Router | undefined;

addExtension({
  Class: ActorRef,
  type: REF_EXT_TYPE,
  write: (ref: ActorRef) => [ref.thread, ref.id, ref.name],
  read: ([thread, id, name]: [number, number, string]) => {
    if (!decodingRouter) throw new Error('ActorRef decoded outside a batch decode');
    return new ActorRef(thread, id, name, decodingRouter);
  },
});

class MsgpackCodec implements BatchCodec {
  readonly name = 'msgpack' as const;
  // moreTypes keeps typed arrays, Sets and similar intact; records make a batch of same-shaped envelopes
  // compact because each shape is described once per batch.
  private readonly packr = new Packr({ moreTypes: true, useRecords: true });

  encode(batch: Batch): EncodedBatch {
    const packed = this.packr.pack(batch);
    // pack() returns a view into a buffer it reuses; copy into an exact-size buffer we can transfer.
    const ab = new ArrayBuffer(packed.length);
    new Uint8Array(ab).set(packed);
    return { data: ab, transfer: [ab] };
  }

  decode(data: unknown, router: Router): Batch {
    decodingRouter = router;
    try {
      return this.packr.unpack(new Uint8Array(data as ArrayBuffer)) as Batch;
    } finally {
      decodingRouter = undefined;
    }
  }
}

/** Nesting below which the clone codec still looks for refs; deeper values are passed through untouched. */
const MAX_REF_SEARCH_DEPTH = 32;

class CloneCodec implements BatchCodec {
  readonly name = 'clone' as const;

  encode(batch: Batch): EncodedBatch {
    return { data: batch, transfer: [] };
  }

  decode(data: unknown, router: Router): Batch {
    const batch = data as Batch;
    for (const env of batch.envs) {
      if (env.k === 'event' || env.k === 'request') env.msg = rebind(env.msg, router, 0);
      else if (env.k === 'reply' && env.value !== undefined) env.value = rebind(env.value, router, 0);
    }
    return batch;
  }
}

/** Structured clone turns an ActorRef into a plain object carrying the brand; turn it back into a ref. */
function rebind(v: unknown, router: Router, depth: number): unknown {
  if (typeof v !== 'object' || v === null || depth > MAX_REF_SEARCH_DEPTH) return v;
  if (isClonedRef(v)) return refFromAddress(v, router);
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) v[i] = rebind(v[i], router, depth + 1);
    return v;
  }
  if (v instanceof Map) {
    for (const [key, value] of v) v.set(key, rebind(value, router, depth + 1));
    return v;
  }
  if (Object.getPrototypeOf(v) === Object.prototype) {
    const o = v as Record<string, unknown>;
    for (const key of Object.keys(o)) o[key] = rebind(o[key], router, depth + 1);
  }
  return v;
}

/** Binds every cloned ref inside `v` (spawn args that came through a control call) to this thread's router. */
export function rebindRefs<T>(v: T, router: Router): T {
  return rebind(v, router, 0) as T;
}

function refFromAddress(a: ActorAddress, router: Router): ActorRef {
  return new ActorRef(a.thread, a.id, a.name, router);
}

/** Batches with at least this many envelopes go as msgpack under 'auto' (crossover measured near 8-16). */
export const AUTO_MSGPACK_MIN_BATCH = 12;

class AutoCodec implements BatchCodec {
  readonly name = 'auto' as const;
  private readonly msgpack = new MsgpackCodec();
  private readonly clone = new CloneCodec();

  encode(batch: Batch): EncodedBatch {
    return batch.envs.length >= AUTO_MSGPACK_MIN_BATCH ? this.msgpack.encode(batch) : this.clone.encode(batch);
  }

  decode(data: unknown, router: Router): Batch {
    return data instanceof ArrayBuffer ? this.msgpack.decode(data, router) : this.clone.decode(data, router);
  }
}

export function createCodec(name: CodecName): BatchCodec {
  if (name === 'msgpack') return new MsgpackCodec();
  if (name === 'clone') return new CloneCodec();
  return new AutoCodec();
}

export { REF_BRAND };
