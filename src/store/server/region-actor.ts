// Owns one region as an actor: its raft group (RaftCore through the raft host), its state machine, its
// one-phase-commit guard, and the proposals and reads in flight. Everything that touches them is a message:
// inbound raft traffic (a group frame's bytes, decoded, validated and membership-checked here, on the region's
// own thread, before the core sees it), proposals,
// reads, and the continuations of work the handler started — a finished persist, an applied proposal, a read
// barrier that passed — which re-enter as `resume` messages, so no handler waits and the mailbox never blocks.
// The raft group's Ready loop is driven from here too (externalDrive): one Ready per `drive` message, its
// persist's completion a `persisted` message. Ticks are the one exception to "everything is a message": the
// shard's timer calls tick() on each of its regions between their messages (never inside one: a region
// awaiting an async handler owes the tick and runs it at the next one), so a shard of 64 regions costs one
// timer callback per tick instead of 64 mailbox messages; a throw there is rethrown in the mailbox. A throw (a broken raft invariant, an injected crash) stops only this actor; its supervisor restarts it and
// the new incarnation recovers from the region's log and applied record (see docs/store.md).
import type { ActorContext, ActorRef, Behaviour, Replier } from '../../actors/index.js';
import { FailedPreconditionError, InvalidArgumentError, NotLeaderError, UnavailableError } from '../../common/errors.js';
import type { Logger } from '../../common/log.js';
import { ConfChangeType, RaftInvariantError, type ConfChange, type Message } from '../../raft/index.js';
import { RaftGroup } from '../../raft/host/group.js';
import { decodeFrame } from '../../transport/raft/codec.js';
import { admitInbound } from '../../raft/host/inbound.js';
import { findOwnWrite } from '../percolator/txn.js';
import type { KeyError } from '../percolator/types.js';
import { encodeCommand, type RegionCommand } from '../region/command.js';
import { checkRequest, descriptorToJson, type DescriptorJson, type RegionDescriptor, type RegionEpoch } from '../region/descriptor.js';

import { EpochNotMatchError } from '../region/errors.js';
import { RegionStateMachine, type ApplyEvent, type ApplyResult } from '../region/state-machine.js';
import { ReadRounds } from './read-rounds.js';
import { asBuffers, runRead, type ReadOp } from './reads.js';
import type { RegionHost } from './region-host.js';
import { shardFor, type ShardConfig } from './shard.js';
import { TsGuard } from './ts-guard.js';

export interface RequestContext {
  regionId: number;
  epoch?: RegionEpoch;
  storeId?: number;
}

export interface ReadAt {
  readTs: bigint;
  range?: { start: Buffer; end: Buffer };
}

// Requests are plain data (they cross to a shard's thread): a read names its operation (reads.ts), a command
// comes without its epoch version, which the region sets when it admits it (RegionActor.stamp).
export interface ReadRequest {
  ctx: RequestContext;
  keys: Buffer[];
  op: ReadOp;
  at?: ReadAt;
}

export interface ProposeRequest {
  ctx: RequestContext;
  keys: Buffer[];
  cmd: RegionCommand;
}

export interface OnePcRequest {
  ctx: RequestContext;
  keys: Buffer[];
  writes: Buffer[];
  startTs: bigint;
  /** 0n: the guard picks the commit ts. */
  commitTs: bigint;
  cmd: Extract<RegionCommand, { t: 'one_pc' }>;
}

export type RegionMsg =
  /** One group frame of an inbound batch, still encoded (transport/raft/codec.ts). */
  | { t: 'raft'; from: number; bytes: Uint8Array }
  | { t: 'unreachable'; peer: number }
  | { t: 'tick' }
  | { t: 'resume' }
  | { t: 'drive' }
  | { t: 'persisted'; error?: unknown }
  | { t: 'read'; req: ReadRequest }
  | { t: 'propose'; req: ProposeRequest }
  | { t: 'onePc'; req: OnePcRequest }
  | { t: 'crash'; why: string }
  /** A scheduler's hint: hand leadership to store `to` if this replica leads at epoch version `epochVersion`. */
  | { t: 'transferLeader'; to: number; epochVersion: number }
  /** Replica repair's hint: take the next membership step toward adding or removing `store`. */
  | { t: 'changePeer'; kind: 'add' | 'remove'; store: number; epochVersion: number };

