// Owns MVCC garbage collection's two pure rules: which safe point is safe, and what a pass below it removes.
//
// Safe point: the lowest of (a) now minus the GC lifetime (in TSO units), (b) every open SnapshotSubtree epoch's
// read version (a reader at R needs each key's newest version at or below R, which a pass below R keeps), and
// (c) one below every live transaction's start ts (its reads at S need the same; and its own rollback marker,
// written at S, must survive so a late prewrite of it can never succeed).
//
// A pass over [start, end) below safe point `sp`, key by key: write records above sp are all kept; of those at
// or below sp, the newest put is kept with its data and everything older goes; a newest delete at or below sp
// goes with everything older (a read at or above sp sees nothing either way); lock and rollback records at or
// below sp go (no transaction that could need them is live). A key with a lock at or below sp is skipped
// whole: its transaction is still being resolved. Pure over an MvccStore; nothing here reads a clock.
import type { MvccStore } from '../mvcc/types.js';

/** TSO timestamps are physical_ms << 18 | logical. */
const LOGICAL_BITS = 18n;

export interface SafePointInput {
  /** A current TSO timestamp. */
  nowTs: bigint;
  /** How long old versions stay readable, in ms. */
  lifetimeMs: number;
  /** Read versions of open SnapshotSubtree epochs. */
  snapshotReadVersions: bigint[];
  /** Start ts of transactions that may still read or write (locks seen, transactions in flight). */
  liveStartTs: bigint[];
}

export function safePoint(i: SafePointInput): bigint {
  let sp = i.nowTs - (BigInt(Math.max(0, Math.floor(i.lifetimeMs))) << LOGICAL_BITS);
  for (const r of i.snapshotReadVersions) if (r < sp) sp = r;
  for (const s of i.liveStartTs) if (s - 1n < sp) sp = s - 1n;
  return sp < 0n ? 0n : sp;
}

export interface GcStats {
  keys: number;
  writesRemoved: number;
  dataRemoved: number;
  /** Keys left alone because a lock at or below the safe point sits on them. */
  lockedSkipped: number;
  /** Where the pass stopped when it hit `maxKeys` (resume from here), or undefined when it finished. */
  resumeKey?: Buffer;
}

export function collectGarbage(m: MvccStore, start: Buffer, end: Buffer, sp: bigint, maxKeys = Number.MAX_SAFE_INTEGER): GcStats {
  const out: GcStats = { keys: 0, writesRemoved: 0, dataRemoved: 0, lockedSkipped: 0 };
  // Keys first: the pass deletes records, so it does not delete under an open iterator of the same family.
  const keys: Buffer[] = [];
  for (const k of m.writeKeys(start, end)) {
    if (keys.length >= maxKeys) {
      out.resumeKey = Buffer.from(k);
      break;
    }
    keys.push(Buffer.from(k));
  }
  for (const key of keys) {
    out.keys++;
    const lock = m.getLock(key);
    if (lock && lock.startTs <= sp) {
      out.lockedSkipped++;
      continue;
    }
    const doomed: Array<{ commitTs: bigint; dataTs?: bigint }> = [];
    let decided = false; // the newest put/delete at or below sp has been met
    for (const v of m.writes(key, sp)) {
      const w = v.write;
      if (!decided && w.kind === 'put') {
        decided = true; // kept: it is what a read at or above sp sees
        continue;
      }
      if (!decided && w.kind === 'delete') decided = true;
      doomed.push({ commitTs: v.commitTs, ...(w.kind === 'put' ? { dataTs: w.startTs } : {}) });
    }
    for (const d of doomed) {
      m.deleteWrite(key, d.commitTs);
      out.writesRemoved++;
      if (d.dataTs !== undefined && m.getData(key, d.dataTs) !== undefined) {
        m.deleteData(key, d.dataTs);
        out.dataRemoved++;
      }
    }
  }
  return out;
}
