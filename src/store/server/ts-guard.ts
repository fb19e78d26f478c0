// Owns the leader-side guard that makes one-phase commits safe against concurrent readers (what TiKV calls the
// concurrency manager: max_ts plus in-memory locks), per region.
//
// The hazard: a 1PC carries a commit ts the client took from the TSO *before* the command is proposed, and
// it leaves no lock behind. A reader whose ts is above that commit ts and that reads before the command
// applies misses the write, although a later read at the same ts would see it. A CAS built on such a read
// commits over the write it missed (its start ts is above the missed commit, so no write conflict): a lost
// update, found by the KV chaos test.
//
// The guard closes it from both sides; each side does its two steps without yielding, so on this one
// thread either the reader sees the writer's lock or the writer sees the reader's ts:
// - a read first raises maxReadTs to its ts, then (after its ReadIndex barrier) waits for every in-flight
//   1PC on its keys whose commit ts is at or below its ts; if one ends without a known outcome (timeout,
//   leadership lost) the read fails UNAVAILABLE, since the command may still apply;
// - a 1PC first takes in-memory locks on its keys, then is refused (CommitTsExpired) if its commit ts is
//   not above maxReadTs or the term's floor (below); the client then commits the transaction in two phases.
// Reads served by an earlier leader are not in this leader's maxReadTs, so a new term starts from a floor
// above every ts an earlier leader can have served a read at. The floor comes from the coordinator TSO: a
// timestamp issued after this leader was elected is above all of those (the argument is in docs/store.md,
// "One-phase commits and concurrent reads"). Until the TSO answers — or for good when no coordinator does
// (standalone stores) — the floor is the wall clock plus LEADER_TS_MARGIN_MS: every ts a previous leader
// served was handed out before this leader was elected, and the TSO never runs further than TSO_WINDOW_MS
// (3 s) ahead of physical time, assuming the TSO's and the stores' clocks agree within the rest of the margin.
import { UnavailableError } from '../../common/errors.js';
import { compareBytes } from '../keys.js';
import { tsoFromPhysicalMs } from '../client/tso.js';

/** Fallback floor of a new term: this far above the wall clock (TSO window 3 s + 2 s clock disagreement). */
export const LEADER_TS_MARGIN_MS = 5_000;
/** Pause before asking the TSO again for a term's floor after no coordinator answered. */
export const LEADER_FLOOR_RETRY_MS = 1_000;

interface MemLock {
  key: Buffer;
  commitTs: bigint;
  /** Resolves true when the outcome is known (applied, or refused without writing), false otherwise. */
  settled: Promise<boolean>;
}

export interface OnePcTicket {
  /** Ends the locks; `known` = the command applied or was refused (a read may rely on what it sees). */
  release(known: boolean): void;
}

export class TsGuard {
  /** Highest read ts this store served as leader (any term). */
  private maxReadTs = 0n;
  private leaderTerm = -1;
  /** The current term's floor: wall clock + margin until the TSO answered, then the TSO's timestamp. */
  private termFloorTs = 0n;
  private floorFromTso = false;
  private floorFetching = false;
  private floorRetryAtMs = 0;
  private readonly locks = new Set<MemLock>();

  /** Called with the current term on every admitted request on a leader: a new term starts a new floor. */
  observeLeader(term: number, nowMs: number): void {
    if (term === this.leaderTerm) return;
    this.leaderTerm = term;
    this.termFloorTs = tsoFromPhysicalMs(nowMs + LEADER_TS_MARGIN_MS);
    this.floorFromTso = false;
    this.floorRetryAtMs = 0;
  }

  /**
   * The term whose floor should be asked of the TSO now, if any (not yet known from the TSO, no request in
   * flight, not backing off). The caller answers with `floorFetched` whatever happens.
   */
  floorToFetch(nowMs: number): number | undefined {
    if (this.leaderTerm < 0 || this.floorFromTso || this.floorFetching || nowMs < this.floorRetryAtMs) return undefined;
    this.floorFetching = true;
    return this.leaderTerm;
  }