/** What a region publishes for the router, /debug/vars and the control plane after it changes. */
export interface RegionView {
  desc: RegionDescriptor;
  leaderId: number;
  term: number;
  role: string;
  isLeader: boolean;
  applied: number;
  commit: number;
  floorFromTso: boolean;
  onePcInFlight: number;
  /** The region's applied MVCC GC safe point (decimal: views cross threads as plain data). */
  gcSafePoint: string;
}

/** Longest a latest-version read waits for the leader's TSO call before telling its caller to send a version. */
export const LATEST_READ_TSO_WAIT_MS = 1_000;

const RESUME: RegionMsg = { t: 'resume' };
const DRIVE: RegionMsg = { t: 'drive' };

/**
 * A learner counts as caught up, and is promoted to voter, once its match index is this close to the leader's
 * commit index (a write load keeps a few entries in flight; promoting a far-behind voter would make every
 * commit wait for its catch-up).
 */
export const LEARNER_CATCH_UP_ENTRIES = 32;

/**
 * The spawn entry (module + export): the region `regionId` on the shard `shard` of the thread it runs on.
 * `create`: a replica this store is asked to add (replica repair) whose record is not on disk yet: it starts
 * empty with this descriptor and waits for the leader's snapshot.
 */
export function shardRegion(args: { shard: ShardConfig; regionId: number; create?: DescriptorJson }): RegionActor {
  return new RegionActor(shardFor(args.shard), args.regionId, args.create);
}

export class RegionActor implements Behaviour<RegionMsg> {
  private group!: RaftGroup<ApplyResult>;
  private sm!: RegionStateMachine;
  private self!: ActorRef<RegionMsg>;
  private log!: Logger;
  private guard?: TsGuard;
  /** Concurrent reads share ReadIndex rounds (read-rounds.ts). */
  private rounds!: ReadRounds;
  private stopped = false;
  /** Requests came through a structured clone (a worker thread): Buffers arrive as Uint8Arrays. */
  private crossThread = false;
  private readonly runs: Array<() => void> = [];
  /** An async handler is in progress (a Ready finishing with more disk work): ticks wait for it. */
  private busy = false;
  private owedTicks = 0;
  /** A tick that threw outside the mailbox: the next message rethrows it, so the supervisor sees it. */
  private broken: unknown;
  private lastView?: RegionView;

  /** A membership change this leader proposed is not applied yet (raft takes one at a time). */
  private confChanging = false;
  /** The snapshot requested before adding a learner: at least this applied index, at this epoch version. */
  private snapshotWanted?: { index: number; version: number };

  constructor(
    private readonly host: RegionHost,
    private readonly regionId: number,
    private readonly create?: DescriptorJson,
  ) {}

