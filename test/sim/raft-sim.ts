// Deterministic simulator for the raft core. One seed drives everything: the schedule of ticks, a fake
// network (loss, duplication, delay and reordering, partitions), crashes and restarts against fake durable
// storage, client writes and ReadIndex reads, compaction, leader transfers and membership changes. The host
// model here follows the Ready contract exactly (persist, then send, then apply, then advance), so a crash
// loses precisely what was not yet persisted. A safety phase with faults is followed by a liveness phase
// with every fault healed, which must converge. Checkers outside the core verify the Raft properties.
import { pack, unpack } from 'msgpackr';
import { SeededPrng, type Prng } from '../../src/common/prng.js';
import { NokvError } from '../../src/common/errors.js';
import {
  BOOTSTRAP_INDEX,
  ConfChangeType,
  decodeConfChange,
  EntryType,
  MemoryLog,
  RaftCore,
  type ConfState,
  type Entry,
  type Message,
  type RaftConfig,
  type Ready,
  type Snapshot,
} from '../../src/raft/index.js';
import { senderIsMember, validateMessage } from '../../src/raft/validate.js';

export interface SimOptions {
  seed: number;
  /** Print a line per notable event. */
  verbose?: boolean;
  /** Overrides the seed's choice of cluster size (3 or 5). */
  nodes?: number;
  safetyTicks?: number;
  /** Upper bound on ticks for the liveness phase to converge. */
  livenessTicks?: number;
  /**
   * A deliberately broken host for checking the checkers: sends messages before persisting. With crashes,
   * some seeds must then fail.
   */
  brokenHostSendsBeforePersist?: boolean;
  out?: (line: string) => void;
}

export interface SimStats {
  nodes: number;
  ticks: number;
  delivered: number;
  dropped: number;
  crashes: number;
  leaders: number;
  writesAcked: number;
  writesProposed: number;
  readsServed: number;
  snapshotsInstalled: number;
  compactions: number;
  transfers: number;
  confChanges: number;
  maxCommit: number;
}

export interface SimResult {
  seed: number;
  ok: boolean;
  error?: string;
  stats: SimStats;
}

/** A checker found a violated property; the message says which and where. */
export class SimViolation extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SimViolation';
  }
}

// ---- limits of one run (named so a reader sees the scale) ----------------------------------------------
const SUBROUNDS_PER_TICK = 4;
const DEFAULT_SAFETY_TICKS = 1200;
const DEFAULT_LIVENESS_TICKS = 600;
const LIVENESS_WRITES = 5;
const MAX_NODE_IDS = 9;
const MIN_VOTERS = 3;
const MAX_VOTERS = 5;
const COMPACT_LAG_ENTRIES = 12;
const LOG_MATCH_CHECK_EVERY_TICKS = 25;
const WRITE_HEADER_BYTES = 4;

// ---- the replicated state machine: an append-only list of write ids ------------------------------------

interface StateMachine {
  index: number;
  values: number[];
  conf: ConfState;
}

function encodeValues(values: number[]): Uint8Array {
  const out = new Uint8Array(values.length * 4);
  const view = new DataView(out.buffer);
  values.forEach((v, i) => view.setUint32(i * 4, v));
  return out;
}

function decodeValues(data: Uint8Array): number[] {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const out: number[] = [];
  for (let i = 0; i + 4 <= data.byteLength; i += 4) out.push(view.getUint32(i));
  return out;
}

function writePayload(id: number, padding: number): Uint8Array {
  const out = new Uint8Array(WRITE_HEADER_BYTES + padding);
  new DataView(out.buffer).setUint32(0, id);
  for (let i = 0; i < padding; i++) out[WRITE_HEADER_BYTES + i] = (id + i) & 0xff;
  return out;
}

function writeIdOf(e: Entry): number | undefined {
  if (e.type !== EntryType.Normal || e.data.length < WRITE_HEADER_BYTES) return undefined;
  return new DataView(e.data.buffer, e.data.byteOffset, e.data.byteLength).getUint32(0);
}

