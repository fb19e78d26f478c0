// Owns the on-disk byte layout of everything the storage layer writes: keys ordered big-endian so that a
// range read is a cursor scan, and the checksummed record envelope every value is wrapped in.
//
// Record envelope (all integers big-endian):
//   [format version u8][kind u8][payload ...][crc32 u32]
// The CRC covers the record's KEY followed by every record byte before the CRC, so a torn write, a flipped
// bit, or a valid record stored under the wrong key are all detected on read.
//
// Raft entries use a hand-rolled payload (term u64, type u8, data) rather than msgpackr: it was measured
// faster to encode and decode (see bench/storage.bench.ts) and lets data be returned without copying. The
// rarely written, structured records (conf state, snapshot metadata) use msgpackr.
import { pack, unpack } from 'msgpackr';
import type { ConfState, Entry, EntryType, HardState, SnapshotMeta } from '../raft/types.js';
import { crc32Update } from '../common/crc32.js';

export const RECORD_FORMAT_VERSION = 1;
/** Version + kind in front, CRC behind. */
export const RECORD_OVERHEAD_BYTES = 6;

export enum RecordKind {
  Entry = 1,
  HardState = 2,
  ConfState = 3,
  LogState = 4,
  SnapshotMeta = 5,
  SnapshotData = 6,
  KvValue = 7,
}

const TWO_POW_32 = 2 ** 32;

export function writeU64(buf: Uint8Array, off: number, n: number): void {
  if (!Number.isSafeInteger(n) || n < 0) throw new Error(`u64 field out of range: ${n}`);
  const hi = Math.floor(n / TWO_POW_32);
  const lo = n >>> 0;
  buf[off] = hi >>> 24;
  buf[off + 1] = hi >>> 16;
  buf[off + 2] = hi >>> 8;
  buf[off + 3] = hi;
  buf[off + 4] = lo >>> 24;
  buf[off + 5] = lo >>> 16;
  buf[off + 6] = lo >>> 8;
  buf[off + 7] = lo;
}

export function readU64(buf: Uint8Array, off: number): number {
  const hi = ((buf[off]! << 24) | (buf[off + 1]! << 16) | (buf[off + 2]! << 8) | buf[off + 3]!) >>> 0;
  const lo = ((buf[off + 4]! << 24) | (buf[off + 5]! << 16) | (buf[off + 6]! << 8) | buf[off + 7]!) >>> 0;
  return hi * TWO_POW_32 + lo;
}

function writeU32(buf: Uint8Array, off: number, n: number): void {
  buf[off] = n >>> 24;
  buf[off + 1] = n >>> 16;
  buf[off + 2] = n >>> 8;
  buf[off + 3] = n;
}

function readU32(buf: Uint8Array, off: number): number {
  return ((buf[off]! << 24) | (buf[off + 1]! << 16) | (buf[off + 2]! << 8) | buf[off + 3]!) >>> 0;
}

// ---- keys ----------------------------------------------------------------------------------------------

/** Raft log key: (groupId u64, index u64). */
export function logKey(groupId: number, index: number): Buffer {
  const k = Buffer.allocUnsafe(16);
  writeU64(k, 0, groupId);
  writeU64(k, 8, index);
  return k;
}

export function decodeLogKey(k: Uint8Array): { groupId: number; index: number } {
  return { groupId: readU64(k, 0), index: readU64(k, 8) };
}

/** Per-group metadata key: (groupId u64, tag u8). */
export enum MetaTag {
  HardState = 1,
  ConfState = 2,
  LogState = 3,
  SnapshotMeta = 4,
}

export function metaKey(groupId: number, tag: MetaTag): Buffer {
  const k = Buffer.allocUnsafe(9);
  writeU64(k, 0, groupId);
  k[8] = tag;
  return k;
}

export function groupKey(groupId: number): Buffer {
  const k = Buffer.allocUnsafe(8);
  writeU64(k, 0, groupId);
  return k;
}

// ---- envelope ------------------------------------------------------------------------------------------

/** Allocates a record with room for payloadBytes and writes the header; call sealRecord after filling it. */
function newRecord(kind: RecordKind, payloadBytes: number): Buffer {
  const rec = Buffer.allocUnsafe(payloadBytes + RECORD_OVERHEAD_BYTES);
  rec[0] = RECORD_FORMAT_VERSION;
  rec[1] = kind;
  return rec;
}

function sealRecord(key: Uint8Array, rec: Buffer): Buffer {
  const end = rec.length - 4;
  writeU32(rec, end, crc32Update(crc32Update(0, key), rec, 0, end));
  return rec;
}

export function encodeRecord(key: Uint8Array, kind: RecordKind, payload: Uint8Array): Buffer {
  const rec = newRecord(kind, payload.length);
  rec.set(payload, 2);
  return sealRecord(key, rec);
}

/**
 * Checks a stored record against its key and expected kind. Returns null when intact, otherwise a short
 * reason the caller turns into a DataLossError naming what was being read.
 */