  async init(ctx: ActorContext<RegionMsg>): Promise<void> {
    const h = this.host;
    this.self = ctx.self;
    this.crossThread = ctx.self.thread !== 0;
    this.log = h.logger.child({ actor: `region/${this.regionId}` });
    const record = h.loadRecord(this.regionId) ?? (this.create ? { desc: this.create, applied: 0 } : undefined);
    if (!record) throw new UnavailableError(`region ${this.regionId} has no record on this store`);
    const hooks = { onSplit: (_p: RegionDescriptor, child: RegionDescriptor, gc: bigint) => h.openSplitChild(child, gc), onApplied: (ev: ApplyEvent) => h.emitApplied(ev), selfId: h.storeId };
    this.sm = new RegionStateMachine(h.backend, h.storage, record, hooks, h.counters, this.log);
    this.group = await RaftGroup.open<ApplyResult>({
      groupId: this.regionId,
      nodeId: h.storeId,
      bootstrapVoters: [...record.desc.peers],
      // Not among the voters: a replica added to a running group, which must not found a group of its own.
      join: !record.desc.peers.includes(h.storeId),
      onConfChange: (conf, _cc, index) => {
        if (this.sm.applyMembership(conf.voters, index)) this.publish();
      },
      store: h.raftStore,
      stateMachine: this.sm,
      send: (msgs) => h.send(this.regionId, msgs),
      clock: h.clock,
      prng: h.prng.fork(),
      logger: this.log,
      electionTimeoutTicks: h.timing.electionTicks,
      heartbeatTimeoutTicks: h.timing.heartbeatTicks,
      ...(h.timing.snapshotEveryEntries ? { snapshotEveryEntries: h.timing.snapshotEveryEntries } : {}),
      ...(h.timing.compactionSlackEntries !== undefined ? { compactionSlackEntries: h.timing.compactionSlackEntries } : {}),
      // The group's Ready loop runs in this mailbox: a wake-up is a `drive` message, a finished persist a
      // `persisted` one (see raft/host/group.ts, externalDrive).
      externalDrive: { wake: () => this.wake() },
      onFailed: (err) => this.resume(() => this.groupFailed(err)),
      // Ask for the new term's one-phase-commit floor as soon as leadership is won, not at the first request.
      // Reads waiting for a round are told NotLeader when leadership moves away, at once: the deposed leader's
      // round would only time out, and the caller's retry finds the new leader.
      onLeaderChange: (leaderId) => {
        if (leaderId === h.storeId) this.resume(() => this.group.isLeader && this.guardOf());
        else this.rounds?.failAll(this.notLeader());
      },
    });
    this.rounds = new ReadRounds({
      // The round's heartbeat leaves now, not after a `drive` message that queues behind everything already in
      // the mailbox (the reads of the round that just passed, each with its scan to run).
      start: () => {
        const round = this.group.readBarrier({ timeoutMs: this.timeoutMs() });
        if (!this.stopped) this.beginReady();
        return round;
      },
      // A follow-up round starts inside this mailbox, like everything else that touches the group.
      schedule: (fn) => this.resume(fn),
      onRound: (members) => {
        h.counters.read_index_rounds = (h.counters.read_index_rounds ?? 0) + 1;
        h.counters.read_index_reads = (h.counters.read_index_reads ?? 0) + members;
      },
    });
    h.attach?.(this.regionId, ctx.self, this);
    this.publish();
  }

  receive(msg: RegionMsg, ctx: ActorContext<RegionMsg>): void | Promise<void> {
    if (this.broken !== undefined) throw this.broken;
    switch (msg.t) {
      case 'drive':
        return this.beginReady();
      case 'persisted': {
        if (msg.error !== undefined) return this.group.failReady(msg.error);
        // Usually synchronous; a membership change or a snapshot in this Ready has more disk work to wait for.
        const more = this.group.finishReady();
        if (!more) return;
        this.busy = true;
        return more.finally(() => {
          this.busy = false;
        });
      }
      case 'raft':
        return this.stepAll(msg.from, msg.bytes);
      case 'tick':
        return this.onTick(1);
      case 'resume':
        return this.drainRuns();
      case 'unreachable':
        return this.group.reportUnreachable(msg.peer);
      case 'read':
        return this.request(ctx, (r) => this.read(this.local(msg.req), r, ctx));
      case 'propose':
        return this.request(ctx, (r) => this.propose(this.local(msg.req), r, ctx));
      case 'onePc':
        return this.request(ctx, (r) => this.onePc(this.local(msg.req), r, ctx));
      case 'crash':
        throw new Error(`injected crash of region ${this.regionId}: ${msg.why}`);
      case 'transferLeader':
        return this.transferLeader(msg.to, msg.epochVersion);
      case 'changePeer':
        return this.changePeer(msg.kind, msg.store, msg.epochVersion);
    }
  }

