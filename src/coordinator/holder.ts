// Owns the lease holder's public surface: the adapter the gRPC service, expvar and the role use, around the
// ActorRef of the lease holder actor (holder-actor.ts). Everything is a message to the actor, carrying the
// caller's trace: duties, handover, take-over and release change the lease; `serving` and `status` read it.
// Nothing here looks at the actor's state. Between a crash and the restart there is no actor, and the adapter
// answers as a standby with no knowledge of the tenure.
//
// Placement: `--workers 0` runs the actor on the main thread with the role's objects; `--workers N` on worker
// thread 1, spawned from holder-worker.ts with plain data and refs, its root calls and handover TakeOver going
// through a main-thread port actor started (and stopped) with each incarnation.
import type { ActorRef, ActorSystem, TraceContext } from '../actors/index.js';
import { actorChildSpec } from '../actors/index.js';
import type { Clock } from '../common/clock.js';
import { FailedPreconditionError, InvalidArgumentError } from '../common/errors.js';
import type { Prng } from '../common/prng.js';
import type { ChildInstance, ChildSpec } from '../supervisor/types.js';
import type { LeaseTiming } from './lease.js';
import { LEASE_PORT_ACTOR, leasePortBehaviour, type HolderWorkerArgs, type LeasePortMsg } from './holder-worker.js';
import { HolderActor, RELEASE_TIMEOUT_MS, newHolderMetrics, type Allocation, type Duty, type HolderMetrics, type HolderMsg, type HolderStatus } from './holder-actor.js';
import type { RootPort } from './root-port.js';
import type { RootViewHandle } from './root-view.js';

export {
  CAMPAIGN_JITTER_MS,
  MAX_FENCE_ATTEMPTS,
  MAX_STAGE_ATTEMPTS,
  RELEASE_TIMEOUT_MS,
  RETRY_MAX_MS,
  RETRY_MIN_MS,
  coveringFrontiers,
  type Duty,
  type HolderMetrics,
  type HolderStatus,
} from './holder-actor.js';

/** The actor's name in logs (`actor` binding) and in the supervisor. */
export const LEASE_HOLDER_ACTOR = 'lease-holder';
/** The worker thread the holder runs on when the role has worker threads. */
export const HOLDER_WORKER_THREAD = 1;
const HOLDER_WORKER_MODULE = new URL('./holder-worker.js', import.meta.url).href;
/** A duty call waits this long for the actor (a window refill is one root commit, bounded by the root client). */
export const DUTY_ASK_TIMEOUT_MS = 5_000;
/** A read of the lease (serving, status) is answered from the actor's memory; this bounds a stuck mailbox. */
export const STATUS_ASK_TIMEOUT_MS = 2_000;
/** A handover waits for the seal, then the peer's TakeOver (bounded by its own deadline in the role). */
export const HANDOVER_ASK_TIMEOUT_MS = 15_000;
/** A take-over re-reads rooted state linearizably, then campaigns (and confirms, closes). */
export const TAKE_OVER_ASK_TIMEOUT_MS = 10_000;
/** Restarts of the holder actor its own supervisor allows in LEASE_RESTART_PERIOD_MS before escalating. */
export const LEASE_RESTART_INTENSITY = 3;
export const LEASE_RESTART_PERIOD_MS = 30_000;

export interface HolderOptions {
  selfId: string;
  timing: LeaseTiming;
  root: RootPort;
  /** The rooted view actor the holder subscribes to. */
  view: Pick<RootViewHandle, 'current'>;
  /** The process's actor system: the holder runs on its owner thread, or on worker 1 when it has workers. */
  actors: ActorSystem;
  prng: Prng;
  /** Address of a coordinator id, for not-holder hints; undefined when unknown. */
  addrOf?: (id: string) => string | undefined;
  /** Coordinator id → address (a holder on a worker gets this instead of addrOf). */
  peers?: Map<string, string>;
  /** Asks coordinator `to` to take over sealed era `legacyEra` (planned handover). */
  takeOverPeer?: (to: string, legacyEra: number, trace?: TraceContext) => Promise<{ era: number; stage: string }>;
}

export class LeaseHolder {
  readonly metrics: HolderMetrics = newHolderMetrics();
  private ref: ActorRef<HolderMsg> | undefined;
  private standalone: ChildInstance | undefined;
  /** Bumped by every (re)start, so a late exit report of an old incarnation cannot clear a newer one. */
  private incarnation = 0;

  constructor(private readonly o: HolderOptions) {}

  /** The running actor's ref (undefined between a crash and its restart). */
  get actorRef(): ActorRef<HolderMsg> | undefined {
    return this.ref;
  }

  /**
   * The holder actor as a supervisor child. Stopping it first asks the actor to release a held era (so a
   * standby takes over at once), then stops it; a crash loses the era and the restart comes back as a standby.
   */
  childSpec(): ChildSpec {
    const actors = this.o.actors;
    let port: ActorRef<LeasePortMsg> | undefined;
    const inner = actorChildSpec<HolderMsg>(actors, () => this.spawnSpec(port), { id: LEASE_HOLDER_ACTOR, onStart: (ref) => this.attach(ref) });
    return {
      ...inner,
      shutdown: RELEASE_TIMEOUT_MS + this.o.timing.renewBeforeMs + 2_000,
      start: async () => {
        port = actors.workers > 0 ? await actors.spawn<LeasePortMsg>({ name: LEASE_PORT_ACTOR, thread: 0, behaviour: this.portBehaviour() }) : undefined;
        const myPort = port;
        const stopPort = () => (myPort ? actors.stop(myPort) : Promise.resolve());
        let instance: ChildInstance;
        try {
          instance = await inner.start();
        } catch (err) {
          await stopPort();
          throw err;
        }
        // The port serves this incarnation only: it goes when the holder does, however it ends.
        instance.onExit(() => void stopPort());
        return { ...instance, onExit: (l) => instance.onExit(l), stop: () => this.releaseThen(instance) };
      },
    };
  }

