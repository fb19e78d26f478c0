// Owns a cluster of simulated processes each hosting one replica of a raft group through the PRODUCTION raft
// host (src/raft/host/group.ts and multi.ts) over the production RaftLogStore on a simulated disk, the
// simulated network and the shared virtual clock — and the raft safety checkers that watch it after every
// event:
//   - election safety: at most one leader per term;
//   - leader completeness: a node that becomes leader of term T holds every entry committed before T;
//   - state machine safety: every replica applies, at each index, the entry committed there, in order, and
//     never an index no leader committed; a snapshot restored at index i equals the one taken at i;
//   - log matching: two durable logs that agree on (index, term) agree on every entry up to it;
//   - a replica's group never fails (a broken core invariant or a failed persist is a finding: the simulated
//     disk only fails when told to).
// The checkers read the core through one white-box peek (`coreOf`), so the production host needs no test
// hooks. The state machine is the caller's (a register KV, the rooted meta-root state, a store region).
import { RaftGroup, type RaftGroupOptions } from '../../src/raft/host/group.js';
import { MultiRaft } from '../../src/raft/host/multi.js';
import type { AppliedEntry, StateMachine } from '../../src/raft/host/replicated.js';
import type { RaftCore } from '../../src/raft/index.js';
import { RaftLogStore } from '../../src/storage/raft-log-store.js';
import type { Prng } from '../../src/common/prng.js';
import { ProcessClock, type SimClock } from '../../src/sim/sim-clock.js';
import { SimDisk, type CrashKind, type SimStorage } from '../../src/sim/sim-disk.js';
import type { SimNetwork } from './sim-network.js';
import { Mailbox } from './owner-mailbox.js';

/** Longest downtime of a crashed or stopped process before the nemesis restarts it. */
export const MAX_DOWN_MS = 2_000;

export class SimViolation extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SimViolation';
  }
}

/** Bugs the simulator must find (each breaks a rule the production code keeps). */
export type InjectedBug =
  /** The host sends every Ready's messages (votes, acks) before its persist is durable. */
  | 'host-sends-before-persist'
  /** The disk acknowledges a write when it is committed, before its fsync. */
  | 'disk-acks-before-sync'
  /** The rooted state machine answers a fence command as accepted but keeps the old fence (meta scenario). */
  | 'root-fence-not-kept'
  /** The region state machine's snapshot leaves out the lock family (txn scenario). */
  | 'region-snapshot-omits-locks';

export interface ClusterOptions<S extends StateMachine> {
  clock: SimClock;
  net: SimNetwork;
  prng: Prng;
  groupId: number;
  voters: number[];
  /** A fresh incarnation's state machine; `storage` is the process's disk (a state machine may persist there too). */
  makeStateMachine: (nodeId: number, storage: SimStorage) => S;
  tickMs: number;
  electionTimeoutTicks: number;
  heartbeatTimeoutTicks: number;
  snapshotEveryEntries: number;
  compactionSlackEntries: number;
  maxSyncMs: number;
  /** Probability that a batch's sync is followed at once by the process dying. */
  crashAfterSyncP: () => number;
  /** Probability that a committed batch is followed by the process dying before its sync completes. */
  crashBeforeSyncP: () => number;
  /** Clock drift per process: rate in [1 - d, 1 + d]. */
  driftMax: number;
  bug?: InjectedBug;
  /** Drive each group from an owner's mailbox (externalDrive), as the meta-root and region actors do. */
  ownerDriven?: boolean;
  /** false: this cluster ignores host and disk bugs (another scenario of the run carries them). */
  hostBugs?: boolean;
  log: (line: string) => void;
}

export interface Incarnation<S> {
  clock: ProcessClock;
  group: RaftGroup<unknown>;
  multi: MultiRaft;
  /** Present when the group is driven by its owner (externalDrive), as production roles do. */
  mailbox?: Mailbox;
  /**
   * How clients reach the group: through the owner's mailbox when there is one, else directly. Every call of
   * a scenario on the group goes through here.
   */
  run<T>(fn: (group: RaftGroup<unknown>) => Promise<T>): Promise<T>;
  sm: S;
  /** Next index this replica must apply (contiguity). */
  nextApply: number;
  /** Called when this incarnation dies (clients with requests in flight to it). */
  onDeath: Set<() => void>;
}