  async terminate(): Promise<void> {
    this.stopped = true;
    this.host.detach?.(this.regionId, this.self);
    // The next incarnation starts from what this one applied (the writes are in the shared overlay and on
    // their way to disk), not from an older record that is still in the group commit.
    if (this.sm) this.host.handOver(this.regionId, { desc: descriptorToJson(this.sm.desc), applied: this.sm.applied, gc: this.sm.gcSafePoint.toString() });
    for (const run of this.runs.splice(0)) {
      try {
        run();
      } catch (err) {
        this.log.warn({ err }, 'continuation failed while the region stopped');
      }
    }
    await this.group?.close();
  }

  /**
   * Called by the shard's timer, outside the mailbox but never inside a handler (JavaScript runs one at a
   * time); while an async handler is pending the tick is owed instead.
   */
  tick(): void {
    if (this.stopped || this.broken !== undefined) return;
    if (this.busy) {
      this.owedTicks++;
      return;
    }
    const n = this.owedTicks + 1;
    this.owedTicks = 0;
    try {
      this.onTick(n);
    } catch (err) {
      this.broken = err;
      try {
        this.self.tell(RESUME);
      } catch {
        // Mailbox full: the next message queued there rethrows it.
      }
    }
  }

  private onTick(n: number): void {
    this.drainRuns();
    for (let i = 0; i < n; i++) this.group.tick();
    this.beginReady(); // also covers a wake-up lost to a full mailbox
    this.publish();
  }

  inspect(): unknown {
    return this.group ? { region: this.regionId, ...this.group.status() } : { region: this.regionId };
  }

  private local<T>(req: T): T {
    return this.crossThread ? asBuffers(req) : req;
  }

  /** Sets the epoch version the command is admitted at and, where its request carries one, the leader's clock. */
  private stamp<C extends RegionCommand>(cmd: C): C {
    cmd.v = this.sm.desc.epoch.version;
    if ('req' in cmd && 'nowMs' in cmd.req) (cmd.req as { nowMs: number }).nowMs = this.host.clock.now();
    return cmd;
  }

  /** A request's typed refusal (not leader, wrong epoch, ...) is its caller's answer, never this actor's crash. */
  private request(ctx: ActorContext<RegionMsg>, handle: (r: Replier) => void): void {
    const r = ctx.deferReply();
    try {
      handle(r);
    } catch (err) {
      r.fail(err);
    }
  }

  /**
   * Runs `run` inside this actor's mailbox: queued, and one `resume` message to self drains the queue. A
   * continuation is never lost: a full mailbox leaves it for the next tick, and terminate() runs what is left
   * (the raft group's close waits for its Ready in flight, which may be one of them).
   */
  private resume(run: () => void): void {
    if (this.stopped) return run();
    this.runs.push(run);
    if (this.runs.length > 1) return;
    try {
      this.self.tell(RESUME);
    } catch {
      // Mailbox full: the next tick drains the queue.
    }
  }

  private wake(): void {
    if (this.stopped) return;
    try {
      this.self.tell(DRIVE);
    } catch {
      // Mailbox full: the next tick begins the Ready.
    }
  }

  /** Starts the next Ready's persist; its completion comes back as a `persisted` message. */
  private beginReady(): void {
    const persisted = this.group.beginReady();
    if (!persisted) return;
    persisted.then(
      () => this.tellSelf({ t: 'persisted' }),
      (error: unknown) => this.tellSelf({ t: 'persisted', error }),
    );
  }

  /** A persist's completion; once stopped, the group's close() waits for the persist itself. */
  private tellSelf(msg: RegionMsg): void {
    if (this.stopped) return;
    try {
      this.self.tell(msg);
    } catch {
      // Mailbox full: the continuation cannot be lost, so it runs now (the Ready stays one at a time).
      if (msg.t === 'persisted') void this.receive(msg, undefined as never);
    }
  }

