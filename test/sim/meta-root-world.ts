// Owns the meta-root side of the whole-stack simulator: three replicas of the rooted state machine
// (src/metaroot/server/state-machine.ts, with Eunomia) on the production raft host, each with the
// production tail ring (tail-hub.ts), and the RootPort a simulated coordinator talks to them through.
//
// The port stands in for MetaRootClient + the gRPC front + the peer actor, which need sockets and LMDB: a call
// goes to the replica the client believes leads (else round robin) as a message on the simulated network
// (delay, loss, partitions), runs there as the peer actor's write/read/tail handlers do (refuse early against
// the applied state, else propose and answer with the applied outcome; a linearizable read after a read
// barrier; a long-poll on the tail), and the answer travels back the same way. A NotLeader answer is followed
// to its hint; a lost request or answer is an attempt timeout, and the call is retried elsewhere by the
// production retry loop with the meta-root client's policy until its deadline, when it fails UNAVAILABLE —
// exactly the indeterminate outcome a real client sees.
import { createHash } from 'node:crypto';
import { NokvError, NotLeaderError, UnavailableError } from '../../src/common/errors.js';
import { retrying } from '../../src/common/retry.js';
import { rootCallPolicy } from '../../src/metaroot/client.js';
import type { Prng } from '../../src/common/prng.js';
import type { ProcessClock, SimClock } from '../../src/sim/sim-clock.js';
import { RootStateMachine } from '../../src/metaroot/server/state-machine.js';
import { TailHub } from '../../src/metaroot/server/tail-hub.js';
import {
  commands,
  encodeCommand,
  evaluateCommand,
  validateBatch,
  type CommandOutcome,
  type Cursor,
  type FenceRequest,
  type HandoverCommand,
  type RootCommand,
  type RootEvent,
  type RootState,
  type TenureCommand,
} from '../../src/metaroot/state/index.js';
import type { RootOutcome, RootPort, TailResult } from '../../src/coordinator/root-port.js';
import type { HostCluster, SimNode } from './host-cluster.js';
import type { SimNetwork } from './sim-network.js';

/** Entries the tail ring of a replica keeps (production default is larger; small here so reloads happen). */
const TAIL_CAPACITY = 64;

export interface MetaReplica {
  sm: RootStateMachine;
  hub: TailHub;
  waiters: Set<() => void>;
}

export function makeMetaReplica(): RootStateMachine & { replica: MetaReplica } {
  const sm = new RootStateMachine();
  const replica: MetaReplica = { sm, hub: new TailHub(TAIL_CAPACITY), waiters: new Set() };
  sm.listen({
    applied: (cursor, outcome) => {
      if (replica.hub.push(cursor, outcome.events)) for (const w of [...replica.waiters]) w();
    },
    restored: (state) => {
      replica.hub.reset(state.last_applied);
      for (const w of [...replica.waiters]) w();
    },
  });
  return Object.assign(sm, { replica });
}

type MetaSm = ReturnType<typeof makeMetaReplica>;

export interface PortTiming {
  deadlineMs: number;
  attemptTimeoutMs: number;
}

function refusalOutcome(state: RootState, error: NokvError): CommandOutcome {
  return {
    accepted: false,
    events: [],
    error,
    tenure: null,
    legacy: state.legacy,
    handover: state.handover,
    id_fence: state.id_fence,
    tso_fence: state.tso_fence,
    cursor: { ...state.last_applied },
  };
}

/** Counts and fingerprints the attempts of every root call, so a replay can show the same retry schedule. */
export class RetryRecorder {
  attempts = 0;
  backoffs = 0;
  private readonly hash = createHash('sha256');
  attempt(at: number): void {
    this.attempts++;
    this.hash.update(`${at};`);
  }
  backoff(): void {
    this.backoffs++;
  }
  /** sha256 of every attempt's virtual time, in order (call once, at the end). */
  digest(): string {
    return this.hash.digest('hex').slice(0, 16);
  }
}

/** One coordinator incarnation's client of the simulated meta-root. */
export class SimRootPort implements RootPort {
  private hint?: number;
  private rr = 0;
  private closed = false;

  constructor(
    private readonly selfId: number,
    private readonly cluster: HostCluster<MetaSm>,
    private readonly net: SimNetwork,
    private readonly world: SimClock,
    private readonly clock: ProcessClock,
    private readonly prng: Prng,
    private readonly timing: PortTiming,
    private readonly recorder?: RetryRecorder,
  ) {}

  snapshot(opts: { linearizable?: boolean } = {}): Promise<{ state: RootState; cursor: Cursor }> {
    return this.call(opts.linearizable ?? false, async (node) => {
      const inc = node.inc!;
      if (opts.linearizable) {
        if (!inc.group.isLeader) throw this.notLeader(node);
        await inc.run((g) => g.readBarrier({ timeoutMs: this.timing.attemptTimeoutMs }));
      }
      const state = inc.sm.replica.sm.state;
      return { state, cursor: { ...state.last_applied } };
    });
  }

  append(events: RootEvent[]): Promise<RootOutcome> {
    return this.write(commands.append(events));
  }
  fenceAllocator(req: FenceRequest): Promise<RootOutcome> {
    return this.write(commands.fence(req));
  }
  applyTenure(cmd: TenureCommand): Promise<RootOutcome> {
    return this.write(commands.tenure(cmd));
  }
  applyHandover(cmd: HandoverCommand): Promise<RootOutcome> {
    return this.write(commands.handover(cmd));
  }