export function checkRecord(key: Uint8Array, rec: Uint8Array, kind: RecordKind): string | null {
  if (rec.length < RECORD_OVERHEAD_BYTES) return `record truncated to ${rec.length} bytes`;
  const end = rec.length - 4;
  const want = readU32(rec, end);
  const got = crc32Update(crc32Update(0, key), rec, 0, end);
  if (want !== got) return `checksum mismatch (stored ${want.toString(16)}, computed ${got.toString(16)})`;
  if (rec[0] !== RECORD_FORMAT_VERSION) return `unknown record format version ${rec[0]}`;
  if (rec[1] !== kind) return `record kind ${rec[1]} where ${kind} was expected`;
  return null;
}

/** The payload of a record that passed checkRecord (a view, not a copy). */
export function recordPayload(rec: Uint8Array): Uint8Array {
  return rec.subarray(2, rec.length - 4);
}

// ---- raft records --------------------------------------------------------------------------------------

const ENTRY_FIXED_BYTES = 9; // term u64 + type u8

export function encodeEntry(key: Uint8Array, e: Entry): Buffer {
  const rec = newRecord(RecordKind.Entry, ENTRY_FIXED_BYTES + e.data.length);
  writeU64(rec, 2, e.term);
  rec[10] = e.type;
  rec.set(e.data, 11);
  return sealRecord(key, rec);
}

/** Decodes a checked entry payload; data is a view into the record. */
export function decodeEntryPayload(index: number, p: Uint8Array): Entry | null {
  if (p.length < ENTRY_FIXED_BYTES) return null;
  return { term: readU64(p, 0), index, type: p[8] as EntryType, data: p.subarray(ENTRY_FIXED_BYTES) };
}

export function encodeHardState(key: Uint8Array, hs: HardState): Buffer {
  const rec = newRecord(RecordKind.HardState, 24);
  writeU64(rec, 2, hs.term);
  writeU64(rec, 10, hs.vote);
  writeU64(rec, 18, hs.commit);
  return sealRecord(key, rec);
}

export function decodeHardStatePayload(p: Uint8Array): HardState | null {
  if (p.length !== 24) return null;
  return { term: readU64(p, 0), vote: readU64(p, 8), commit: readU64(p, 16) };
}

/** Where the retained log starts: entries <= index were compacted away; term is that of entry `index`. */
export interface LogState {
  truncIndex: number;
  truncTerm: number;
}

export function encodeLogState(key: Uint8Array, s: LogState): Buffer {
  const rec = newRecord(RecordKind.LogState, 16);
  writeU64(rec, 2, s.truncIndex);
  writeU64(rec, 10, s.truncTerm);
  return sealRecord(key, rec);
}

export function decodeLogStatePayload(p: Uint8Array): LogState | null {
  if (p.length !== 16) return null;
  return { truncIndex: readU64(p, 0), truncTerm: readU64(p, 8) };
}

export function encodeConfState(key: Uint8Array, c: ConfState): Buffer {
  return encodeRecord(key, RecordKind.ConfState, pack({ voters: c.voters, learners: c.learners }));
}

export function decodeConfStatePayload(p: Uint8Array): ConfState | null {
  const v = safeUnpack(p) as Partial<ConfState> | undefined;
  if (!v || !Array.isArray(v.voters) || !Array.isArray(v.learners)) return null;
  return { voters: v.voters, learners: v.learners };
}

/** Snapshot metadata plus the length and CRC of its data record, so a mismatched pair is detected. */
export interface StoredSnapshotMeta {
  meta: SnapshotMeta;
  dataBytes: number;
}

export function encodeSnapshotMeta(key: Uint8Array, s: StoredSnapshotMeta): Buffer {
  const { index, term, conf } = s.meta;
  return encodeRecord(
    key,
    RecordKind.SnapshotMeta,
    pack({ index, term, voters: conf.voters, learners: conf.learners, dataBytes: s.dataBytes }),
  );
}

export function decodeSnapshotMetaPayload(p: Uint8Array): StoredSnapshotMeta | null {
  const v = safeUnpack(p) as
    | { index?: unknown; term?: unknown; voters?: unknown; learners?: unknown; dataBytes?: unknown }
    | undefined;
  if (!v || typeof v.index !== 'number' || typeof v.term !== 'number' || typeof v.dataBytes !== 'number') return null;
  if (!Array.isArray(v.voters) || !Array.isArray(v.learners)) return null;
  return {
    meta: { index: v.index, term: v.term, conf: { voters: v.voters, learners: v.learners } },
    dataBytes: v.dataBytes,
  };
}

/** Snapshot data record: (snapshot index u64, data). The index ties it to its metadata record. */
export function encodeSnapshotData(key: Uint8Array, index: number, data: Uint8Array): Buffer {
  const rec = newRecord(RecordKind.SnapshotData, 8 + data.length);
  writeU64(rec, 2, index);
  rec.set(data, 10);
  return sealRecord(key, rec);
}

export function decodeSnapshotDataPayload(p: Uint8Array): { index: number; data: Uint8Array } | null {
  if (p.length < 8) return null;
  return { index: readU64(p, 0), data: p.subarray(8) };
}

function safeUnpack(p: Uint8Array): unknown {
  try {
    return unpack(p);
  } catch {
    return undefined;
  }
}