  private drainRuns(): void {
    const batch = this.runs.splice(0);
    for (let i = 0; i < batch.length; i++) {
      try {
        batch[i]!();
      } catch (err) {
        this.runs.unshift(...batch.slice(i + 1));
        throw err;
      }
    }
  }

  /** A hint that no longer fits (not leader any more, epoch moved, target not a voter) is dropped: the next plan decides again. */
  private transferLeader(to: number, epochVersion: number): void {
    if (!this.group.isLeader || this.sm.desc.epoch.version !== epochVersion || to === this.host.storeId) return;
    if (!this.group.confState().voters.includes(to)) return;
    this.log.info({ region: this.regionId, to, term: this.group.status().term }, 'transferring leadership');
    this.group.transferLeader(to);
  }

  /**
   * One step of a repair hint, repeated by every heartbeat until done, each a single-step raft membership
   * change: an addition first drops a learner left by an abandoned plan, then adds the store as a learner
   * (the leader sends it a snapshot), then promotes it to voter once it caught up — so the region never counts a
   * replica that has no data toward its quorum. A removal of this leader's own store hands leadership away
   * first. A hint that no longer fits (not leader, epoch moved, a change still applying) is dropped.
   */
  private changePeer(kind: 'add' | 'remove', store: number, epochVersion: number): void {
    if (!this.group.isLeader || this.sm.desc.epoch.version !== epochVersion || this.confChanging) return;
    const conf = this.group.confState();
    let cc: ConfChange | undefined;
    if (kind === 'add') {
      const abandoned = conf.learners.find((l) => l !== store);
      if (abandoned !== undefined) cc = { type: ConfChangeType.RemoveNode, nodeId: abandoned };
      else if (conf.voters.includes(store)) return;
      else if (!conf.learners.includes(store)) {
        // The learner starts from the leader's stored snapshot: an old one (the founders' bootstrap snapshot,
        // from before this region's splits) covers a wider range than the region has now, and installing it on a
        // store that hosts a neighbouring region would wipe that region's data there. Take a fresh one first; the
        // next hint adds the learner.
        if (!this.freshSnapshotTaken()) return;
        cc = { type: ConfChangeType.AddLearner, nodeId: store };
      }
      else if (this.caughtUp(store)) cc = { type: ConfChangeType.AddVoter, nodeId: store };
    } else if (conf.voters.includes(store) || conf.learners.includes(store)) {
      if (store === this.host.storeId) {
        const to = conf.voters.find((v) => v !== store);
        if (to !== undefined) this.group.transferLeader(to);
        return;
      }
      cc = { type: ConfChangeType.RemoveNode, nodeId: store };
    }
    if (!cc) return;
    this.confChanging = true;
    const change = cc;
    this.log.info({ region: this.regionId, change: ConfChangeType[change.type], node: change.nodeId }, 'proposing a membership change');
    this.group.changeMembership(change, { timeoutMs: this.timeoutMs() }).then(
      (r) => this.log.info({ region: this.regionId, voters: r.conf.voters, learners: r.conf.learners, index: r.index }, 'membership change applied'),
      (err: unknown) => this.log.info({ region: this.regionId, err: (err as Error)?.message }, 'membership change not applied; the next hint tries again'),
    ).finally(() => (this.confChanging = false));
  }

  /**
   * Whether the stored snapshot was taken at this region's current range (after its last split): true once a
   * snapshot requested at the current epoch version is in, else requests one. Under a write load the applied
   * index moves on meanwhile; what matters is only that no split lies between the snapshot and now.
   */
  private freshSnapshotTaken(): boolean {
    const version = this.sm.desc.epoch.version;
    const want = this.snapshotWanted;
    if (want && want.version === version) {
      if (this.group.snapshotIndexValue >= want.index) return true;
      return false; // requested, not taken yet
    }
    this.snapshotWanted = { index: this.sm.applied, version };
    this.group.requestSnapshot();
    return false;
  }

