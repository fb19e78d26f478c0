// Owns what an MVCC garbage collection pass removes below a safe point (the safe point rule itself is the
// coordinator's: src/coordinator/gc-safe-point.ts; a region applies a pass as a raft command, state-machine.ts).
//
// A pass over [start, end) below safe point `sp`, key by key: write records above sp are all kept; of those at
// or below sp, the newest put is kept with its data and everything older goes; a newest delete at or below sp
// goes with everything older (a read at or above sp sees nothing either way); lock and rollback records at or
// below sp go (no transaction that could need them is live). A key with a lock at or below sp is skipped
// whole: its transaction is still being resolved. Pure over an MvccStore; nothing here reads a clock.
import type { MvccStore } from '../mvcc/types.js';

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