export interface SimNode<S> {
  id: number;
  disk: SimDisk;
  inc?: Incarnation<S>;
  starting: boolean;
  /** A clean stop is in progress (the disk is still open). */
  stopping?: boolean;
  /** The clock of an incarnation still recovering (a crash then kills it too). */
  startingClock?: ProcessClock;
  restartAt?: number;
  /** Highest term this node was seen leading (leader completeness is checked once per term). */
  leaderTermSeen: number;
  rate: number;
}

export interface ClusterStats {
  crashes: number;
  cleanStops: number;
  restarts: number;
  leaders: number;
  maxCommit: number;
  applied: number;
  snapshotsRestored: number;
}

/** The raft core behind a production RaftGroup, for the checkers only (read, never driven). */
function coreOf(g: RaftGroup<unknown>): RaftCore {
  const core = (g as unknown as { core?: RaftCore }).core;
  if (!core) throw new Error('assertion: RaftGroup no longer keeps its core in `core`; update the simulator');
  return core;
}

function bytesKey(term: number, data: Uint8Array): string {
  return `${term}/${Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('base64')}`;
}

export class HostCluster<S extends StateMachine> {
  readonly nodes = new Map<number, SimNode<S>>();
  readonly stats: ClusterStats = { crashes: 0, cleanStops: 0, restarts: 0, leaders: 0, maxCommit: 0, applied: 0, snapshotsRestored: 0 };
  private readonly leaderOfTerm = new Map<number, number>();
  /** index -> (term/data of the committed entry, term of the leader that committed it). Empty entries have data ''. */
  /**
   * index -> the entry a leader's core counted as committed there. A leader counts its own entries before its
   * persist completes (parallel append), but that commit cannot leave the node, be applied or acknowledged
   * until the persist is done (group.ts); if the leader dies first, the entry may be lost and replaced. So a
   * commit is only tentative until some replica applies the index (or a snapshot covers it): only then is it
   * held to leader completeness, and only a tentative one may be replaced by another leader's commit.
   */
  private readonly committed = new Map<number, { key: string; commitTerm: number; empty?: boolean }>();
  /** Every index up to here was applied (or restored) by some replica: committed for certain. */
  private visibleMax = 1;
  /** The founders' bootstrap snapshot (index 1) is committed before anything runs. */
  private committedMax = 1;
  /** Snapshot bytes taken at an index (by any replica): a restore at that index must match. */
  private readonly snapshotsAt = new Map<number, string>();
  private failure?: SimViolation;

  constructor(readonly o: ClusterOptions<S>) {
    for (const id of o.voters) {
      const disk = new SimDisk(`node-${id}`, {
        clock: o.clock,
        prng: o.prng.fork(),
        maxSyncMs: o.maxSyncMs,
        crashAfterSync: () => {
          if (!o.prng.chance(o.crashAfterSyncP())) return false;
          return this.crash(id, 'after a sync, before anyone heard of it', 'lose-unsynced');
        },
        onCommit: (syncAt) => {
          if (!o.prng.chance(o.crashBeforeSyncP())) return;
          const kind: CrashKind = o.prng.chance(0.5) ? 'torn-last-write' : 'lose-unsynced';
          o.clock.setTimer((syncAt - o.clock.now()) * o.prng.next(), () => this.crash(id, 'before a sync completed', kind));
        },
        ackBeforeSync: o.bug === 'disk-acks-before-sync' && o.hostBugs !== false,
      });
      const rate = 1 + (o.prng.next() * 2 - 1) * o.driftMax;
      this.nodes.set(id, { id, disk, starting: false, leaderTermSeen: 0, rate });
    }
  }

  /** A violation found inside a callback (where throwing would only reach production code); rethrown by check(). */
  fail(msg: string): void {
    if (!this.failure) this.failure = new SimViolation(msg);
  }

  // ---- lifecycle -----------------------------------------------------------------------------------------