  private caughtUp(store: number): boolean {
    const pr = this.group.progressOf(store);
    return !!pr && pr.match > 0 && pr.match + LEARNER_CATCH_UP_ENTRIES >= this.group.status().commitIndex;
  }

  private stepAll(from: number, bytes: Uint8Array): void {
    const h = this.host;
    let msgs: unknown[];
    try {
      msgs = decodeFrame(bytes);
    } catch (err) {
      h.drops.drop(from, 'undecodable', { group: this.regionId, err: (err as Error).message });
      return;
    }
    const check = { drops: h.drops, groupId: this.regionId, nodeId: h.storeId, conf: this.group.confState(), isConfiguredPeer: h.isConfiguredPeer };
    for (const raw of msgs) {
      const m: Message | undefined = admitInbound(from, raw, check);
      if (m) this.group.step(m);
    }
  }

  /**
   * A broken raft invariant is this region's own bug: crash it, and its restart recovers from the log. Any
   * other group failure is a storage failure shared by every region of the store (one LMDB environment), so
   * the whole data plane is restarted, as before.
   */
  private groupFailed(err: Error): void {
    const cause = (err as { cause?: unknown }).cause;
    if (cause instanceof RaftInvariantError) throw err;
    this.host.failStore(err);
  }

  /** Publishes the region's view when it changed since the last one (a tick of an idle region sends nothing). */
  private publish(): void {
    const st = this.group.status();
    const view: RegionView = {
      desc: this.sm.desc,
      leaderId: st.leaderId,
      term: st.term,
      role: st.role,
      isLeader: st.role === 'leader',
      applied: this.sm.applied,
      commit: st.commitIndex,
      floorFromTso: !!this.guard?.floorIsFromTso,
      onePcInFlight: this.guard?.inFlight ?? 0,
      gcSafePoint: this.sm.gcSafePoint.toString(),
    };
    if (this.lastView && sameView(this.lastView, view)) return;
    this.lastView = view;
    this.host.publish(this.regionId, view);
  }

  // ---- admission ---------------------------------------------------------------------------------------

  private admit(rc: RequestContext, keys: Buffer[]): void {
    checkRequest(this.sm.desc, rc.epoch, keys, () => this.host.descriptors());
    if (!this.group.isLeader) throw this.notLeader();
  }

  private notLeader(): NotLeaderError {
    const leaderId = this.group.status().leaderId;
    const err = new NotLeaderError(`store ${this.host.storeId} is not the leader of region ${this.regionId}`, {
      leaderId,
      leaderAddr: leaderId ? this.host.addrOf(leaderId) : '',
    });
    err.details.regionId = this.regionId;
    return err;
  }

  private mapped(err: unknown): unknown {
    return err instanceof NotLeaderError ? this.notLeader() : err;
  }

  /** The region's one-phase-commit guard, told about this leader's term (see ts-guard.ts). */
  private guardOf(): TsGuard {
    const guard = (this.guard ??= new TsGuard());
    const h = this.host;
    const now = h.clock.now();
    guard.observeLeader(this.group.status().term, now);
    const fetch = h.leaderFloorTso;
    const term = fetch ? guard.floorToFetch(now) : undefined;
    if (fetch && term !== undefined) {
      fetch().then(
        (ts) => this.resume(() => guard.floorFetched(term, ts, h.clock.now())),
        (err) => {
          this.log.debug({ err, term }, 'no TSO answer for the leader floor; wall-clock floor stays');
          this.resume(() => guard.floorFetched(term, undefined, h.clock.now()));
        },
      );
    }
    return guard;
  }

  /**
   * A read below the region's GC safe point could miss versions a pass removed: refused, never answered wrongly.
   * Checked after the read barrier, in the mailbox, against the point applied so far (a pass applied before
   * the read is answered is always seen). The split check reads at 0 and sees only the newest versions.
   */
  private checkSafePoint(readTs: bigint): void {
    if (readTs > 0n && readTs < this.sm.gcSafePoint) {
      throw new FailedPreconditionError(`read ts ${readTs} below GC safe point ${this.sm.gcSafePoint} of region ${this.regionId}`, {
        regionId: this.regionId,
        safePoint: this.sm.gcSafePoint.toString(),
      });
    }
  }

