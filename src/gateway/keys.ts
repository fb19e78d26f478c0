// Owns the byte layout of fsmeta keys and values in the transactional KV.
//
// Key   = "fsm\0" 0x01 uvarint(len(mount)) mount kind body, kinds in key order:
//   'd' dentry        BE64 parent, name bytes          (a directory's children are one contiguous range)
//   'i' inode         BE64 inode
//   'p' dir parent    BE64 directory inode             (ours: lets rename refuse cycles and watches descend)
//   's' session       session-id bytes
//   's' owner         0x00 BE64 inode                  (session ids never contain NUL, so no collision)
//   'u' usage         BE64 scope                       (scope 0 = the whole mount)
// Value = "fsv\0" 0x01 kind body; decoding is strict (exact lengths), a mismatch is corruption.
import { DataLossError } from '../common/errors.js';
import type { DentryRecord, InodeRecord, InodeType, QuotaUsage, SessionRecord } from './types.js';

const KEY_MAGIC = Buffer.from('fsm\0\x01', 'latin1');
const VALUE_MAGIC = Buffer.from('fsv\0\x01', 'latin1');
export const KIND_DENTRY = 0x64; // 'd'
export const KIND_INODE = 0x69; // 'i'
export const KIND_PARENT = 0x70; // 'p'
export const KIND_SESSION = 0x73; // 's'
export const KIND_USAGE = 0x75; // 'u'

function uvarint(n: number): Buffer {
  const out: number[] = [];
  while (n >= 0x80) {
    out.push((n & 0x7f) | 0x80);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return Buffer.from(out);
}

function be64(n: number | bigint): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt(n));
  return b;
}

/** Everything of one mount starts with this. */
export function mountPrefix(mount: string): Buffer {
  const m = Buffer.from(mount);
  return Buffer.concat([KEY_MAGIC, uvarint(m.length), m]);
}

/** The smallest key greater than every key starting with `prefix`. */
export function prefixEnd(prefix: Buffer): Buffer {
  const out = Buffer.from(prefix);
  for (let i = out.length - 1; i >= 0; i--) {
    if (out[i]! < 0xff) {
      out[i] = out[i]! + 1;
      return out.subarray(0, i + 1);
    }
  }
  return Buffer.alloc(0);
}

export function dentryPrefix(mount: string, parent: number): Buffer {
  return Buffer.concat([mountPrefix(mount), Buffer.from([KIND_DENTRY]), be64(parent)]);
}
export function dentryKey(mount: string, parent: number, name: Buffer): Buffer {
  return Buffer.concat([dentryPrefix(mount, parent), name]);
}
/**
 * How a dentry value names its inode, for KvTxn.scanRefs: the mount's inode-key prefix followed by the BE64
 * inode that sits just before the value's last byte (the type).
 */
export function dentryInodeRef(mount: string): { prefix: Buffer; offset: number; length: number } {
  return { prefix: Buffer.concat([mountPrefix(mount), Buffer.from([KIND_INODE])]), offset: -9, length: 8 };
}
export function inodeKey(mount: string, inode: number): Buffer {
  return Buffer.concat([mountPrefix(mount), Buffer.from([KIND_INODE]), be64(inode)]);
}
export function parentKey(mount: string, dir: number): Buffer {
  return Buffer.concat([mountPrefix(mount), Buffer.from([KIND_PARENT]), be64(dir)]);
}
export function sessionPrefix(mount: string): Buffer {
  return Buffer.concat([mountPrefix(mount), Buffer.from([KIND_SESSION])]);
}
export function sessionKey(mount: string, session: string): Buffer {
  return Buffer.concat([sessionPrefix(mount), Buffer.from(session)]);
}
export function ownerKey(mount: string, inode: number): Buffer {
  return Buffer.concat([sessionPrefix(mount), Buffer.from([0]), be64(inode)]);
}
export function usageKey(mount: string, scope: number): Buffer {
  return Buffer.concat([mountPrefix(mount), Buffer.from([KIND_USAGE]), be64(scope)]);
}

export interface ParsedDentryKey {
  mount: string;
  parent: number;
  name: Buffer;
}

/** The (mount, parent, name) of a dentry key, or undefined for any other key. */
export function parseDentryKey(key: Buffer): ParsedDentryKey | undefined {
  if (key.length < KEY_MAGIC.length + 1 || !key.subarray(0, KEY_MAGIC.length).equals(KEY_MAGIC)) return undefined;
  let pos = KEY_MAGIC.length;
  let len = 0;
  let shift = 1;
  for (;;) {
    if (pos >= key.length) return undefined;
    const b = key[pos++]!;
    len += (b & 0x7f) * shift;
    if (b < 0x80) break;
    shift *= 128;
  }
  if (pos + len + 1 + 8 > key.length) return undefined;
  const mount = key.subarray(pos, pos + len).toString();
  pos += len;
  if (key[pos] !== KIND_DENTRY) return undefined;
  const parent = Number(key.readBigUInt64BE(pos + 1));
  const name = Buffer.from(key.subarray(pos + 9));
  return { mount, parent, name };
}

// ---- values ----------------------------------------------------------------------------------------------