  async start(id: number): Promise<void> {
    const node = this.nodes.get(id)!;
    if (node.inc || node.starting || node.stopping) return;
    node.starting = true;
    node.restartAt = undefined;
    const clock = new ProcessClock(this.o.clock, node.rate, 0);
    node.startingClock = clock;
    const storage = node.disk.open();
    const store = new RaftLogStore(storage);
    const sm = this.o.makeStateMachine(id, storage);
    const inc: Partial<Incarnation<S>> = { clock, sm, nextApply: 0, onDeath: new Set() };
    const multi = new MultiRaft({ clock, tickMs: this.o.tickMs, isConfiguredPeer: (p) => this.nodes.has(p) });
    const checked = this.watchStateMachine(node, sm, inc);
    // Owner-driven like the production actors: one Ready per `drive`, its persist's completion a message.
    const mailbox = this.o.ownerDriven ? new Mailbox((err) => this.fail(`node ${id}: owner handler threw: ${(err as Error).stack ?? String(err)}`)) : undefined;
    let driven: RaftGroup<unknown> | undefined;
    const drive = () => {
      const persisted = driven?.beginReady();
      if (!persisted) return;
      persisted.then(
        () => mailbox!.post(() => driven!.finishReady() ?? undefined),
        (err: unknown) => mailbox!.post(() => driven!.failReady(err)),
      );
    };
    const opts: RaftGroupOptions<unknown> = {
      groupId: this.o.groupId,
      nodeId: id,
      bootstrapVoters: this.o.voters,
      store,
      stateMachine: checked,
      send: (msgs) => {
        if (!clock.isAlive) return;
        for (const m of msgs) this.o.net.send(id, m.to, this.o.groupId, m);
      },
      clock,
      prng: this.o.prng.fork(),
      electionTimeoutTicks: this.o.electionTimeoutTicks,
      heartbeatTimeoutTicks: this.o.heartbeatTimeoutTicks,
      snapshotEveryEntries: this.o.snapshotEveryEntries,
      compactionSlackEntries: this.o.compactionSlackEntries,
      onFailed: (err) => this.fail(`node ${id}: raft group failed: ${err.message}`),
      ...(mailbox ? { externalDrive: { wake: () => mailbox.post(drive) } } : {}),
    };
    let group: RaftGroup<unknown>;
    try {
      group = await RaftGroup.open(opts);
    } catch (err) {
      if (!clock.isAlive) return; // crashed while recovering
      node.starting = false;
      node.startingClock = undefined;
      throw new SimViolation(`node ${id} cannot recover from its disk: ${(err as Error).message}`);
    }
    if (!clock.isAlive) return; // crashed while recovering; a later start owns the node now
    node.starting = false;
    node.startingClock = undefined;
    if (this.o.bug === 'host-sends-before-persist' && this.o.hostBugs !== false) {
      (group as unknown as { maySendBeforePersist: () => boolean }).maySendBeforePersist = () => true;
    }
    inc.group = group;
    inc.multi = multi;
    multi.add(group);
    if (mailbox) {
      driven = group;
      inc.mailbox = mailbox;
      inc.run = (fn) => mailbox.call(() => fn(group));
      const endpoint = {
        deliver: (from: number, items: Array<{ group: number; msg: unknown }>) => mailbox.post(() => multi.deliver(from, items)),
        peerUnreachable: (peer: number) => mailbox.post(() => multi.peerUnreachable(peer)),
      };
      this.o.net.attach(id, endpoint);
      inc.onDeath!.add(() => this.o.net.detach(id, endpoint));
      // The owner's tick: a tick message that also drives (the safety net of a lost wake-up, as in the actors).
      const tick = () => {
        if (mailbox.closed) return;
        mailbox.post(() => {
          group.tick();
          drive();
        });
        clock.setTimer(this.o.tickMs, tick);
      };
      clock.setTimer(this.o.tickMs, tick);
      mailbox.post(drive);
    } else {
      inc.run = (fn) => fn(group);
      const endpoint = { deliver: multi.deliver, peerUnreachable: multi.peerUnreachable };
      this.o.net.attach(id, endpoint);
      inc.onDeath!.add(() => this.o.net.detach(id, endpoint));
      multi.start();
    }
    node.inc = inc as Incarnation<S>;
    node.leaderTermSeen = 0;
    this.stats.restarts++;
    this.o.log(`node ${id} up (applied ${group.status().appliedIndex}, last ${group.status().lastIndex}, term ${group.status().term})`);
  }