  private timeoutMs(): number {
    return this.host.timing.proposeTimeoutMs;
  }

  // ---- requests ----------------------------------------------------------------------------------------

  /**
   * ReadIndex (a round shared with the region's other concurrent reads, read-rounds.ts), wait for apply (and for
   * one-phase commits the read must see), then read here, in the mailbox.
   */
  private read(req: ReadRequest, r: Replier, ctx: ActorContext<RegionMsg>): void {
    ctx.log.debug({ region: this.regionId, keys: req.keys.length }, 'region read');
    this.admit(req.ctx, req.keys);
    if (req.at?.readTs === 0n) return this.readLatest(req, req.at, r);
    const guard = req.at ? this.guardOf() : undefined;
    guard?.noteRead(req.at!.readTs);
    this.rounds
      .join()
      .then(() => guard?.waitForWriters(req.at!.readTs, req.at!.range ?? { keys: req.keys }))
      .then(
        () =>
          this.resume(() => {
            try {
              // A split may have applied while we waited: admit again against the descriptor now in force.
              checkRequest(this.sm.desc, req.ctx.epoch, req.keys, () => this.host.descriptors());
              this.checkSafePoint(req.op.readTs);
              r.reply(runRead(req.op, this.sm.mvcc, this.sm.desc));
            } catch (err) {
              r.fail(err);
            }
          }),
        (err) => this.resume(() => r.fail(this.mapped(err))),
      );
  }

  /**
   * A read at the latest version: the read's timestamp is taken from the TSO after the request arrived, while
   * the ReadIndex round runs, instead of by the caller before it sends (one round trip fewer on its path). A
   * timestamp issued after the request arrived is above every timestamp issued before the caller sent it, so
   * the read sees every commit acknowledged before then, as with a caller's fresh timestamp. The guard's two
   * steps stay together: the timestamp is noted and the in-flight one-phase commits at or below it are taken
   * in one synchronous step, so a commit admitted later picks a commit ts above it (ts-guard.ts).
   */
  private readLatest(req: ReadRequest, at: ReadAt, r: Replier): void {
    const fetch = this.host.leaderFloorTso;
    if (!fetch) throw new FailedPreconditionError(`store ${this.host.storeId} has no TSO to read the latest version with; send a version`);
    const guard = this.guardOf();
    const sel = at.range ?? { keys: req.keys };
    Promise.all([this.latestTs(fetch), this.rounds.join()])
      .then(([ts]) => {
        guard.noteRead(ts);
        return guard.waitForWriters(ts, sel).then(() => ts);
      })
      .then(
        (ts) =>
          this.resume(() => {
            try {
              checkRequest(this.sm.desc, req.ctx.epoch, req.keys, () => this.host.descriptors());
              r.reply(runRead({ ...req.op, readTs: ts }, this.sm.mvcc, this.sm.desc));
            } catch (err) {
              r.fail(err);
            }
          }),
        (err) => this.resume(() => r.fail(this.mapped(err))),
      );
  }

  /**
   * The TSO's answer for a latest-version read, or FAILED_PRECONDITION — the caller then reads at a timestamp
   * of its own, which is just as good — when the TSO fails or is slower than LATEST_READ_TSO_WAIT_MS (no
   * coordinator running, a failover under way): a read never waits on the leader's TSO longer than that.
   */
  private latestTs(fetch: () => Promise<bigint>): Promise<bigint> {
    const refuse = (why: string) => new FailedPreconditionError(`store ${this.host.storeId} got no TSO answer for a latest-version read (${why}); send a version`);
    return new Promise<bigint>((resolve, reject) => {
      const timer = this.host.clock.setTimer(LATEST_READ_TSO_WAIT_MS, () => reject(refuse(`none within ${LATEST_READ_TSO_WAIT_MS} ms`)));
      fetch().then(
        (ts) => {
          timer.cancel();
          resolve(ts);
        },
        (err: unknown) => {
          timer.cancel();
          reject(refuse(err instanceof Error ? err.message : String(err)));
        },
      );
    });
  }

