// Owns a hand-written protobuf encoding of the gateway's hot responses (Create, Lookup, GetAttr, ReadDir,
// ReadDirPlus) straight from the executor's records: one size pass, one buffer, no intermediate wire objects,
// no decimal strings for 64-bit fields. proto/nokv/fsmeta/v1/fsmeta.proto stays the contract: the output is
// byte-identical to what @grpc/proto-loader (protobufjs) writes for the wire objects wire.ts builds — every
// field present, defaults included, in field-number order — and a test holds it to that.
import type { DentryRecord, DirEntryPlus, InodeRecord, InodeType } from '../types.js';

const TWO_32 = 0x1_0000_0000;

/** Bytes of the varint of a non-negative safe integer. */
function sizeNum(v: number): number {
  let n = 1;
  while (v >= 0x80) {
    v = Math.floor(v / 128);
    n++;
  }
  return n;
}

const MASK32 = 0xffff_ffffn;

/** Bytes of the varint of a uint64 bigint (wraps values outside 0..2^64-1 as protobufjs does). */
function sizeBig(v: bigint): number {
  let lo = Number(v & MASK32) >>> 0;
  let hi = Number((v >> 32n) & MASK32) >>> 0;
  let n = 1;
  while (hi !== 0) {
    lo = ((lo >>> 7) | (hi << 25)) >>> 0;
    hi >>>= 7;
    n++;
  }
  while (lo > 0x7f) {
    lo >>>= 7;
    n++;
  }
  return n;
}

const typeNum = (t: InodeType): number => (t === 'FILE' ? 1 : 2);