function entryKey(e: Entry): string {
  return `${e.term}/${e.type}/${Buffer.from(e.data.buffer, e.data.byteOffset, e.data.byteLength).toString('hex')}`;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

// ---- nodes --------------------------------------------------------------------------------------------

interface ReadOp {
  ctx: Uint8Array;
  key: string;
  startTick: number;
  /** The least number of values a linearizable answer may contain. */
  minLen: number;
  index?: number;
}

interface SimNode {
  id: number;
  storage: MemoryLog;
  core?: RaftCore;
  retired: boolean;
  restartAtTick: number;
  sm: StateMachine;
  /** Proposals accepted by this incarnation: index -> (term, write id). */
  pendingWrites: Map<number, { term: number; writeId: number }>;
  pendingReads: Map<string, ReadOp>;
  confirmedReads: ReadOp[];
  /** Highest term in which this node was seen as leader (for the leader-completeness check on a new term). */
  leaderTermSeen: number;
}

interface Write {
  id: number;
  ackTick?: number;
  pos?: number;
}

interface InFlight {
  msg: Message;
  /** Sub-round at which it is delivered. */
  at: number;
}

type CrashPoint = 'beforePersist' | 'afterEntries' | 'afterPersist' | 'afterSend';

export class RaftSimulation {
  private readonly prng: Prng;
  private readonly netPrng: Prng;
  private readonly faultPrng: Prng;
  private readonly clientPrng: Prng;
  private readonly nodes = new Map<number, SimNode>();
  private nextNodeId: number;
  private subround = 0;
  private tickNo = 0;
  private inflight: InFlight[] = [];
  private partition: Map<number, number> | undefined;
  private lossP: number;
  private dupP: number;
  private maxDelay: number;
  private crashP: number;
  private partitionP: number;
  private midReadyCrashP: number;
  private faultsOn = true;
  private readonly raftConfig: Omit<RaftConfig, 'id' | 'prng'>;

  // checker state
  private readonly leaderOfTerm = new Map<number, number>();
  /** Committed log as first observed at the leader that committed it: index -> entry, commit term. */
  private readonly committed = new Map<number, { key: string; commitTerm: number }>();
  private committedMax = 0;
  private readonly canonical: number[] = [];
  private readonly writes = new Map<number, Write>();
  private nextWriteId = 1;
  private maxAckedPos = -1;
  private maxReadLen = 0;
  private readSeq = 0;
  readonly stats: SimStats;

  constructor(private readonly opts: SimOptions) {
    this.prng = new SeededPrng(opts.seed);
    this.netPrng = this.prng.fork();
    this.faultPrng = this.prng.fork();
    this.clientPrng = this.prng.fork();
    const n = opts.nodes ?? (this.prng.chance(0.5) ? 3 : 5);
    this.lossP = this.prng.next() * 0.15;
    this.dupP = this.prng.next() * 0.05;
    this.maxDelay = 1 + this.prng.int(8);
    // A quarter of the seeds are storms: frequent crashes and partitions reach rare interleavings (figure 8).
    const storm = this.prng.chance(0.25) ? 5 : 1;
    this.crashP = this.prng.next() * 0.004 * storm;
    this.partitionP = this.prng.next() * 0.02 * storm;
    this.midReadyCrashP = this.prng.next() * 0.01 * storm;
    const electionTimeoutTicks = 8 + this.prng.int(8);
    this.raftConfig = {
      electionTimeoutTicks,
      heartbeatTimeoutTicks: 1 + this.prng.int(3),
      maxInflightMsgs: 1 + this.prng.int(8),
      maxSizePerMsgBytes: 64 + this.prng.int(1024),
      maxUncommittedEntriesBytes: 256 + this.prng.int(4096),
      maxCommittedBytesPerReady: 128 + this.prng.int(4096),
      maxPendingReadIndex: 4 + this.prng.int(64),
    };
    this.stats = {
      nodes: n, ticks: 0, delivered: 0, dropped: 0, crashes: 0, leaders: 0, writesAcked: 0, writesProposed: 0,
      readsServed: 0, snapshotsInstalled: 0, compactions: 0, transfers: 0, confChanges: 0, maxCommit: 0,
    };
    const voters = Array.from({ length: n }, (_, i) => i + 1);
    // The founders share a bootstrap snapshot at index 1: committed before anything runs.
    this.committed.set(BOOTSTRAP_INDEX, { key: 'bootstrap', commitTerm: 0 });
    this.committedMax = BOOTSTRAP_INDEX;
    for (const id of voters) this.addNode(id, { voters, learners: [] });
    this.nextNodeId = n + 1;
    this.log(`seed ${opts.seed}: ${n} nodes, loss ${this.lossP.toFixed(3)}, dup ${this.dupP.toFixed(3)}, delay<=${this.maxDelay}, config ${JSON.stringify(this.raftConfig)}`);
  }

  /** Runs the safety phase then the liveness phase; throws SimViolation on any broken property. */
  run(): void {
    const safetyTicks = this.opts.safetyTicks ?? DEFAULT_SAFETY_TICKS;
    for (let t = 0; t < safetyTicks; t++) {
      this.injectFaults();
      this.clientActivity();
      this.advanceOneTick();
      if (this.tickNo % LOG_MATCH_CHECK_EVERY_TICKS === 0) this.checkLogMatching();
    }
    this.checkLogMatching();
    this.liveness();
    this.checkLogMatching();
    this.checkFinalState();
  }

  // ---- node lifecycle -----------------------------------------------------------------------------------

  private addNode(id: number, conf: ConfState): SimNode {
    const node: SimNode = {
      id,
      storage: new MemoryLog(conf),
      retired: false,
      restartAtTick: 0,
      sm: { index: 0, values: [], conf },
      pendingWrites: new Map(),
      pendingReads: new Map(),
      confirmedReads: [],
      leaderTermSeen: 0,
    };
    this.nodes.set(id, node);
    this.start(node);
    return node;
  }

  private start(node: SimNode): void {
    const snap = node.storage.snapshot();
    node.sm = { index: snap.meta.index, values: decodeValues(snap.data), conf: snap.meta.conf };
    if (snap.meta.index > 0) this.checkSnapshotState(node, snap);
    node.core = new RaftCore({ id: node.id, prng: this.prng.fork(), ...this.raftConfig }, node.storage);
    node.leaderTermSeen = 0;
  }

  private crash(node: SimNode, why: string): void {
    if (!node.core) return;
    this.log(`crash ${node.id} (${why})`);
    this.stats.crashes++;
    node.core = undefined;
    node.pendingWrites.clear();
    node.pendingReads.clear();
    node.confirmedReads = [];
    node.restartAtTick = this.tickNo + 5 + this.faultPrng.int(60);
  }

  private liveMembers(): SimNode[] {
    const leader = this.currentLeader();
    if (!leader?.core) return [];
    const conf = leader.core.confState();
    return [...conf.voters, ...conf.learners].map((id) => this.nodes.get(id)!).filter((n) => n.core && !n.retired);
  }

  private currentLeader(): SimNode | undefined {
    let best: SimNode | undefined;
    for (const n of this.nodes.values()) {
      if (n.core?.role === 'leader' && (!best || n.core.term > best.core!.term)) best = n;
    }
    return best;
  }

  // ---- time -------------------------------------------------------------------------------------------

  private advanceOneTick(): void {
    for (const n of this.nodes.values()) {
      if (!n.core && !n.retired && n.restartAtTick <= this.tickNo) {
        this.log(`restart ${n.id}`);
        this.start(n);
      }
    }
    for (const n of this.nodes.values()) {
      if (!n.core) continue;
      n.core.tick();
      this.afterInput(n);
    }
    for (let s = 0; s < SUBROUNDS_PER_TICK; s++) {
      this.deliverDue();
      this.subround++;
    }
    this.tickNo++;
    this.stats.ticks++;
  }

  private deliverDue(): void {
    const due: InFlight[] = [];
    const later: InFlight[] = [];
    for (const f of this.inflight) (f.at <= this.subround ? due : later).push(f);
    this.inflight = later;
    // Messages due together arrive in a random order: reordering beyond what delays already cause.
    for (let i = due.length - 1; i > 0; i--) {
      const j = this.netPrng.int(i + 1);
      [due[i], due[j]] = [due[j], due[i]];
    }
    for (const f of due) {
      const node = this.nodes.get(f.msg.to);
      if (!node?.core || !this.canTalk(f.msg.from, f.msg.to)) {
        this.stats.dropped++;
        continue;
      }
      // The inbound guard the real hosts run: a correct core never sends a message it refuses as malformed,
      // and membership refusals (a removed node still talking) must cost neither safety nor liveness.
      const checked = validateMessage(f.msg, { from: f.msg.from, to: f.msg.to });
      if (!checked.ok) throw new SimViolation(`inbound guard refused a ${f.msg.type} from ${f.msg.from} to ${f.msg.to}: ${checked.reason} ${checked.field ?? ''}`);
      if (!senderIsMember(f.msg.from, node.core.confState(), (id) => this.nodes.has(id))) {
        this.stats.dropped++;
        continue;
      }
      this.stats.delivered++;
      node.core.step(checked.value);
      this.afterInput(node);
    }
  }

  private canTalk(a: number, b: number): boolean {
    if (!this.partition) return true;
    return (this.partition.get(a) ?? 0) === (this.partition.get(b) ?? 0);
  }

  private send(m: Message): void {
    if (!this.canTalk(m.from, m.to)) return;
    if (this.faultsOn && this.netPrng.chance(this.lossP)) {
      this.stats.dropped++;
      return;
    }
    // Messages must survive the wire encoding the real transport uses.
    const wire = this.netPrng.chance(0.1) ? (unpack(pack(m)) as Message) : m;
    const copies = this.faultsOn && this.netPrng.chance(this.dupP) ? 2 : 1;
    for (let c = 0; c < copies; c++) {
      this.inflight.push({ msg: wire, at: this.subround + 1 + this.netPrng.int(this.maxDelay) });
    }
  }

  // ---- the host loop: the Ready contract ----------------------------------------------------------------

  private afterInput(node: SimNode): void {
    const core = node.core!;
    core.checkInvariants();
    this.observeLeadership(node);
    this.observeCommit(node);
    while (node.core && node.core.hasReady()) {
      const rd = node.core.ready();
      if (!this.handleReady(node, rd)) return;
      node.core.advance(rd);
      this.serveReads(node);
      this.maybeCompact(node);
      node.core.checkInvariants();
      this.observeLeadership(node);
      this.observeCommit(node);
    }
  }

  /** Returns false if the node crashed part way. */
  private handleReady(node: SimNode, rd: Ready): boolean {
    const crashAt = this.faultsOn && this.faultPrng.chance(this.midReadyCrashP) ? this.pickCrashPoint() : undefined;
    if (this.opts.brokenHostSendsBeforePersist) for (const m of rd.messages) this.send(m);
    if (crashAt === 'beforePersist') return this.crash(node, 'before persisting'), false;
    if (rd.snapshot) node.storage.applySnapshot(rd.snapshot);
    node.storage.append(rd.entries);
    if (crashAt === 'afterEntries') return this.crash(node, 'after persisting entries'), false;
    if (rd.hardState) node.storage.setHardState(rd.hardState);
    if (crashAt === 'afterPersist') return this.crash(node, 'after persisting'), false;
    if (!this.opts.brokenHostSendsBeforePersist) for (const m of rd.messages) this.send(m);
    if (crashAt === 'afterSend') return this.crash(node, 'after sending'), false;
    if (rd.snapshot) this.installSnapshot(node, rd.snapshot);
    for (const e of rd.committedEntries) this.apply(node, e);
    for (const rs of rd.readStates) {
      const key = Buffer.from(rs.ctx).toString('hex');
      const op = node.pendingReads.get(key);
      if (!op) continue;
      node.pendingReads.delete(key);
      op.index = rs.index;
      node.confirmedReads.push(op);
    }
    return true;
  }

  private pickCrashPoint(): CrashPoint {
    const points: CrashPoint[] = ['beforePersist', 'afterEntries', 'afterPersist', 'afterSend'];
    return points[this.faultPrng.int(points.length)];
  }

  private installSnapshot(node: SimNode, snap: Snapshot): void {
    this.stats.snapshotsInstalled++;
    node.sm = { index: snap.meta.index, values: decodeValues(snap.data), conf: snap.meta.conf };
    this.checkSnapshotState(node, snap);
    for (const idx of [...node.pendingWrites.keys()]) if (idx <= snap.meta.index) node.pendingWrites.delete(idx);
  }

  private apply(node: SimNode, e: Entry): void {
    if (e.index !== node.sm.index + 1) {
      throw new SimViolation(`node ${node.id} applied index ${e.index} after ${node.sm.index}: applied entries must be contiguous`);
    }
    this.checkAppliedEntry(node, e);
    node.sm.index = e.index;
    if (e.type === EntryType.ConfChange) {
      const cc = decodeConfChange(e.data);
      node.sm.conf = node.core!.applyConfChange(cc);
      if (cc.type === ConfChangeType.RemoveNode && cc.nodeId === node.id) {
        this.log(`node ${node.id} applied its own removal: retired`);
        node.retired = true;
      }
      return;
    }
    const wid = writeIdOf(e);
    if (wid === undefined) return;
    const pos = node.sm.values.length;
    if (pos < this.canonical.length) {
      if (this.canonical[pos] !== wid) {
        throw new SimViolation(`state machine safety: node ${node.id} applied write ${wid} at position ${pos}, others applied ${this.canonical[pos]}`);
      }
    } else {
      if (this.canonical.includes(wid)) throw new SimViolation(`write ${wid} applied twice`);
      this.canonical.push(wid);
    }
    node.sm.values.push(wid);
    const pending = node.pendingWrites.get(e.index);
    if (pending) {
      node.pendingWrites.delete(e.index);
      if (pending.term === e.term && pending.writeId === wid) {
        const w = this.writes.get(wid)!;
        if (w.ackTick === undefined) {
          w.ackTick = this.tickNo;
          w.pos = pos;
          this.maxAckedPos = Math.max(this.maxAckedPos, pos);
          this.stats.writesAcked++;
        }
      }
    }
  }

  private serveReads(node: SimNode): void {
    if (node.confirmedReads.length === 0) return;
    const waiting: ReadOp[] = [];
    for (const op of node.confirmedReads) {
      if (op.index! > node.sm.index) {
        waiting.push(op);
        continue;
      }
      const len = node.sm.values.length;
      if (len < op.minLen) {
        throw new SimViolation(`linearizability: read at node ${node.id} (read index ${op.index}, started tick ${op.startTick}) saw ${len} writes, but ${op.minLen} were acknowledged or read before it started`);
      }
      this.maxReadLen = Math.max(this.maxReadLen, len);
      this.stats.readsServed++;
    }
    node.confirmedReads = waiting;
  }

  private maybeCompact(node: SimNode): void {
    const snapIndex = node.storage.firstIndex() - 1;
    if (node.sm.index - snapIndex < COMPACT_LAG_ENTRIES || !this.faultPrng.chance(0.2)) return;
    if (node.sm.index > node.storage.hardState().commit) return;
    node.storage.compact(node.sm.index, encodeValues(node.sm.values), node.sm.conf);
    this.stats.compactions++;
  }

  // ---- checkers -----------------------------------------------------------------------------------------

  /** Election safety (at most one leader per term) and leader completeness (a new leader holds every committed entry). */
  private observeLeadership(node: SimNode): void {
    const core = node.core;
    if (!core || core.role !== 'leader') return;
    const term = core.term;
    const other = this.leaderOfTerm.get(term);
    if (other !== undefined && other !== node.id) {
      throw new SimViolation(`election safety: nodes ${other} and ${node.id} are both leader in term ${term}`);
    }
    if (node.leaderTermSeen === term) return;
    node.leaderTermSeen = term;
    if (other === undefined) {
      this.leaderOfTerm.set(term, node.id);
      this.stats.leaders++;
      this.log(`leader ${node.id} term ${term} (last ${core.lastIndex()}, commit ${core.committed})`);
    }
    const first = core.firstIndex();
    for (let i = first; i <= this.committedMax; i++) {
      const c = this.committed.get(i)!;
      if (c.commitTerm >= term) continue;
      const t = core.termAt(i);
      const e = t === undefined ? undefined : core.entriesIn(i, i + 1)[0];
      if (!e || entryKey(e) !== c.key) {
        throw new SimViolation(`leader completeness: leader ${node.id} of term ${term} lacks entry ${i} committed in term ${c.commitTerm}`);
      }
    }
  }

  /** Records the committed prefix the first time a leader commits it; any other node committing further is a bug. */
  private observeCommit(node: SimNode): void {
    const core = node.core;
    if (!core) return;
    const commit = core.committed;
    if (commit <= this.committedMax) return;
    if (core.role !== 'leader') {
      throw new SimViolation(`node ${node.id} (${core.role}) committed ${commit} beyond anything a leader committed (${this.committedMax})`);
    }
    const lo = Math.max(this.committedMax + 1, core.firstIndex());
    if (lo !== this.committedMax + 1) throw new SimViolation(`leader ${node.id} committed past entries it no longer holds`);
    for (const e of core.entriesIn(lo, commit + 1)) this.committed.set(e.index, { key: entryKey(e), commitTerm: core.term });
    this.committedMax = commit;
    this.stats.maxCommit = commit;
  }

  /** State machine safety: every replica applies, at each index, the entry that was committed there. */
  private checkAppliedEntry(node: SimNode, e: Entry): void {
    const c = this.committed.get(e.index);
    if (!c) throw new SimViolation(`node ${node.id} applied entry ${e.index} that no leader committed`);
    if (c.key !== entryKey(e)) {
      throw new SimViolation(`state machine safety: node ${node.id} applied a different entry at index ${e.index} than was committed`);
    }
  }

  private checkSnapshotState(node: SimNode, snap: Snapshot): void {
    const values = decodeValues(snap.data);
    for (let i = 0; i < values.length; i++) {
      if (this.canonical[i] !== values[i]) {
        throw new SimViolation(`state machine safety: snapshot at ${snap.meta.index} on node ${node.id} has write ${values[i]} at position ${i}, expected ${this.canonical[i]}`);
      }
    }
    const c = this.committed.get(snap.meta.index);
    if (!c && snap.meta.index > 0) throw new SimViolation(`snapshot at ${snap.meta.index} on node ${node.id} covers uncommitted entries`);
  }

  /** Log matching: two persisted logs that agree on (index, term) agree on every entry up to that index. */
  checkLogMatching(): void {
    const logs = [...this.nodes.values()].map((n) => ({ id: n.id, s: n.storage }));
    for (let a = 0; a < logs.length; a++) {
      for (let b = a + 1; b < logs.length; b++) {
        const x = logs[a].s;
        const y = logs[b].s;
        const lo = Math.max(x.firstIndex(), y.firstIndex());
        const hi = Math.min(x.lastIndex(), y.lastIndex());
        if (lo > hi) continue;
        const xe = x.entries(lo, hi + 1);
        const ye = y.entries(lo, hi + 1);
        let top = -1;
        for (let i = xe.length - 1; i >= 0; i--) {
          if (xe[i].term === ye[i].term) {
            top = i;
            break;
          }
        }
        for (let i = 0; i <= top; i++) {
          if (xe[i].term !== ye[i].term || xe[i].type !== ye[i].type || !sameBytes(xe[i].data, ye[i].data)) {
            throw new SimViolation(`log matching: nodes ${logs[a].id} and ${logs[b].id} agree at index ${lo + top} but differ at ${lo + i}`);
          }
        }
      }
    }
  }

  private checkFinalState(): void {
    const members = this.liveMembers();
    const acked = [...this.writes.values()].filter((w) => w.ackTick !== undefined);
    for (const n of members) {
      const have = new Set(n.sm.values);
      for (const w of acked) {
        if (!have.has(w.id)) throw new SimViolation(`acknowledged write ${w.id} (acked at tick ${w.ackTick}) is missing on node ${n.id}`);
      }
    }
  }

  // ---- workload and faults ------------------------------------------------------------------------------

  private clientActivity(): void {
    const rnd = this.clientPrng;
    if (rnd.chance(0.35)) this.proposeWrite(rnd.chance(0.8) ? this.currentLeader() : this.randomLiveNode());
    if (rnd.chance(0.12)) this.startRead(this.randomLiveNode());
    if (rnd.chance(0.01)) this.tryTransfer();
    if (rnd.chance(0.012)) this.tryConfChange();
  }

  private randomLiveNode(): SimNode | undefined {
    const live = [...this.nodes.values()].filter((n) => n.core);
    return live.length === 0 ? undefined : live[this.clientPrng.int(live.length)];
  }

  /** Proposes one write; returns its id if the core accepted it. */
  private proposeWrite(node: SimNode | undefined): number | undefined {
    if (!node?.core) return undefined;
    const id = this.nextWriteId++;
    const data = writePayload(id, this.clientPrng.int(4) === 0 ? this.clientPrng.int(300) : this.clientPrng.int(16));
    try {
      const at = node.core.propose(data);
      node.pendingWrites.set(at.index, { term: at.term, writeId: id });
      this.writes.set(id, { id });
      this.stats.writesProposed++;
    } catch (err) {
      if (!(err instanceof NokvError)) throw err;
      return undefined;
    }
    this.afterInput(node);
    return id;
  }

  private startRead(node: SimNode | undefined): void {
    if (!node?.core) return;
    const seq = ++this.readSeq;
    const ctx = new Uint8Array(8);
    new DataView(ctx.buffer).setUint32(0, this.opts.seed >>> 0);
    new DataView(ctx.buffer).setUint32(4, seq);
    const key = Buffer.from(ctx).toString('hex');
    // A linearizable read must see every write acknowledged, and everything any read returned, before it began.
    const op: ReadOp = { ctx, key, startTick: this.tickNo, minLen: Math.max(this.maxAckedPos + 1, this.maxReadLen) };
    try {
      node.core.readIndex(ctx);
    } catch (err) {
      if (!(err instanceof NokvError)) throw err;
      return;
    }
    node.pendingReads.set(key, op);
    this.afterInput(node);
  }

  private tryTransfer(): void {
    const leader = this.currentLeader();
    if (!leader?.core) return;
    const voters = leader.core.confState().voters.filter((v) => v !== leader.id);
    if (voters.length === 0) return;
    const to = voters[this.clientPrng.int(voters.length)];
    this.log(`transfer leadership ${leader.id} -> ${to}`);
    this.stats.transfers++;
    leader.core.transferLeader(to);
    this.afterInput(leader);
  }

  private tryConfChange(): void {
    const leader = this.currentLeader();
    if (!leader?.core) return;
    const conf = leader.core.confState();
    const rnd = this.clientPrng;
    let cc: { type: ConfChangeType; nodeId: number } | undefined;
    if (conf.learners.length > 0 && conf.voters.length < MAX_VOTERS && rnd.chance(0.6)) {
      cc = { type: ConfChangeType.AddVoter, nodeId: conf.learners[rnd.int(conf.learners.length)] };
    } else if (conf.voters.length > MIN_VOTERS && rnd.chance(0.5)) {
      cc = { type: ConfChangeType.RemoveNode, nodeId: conf.voters[rnd.int(conf.voters.length)] };
    } else if (conf.learners.length > 0 && rnd.chance(0.3)) {
      cc = { type: ConfChangeType.RemoveNode, nodeId: conf.learners[rnd.int(conf.learners.length)] };
    } else if (this.nextNodeId <= MAX_NODE_IDS && conf.voters.length + conf.learners.length < MAX_VOTERS + 1) {
      cc = { type: ConfChangeType.AddLearner, nodeId: this.nextNodeId };
    }
    if (!cc) return;
    try {
      leader.core.proposeConfChange(cc);
    } catch (err) {
      if (!(err instanceof NokvError)) throw err;
      return;
    }
    this.stats.confChanges++;
    this.log(`propose conf change ${ConfChangeType[cc.type]} ${cc.nodeId} at leader ${leader.id}`);
    // A node joining later starts empty and learns the configuration from the leader.
    if (cc.type === ConfChangeType.AddLearner) this.addNode(this.nextNodeId++, { voters: [], learners: [] });
    this.afterInput(leader);
  }

  private injectFaults(): void {
    if (!this.faultsOn) return;
    const rnd = this.faultPrng;
    for (const n of this.nodes.values()) {
      if (n.core && rnd.chance(this.crashP)) this.crash(n, 'random');
    }
    if (!this.partition && rnd.chance(this.partitionP)) {
      const ids = [...this.nodes.keys()];
      const p = new Map<number, number>();
      const leader = this.currentLeader();
      const isolateLeader = leader && rnd.chance(0.4);
      for (const id of ids) p.set(id, isolateLeader ? (id === leader!.id ? 1 : 0) : rnd.int(2));
      this.partition = p;
      this.log(`partition ${JSON.stringify([...p])}`);
    } else if (this.partition && rnd.chance(0.05)) {
      this.partition = undefined;
      this.log('heal partition');
    }
  }

  // ---- liveness -----------------------------------------------------------------------------------------

  private liveness(): void {
    this.faultsOn = false;
    this.partition = undefined;
    this.maxDelay = Math.min(this.maxDelay, 2);
    for (const n of this.nodes.values()) if (!n.core && !n.retired) n.restartAtTick = this.tickNo;
    this.log('liveness phase: all faults healed');
    const budget = this.opts.livenessTicks ?? DEFAULT_LIVENESS_TICKS;
    const slots: (number | undefined)[] = new Array(LIVENESS_WRITES).fill(undefined);
    const slotTick: number[] = new Array(LIVENESS_WRITES).fill(0);
    const retryAfterTicks = 3 * (this.raftConfig.electionTimeoutTicks as number);
    for (let t = 0; t < budget; t++) {
      const leader = this.currentLeader();
      if (leader) {
        for (let i = 0; i < slots.length; i++) {
          const w = slots[i] === undefined ? undefined : this.writes.get(slots[i]!);
          // A proposal can still be lost to a leader change while the dust settles: propose again.
          if (!w || (w.ackTick === undefined && this.tickNo - slotTick[i] > retryAfterTicks)) {
            const id = this.proposeWrite(leader);
            if (id !== undefined) {
              slots[i] = id;
              slotTick[i] = this.tickNo;
            }
          }
        }
      }
      this.advanceOneTick();
      if (this.converged(slots)) {
        this.log(`converged after ${t + 1} liveness ticks`);
        return;
      }
    }
    const leader = this.currentLeader();
    throw new SimViolation(`liveness: no convergence within ${budget} ticks after healing (leader ${leader?.id ?? 'none'}, slots ${JSON.stringify(slots)})`);
  }

  private converged(slots: (number | undefined)[]): boolean {
    const leader = this.currentLeader();
    if (!leader?.core || slots.some((s) => s === undefined || this.writes.get(s)!.ackTick === undefined)) return false;
    const conf = leader.core.confState();
    const members = [...conf.voters, ...conf.learners].map((id) => this.nodes.get(id)!);
    if (members.some((n) => !n.core)) return false;
    for (const n of members) {
      const have = new Set(n.sm.values);
      if (slots.some((s) => !have.has(s!))) return false;
    }
    return true;
  }

  private log(line: string): void {
    if (this.opts.verbose) (this.opts.out ?? console.log)(`[tick ${this.tickNo}] ${line}`);
  }
}

/** Runs one seed; never throws for a property violation (it is reported in the result). */
export function runSeed(opts: SimOptions): SimResult {
  let sim: RaftSimulation | undefined;
  try {
    sim = new RaftSimulation(opts);
    sim.run();
    return { seed: opts.seed, ok: true, stats: sim.stats };
  } catch (err) {
    const e = err as Error;
    const stats = sim?.stats ?? ({} as SimStats);
    return { seed: opts.seed, ok: false, error: `${e.name}: ${e.message}${e instanceof SimViolation ? '' : `\n${e.stack}`}`, stats };
  }
}