  /** Proposes a command built for the current epoch version; answers with what apply produced. */
  private propose(req: ProposeRequest, r: Replier, ctx: ActorContext<RegionMsg>): void {
    ctx.log.debug({ region: this.regionId, keys: req.keys.length }, 'region propose');
    this.admit(req.ctx, req.keys);
    this.submit(this.stamp(req.cmd), req.ctx).then(
      (v) => r.reply(v),
      (err) => r.fail(err),
    );
  }

  private submit(cmd: RegionCommand, rc: RequestContext): Promise<unknown> {
    return this.group.propose(encodeCommand(cmd), { timeoutMs: this.timeoutMs() }).then(
      ({ result }) => this.resultOf(result, rc),
      (err) => Promise.reject(this.mapped(err)),
    );
  }

  private resultOf(res: ApplyResult, rc: RequestContext): unknown {
    if (res.kind === 'epoch_not_match') {
      throw new EpochNotMatchError(`region ${rc.regionId} changed epoch while the command was in flight`, {
        regionId: rc.regionId,
        regions: this.host.descriptors().map(descriptorToJson),
      });
    }
    if (res.kind === 'split_refused') throw new InvalidArgumentError(res.message);
    if (res.kind === 'skipped') throw new UnavailableError('command applied during recovery; retry');
    return res.value;
  }

  /**
   * A one-phase commit through the region's guard: refused with CommitTsExpired (nothing proposed) when a read
   * at or above the commit ts may already have been served, unless it already applied.
   */
  private onePc(req: OnePcRequest, r: Replier, ctx: ActorContext<RegionMsg>): void {
    ctx.log.debug({ region: this.regionId, keys: req.keys.length }, 'region one-phase commit');
    this.admit(req.ctx, req.keys);
    const { writes, startTs, commitTs } = req;
    const lock = this.guardOf().lockOnePc(writes, startTs, commitTs > 0n ? commitTs : undefined);
    if ('minCommitTs' in lock) {
      const own = writes.map((k) => findOwnWrite(this.sm.mvcc, k, startTs));
      if (own.length > 0 && own.every((w) => w && w.write.kind !== 'rollback')) {
        const at = own[0]!.commitTs;
        return r.reply({ errors: at === commitTs ? [] : [{ kind: 'committed', key: writes[0]!, startTs, commitTs: at }], commitTs: at });
      }
      return r.reply({ errors: [{ kind: 'commit_ts_expired', key: req.keys[0]!, startTs, commitTs, minCommitTs: lock.minCommitTs }], commitTs: 0n });
    }
    const cmd = this.stamp(req.cmd);
    cmd.req.commitTs = lock.commitTs;
    this.submit(cmd, req.ctx).then(
      (errs) =>
        this.resume(() => {
          lock.ticket.release(true);
          r.reply({ errors: errs as KeyError[], commitTs: lock.commitTs });
        }),
      (err) =>
        this.resume(() => {
          lock.ticket.release(false);
          r.fail(err);
        }),
    );
  }
}

/** Every field compared; the descriptor by identity (the state machine replaces it when it changes). */
function sameView(a: RegionView, b: RegionView): boolean {
  return (
    a.desc === b.desc &&
    a.leaderId === b.leaderId &&
    a.term === b.term &&
    a.role === b.role &&
    a.applied === b.applied &&
    a.commit === b.commit &&
    a.floorFromTso === b.floorFromTso &&
    a.onePcInFlight === b.onePcInFlight &&
    a.gcSafePoint === b.gcSafePoint
  );
}
