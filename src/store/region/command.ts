// Owns the raft entry format of a region: one Percolator command (or a split, or an MVCC GC pass) per entry, msgpack-encoded,
// carrying the epoch version it was admitted at and, where a decision depends on time, the proposing
// leader's clock (`nowMs`), so apply on every replica is a pure function of state and entry.
import { Packr } from 'msgpackr';
import type {
  CheckTxnStatusRequest,
  CommitRequest,
  HeartBeatRequest,
  OnePhaseCommitRequest,
  PrewriteRequest,
  ResolveLockRequest,
  RollbackRequest,
} from '../percolator/types.js';

export type RegionCommand =
  | { t: 'prewrite'; v: number; req: PrewriteRequest }
  | { t: 'commit'; v: number; req: CommitRequest }
  | { t: 'rollback'; v: number; req: RollbackRequest }
  | { t: 'resolve'; v: number; req: ResolveLockRequest }
  | { t: 'check'; v: number; req: CheckTxnStatusRequest }
  | { t: 'heartbeat'; v: number; req: HeartBeatRequest }
  | { t: 'one_pc'; v: number; req: OnePhaseCommitRequest }
  | { t: 'split'; v: number; splitKey: Buffer; newId: number }
  /** MVCC GC of the whole region below `safePoint` (src/store/gc/collect.ts); a point at or below the region's is a no-op. */
  | { t: 'gc'; v: number; safePoint: bigint };

export type CommandType = RegionCommand['t'];

const packr = new Packr({ useRecords: false, int64AsType: 'bigint' });
/** Request fields that are versions: restored to bigint whatever width msgpack chose. */
const TS_FIELDS = new Set(['startTs', 'commitTs', 'minCommitTs', 'lockTs', 'callerStartTs', 'safePoint']);

export function encodeCommand(c: RegionCommand): Buffer {
  return packr.pack(c);
}

function normalise(x: unknown, field = ''): unknown {
  if (TS_FIELDS.has(field) && (typeof x === 'number' || typeof x === 'bigint')) return BigInt(x);
  if (typeof x === 'bigint') return Number(x);
  if (x instanceof Uint8Array) return Buffer.from(x.buffer, x.byteOffset, x.byteLength);
  if (Array.isArray(x)) return x.map((v) => normalise(v));
  if (x && typeof x === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(x)) out[k] = normalise(v, k);
    return out;
  }
  return x;
}

export function decodeCommand(data: Uint8Array): RegionCommand {
  return normalise(packr.unpack(data)) as RegionCommand;
}