  /**
   * A TSO timestamp taken after `term` began (undefined: no coordinator answered). It replaces the wall-clock
   * floor of that term — reads this leader served meanwhile stay in maxReadTs — and is dropped if the term
   * has changed since.
   */
  floorFetched(term: number, ts: bigint | undefined, nowMs: number): void {
    this.floorFetching = false;
    if (term !== this.leaderTerm) return;
    if (ts === undefined) {
      this.floorRetryAtMs = nowMs + LEADER_FLOOR_RETRY_MS;
      return;
    }
    this.termFloorTs = ts;
    this.floorFromTso = true;
  }

  /** Whether the current term's floor came from the TSO (false: the wall-clock fallback). */
  get floorIsFromTso(): boolean {
    return this.floorFromTso;
  }

  noteRead(ts: bigint): void {
    if (ts > this.maxReadTs) this.maxReadTs = ts;
  }

  /** The ts a one-phase commit must be above: the term's floor or the highest read served, whichever is higher. */
  get maxRead(): bigint {
    return this.maxReadTs > this.termFloorTs ? this.maxReadTs : this.termFloorTs;
  }

  get inFlight(): number {
    return this.locks.size;
  }

  /**
   * Takes the locks of a one-phase commit's writes and fixes its commit ts, or answers the lowest commit ts
   * this leader would accept. With a commit ts given (the client took it from the TSO) it is refused when not
   * above maxRead. Without one the leader picks max(startTs, maxRead) + 1, which needs no TSO call: every term
   * in it is a TSO timestamp (the start ts, a read's ts, the floor), so it is at most one above a timestamp
   * already issued, and any transaction that begins after this one is acknowledged gets a start ts at or above
   * it and sees the write. That rests on the floor coming from the TSO; on the wall-clock floor (in the future)
   * it is refused until the start ts has passed the floor.
   */
  lockOnePc(keys: Buffer[], startTs: bigint, commitTs?: bigint): { ticket: OnePcTicket; commitTs: bigint } | { minCommitTs: bigint } {
    const floor = this.maxRead;
    if (commitTs === undefined) {
      if (!this.floorFromTso && startTs < this.termFloorTs) return { minCommitTs: floor + 1n };
      commitTs = (startTs > floor ? startTs : floor) + 1n;
    } else if (commitTs <= floor) {
      return { minCommitTs: floor + 1n };
    }
    let release!: (known: boolean) => void;
    const settled = new Promise<boolean>((r) => (release = r));
    const mine = keys.map((key) => ({ key, commitTs: commitTs!, settled }));
    for (const l of mine) this.locks.add(l);
    let done = false;
    return {
      commitTs,
      ticket: {
        release: (known) => {
          if (done) return;
          done = true;
          for (const l of mine) this.locks.delete(l);
          release(known);
        },
      },
    };
  }

  /**
   * Waits for the in-flight 1PCs a read at ts must see: keys given = those keys, else every key in
   * [start, end) (end empty = unbounded). Throws UnavailableError if one ended without a known outcome.
   */
  async waitForWriters(ts: bigint, sel: { keys: Buffer[] } | { start: Buffer; end: Buffer }): Promise<void> {
    const hits = (k: Buffer) =>
      'keys' in sel ? sel.keys.some((x) => x.equals(k)) : compareBytes(k, sel.start) >= 0 && (sel.end.length === 0 || compareBytes(k, sel.end) < 0);
    for (;;) {
      const blocking = [...this.locks].filter((l) => l.commitTs <= ts && hits(l.key));
      if (blocking.length === 0) return;
      const outcomes = await Promise.all(blocking.map((l) => l.settled));
      if (outcomes.includes(false)) throw new UnavailableError('a one-phase commit this read must see has no known outcome yet; retry');
    }
  }
}
