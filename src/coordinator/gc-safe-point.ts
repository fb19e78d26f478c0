// Owns the MVCC GC safe point rule and the active coordinator's running value of it. The safe point is the
// lowest of (a) now minus the GC lifetime (in TSO units), (b) every open SnapshotSubtree epoch's read version
// (a reader at R needs each key's newest version at or below R, which a pass below R keeps), and (c) one below
// every live transaction's start ts (its reads at S need the same; and its rollback marker, written at S, must
// survive so a late prewrite of it can never succeed). Live transactions are the stores' locks: each store
// reports the oldest start ts of the locks it holds in its heartbeat; a transaction that has not prewritten yet
// is covered by the lifetime. No value is computed until every joined store has reported to this coordinator
// (a store not heard from may hold the oldest lock).
//
// Monotonic by derivation, not persisted: within one coordinator the published value is the running maximum,
// and across a failover a successor may compute a lower one, which is harmless, because the stores keep the
// highest value they were told and a region's own point only rises (its GC command is a no-op at or below
// it). Safety never rests on the coordinator's number: a region refuses reads below its applied point and
// transactions that started at or below it. Rooting the value would cost a meta-root write per advance for
// nothing the regions do not already hold durably (the point is in each region's record, with its data).
// Pure: the catalog actor feeds it the time and the rooted and reported inputs.

/** TSO timestamps are physical_ms << 18 | logical. */
const LOGICAL_BITS = 18n;

/** Versions stay readable this long by default (a read or transaction older than this may be refused). */
export const DEFAULT_GC_LIFETIME_MS = 10 * 60_000;

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

/** One joined store as the tracker sees it: whether it reported, and its oldest lock (undefined: none). */
export interface StoreLocks {
  store_id: number;
  reported: boolean;
  oldestLockTs?: bigint;
}

export interface TrackerInput {
  nowTs: bigint;
  lifetimeMs: number;
  snapshotReadVersions: bigint[];
  /** Every joined, not retired store. */
  stores: StoreLocks[];
}

/** Published on the coordinator's /debug/vars and in `nokv cluster status`. */
export interface GcSafePointView {
  /** The published safe point (decimal), '0' before the first. */
  safe_point: string;
  /** Unix ms of the last advance, 0 before the first. */
  advanced_ms: number;
  /** What held the last computation lowest: lifetime, snapshot or lock. */
  held_by: string;
  /** Joined stores not heard from yet: no safe point until they report. */
  waiting_for: number[];
  computed: number;
}

export class GcSafePointTracker {
  private published = 0n;
  readonly view: GcSafePointView = { safe_point: '0', advanced_ms: 0, held_by: '', waiting_for: [], computed: 0 };

  /** The safe point to publish now (never below the last one), or undefined while some store has not reported. */
  next(i: TrackerInput, nowMs: number): bigint | undefined {
    const waiting = i.stores.filter((s) => !s.reported).map((s) => s.store_id);
    this.view.waiting_for = waiting;
    if (waiting.length > 0) return this.published > 0n ? this.published : undefined;
    const locks = i.stores.flatMap((s) => (s.oldestLockTs !== undefined ? [s.oldestLockTs] : []));
    const sp = safePoint({ nowTs: i.nowTs, lifetimeMs: i.lifetimeMs, snapshotReadVersions: i.snapshotReadVersions, liveStartTs: locks });
    this.view.computed++;
    const byLife = safePoint({ nowTs: i.nowTs, lifetimeMs: i.lifetimeMs, snapshotReadVersions: [], liveStartTs: [] });
    const bySnap = safePoint({ nowTs: i.nowTs, lifetimeMs: i.lifetimeMs, snapshotReadVersions: i.snapshotReadVersions, liveStartTs: [] });
    this.view.held_by = sp === byLife ? 'lifetime' : sp === bySnap ? 'snapshot' : 'lock';
    if (sp > this.published) {
      this.published = sp;
      this.view.safe_point = sp.toString();
      this.view.advanced_ms = nowMs;
    }
    return this.published > 0n ? this.published : undefined;
  }
}
