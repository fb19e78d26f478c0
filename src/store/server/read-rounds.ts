// Owns the sharing of ReadIndex rounds among the concurrent reads of one region, as etcd and TiKV batch their
// read-index requests. A round is one raft read barrier: the leader fixes a read index (its commit index when
// the round starts), confirms with a heartbeat quorum that it is still the leader, and answers once the state
// machine applied that index. Without sharing, every read paid a heartbeat broadcast and its answers of its own.
//
// The rule: a read that arrives while no round is in flight starts one at once; reads that arrive while a round
// is in flight wait, and all of them join the NEXT round, which starts as soon as the current one completes
// (passed or failed). A read never joins a round that started before it arrived, because that round's index
// was fixed before the read existed: a write acknowledged to some client between the round's start and the
// read's arrival may sit above that index, and a client that saw the acknowledgement and then issued this read
// would read the state before its write (not linearizable). A round started after the read arrived fixes an
// index at or above every commit acknowledged before the read arrived (an acknowledged write is committed, and
// the leader's commit index only grows while it leads), and its quorum confirms that no newer leader exists.
//
// Pure: the round itself (`start`) and where a follow-up round is started (`schedule`, so the region actor can
// start it inside its own mailbox) are injected; no timers, no raft here.

export interface ReadRoundsOptions {
  /** Runs one round: fixes its read index synchronously, settles once it is confirmed and applied (or failed). */
  start: () => Promise<void>;
  /** Runs `fn` soon (the region actor: inside its mailbox); a follow-up round starts there. Default: now. */
  schedule?: (fn: () => void) => void;
  /** Told once per round started, with how many reads it serves. */
  onRound?: (members: number) => void;
}

interface Waiter {
  resolve: () => void;
  reject: (err: unknown) => void;
}

export class ReadRounds {
  /** The round whose index is fixed: its members complete with it. */
  private current: Waiter[] | undefined;
  /** A follow-up round scheduled but not started yet: its index is not fixed, so new reads may still join it. */
  private forming: Waiter[] | undefined;
  /** Reads that arrived while `current` was in flight: the next round's members. */
  private waiting: Waiter[] = [];
  private readonly schedule: (fn: () => void) => void;
  private rounds = 0;
  private reads = 0;

  constructor(private readonly opts: ReadRoundsOptions) {
    this.schedule = opts.schedule ?? ((fn) => fn());
  }

  /** Resolves once a round that started after this call has passed; rejects with that round's failure. */
  join(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const w: Waiter = { resolve, reject };
      this.reads++;
      if (this.forming) this.forming.push(w);
      else if (this.current) this.waiting.push(w);
      else this.begin([w]);
    });
  }

  /** Fails every read in flight or waiting (leadership lost): none of them may be served by this replica. */
  failAll(err: unknown): void {
    const all = [...(this.current ?? []), ...(this.forming ?? []), ...this.waiting];
    this.current = undefined;
    this.forming = undefined;
    this.waiting = [];
    for (const w of all) w.reject(err);
  }

  /** Rounds started and reads served or failed through them so far. */
  stats(): { rounds: number; reads: number; waiting: number } {
    return { rounds: this.rounds, reads: this.reads, waiting: (this.current?.length ?? 0) + (this.forming?.length ?? 0) + this.waiting.length };
  }

  private begin(members: Waiter[]): void {
    this.current = members;
    this.rounds++;
    this.opts.onRound?.(members.length);
    let round: Promise<void>;
    try {
      round = this.opts.start();
    } catch (err) {
      round = Promise.reject(err);
    }
    round.then(
      () => this.finish(members, undefined, true),
      (err: unknown) => this.finish(members, err, false),
    );
  }

  private finish(members: Waiter[], err: unknown, ok: boolean): void {
    // failAll() already answered these members (and the round that follows is not this one's business).
    if (this.current !== members) return;
    this.current = undefined;
    for (const w of members) {
      if (ok) w.resolve();
      else w.reject(err);
    }
    if (this.waiting.length === 0) return;
    const next = (this.forming = this.waiting);
    this.waiting = [];
    this.schedule(() => {
      if (this.forming !== next) return; // failed meanwhile
      this.forming = undefined;
      this.begin(next);
    });
  }
}