class Reader {
  pos = VALUE_MAGIC.length + 1;
  constructor(readonly buf: Buffer, kind: number, what: string) {
    let ok = buf.length >= this.pos && buf[VALUE_MAGIC.length] === kind;
    for (let k = 0; ok && k < VALUE_MAGIC.length; k++) ok = buf[k] === VALUE_MAGIC[k];
    if (!ok) throw new DataLossError(`fsmeta: malformed ${what} value`);
  }
  need(n: number): void {
    if (this.pos + n > this.buf.length) throw new DataLossError('fsmeta: truncated value');
  }
  u8(): number {
    this.need(1);
    return this.buf[this.pos++]!;
  }
  u32(): number {
    this.need(4);
    const v = this.buf.readUInt32BE(this.pos);
    this.pos += 4;
    return v;
  }
  /** A u64 as a number (ids, sizes: exact below 2^53, as Number(u64()) would give). */
  u64n(): number {
    this.need(8);
    const hi = this.buf.readUInt32BE(this.pos);
    const v = hi < 0x20_0000 ? hi * 0x1_0000_0000 + this.buf.readUInt32BE(this.pos + 4) : Number(this.buf.readBigUInt64BE(this.pos));
    this.pos += 8;
    return v;
  }
  u64(): bigint {
    this.need(8);
    const v = this.buf.readBigUInt64BE(this.pos);
    this.pos += 8;
    return v;
  }
  bytes(): Buffer {
    let len = 0;
    let shift = 1;
    for (;;) {
      const b = this.u8();
      len += (b & 0x7f) * shift;
      if (b < 0x80) break;
      shift *= 128;
    }
    this.need(len);
    const v = this.buf.subarray(this.pos, this.pos + len);
    this.pos += len;
    return Buffer.from(v);
  }
  end(): void {
    if (this.pos !== this.buf.length) throw new DataLossError('fsmeta: trailing bytes in value');
  }
}

const TYPE_CODE: Record<InodeType, number> = { FILE: 1, DIRECTORY: 2 };
function typeOf(code: number): InodeType {
  if (code === 1) return 'FILE';
  if (code === 2) return 'DIRECTORY';
  throw new DataLossError(`fsmeta: unknown inode type ${code}`);
}

function value(kind: number, parts: Buffer[]): Buffer {
  return Buffer.concat([VALUE_MAGIC, Buffer.from([kind]), ...parts]);
}
function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
}
function lenBytes(b: Buffer): Buffer {
  return Buffer.concat([uvarint(b.length), b]);
}

export function encodeInode(r: InodeRecord): Buffer {
  return value(KIND_INODE, [
    be64(r.inode), Buffer.from([TYPE_CODE[r.type]]), be64(r.size), u32(r.mode), u32(r.linkCount),
    be64(r.createdUnixNs), be64(r.updatedUnixNs), lenBytes(r.opaqueAttrs),
  ]);
}
export function decodeInode(buf: Buffer): InodeRecord {
  const r = new Reader(buf, KIND_INODE, 'inode');
  const out: InodeRecord = {
    inode: r.u64n(), type: typeOf(r.u8()), size: r.u64n(), mode: r.u32(), linkCount: r.u32(),
    createdUnixNs: r.u64(), updatedUnixNs: r.u64(), opaqueAttrs: r.bytes(),
  };
  r.end();
  return out;
}

export function encodeDentry(d: DentryRecord): Buffer {
  return value(KIND_DENTRY, [be64(d.parent), lenBytes(d.name), be64(d.inode), Buffer.from([TYPE_CODE[d.type]])]);
}
export function decodeDentry(buf: Buffer): DentryRecord {
  const r = new Reader(buf, KIND_DENTRY, 'dentry');
  const out: DentryRecord = { parent: r.u64n(), name: r.bytes(), inode: r.u64n(), type: typeOf(r.u8()) };
  r.end();
  return out;
}

/** A directory's place in the tree: its parent and its name there. */
export interface ParentRecord {
  parent: number;
  name: Buffer;
}
export function encodeParent(p: ParentRecord): Buffer {
  return value(KIND_PARENT, [be64(p.parent), lenBytes(p.name)]);
}
export function decodeParent(buf: Buffer): ParentRecord {
  const r = new Reader(buf, KIND_PARENT, 'parent');
  const out = { parent: r.u64n(), name: r.bytes() };
  r.end();
  return out;
}

export function encodeSession(s: SessionRecord): Buffer {
  return value(KIND_SESSION, [lenBytes(Buffer.from(s.session)), be64(s.inode), be64(s.expiresUnixNs)]);
}
export function decodeSession(buf: Buffer): SessionRecord {
  const r = new Reader(buf, KIND_SESSION, 'session');
  const out = { session: r.bytes().toString(), inode: r.u64n(), expiresUnixNs: r.u64() };
  r.end();
  return out;
}

export function encodeUsage(u: QuotaUsage): Buffer {
  return value(KIND_USAGE, [be64(u.bytes), be64(u.inodes)]);
}
export function decodeUsage(buf: Buffer): QuotaUsage {
  const r = new Reader(buf, KIND_USAGE, 'usage');
  const out = { bytes: r.u64n(), inodes: r.u64n() };
  r.end();
  return out;
}
