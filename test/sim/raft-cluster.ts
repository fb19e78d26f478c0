// A small synchronous cluster of real raft cores for scenario tests: an in-memory network whose messages are
// delivered only when a test says so (with filters to drop or hold some), a host loop that honours the Ready
// contract, and helpers to crash, restart and partition nodes. Deterministic: one seed per cluster.
import { SeededPrng } from '../../src/common/prng.js';
import {
  decodeConfChange,
  EntryType,
  MemoryLog,
  RaftCore,
  type ConfState,
  type Entry,
  type Message,
  type RaftConfig,
  type ReadState,
} from '../../src/raft/index.js';

export type ClusterConfig = Partial<Omit<RaftConfig, 'id' | 'prng'>>;

export interface TestNode {
  id: number;
  storage: MemoryLog;
  core?: RaftCore;
  /** Application entries applied by this incarnation, in order. */
  applied: Entry[];
  readStates: ReadState[];
  conf: ConfState;
}

export const TEST_ELECTION_TICKS = 10;

export class TestCluster {
  readonly nodes = new Map<number, TestNode>();
  /** Every message handed to the network, in send order (delivered or not). */
  readonly sent: Message[] = [];
  private queue: Message[] = [];
  private readonly prng: SeededPrng;
  /** Return false to drop a message. */
  filter: (m: Message) => boolean = () => true;
  private readonly isolated = new Set<number>();

  /** storages pre-loads some nodes' durable state (e.g. divergent logs); the rest start as fresh founders. */
  constructor(ids: number[], private readonly config: ClusterConfig = {}, seed = 1, storages: Record<number, MemoryLog> = {}) {
    this.prng = new SeededPrng(seed);
    const conf = { voters: [...ids], learners: [] };
    for (const id of ids) this.addNode(id, conf, storages[id] ?? new MemoryLog(conf));
  }

  /** Adds a node with its own storage (a founder if conf has voters, else an empty joiner) and starts it. */
  addNode(id: number, conf: ConfState, storage = new MemoryLog(conf), extra: ClusterConfig = {}): TestNode {
    const node: TestNode = { id, storage, applied: [], readStates: [], conf };
    this.nodes.set(id, node);
    this.start(node, extra);
    return node;
  }

  start(node: TestNode, extra: ClusterConfig = {}): void {
    node.core = new RaftCore(
      { id: node.id, prng: this.prng.fork(), electionTimeoutTicks: TEST_ELECTION_TICKS, heartbeatTimeoutTicks: 1, ...this.config, ...extra },
      node.storage,
    );
    node.applied = [];
    node.readStates = [];
    node.conf = node.storage.snapshot().meta.conf;
  }

  node(id: number): TestNode {
    const n = this.nodes.get(id);
    if (!n) throw new Error(`no node ${id}`);
    return n;
  }

  core(id: number): RaftCore {
    const c = this.node(id).core;
    if (!c) throw new Error(`node ${id} is down`);
    return c;
  }

  crash(id: number): void {
    this.node(id).core = undefined;
    this.queue = this.queue.filter((m) => m.to !== id && m.from !== id);
  }

  restart(id: number, extra: ClusterConfig = {}): void {
    this.start(this.node(id), extra);
  }

  isolate(id: number): void {
    this.isolated.add(id);
  }

  heal(): void {
    this.isolated.clear();
    this.filter = () => true;
  }

  leaders(): number[] {
    return [...this.nodes.values()].filter((n) => n.core?.role === 'leader').map((n) => n.id);
  }

  /** Runs every node's Ready loop: persist, then queue messages, then apply, then advance. */
  processReadies(): boolean {
    let any = false;
    for (const n of this.nodes.values()) {
      while (n.core && n.core.hasReady()) {
        any = true;
        const rd = n.core.ready();
        if (rd.snapshot) n.storage.applySnapshot(rd.snapshot);
        n.storage.append(rd.entries);
        if (rd.hardState) n.storage.setHardState(rd.hardState);
        for (const m of rd.messages) {
          this.sent.push(m);
          this.queue.push(m);
        }
        if (rd.snapshot) n.conf = rd.snapshot.meta.conf;
        for (const e of rd.committedEntries) {
          if (e.type === EntryType.ConfChange) n.conf = n.core.applyConfChange(decodeConfChange(e.data));
          else if (e.data.length > 0) n.applied.push(e);
        }
        n.readStates.push(...rd.readStates);
        n.core.advance(rd);
      }
    }
    return any;
  }

  /** Delivers queued messages (those passing isolation and the filter) once; returns how many. */
  deliverOnce(): number {
    const batch = this.queue;
    this.queue = [];
    let n = 0;
    for (const m of batch) {
      if (this.isolated.has(m.from) || this.isolated.has(m.to) || !this.filter(m)) continue;
      const to = this.nodes.get(m.to)?.core;
      if (!to) continue;
      to.step(m);
      n++;
    }
    return n;
  }

  /** Processes readies and delivers messages until nothing moves (bounded so a livelock fails loudly). */
  stabilize(maxRounds = 1000): void {
    for (let i = 0; i < maxRounds; i++) {
      const moved = this.processReadies();
      if (this.queue.length === 0 && !moved) return;
      this.deliverOnce();
    }
    throw new Error(`cluster did not stabilize within ${maxRounds} rounds`);
  }

  /** Ticks every live node n times, stabilizing after each tick. */
  tickAll(n = 1): void {
    for (let i = 0; i < n; i++) {
      for (const node of this.nodes.values()) node.core?.tick();
      this.stabilize();
    }
  }

  tick(id: number, n = 1): void {
    for (let i = 0; i < n; i++) {
      this.core(id).tick();
      this.stabilize();
    }
  }

  /** Makes id campaign and runs the election to completion. */
  elect(id: number): void {
    this.core(id).campaign();
    this.stabilize();
  }

  propose(id: number, text: string): { index: number; term: number } {
    const at = this.core(id).propose(new TextEncoder().encode(text));
    this.stabilize();
    return at;
  }

  appliedTexts(id: number): string[] {
    return this.node(id).applied.map((e) => new TextDecoder().decode(e.data));
  }

  /** Number of messages still queued (not yet delivered or dropped). */
  pending(): Message[] {
    return this.queue;
  }
}

export function text(s: string): Uint8Array {
  return new TextEncoder().encode(s);
}