  /** Where the next incarnation runs: here with the role's objects, or on worker 1 through `port`. */
  private spawnSpec(port: ActorRef<LeasePortMsg> | undefined) {
    if (!port) return { name: LEASE_HOLDER_ACTOR, thread: 0, behaviour: () => this.newIncarnation() };
    const view = this.o.view.current;
    if (!view) throw new FailedPreconditionError('lease holder started before the rooted view');
    const args: HolderWorkerArgs = {
      selfId: this.o.selfId,
      timing: this.o.timing,
      view,
      port,
      peers: [...(this.o.peers ?? [])],
      handover: this.o.takeOverPeer !== undefined,
    };
    this.incarnation++;
    return { name: LEASE_HOLDER_ACTOR, thread: HOLDER_WORKER_THREAD, module: HOLDER_WORKER_MODULE, export: 'holderOnWorker', args };
  }

  private portBehaviour() {
    return leasePortBehaviour({ root: this.o.root, metrics: this.metrics, ...(this.o.takeOverPeer ? { takeOverPeer: this.o.takeOverPeer } : {}) });
  }

  /** Runs the holder without a supervisor (tests, tools); stop() releases and ends it. */
  async start(): Promise<void> {
    this.standalone = await this.childSpec().start();
  }

  async stop(): Promise<void> {
    const instance = this.standalone;
    this.standalone = undefined;
    await instance?.stop();
  }

  /** The era this coordinator serves with now, or the typed "not holder" refusal. */
  async servingEra(trace?: TraceContext): Promise<number> {
    try {
      return await this.ask<number>({ t: 'serving' }, STATUS_ASK_TIMEOUT_MS, trace);
    } catch (err) {
      if (!(err instanceof FailedPreconditionError)) this.metrics.not_holder_rejections++;
      throw err;
    }
  }

  /** The lease as the actor sees it; a standby that knows nothing while the actor restarts. */
  async status(): Promise<HolderStatus> {
    if (!this.ref) return this.idleStatus();
    return this.ask<HolderStatus>({ t: 'status' }, STATUS_ASK_TIMEOUT_MS, undefined).catch(() => this.idleStatus());
  }

  private idleStatus(): HolderStatus {
    return {
      selfId: this.o.selfId,
      era: 0,
      tenure: { holder_id: '', era: 0, expires_unix_ms: 0, sealed: false },
      serving: false,
      ids: { current: '0', window_high: '0' },
      tso: { current: '0', window_high: '0' },
    };
  }

  notHolderError(): FailedPreconditionError {
    return new FailedPreconditionError(`not holder: ${this.o.selfId} does not hold the lease; lease holder restarting`, { reason: 'not_holder', holder_id: '', era: 0 });
  }

  /** Reserves `count` consecutive values of a duty; the actor refills the window through a fenced root commit first. */
  allocate(duty: Duty, count: number, trace?: TraceContext): Promise<Allocation> {
    if (!(Number.isInteger(count) && count >= 1)) throw new InvalidArgumentError(`count must be a positive integer, got ${count}`);
    return this.ask<Allocation>({ t: 'allocate', duty, count }, DUTY_ASK_TIMEOUT_MS, trace);
  }

  /** Planned handover, run on the holder: seal this era, then have `to` issue the next one and close it. */
  handover(to: string, trace?: TraceContext): Promise<{ legacyEra: number; successorEra: number; stage: string }> {
    return this.ask({ t: 'handover', to }, HANDOVER_ASK_TIMEOUT_MS, trace);
  }

  /** Runs on the handover target: take over the sealed era `legacyEra` now. */
  takeOver(legacyEra: number, trace?: TraceContext): Promise<{ era: number; stage: string }> {
    return this.ask({ t: 'take-over', legacyEra }, TAKE_OVER_ASK_TIMEOUT_MS, trace);
  }

  private ask<R>(msg: HolderMsg, timeoutMs: number, trace: TraceContext | undefined): Promise<R> {
    const ref = this.ref;
    if (!ref) {
      this.metrics.not_holder_rejections++;
      return Promise.reject(this.notHolderError());
    }
    return ref.ask<R>(msg, { timeoutMs, ...(trace ? { trace } : {}) });
  }

  private newIncarnation(): HolderActor {
    const { selfId, timing, root, view, prng, addrOf, takeOverPeer } = this.o;
    const actor = new HolderActor({ selfId, timing, root, view, prng, metrics: this.metrics, ...(addrOf ? { addrOf } : {}), ...(takeOverPeer ? { takeOverPeer } : {}) });
    this.incarnation++;
    return actor;
  }

  private attach(ref: ActorRef<HolderMsg>): void {
    const incarnation = this.incarnation;
    this.ref = ref;
    this.o.actors.onExit(ref, () => {
      if (this.incarnation !== incarnation) return;
      // Forget the incarnation at once: nothing may be served by an actor that has exited.
      this.ref = undefined;
    });
  }

  private async releaseThen(instance: ChildInstance): Promise<void> {
    const ref = this.ref;
    if (ref) await ref.ask({ t: 'release' }, { timeoutMs: RELEASE_TIMEOUT_MS + this.o.timing.renewBeforeMs + 1_000 }).catch(() => undefined);
    await instance.stop();
  }
}