  /** The process dies at once: timers, network endpoint and unsynced writes are gone. */
  /** Returns whether the process was running (a process in a clean stop is left to finish it). */
  crash(id: number, why: string, kind: CrashKind): boolean {
    const node = this.nodes.get(id)!;
    if ((!node.inc && !node.starting) || node.stopping) return false;
    this.o.log(`crash node ${id} (${why}; ${kind})`);
    this.stats.crashes++;
    const inc = node.inc;
    node.inc = undefined;
    node.restartAt = this.o.clock.now() + this.o.prng.next() * MAX_DOWN_MS;
    node.disk.crash(kind);
    if (inc) {
      inc.clock.kill();
      if (inc.mailbox) inc.mailbox.closed = true;
      for (const f of inc.onDeath) f();
    } else {
      // Still recovering: its writes never complete (the disk crashed) and its clock dies.
      node.startingClock?.kill();
      node.starting = false;
      node.startingClock = undefined;
    }
    return true;
  }

  /** A clean stop (the production close: waits for its Ready, persists the lazy commit). */
  async stop(id: number): Promise<void> {
    const node = this.nodes.get(id)!;
    const inc = node.inc;
    if (!inc) return;
    this.o.log(`stop node ${id}`);
    this.stats.cleanStops++;
    node.inc = undefined;
    node.restartAt = this.o.clock.now() + this.o.prng.next() * MAX_DOWN_MS;
    for (const f of inc.onDeath) f();
    node.stopping = true;
    try {
      if (inc.mailbox) {
        // The owner stops: no more messages; close waits for an in-flight persist only.
        inc.mailbox.closed = true;
        await inc.group.close();
      } else await inc.multi.stop();
    } finally {
      inc.clock.kill();
      node.disk.close();
      node.stopping = false;
    }
  }

  leader(): SimNode<S> | undefined {
    let best: SimNode<S> | undefined;
    for (const n of this.nodes.values()) {
      if (!n.inc) continue;
      const c = coreOf(n.inc.group);
      if (c.role === 'leader' && (!best || c.term > coreOf(best.inc!.group).term)) best = n;
    }
    return best;
  }

  live(): SimNode<S>[] {
    return [...this.nodes.values()].filter((n) => n.inc);
  }

  // ---- checkers ------------------------------------------------------------------------------------------

  private watchStateMachine(node: SimNode<S>, sm: S, inc: Partial<Incarnation<S>>): StateMachine {
    return {
      apply: (e: AppliedEntry) => {
        if (!inc.nextApply) inc.nextApply = e.index; // first apply after recovery: the core decides where
        this.observeCommitNow();
        // The host hands the state machine every non-empty entry in order (a new leader's empty entry is skipped).
        for (let i = inc.nextApply!; i < e.index; i++) {
          if (this.committed.get(i)?.empty !== true) this.fail(`node ${node.id} applied index ${e.index} but skipped ${i}, which is not a committed empty entry: applies must be contiguous`);
        }
        if (e.index < inc.nextApply!) this.fail(`node ${node.id} applied index ${e.index} again (next expected ${inc.nextApply})`);
        inc.nextApply = e.index + 1;
        const c = this.committed.get(e.index);
        if (!c) this.fail(`state machine safety: node ${node.id} applied index ${e.index}, which no leader committed (max ${this.committedMax})`);
        else if (c.key !== bytesKey(e.term, e.data)) this.fail(`state machine safety: node ${node.id} applied a different entry at index ${e.index} than was committed`);
        if (e.index > this.visibleMax) this.visibleMax = e.index;
        this.stats.applied++;
        return sm.apply(e);
      },
      snapshot: () => {
        const data = sm.snapshot();
        const at = inc.nextApply ? inc.nextApply - 1 : undefined;
        if (at !== undefined && at > 0) {
          const key = Buffer.from(data).toString('base64');
          const prev = this.snapshotsAt.get(at);
          if (prev !== undefined && prev !== key) this.fail(`state machine safety: node ${node.id} snapshot at ${at} differs from another replica's`);
          else this.snapshotsAt.set(at, key);
        }
        return data;
      },
      restore: (data: Uint8Array, index: number, term: number) => {
        if (index > 1 && index > this.committedMax) this.fail(`node ${node.id} restored a snapshot at ${index} beyond anything committed (${this.committedMax})`);
        const prev = this.snapshotsAt.get(index);
        if (prev !== undefined && prev !== Buffer.from(data).toString('base64')) this.fail(`state machine safety: node ${node.id} restored a snapshot at ${index} that differs from the one taken there`);
        this.stats.snapshotsRestored++;
        inc.nextApply = index + 1;
        if (index > this.visibleMax) this.visibleMax = index;
        sm.restore(data, index, term);
      },
    };
  }

