// Owns a hand-written decoding of the store's read responses on their success path (Get, BatchGet, Scan,
// ScanRefs): a directory page of 512 entries is ~1,500 byte fields, which @grpc/proto-loader turns into objects
// with defaults at several milliseconds of CPU per response. These decoders walk the bytes once and return
// views of the received buffer, in the same shape proto-loader gives (snake_case fields, Buffers, defaults
// filled, error null). A response that carries a KeyError (or anything these decoders do not expect) is handed
// to proto-loader whole, so every error path keeps proto-loader's exact objects. proto/nokv/kv/v1/store_kv.proto
// stays the contract; a test holds the decoders to proto-loader's output.
import type * as grpc from '@grpc/grpc-js';

const EMPTY: Buffer = Buffer.alloc(0);

/** Thrown inside a decoder to hand the buffer to proto-loader. */
class Fallback extends Error {}
const FALLBACK = new Fallback('fallback');

class Reader {
  pos = 0;
  constructor(readonly buf: Buffer, readonly end = buf.length) {}
  varint(): number {
    // Lengths, tags and bools: anything above 2^31 is not one of ours.
    let v = 0;
    for (let shift = 0; shift < 32; shift += 7) {
      if (this.pos >= this.end) throw FALLBACK;
      const b = this.buf[this.pos++]!;
      if (shift === 28 && b > 0x07) throw FALLBACK; // 2^31 or more
      v |= (b & 0x7f) << shift;
      if (b < 0x80) {
        return v;
      }
    }
    throw FALLBACK;
  }
  bytes(): Buffer {
    const n = this.varint();
    const start = this.pos;
    this.pos += n;
    if (this.pos > this.end) throw FALLBACK;
    return this.buf.subarray(start, this.pos);
  }
  /** A length-delimited submessage: a reader over its bytes (advances this one past it). */
  sub(): Reader {
    const n = this.varint();
    const start = this.pos;
    this.pos += n;
    if (this.pos > this.end) throw FALLBACK;
    const r = new Reader(this.buf, this.pos);
    r.pos = start;
    return r;
  }
  skip(wire: number): void {
    if (wire === 0) this.varintSkip();
    else if (wire === 2) this.pos += this.varint();
    else if (wire === 1) this.pos += 8;
    else if (wire === 5) this.pos += 4;
    else throw FALLBACK;
    if (this.pos > this.end) throw FALLBACK;
  }
  private varintSkip(): void {
    for (let k = 0; k < 10; k++) {
      if (this.pos >= this.end) throw FALLBACK;
      if (this.buf[this.pos++]! < 0x80) return;
    }
    throw FALLBACK;
  }
}

export interface WireKvPair {
  key: Buffer;
  value: Buffer;
}
export interface WireRefPair {
  key: Buffer;
  value: Buffer;
  ref_value: Buffer;
  ref_found: boolean;
  ref_elsewhere: Buffer;
}

function kvPair(r: Reader): WireKvPair {
  let key = EMPTY;
  let value = EMPTY;
  while (r.pos < r.end) {
    const tag = r.varint();
    if (tag === 0x0a) key = r.bytes();
    else if (tag === 0x12) value = r.bytes();
    else r.skip(tag & 7);
  }
  return { key, value };
}

function refPair(r: Reader): WireRefPair {
  const p: WireRefPair = { key: EMPTY, value: EMPTY, ref_value: EMPTY, ref_found: false, ref_elsewhere: EMPTY };
  while (r.pos < r.end) {
    const tag = r.varint();
    if (tag === 0x0a) p.key = r.bytes();
    else if (tag === 0x12) p.value = r.bytes();
    else if (tag === 0x1a) p.ref_value = r.bytes();
    else if (tag === 0x20) p.ref_found = r.varint() !== 0;
    else if (tag === 0x2a) p.ref_elsewhere = r.bytes();
    else r.skip(tag & 7);
  }
  return p;
}

/** GetResponse { KeyError error = 1; bytes value = 2; bool not_found = 3 }. */
export function decodeGetResponse(buf: Buffer): { error: null; value: Buffer; not_found: boolean } {
  const r = new Reader(buf);
  const out = { error: null, value: EMPTY, not_found: false };
  while (r.pos < r.end) {
    const tag = r.varint();
    if (tag === 0x12) out.value = r.bytes();
    else if (tag === 0x18) out.not_found = r.varint() !== 0;
    else if (tag >>> 3 === 1) throw FALLBACK;
    else r.skip(tag & 7);
  }
  return out;
}

/** BatchGetResponse and ScanResponse { repeated KvPair pairs = 1; KeyError error = 2 }. */
export function decodePairsResponse(buf: Buffer): { pairs: WireKvPair[]; error: null } {
  const r = new Reader(buf);
  const pairs: WireKvPair[] = [];
  while (r.pos < r.end) {
    const tag = r.varint();
    if (tag === 0x0a) pairs.push(kvPair(r.sub()));
    else if (tag >>> 3 === 2) throw FALLBACK;
    else r.skip(tag & 7);
  }
  return { pairs, error: null };
}

/** ScanRefsResponse { repeated RefPair pairs = 1; repeated KvPair found = 2; KeyError error = 3 }. */
export function decodeScanRefsResponse(buf: Buffer): { pairs: WireRefPair[]; found: WireKvPair[]; error: null } {
  const r = new Reader(buf);
  const pairs: WireRefPair[] = [];
  const found: WireKvPair[] = [];
  while (r.pos < r.end) {
    const tag = r.varint();
    if (tag === 0x0a) pairs.push(refPair(r.sub()));
    else if (tag === 0x12) found.push(kvPair(r.sub()));
    else if (tag >>> 3 === 3) throw FALLBACK;
    else r.skip(tag & 7);
  }
  return { pairs, found, error: null };
}

const FAST: Record<string, (buf: Buffer) => unknown> = {
  Get: decodeGetResponse,
  BatchGet: decodePairsResponse,
  Scan: decodePairsResponse,
  ScanRefs: decodeScanRefsResponse,
};

/** `decode`, or proto-loader's `fallback` for a response `decode` does not take (a KeyError, malformed bytes). */
export function withFallback(decode: (buf: Buffer) => unknown, fallback: (buf: Buffer) => unknown): (buf: Buffer) => unknown {
  return (buf) => {
    try {
      return decode(buf);
    } catch (err) {
      if (err === FALLBACK) return fallback(buf);
      throw err;
    }
  };
}

/** The StoreKV definition with the read responses decoded here (everything else as loaded). */
export function fastReadDefinition(base: grpc.ServiceDefinition): grpc.ServiceDefinition {
  const out: Record<string, grpc.MethodDefinition<any, any>> = { ...base };
  for (const [name, decode] of Object.entries(FAST)) {
    const m = base[name];
    if (!m) throw new Error(`StoreKV has no method ${name}`);
    out[name] = { ...m, responseDeserialize: withFallback(decode, m.responseDeserialize) };
  }
  return out as grpc.ServiceDefinition;
}