  waitTail(req: { after: Cursor; timeoutMs: number }): Promise<TailResult> {
    return this.call(false, (node) => {
      const replica = node.inc!.sm.replica;
      const read = (): TailResult | undefined => {
        const page = replica.hub.read(req.after);
        return page.entries.length > 0 || page.snapshot_required ? { cursor: page.cursor, entries: page.entries, snapshot_required: page.snapshot_required } : undefined;
      };
      const now = read();
      if (now) return Promise.resolve(now);
      // The long-poll waits on the replica's own clock; an empty page at the timeout is the answer.
      return new Promise<TailResult>((resolve) => {
        const done = () => {
          const page = read();
          if (!page) return;
          replica.waiters.delete(done);
          timer.cancel();
          resolve(page);
        };
        const timer = node.inc!.clock.setTimer(req.timeoutMs, () => {
          replica.waiters.delete(done);
          const p = replica.hub.read(req.after);
          resolve({ cursor: p.cursor, entries: p.entries, snapshot_required: p.snapshot_required });
        });
        replica.waiters.add(done);
      });
    }, req.timeoutMs + this.timing.attemptTimeoutMs);
  }

  close(): void {
    this.closed = true;
  }

  /** The coordinator process died: nothing it asked is ever answered. */
  kill(): void {
    this.closed = true;
  }

  private notLeader(node: SimNode<MetaSm>): NotLeaderError {
    return new NotLeaderError(`meta-root node ${node.id} is not the leader`, { leaderId: node.inc?.group.status().leaderId ?? 0 });
  }

  /** The peer actor's write handler, run on the replica the request reached. */
  private write(command: RootCommand): Promise<RootOutcome> {
    return this.call(true, async (node) => {
      const inc = node.inc!;
      if (!inc.group.isLeader) throw this.notLeader(node);
      const state = inc.sm.replica.sm.state;
      const pre = evaluateCommand(state, command);
      if (!pre.accepted) return refusalOutcome(state, pre.error);
      const valid = validateBatch(state, pre.events);
      if (!valid.ok) return refusalOutcome(state, valid.error);
      const applied = await inc.run((g) => g.propose(encodeCommand(command), { timeoutMs: this.timing.attemptTimeoutMs }));
      const outcome = applied.result as CommandOutcome;
      return outcome.accepted ? { ...outcome, error: null } : outcome;
    });
  }

  /**
   * One client call through the production retry loop and the meta-root client's policy (attempt deadline,
   * call budget, attempt cap, jittered backoff) on this process's clock: a NotLeader hint naming a replica
   * that answered in this call is followed at once, any other failure backs off. `leaderOnly` calls follow
   * hints; others go to any replica.
   */
  private call<T>(leaderOnly: boolean, handler: (node: SimNode<MetaSm>) => Promise<T>, attemptMs = this.timing.attemptTimeoutMs): Promise<T> {
    const ids = [...this.cluster.nodes.keys()];
    const unreachable = new Set<number>();
    let target = 0;
    return retrying<T>({
      policy: rootCallPolicy(Math.max(this.timing.deadlineMs, attemptMs), attemptMs),
      prng: this.prng,
      clock: this.clock,
      attempt: ({ deadlineMs }) => {
        if (this.closed) return new Promise<T>(() => undefined);
        target = leaderOnly && this.hint ? this.hint : ids[this.rr++ % ids.length]!;
        this.recorder?.attempt(this.clock.now());
        return this.attempt(target, handler, deadlineMs);
      },
      onFailure: (err) => {
        if (err instanceof NotLeaderError) {
          const hint = Number((err.details as { leaderId?: number }).leaderId ?? 0);
          this.hint = hint && hint !== target ? hint : undefined;
          return this.hint !== undefined && !unreachable.has(this.hint) ? 'now' : 'backoff';
        }
        // In process a handler can throw a plain Error where the gRPC front would answer UNAVAILABLE.
        if (err instanceof NokvError && err.code !== 'UNAVAILABLE' && err.code !== 'DEADLINE_EXCEEDED' && err.name !== 'TimeoutError') return 'stop';
        this.hint = undefined;
        unreachable.add(target);
        return 'backoff';
      },
      onBackoff: () => this.recorder?.backoff(),
      exhausted: (lastErr) => new UnavailableError(`meta-root call failed: ${(lastErr as Error | undefined)?.message ?? 'no attempt'}`),
    });
  }

  /** One request/response exchange with replica `to` over the simulated network. */
  private attempt<T>(to: number, handler: (node: SimNode<MetaSm>) => Promise<T>, timeoutMs: number): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      let done = false;
      const finish = (f: () => void) => {
        if (done || this.closed) return;
        done = true;
        timer.cancel();
        f();
      };
      const timer = this.clock.setTimer(timeoutMs, () => finish(() => reject(new UnavailableError(`no answer from meta-root ${to} within ${Math.round(timeoutMs)} ms`))));
      this.net.rpc(this.selfId, to, () => {
        const node = this.cluster.nodes.get(to)!;
        if (!node.inc) return; // connection refused looks like a lost request to the caller: it times out
        const inc = node.inc;
        let p: Promise<T>;
        try {
          p = handler(node);
        } catch (err) {
          p = Promise.reject(err);
        }
        p.then(
          (v) => inc.clock.isAlive && this.net.rpc(to, this.selfId, () => finish(() => resolve(v))),
          (err: unknown) => inc.clock.isAlive && this.net.rpc(to, this.selfId, () => finish(() => reject(err))),
        );
      });
    });
  }
}

export type { MetaSm };
