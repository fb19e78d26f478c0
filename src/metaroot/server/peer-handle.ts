// Owns the placement and supervision glue of the meta-root raft peer actor (peer-actor.ts): where it runs
// (`--workers 0`: the main thread with direct links to the raft port; `--workers N`: worker thread 1, spawned
// from its module with plain-data args and the port actor's ref), the child spec the role's supervisor
// restarts it through (a held restart for fault drills), and the asks the gRPC front and /debug/vars make.
import { actorChildSpec, type ActorRef, type ActorSystem, type TraceContext } from '../../actors/index.js';
import type { Clock } from '../../common/clock.js';
import { UnavailableError } from '../../common/errors.js';
import { defaultPrng } from '../../common/prng.js';
import type { ChildSpec } from '../../supervisor/types.js';
import { RAFT_PEER_ACTOR, RAFT_PEER_MAILBOX_LIMIT, RootPeerActor, type PeerMsg, type RootPeerArgs, type RootPeerConfig } from './peer-actor.js';
import type { RootRaftPort } from './raft-port.js';

const PEER_MODULE = new URL('./peer-actor.js', import.meta.url).href;

/** The worker thread the peer (and its tail actor) run on when the role has worker threads. */
export const PEER_WORKER_THREAD = 1;

export interface RootPeerHandleOptions {
  config: RootPeerConfig;
  port: RootRaftPort;
  /** Clock of a main-thread peer (a worker peer uses its thread's system clock). */
  clock: Clock;
  /** A (re)start waits until this time on `clock` (fault drills hold a restart to observe the replica down). */
  hold?: { until: number };
}

/**
 * What the role, the gRPC front and /debug/vars hold: the supervisor child of the peer actor, and asks to the
 * running one. Between a failure and the restart's end there is no peer: asks answer UNAVAILABLE and the
 * replica reports its raft group `failed` (restart pending) instead of serving stale answers.
 */
export class RootPeerHandle {
  private ref: ActorRef<PeerMsg> | undefined;
  private startsCount = 0;
  private failure: string | undefined;
  /** 0 (main thread) or PEER_WORKER_THREAD. */
  readonly thread: number;

  constructor(
    private readonly actors: ActorSystem,
    private readonly o: RootPeerHandleOptions,
  ) {
    this.thread = actors.workers > 0 ? PEER_WORKER_THREAD : 0;
  }

  childSpec(): ChildSpec {
    const spec = actorChildSpec<PeerMsg>(this.actors, () => this.spawnSpec(), {
      id: RAFT_PEER_ACTOR,
      onStart: (ref) => {
        this.ref = ref;
        this.o.port.attach(ref);
        this.startsCount++;
        this.actors.onExit(ref, (reason) => {
          if (this.ref === ref) this.ref = undefined;
          this.o.port.detach(ref);
          if (typeof reason === 'object') this.failure = reason.error.message;
        });
      },
    });
    return {
      ...spec,
      start: async () => {
        const wait = (this.o.hold?.until ?? 0) - this.o.clock.now();
        if (wait > 0) await new Promise<void>((r) => this.o.clock.setTimer(wait, r));
        return spec.start();
      },
    };
  }

  private spawnSpec() {
    const common = { name: RAFT_PEER_ACTOR, mailboxLimit: RAFT_PEER_MAILBOX_LIMIT };
    if (this.thread === 0) {
      const links = this.o.port.directLinks();
      return { ...common, thread: 0, behaviour: () => new RootPeerActor({ ...this.o.config, clock: this.o.clock, prng: defaultPrng(), links }) };
    }
    const port = this.o.port.portRef;
    if (!port) throw new UnavailableError('meta-root raft port is not running');
    const args: RootPeerArgs = { config: this.o.config, port };
    return { ...common, thread: this.thread, module: PEER_MODULE, export: 'rootPeerOnWorker', args };
  }

  /** `running`, `failed` (stopped after a failure, restart pending) or `starting`: never a silent zombie. */
  get groupState(): 'running' | 'failed' | 'starting' {
    if (this.ref) return 'running';
    return this.failure ? 'failed' : 'starting';
  }

  /** Completed starts after the first: restarts after a failure. */
  get restarts(): number {
    return Math.max(0, this.startsCount - 1);
  }

  get lastFailure(): string | undefined {
    return this.failure;
  }

  get running(): boolean {
    return this.ref !== undefined;
  }

  /** The running peer actor (for actors that message it directly). */
  get current(): ActorRef<PeerMsg> | undefined {
    return this.ref;
  }

  /** Asks the running peer; UNAVAILABLE while there is none. */
  ask<R>(msg: PeerMsg, timeoutMs: number, trace?: TraceContext): Promise<R> {
    const ref = this.ref;
    if (!ref) return Promise.reject(new UnavailableError('meta-root raft peer is restarting'));
    return ref.ask<R>(msg, { timeoutMs, ...(trace ? { trace } : {}) });
  }

  /** Tells the running peer (fault drills); false when there is none. */
  tell(msg: PeerMsg): boolean {
    if (!this.ref) return false;
    this.ref.tell(msg);
    return true;
  }
}
