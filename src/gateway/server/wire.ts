// Owns the conversion between nokv.fsmeta.v1 wire messages (proto-loader objects: snake_case, 64-bit integers as
// decimal strings, enums as names, bytes as Buffers) and the executor's records and requests. Names are bytes on
// the wire and in the executor: they pass through untouched.
import { FsInvalidError } from '../errors.js';
import type { KvCursor } from '../kv.js';
import type { CreateReq, MoveReq, NameReq, ReadDirReq, SessionReq, UpdateInodeReq } from '../requests.js';
import type { DentryRecord, InodeRecord, InodeType, SessionRecord } from '../types.js';
import type { WatchItem } from '../watch/router.js';

export const FSMETA_PROTO = 'nokv/fsmeta/v1/fsmeta.proto';
export const FSMETA_SERVICE = 'nokv.fsmeta.v1.FSMetadata';

type Wire = Record<string, any>;

/** A uint64 id or count; refuses values a JS number cannot hold exactly. */
export function num(v: unknown, what: string): number {
  const n = Number(v ?? 0);
  if (!Number.isSafeInteger(n) || n < 0) throw new FsInvalidError(`${what} out of range: ${String(v)}`);
  return n;
}

export function big(v: unknown): bigint {
  return BigInt(String(v ?? 0));
}

/** A bytes field (absent = empty). */
export function bytes(v: unknown): Buffer {
  if (Buffer.isBuffer(v)) return v;
  return v instanceof Uint8Array ? Buffer.from(v.buffer, v.byteOffset, v.byteLength) : Buffer.alloc(0);
}

function typeIn(v: unknown): InodeType | 'UNSPECIFIED' {
  if (v === 'INODE_TYPE_FILE' || v === 1) return 'FILE';
  if (v === 'INODE_TYPE_DIRECTORY' || v === 2) return 'DIRECTORY';
  return 'UNSPECIFIED';
}
const typeOut = (t: InodeType) => (t === 'FILE' ? 'INODE_TYPE_FILE' : 'INODE_TYPE_DIRECTORY');

export function inodeOut(i: InodeRecord): Wire {
  return {
    inode: String(i.inode), type: typeOut(i.type), size: String(i.size), mode: i.mode, link_count: i.linkCount,
    created_unix_ns: i.createdUnixNs.toString(), updated_unix_ns: i.updatedUnixNs.toString(), opaque_attrs: i.opaqueAttrs,
  };
}
export function dentryOut(d: DentryRecord): Wire {
  return { parent: String(d.parent), name: d.name, inode: String(d.inode), type: typeOut(d.type) };
}
export function sessionOut(s: SessionRecord): Wire {
  return { session: s.session, inode: String(s.inode), expires_unix_ns: s.expiresUnixNs.toString() };
}

export function createIn(r: Wire): CreateReq {
  const a = r.attrs ?? {};
  return {
    mount: r.mount ?? '', parent: num(r.parent, 'parent'), name: bytes(r.name),
    attrs: {
      type: typeIn(a.type), size: num(a.size, 'size'), mode: Number(a.mode ?? 0), createdUnixNs: big(a.created_unix_ns),
      updatedUnixNs: big(a.updated_unix_ns), opaqueAttrs: Buffer.from(a.opaque_attrs ?? []),
    },
  };
}
export function nameIn(r: Wire): NameReq {
  return { mount: r.mount ?? '', parent: num(r.parent, 'parent'), name: bytes(r.name) };
}
export function readDirIn(r: Wire): ReadDirReq {
  return { mount: r.mount ?? '', parent: num(r.parent, 'parent'), startAfter: bytes(r.start_after), limit: Number(r.limit ?? 0), snapshotVersion: big(r.snapshot_version) };
}
export function updateIn(r: Wire): UpdateInodeReq {
  return {
    ...nameIn(r),
    inode: num(r.inode, 'inode'),
    ...(r.set_size ? { size: num(r.size, 'size') } : {}),
    ...(r.set_mode ? { mode: Number(r.mode ?? 0) } : {}),
    ...(r.set_updated_unix_ns ? { updatedUnixNs: big(r.updated_unix_ns) } : {}),
    ...(r.set_opaque_attrs ? { opaqueAttrs: Buffer.from(r.opaque_attrs ?? []) } : {}),
  };
}
export function moveIn(r: Wire): MoveReq {
  return {
    mount: r.mount ?? '', fromParent: num(r.from_parent, 'from_parent'), fromName: bytes(r.from_name), toParent: num(r.to_parent, 'to_parent'), toName: bytes(r.to_name),
    ...(r.no_replace ? { noReplace: true } : {}),
  };
}
export function sessionIn(r: Wire): SessionReq {
  return { mount: r.mount ?? '', inode: num(r.inode, 'inode'), session: r.session ?? '', expiresUnixNs: big(r.expires_unix_ns) };
}

export function cursorIn(c: Wire | undefined): KvCursor {
  return { regionId: num(c?.region_id, 'region_id'), term: num(c?.term, 'term'), index: num(c?.index, 'index') };
}
export function cursorOut(c: KvCursor): Wire {
  return { region_id: String(c.regionId), term: String(c.term), index: String(c.index) };
}
export function eventOut(e: WatchItem): Wire {
  return {
    event: {
      cursor: cursorOut(e.cursor), commit_version: e.commitVersion.toString(), kind: `WATCH_EVENT_KIND_${e.kind}`,
      parent: String(e.parent), name: e.name, key: e.key,
    },
  };
}