  /** Runs after every event: election safety, commit tracking, leader completeness, and deferred failures. */
  check(): void {
    this.observeCommitNow();
    if (this.failure) throw this.failure;
  }

  private observeCommitNow(): void {
    this.scanCommits();
    // Whatever a replica applied is committed for certain — empty entries too, which the state machine never
    // sees (a snapshot, and the compaction after it, may cover nothing else).
    for (const n of this.nodes.values()) {
      const applied = n.inc?.group.status().appliedIndex ?? 0;
      if (applied > this.visibleMax) this.visibleMax = applied;
    }
  }

  private scanCommits(): void {
    for (const n of this.nodes.values()) {
      if (!n.inc) continue;
      const core = coreOf(n.inc.group);
      if (core.role !== 'leader') {
        if (core.committed > this.committedMax) this.fail(`node ${n.id} (${core.role}) has commit ${core.committed} beyond anything a leader committed (${this.committedMax})`);
        continue;
      }
      const term = core.term;
      const other = this.leaderOfTerm.get(term);
      if (other !== undefined && other !== n.id) this.fail(`election safety: nodes ${other} and ${n.id} are both leader in term ${term}`);
      if (n.leaderTermSeen !== term) {
        n.leaderTermSeen = term;
        if (other === undefined) {
          this.leaderOfTerm.set(term, n.id);
          this.stats.leaders++;
          this.o.log(`leader ${n.id} term ${term} (last ${core.lastIndex()}, commit ${core.committed})`);
        }
        for (let i = Math.max(core.firstIndex(), 2); i <= this.visibleMax; i++) {
          const c = this.committed.get(i);
          if (!c) {
            this.fail(`index ${i} was applied somewhere but no leader's commit of it was seen`);
            break;
          }
          if (c.commitTerm >= term) continue;
          const e = core.termAt(i) === undefined ? undefined : core.entriesIn(i, i + 1)[0];
          if (!e || bytesKey(e.term, e.data) !== c.key) this.fail(`leader completeness: leader ${n.id} of term ${term} lacks entry ${i} committed in term ${c.commitTerm}`);
        }
      }
      const commit = core.committed;
      if (commit > this.visibleMax) {
        // Tentative commits above what was applied anywhere are (re)read from this leader; see `committed`.
        const lo = this.visibleMax + 1;
        if (lo < core.firstIndex()) {
          this.fail(`leader ${n.id} committed ${commit} past entries it no longer holds (from ${lo})`);
          continue;
        }
        for (const e of core.entriesIn(lo, commit + 1)) {
          const key = bytesKey(e.term, e.data);
          const had = this.committed.get(e.index);
          if (had && had.key === key) continue;
          if (had) this.o.log(`tentative commit at ${e.index} (term ${had.commitTerm}) was never applied and is replaced by leader ${n.id}'s (term ${term})`);
          this.committed.set(e.index, { key, commitTerm: term, empty: e.data.length === 0 });
        }
        if (commit > this.committedMax) this.committedMax = commit;
        this.stats.maxCommit = this.committedMax;
      }
    }
  }

  /** Log matching over the durable logs of the live replicas. */
  checkLogMatching(): void {
    const logs = this.live().map((n) => ({ id: n.id, core: coreOf(n.inc!.group) }));
    for (let a = 0; a < logs.length; a++) {
      for (let b = a + 1; b < logs.length; b++) {
        const x = logs[a]!.core;
        const y = logs[b]!.core;
        const lo = Math.max(x.firstIndex(), y.firstIndex());
        const hi = Math.min(x.lastIndex(), y.lastIndex());
        if (lo > hi) continue;
        const xe = x.entriesIn(lo, hi + 1);
        const ye = y.entriesIn(lo, hi + 1);
        let top = -1;
        for (let i = xe.length - 1; i >= 0; i--) if (xe[i]!.term === ye[i]!.term) { top = i; break; }
        for (let i = 0; i <= top; i++) {
          if (bytesKey(xe[i]!.term, xe[i]!.data) !== bytesKey(ye[i]!.term, ye[i]!.data) || xe[i]!.type !== ye[i]!.type) {
            throw new SimViolation(`log matching: nodes ${logs[a]!.id} and ${logs[b]!.id} agree at index ${lo + top} but differ at ${lo + i}`);
          }
        }
      }
    }
  }
}