class Writer {
  readonly buf: Buffer;
  pos = 0;
  constructor(size: number) {
    this.buf = Buffer.allocUnsafe(size);
  }
  byte(b: number): void {
    this.buf[this.pos++] = b;
  }
  num(v: number): void {
    // Below 2^32 with bit operations; above, by division (still exact below 2^53).
    while (v >= TWO_32) {
      this.buf[this.pos++] = (v % 128) | 0x80;
      v = Math.floor(v / 128);
    }
    while (v > 0x7f) {
      this.buf[this.pos++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    this.buf[this.pos++] = v;
  }
  /** A uint64 as two 32-bit halves, as protobufjs's LongBits writes it. */
  big(v: bigint): void {
    let lo = Number(v & MASK32) >>> 0;
    let hi = Number((v >> 32n) & MASK32) >>> 0;
    while (hi !== 0) {
      this.buf[this.pos++] = (lo & 0x7f) | 0x80;
      lo = ((lo >>> 7) | (hi << 25)) >>> 0;
      hi >>>= 7;
    }
    while (lo > 0x7f) {
      this.buf[this.pos++] = (lo & 0x7f) | 0x80;
      lo >>>= 7;
    }
    this.buf[this.pos++] = lo;
  }
  bytes(b: Buffer): void {
    this.num(b.length);
    b.copy(this.buf, this.pos);
    this.pos += b.length;
  }
}

// Field keys (field number << 3 | wire type): varint 0, length-delimited 2.
const LEN = 2;
const key = (field: number, wire: number) => (field << 3) | wire;

function dentrySize(d: DentryRecord): number {
  return 1 + sizeNum(d.parent) + 1 + sizeNum(d.name.length) + d.name.length + 1 + sizeNum(d.inode) + 1 + 1;
}
function writeDentry(w: Writer, d: DentryRecord): void {
  w.byte(key(1, 0));
  w.num(d.parent);
  w.byte(key(2, LEN));
  w.bytes(d.name);
  w.byte(key(3, 0));
  w.num(d.inode);
  w.byte(key(4, 0));
  w.byte(typeNum(d.type));
}

function inodeSize(i: InodeRecord): number {
  return (
    1 + sizeNum(i.inode) + 1 + 1 + 1 + sizeNum(i.size) + 1 + sizeNum(i.mode >>> 0) + 1 + sizeNum(i.linkCount >>> 0) +
    1 + sizeBig(i.createdUnixNs) + 1 + sizeBig(i.updatedUnixNs) + 1 + sizeNum(i.opaqueAttrs.length) + i.opaqueAttrs.length
  );
}
function writeInode(w: Writer, i: InodeRecord): void {
  w.byte(key(1, 0));
  w.num(i.inode);
  w.byte(key(2, 0));
  w.byte(typeNum(i.type));
  w.byte(key(3, 0));
  w.num(i.size);
  w.byte(key(4, 0));
  w.num(i.mode >>> 0);
  w.byte(key(5, 0));
  w.num(i.linkCount >>> 0);
  w.byte(key(6, 0));
  w.big(i.createdUnixNs);
  w.byte(key(7, 0));
  w.big(i.updatedUnixNs);
  w.byte(key(8, LEN));
  w.bytes(i.opaqueAttrs);
}

/** A length-delimited submessage field: key, length, body. */
const fieldSize = (body: number) => 1 + sizeNum(body) + body;

function finish(w: Writer): Buffer {
  if (w.pos !== w.buf.length) throw new Error(`fsmeta encoder wrote ${w.pos} of ${w.buf.length} bytes`);
  return w.buf;
}

/** CreateResponse { dentry = 1, inode = 2 }. */
export function encodeCreateResponse(r: { dentry: DentryRecord; inode: InodeRecord }): Buffer {
  const ds = dentrySize(r.dentry);
  const is = inodeSize(r.inode);
  const w = new Writer(fieldSize(ds) + fieldSize(is));
  w.byte(key(1, LEN));
  w.num(ds);
  writeDentry(w, r.dentry);
  w.byte(key(2, LEN));
  w.num(is);
  writeInode(w, r.inode);
  return finish(w);
}

/** LookupResponse { dentry = 1 }. */
export function encodeLookupResponse(d: DentryRecord): Buffer {
  const ds = dentrySize(d);
  const w = new Writer(fieldSize(ds));
  w.byte(key(1, LEN));
  w.num(ds);
  writeDentry(w, d);
  return finish(w);
}

/** GetAttrResponse { inode = 1 }. */
export function encodeGetAttrResponse(i: InodeRecord): Buffer {
  const is = inodeSize(i);
  const w = new Writer(fieldSize(is));
  w.byte(key(1, LEN));
  w.num(is);
  writeInode(w, i);
  return finish(w);
}

/** ReadDirResponse { repeated entries = 1, read_version = 2 }. */
export function encodeReadDirResponse(r: { entries: DentryRecord[]; readVersion: bigint }): Buffer {
  const sizes = r.entries.map(dentrySize);
  let total = 1 + sizeBig(r.readVersion);
  for (const s of sizes) total += fieldSize(s);
  const w = new Writer(total);
  r.entries.forEach((d, n) => {
    w.byte(key(1, LEN));
    w.num(sizes[n]!);
    writeDentry(w, d);
  });
  w.byte(key(2, 0));
  w.big(r.readVersion);
  return finish(w);
}

/** ReadDirPlusResponse { repeated DirEntryPlus { dentry = 1, inode = 2 } entries = 1, read_version = 2 }. */
export function encodeReadDirPlusResponse(r: { entries: DirEntryPlus[]; readVersion: bigint }): Buffer {
  const n = r.entries.length;
  const ds = new Array<number>(n);
  const is = new Array<number>(n);
  let total = 1 + sizeBig(r.readVersion);
  for (let k = 0; k < n; k++) {
    const e = r.entries[k]!;
    ds[k] = dentrySize(e.dentry);
    is[k] = inodeSize(e.inode);
    total += fieldSize(fieldSize(ds[k]!) + fieldSize(is[k]!));
  }
  const w = new Writer(total);
  for (let k = 0; k < n; k++) {
    const e = r.entries[k]!;
    w.byte(key(1, LEN));
    w.num(fieldSize(ds[k]!) + fieldSize(is[k]!));
    w.byte(key(1, LEN));
    w.num(ds[k]!);
    writeDentry(w, e.dentry);
    w.byte(key(2, LEN));
    w.num(is[k]!);
    writeInode(w, e.inode);
  }
  w.byte(key(2, 0));
  w.big(r.readVersion);
  return finish(w);
}
