// Owns the ActorSystem: the owner thread's runtime plus a pool of worker threads that actors are placed on
// (M:N). It spawns actors by module + export (or a behaviour object on the owner thread), tracks where every
// actor lives, reports each actor's exit exactly once (also when its whole thread dies), respawns a dead
// worker thread when something is placed on it again, and shuts everything down in reverse spawn order.
import { randomBytes } from 'node:crypto';
import { MessageChannel, Worker } from 'node:worker_threads';
import * as Comlink from 'comlink';
import type { DestinationStream, Logger } from 'pino';
import { SystemClock, type Clock } from '../common/clock.js';
import { InvalidArgumentError, UnavailableError, reviveError, serializeError } from '../common/errors.js';
import { createLogger } from '../common/log.js';
import { trackResource } from '../common/resources.js';
import type { ExitReason } from '../supervisor/types.js';
import { instantiate, loadBehaviour, type Behaviour, type BehaviourSource } from './behaviour.js';
import type { CellStats } from './cell.js';
import { createCodec, type CodecName } from './codec.js';
import { nodeEndpoint, type ControlResult, type WorkerBoot, type WorkerClockSpec, type WorkerControl } from './control.js';
import {
  CONTROL_CALL_TIMEOUT_MS,
  DEFAULT_MAILBOX_LIMIT,
  MAX_WORKER_THREADS,
  WORKER_SHUTDOWN_TIMEOUT_MS,
} from './limits.js';
import { OWNER_THREAD, type ActorAddress } from './protocol.js';
import type { ActorRef } from './ref.js';
import { ThreadRuntime } from './runtime.js';

/** Exits remembered after an actor is gone, so a listener that subscribes late still learns the real reason. */
const RECENT_EXITS_LIMIT = 10_000;

/** How long kill() waits for a worker to kill one actor before terminating the whole thread. */
const KILL_ESCALATION_MS = 2_000;

export interface ActorSystemOptions {
  role: string;
  node?: string;
  /** Worker threads (0 = every actor on the calling thread, as the deterministic simulators use). */
  workers?: number;
  /** Time for owner-thread actors (asks, sendSelfAfter). */
  clock?: Clock;
  /**
   * Time for worker-thread actors (default: the system clock). 'driven': virtual time from startMs that moves
   * only through advanceWorkerClocks (a simulator keeps it in step with its own clock).
   */
  workerClock?: WorkerClockSpec;
  /** Root logger of the owner thread; defaults to createLogger({role, node, destination: logDestination}). */
  logger?: Logger;
  logLevel?: string;
  /** Where the default owner logger and forwarded worker log lines go (defaults to stdout). */
  logDestination?: DestinationStream;
  /**
   * false (default): workers log synchronously to fd 1, nothing lost if the thread dies.
   * true: worker log lines travel to this thread and are written to logDestination (tests capture them).
   */
  forwardWorkerLogs?: boolean;
  /** Envelope encoding between threads; 'auto' (default) picks clone or msgpack per batch by its size. */
  codec?: CodecName;
  /** Prefix of trace/span ids; pass a fixed one for reproducible runs. */
  idPrefix?: string;
  defaultMailboxLimit?: number;
}

export interface SpawnSpec<A = unknown, M = any> {
  name: string;
  /** File URL (e.g. import.meta.url) or absolute path of the built module exporting the behaviour. */
  module?: string;
  /** Export name of a factory `(args) => Behaviour` or a class `new (args)`; defaults to 'default'. */
  export?: string;
  /** Plain data handed to the factory on every (re)start; must survive structured clone. */
  args?: A;
  /** Owner thread only: the behaviour itself, or a factory/class called with args. */
  behaviour?: Behaviour<M> | BehaviourSource<A, M>;
  /** 0 = owner thread, 1..workers = a worker; omitted = round-robin over workers (or 0 without workers). */
  thread?: number;
  mailboxLimit?: number;
  /** Subscribed before the actor starts, so even an exit during the first message is seen. */
  onExit?: (reason: ExitReason) => void;
}

export interface ThreadInspection {
  thread: number;
  alive: boolean;
  actors: ActorInspection[];
}

/** One actor as inspect() reports it: its cell's counters, plus how often an actor of its name was respawned. */
export interface ActorInspection extends CellStats {
  /** Spawns of an actor with this name after the first (a supervisor restart respawns under the same name). */
  restarts: number;
}

interface ActorEntry {
  addr: ActorAddress;
  order: number;
  exit?: ExitReason;
  listeners: Set<(reason: ExitReason) => void>;
  exited: Promise<void>;
  markExited: () => void;
}

interface WorkerSlot {
  index: number;
  state: 'idle' | 'starting' | 'live' | 'dead';
  worker?: Worker;
  control?: Comlink.Remote<WorkerControl>;
  starting?: Promise<WorkerSlot>;
  actors: Set<number>;
  /** Set when we terminate the thread on purpose, so its actors exit with 'shutdown' rather than 'killed'. */
  intentional: boolean;
  /** Set by killThread: the actors were killed, they did not fail. */
  killed: boolean;
  lastError?: unknown;
  gone: Promise<void>;
  markGone: () => void;
  /** Rejecters of control calls in flight; comlink never settles them if the thread dies. */
  inflight: Set<(err: Error) => void>;
  untrack?: () => void;
}

const WORKER_ENTRY = new URL('./worker-entry.js', import.meta.url);

export class ActorSystem {
  readonly role: string;
  readonly node: string | undefined;
  readonly workers: number;
  readonly clock: Clock;
  readonly logger: Logger;
  private readonly runtime: ThreadRuntime;
  private readonly opts: ActorSystemOptions;
  private readonly codecName: CodecName;
  private readonly idPrefix: string;
  private readonly defaultMailboxLimit: number;
  private readonly realClock = new SystemClock();
  /** Where driven worker clocks stand: a worker (re)started later starts there. */
  private workerTimeMs: number | undefined;
  private readonly slots: WorkerSlot[] = [];
  private readonly entries = new Map<number, ActorEntry>();
  private readonly recentExits = new Map<number, ExitReason>();
  private nextActorId = 1;
  /** Actors spawned under each name; every spawn after the first is a restart (inspect()). */
  private readonly spawnsByName = new Map<string, number>();
  private nextOrder = 0;
  private roundRobin = 0;
  private meshChain: Promise<void> = Promise.resolve();
  private shutdownPromise: Promise<void> | undefined;

  /** Creates the system and starts its worker threads. */
  static async start(opts: ActorSystemOptions): Promise<ActorSystem> {
    const system = new ActorSystem(opts);
    try {
      await Promise.all(system.slots.map((s) => system.ensureLive(s.index)));
    } catch (err) {
      await system.shutdown();
      throw err;
    }
    return system;
  }

  private constructor(opts: ActorSystemOptions) {
    const workers = opts.workers ?? 0;
    if (!Number.isInteger(workers) || workers < 0 || workers > MAX_WORKER_THREADS) {
      throw new InvalidArgumentError(`workers must be an integer in 0..${MAX_WORKER_THREADS}, got ${workers}`);
    }
    this.opts = opts;
    this.role = opts.role;
    this.node = opts.node;
    this.workers = workers;
    this.clock = opts.clock ?? new SystemClock();
    this.codecName = opts.codec ?? 'auto';
    this.idPrefix = opts.idPrefix ?? randomBytes(4).toString('hex');
    this.defaultMailboxLimit = opts.defaultMailboxLimit ?? DEFAULT_MAILBOX_LIMIT;
    this.logger =
      opts.logger ??
      createLogger({ role: opts.role, node: opts.node, level: opts.logLevel, destination: opts.logDestination });
    this.runtime = new ThreadRuntime({
      thread: OWNER_THREAD,
      clock: this.clock,
      logger: this.logger,
      codec: createCodec(this.codecName),
      idPrefix: this.idPrefix,
    });
    this.runtime.exitObserver = (id, reason) => this.actorExited(id, reason);
    this.runtime.remoteExitObserver = (id, reason) => this.actorExited(id, reason);
    for (let i = 1; i <= workers; i++) this.slots.push(this.newSlot(i));
  }

  // ---- spawning and stopping actors ----

  async spawn<M = any, A = unknown>(spec: SpawnSpec<A, M>): Promise<ActorRef<M>> {
    if (this.shutdownPromise) throw new UnavailableError('actor system is shutting down');
    if (!spec.name) throw new InvalidArgumentError('an actor needs a name');
    const thread = this.place(spec.thread);
    const addr: ActorAddress = { thread, id: this.nextActorId++, name: spec.name };
    this.spawnsByName.set(spec.name, (this.spawnsByName.get(spec.name) ?? 0) + 1);
    const entry = this.newEntry(addr);
    if (spec.onExit) entry.listeners.add(spec.onExit);
    const mailboxLimit = spec.mailboxLimit ?? this.defaultMailboxLimit;
    let slot: WorkerSlot | undefined;
    try {
      if (thread === OWNER_THREAD) {
        const behaviour =
          spec.behaviour !== undefined
            ? instantiate(spec.behaviour, spec.args, spec.name)
            : await loadBehaviour(this.requireModule(spec), spec.export ?? 'default', spec.args);
        await this.runtime.startCell(addr, behaviour, mailboxLimit);
      } else {
        if (spec.behaviour !== undefined) {
          throw new InvalidArgumentError(`actor ${spec.name}: behaviour objects cannot cross threads; give module + export`);
        }
        const module = this.requireModule(spec);
        slot = await this.ensureLive(thread);
        slot.actors.add(addr.id);
        const req = { id: addr.id, name: spec.name, module, export: spec.export ?? 'default', args: spec.args, mailboxLimit };
        const result = await this.call<ControlResult>(slot, (c) => c.spawn(req) as Promise<ControlResult>);
        if ('error' in result) throw reviveError(result.error);
      }
    } catch (err) {
      this.entries.delete(addr.id);
      slot?.actors.delete(addr.id);
      throw err;
    }
    return this.runtime.refFor(addr) as ActorRef<M>;
  }

  /** Graceful stop (after the current message); resolves once the actor has exited. */
  async stop(ref: ActorAddress, reason: 'normal' | 'shutdown' = 'shutdown'): Promise<void> {
    const entry = this.entries.get(ref.id);
    if (!entry || entry.exit) return;
    if (ref.thread === OWNER_THREAD) await this.runtime.stopCell(ref.id, reason);
    else this.runtime.sendSignal(ref.thread, { k: 'signal', sig: 'stop', actor: ref.id, reason });
    await entry.exited;
  }

  /**
   * Ends an actor at once with reason 'killed'. A worker that does not manage to kill it within
   * KILL_ESCALATION_MS (its event loop is stuck) is terminated, taking its other actors with it.
   */
  async kill(ref: ActorAddress): Promise<void> {
    const entry = this.entries.get(ref.id);
    if (!entry || entry.exit) return;
    if (ref.thread === OWNER_THREAD) {
      this.runtime.killCell(ref.id);
      return entry.exited;
    }
    this.runtime.sendSignal(ref.thread, { k: 'signal', sig: 'stop', actor: ref.id, reason: 'killed' });
    if (await this.within(entry.exited, KILL_ESCALATION_MS)) return;
    this.logger.warn({ actor: ref.name, thread: ref.thread }, 'kill did not take effect; terminating the worker thread');
    await this.killThread(ref.thread);
  }

  /** Subscribes to an actor's exit; fires at once if it already exited. Returns an unsubscribe function. */
  onExit(ref: ActorAddress, listener: (reason: ExitReason) => void): () => void {
    const entry = this.entries.get(ref.id);
    if (!entry) {
      const reason = this.recentExits.get(ref.id) ?? 'normal';
      queueMicrotask(() => listener(reason));
      return () => {};
    }
    entry.listeners.add(listener);
    return () => entry.listeners.delete(listener);
  }

  /** Mailbox sizes, counters, restarts and inspect() state of every actor, per thread. */
  async inspect(): Promise<ThreadInspection[]> {
    const withRestarts = (cells: CellStats[]): ActorInspection[] =>
      cells.map((c) => ({ ...c, restarts: Math.max(0, (this.spawnsByName.get(c.name) ?? 1) - 1) }));
    const out: ThreadInspection[] = [{ thread: OWNER_THREAD, alive: true, actors: withRestarts(this.runtime.stats()) }];
    for (const slot of this.slots) {
      if (slot.state !== 'live') {
        out.push({ thread: slot.index, alive: false, actors: [] });
        continue;
      }
      const actors = await this.call(slot, (c) => c.inspect()).catch(() => undefined);
      out.push({ thread: slot.index, alive: actors !== undefined, actors: withRestarts(actors ?? []) });
    }
    return out;
  }

  /**
   * Moves every live worker's driven clock to atMs (never back), firing the timers due by then on each thread;
   * resolves to the earliest time a worker timer is next due (undefined: none), so a simulator can schedule
   * the next call on its own clock. Refused unless the system was started with workerClock 'driven'.
   */
  async advanceWorkerClocks(atMs: number): Promise<number | undefined> {
    if (this.opts.workerClock?.kind !== 'driven') throw new InvalidArgumentError('worker threads run on the system clock');
    if (!Number.isFinite(atMs)) throw new InvalidArgumentError(`not a time: ${atMs}`);
    this.workerTimeMs = Math.max(this.workerTimeMs ?? this.opts.workerClock.startMs, atMs);
    let next: number | undefined;
    for (const slot of this.slots) {
      if (slot.state !== 'live') continue;
      const res: ControlResult<number | null> = await this.call(slot, (c) => c.advanceClock(this.workerTimeMs!) as unknown as Promise<ControlResult<number | null>>);
      if ('error' in res) throw reviveError(res.error);
      if (res.ok !== null && (next === undefined || res.ok < next)) next = res.ok;
    }
    return next;
  }

  /**
   * Terminates one worker thread abruptly (chaos drills, tests); its actors exit with 'killed'. (A thread that
   * dies on its own — uncaught error, process.exit — reports { error } for each of its actors instead.)
   */
  async killThread(thread: number): Promise<void> {
    const slot = this.slots[thread - 1];
    if (!slot || !slot.worker || slot.state === 'dead' || slot.state === 'idle') return;
    slot.killed = true;
    await slot.worker.terminate();
    await slot.gone;
  }

  liveThreads(): number[] {
    return [OWNER_THREAD, ...this.slots.filter((s) => s.state === 'live').map((s) => s.index)];
  }

  /** Stops every actor in reverse spawn order, then terminates the worker threads. Idempotent. */
  shutdown(): Promise<void> {
    this.shutdownPromise ??= this.doShutdown();
    return this.shutdownPromise;
  }

  private async doShutdown(): Promise<void> {
    const live = [...this.entries.values()].filter((e) => !e.exit).sort((a, b) => b.order - a.order);
    // Consecutive actors on the same worker stop in one control call; the overall order stays reversed.
    for (let i = 0; i < live.length; ) {
      let j = i;
      while (j < live.length && live[j].addr.thread === live[i].addr.thread) j++;
      await this.stopGroup(live[i].addr.thread, live.slice(i, j).map((e) => e.addr.id));
      i = j;
    }
    for (const slot of this.slots) {
      if (!slot.worker || slot.state === 'dead' || slot.state === 'idle') continue;
      slot.intentional = true;
      await slot.starting?.catch(() => undefined);
      await slot.worker.terminate();
      await slot.gone;
    }
    this.runtime.close();
  }

  private async stopGroup(thread: number, ids: number[]): Promise<void> {
    if (thread === OWNER_THREAD) {
      for (const id of ids) {
        const stopped = this.runtime.stopCell(id, 'shutdown');
        if (!(await this.within(stopped, WORKER_SHUTDOWN_TIMEOUT_MS))) this.runtime.killCell(id);
      }
      return;
    }
    const slot = this.slots[thread - 1];
    if (slot.state !== 'live') return;
    const results = await this.call(slot, (c) => c.stopMany(ids, 'shutdown'), WORKER_SHUTDOWN_TIMEOUT_MS).catch((err) => {
      this.logger.warn({ err, thread }, 'worker did not stop its actors in time');
      return [];
    });
    for (const r of results) this.actorExited(r.id, r.reason);
  }

  // ---- bookkeeping ----

  private place(thread: number | undefined): number {
    if (thread === undefined) return this.workers === 0 ? OWNER_THREAD : 1 + (this.roundRobin++ % this.workers);
    if (!Number.isInteger(thread) || thread < 0 || thread > this.workers) {
      throw new InvalidArgumentError(`thread must be in 0..${this.workers}, got ${thread}`);
    }
    return thread;
  }

  private requireModule(spec: SpawnSpec<any, any>): string {
    if (!spec.module) throw new InvalidArgumentError(`actor ${spec.name}: give a behaviour or a module + export`);
    return spec.module;
  }

  private newEntry(addr: ActorAddress): ActorEntry {
    let markExited!: () => void;
    const exited = new Promise<void>((r) => (markExited = r));
    const entry: ActorEntry = { addr, order: this.nextOrder++, listeners: new Set(), exited, markExited };
    this.entries.set(addr.id, entry);
    return entry;
  }

  /** The one place an exit is recorded; later reports for the same actor are ignored. */
  private actorExited(id: number, reason: ExitReason): void {
    const entry = this.entries.get(id);
    if (!entry || entry.exit) return;
    entry.exit = reason;
    this.entries.delete(id);
    if (entry.addr.thread !== OWNER_THREAD) this.slots[entry.addr.thread - 1]?.actors.delete(id);
    this.recentExits.set(id, reason);
    if (this.recentExits.size > RECENT_EXITS_LIMIT) this.recentExits.delete(this.recentExits.keys().next().value!);
    entry.markExited();
    for (const l of entry.listeners) {
      try {
        l(reason);
      } catch (err) {
        this.logger.error({ err, actor: entry.addr.name }, 'exit listener threw');
      }
    }
  }

  /** Resolves true if p settles within ms of real time. */
  private async within(p: Promise<unknown>, ms: number): Promise<boolean> {
    let timer: { cancel(): void } | undefined;
    const timeout = new Promise<boolean>((r) => (timer = this.realClock.setTimer(ms, () => r(false))));
    try {
      return await Promise.race([p.then(() => true), timeout]);
    } finally {
      timer?.cancel();
    }
  }

  // ---- worker threads ----

  private newSlot(index: number): WorkerSlot {
    let markGone!: () => void;
    const gone = new Promise<void>((r) => (markGone = r));
    return { index, state: 'idle', actors: new Set(), intentional: false, killed: false, gone, markGone, inflight: new Set() };
  }

  /** Returns the slot once its worker is running and linked to every other live thread; respawns it if dead. */
  private ensureLive(index: number): Promise<WorkerSlot> {
    let slot = this.slots[index - 1];
    if (slot.state === 'live') return Promise.resolve(slot);
    if (slot.state === 'starting' && slot.starting) return slot.starting;
    if (this.shutdownPromise) return Promise.reject(new UnavailableError('actor system is shutting down'));
    if (slot.state === 'dead') {
      slot = this.newSlot(index);
      this.slots[index - 1] = slot;
    }
    slot.state = 'starting';
    slot.starting = this.startWorker(slot);
    return slot.starting;
  }

  private async startWorker(slot: WorkerSlot): Promise<WorkerSlot> {
    const { port1, port2 } = new MessageChannel();
    const forward = this.opts.forwardWorkerLogs ?? false;
    const boot: WorkerBoot = {
      thread: slot.index,
      role: this.role,
      node: this.node,
      logLevel: this.opts.logLevel ?? process.env.NOKV_LOG_LEVEL ?? 'info',
      forwardLogs: forward,
      codec: this.codecName,
      idPrefix: this.idPrefix,
      port: port2,
      clock: this.opts.workerClock?.kind === 'driven' ? { kind: 'driven', startMs: this.workerTimeMs ?? this.opts.workerClock.startMs } : { kind: 'system' },
    };
    const worker = new Worker(WORKER_ENTRY, { workerData: boot, transferList: [port2], stdout: forward });
    slot.worker = worker;
    slot.untrack = trackResource({ kind: 'worker', description: `actor worker thread ${slot.index} of ${this.role}` });
    worker.on('error', (err) => {
      slot.lastError = err;
    });
    worker.on('exit', (code) => this.workerExited(slot, code));
    if (forward) this.forwardLines(worker);
    this.runtime.connect(slot.index, port1);
    slot.control = Comlink.wrap<WorkerControl>(nodeEndpoint(worker));
    try {
      await this.call(slot, (c) => c.ready());
      // Links between workers are made one worker at a time, so two workers starting together still meet.
      const linked = this.meshChain.then(() => this.linkToPeers(slot));
      this.meshChain = linked.catch(() => undefined);
      await linked;
    } catch (err) {
      await worker.terminate();
      await slot.gone;
      throw err;
    }
    slot.state = 'live';
    return slot;
  }

  private async linkToPeers(slot: WorkerSlot): Promise<void> {
    for (const peer of this.slots) {
      if (peer === slot || peer.state !== 'live') continue;
      const { port1, port2 } = new MessageChannel();
      await Promise.all([
        this.call(slot, (c) => c.connect(peer.index, Comlink.transfer(port1, [port1 as never]))),
        this.call(peer, (c) => c.connect(slot.index, Comlink.transfer(port2, [port2 as never]))),
      ]);
    }
  }

  private forwardLines(worker: Worker): void {
    const out = this.opts.logDestination ?? process.stdout;
    let partial = '';
    worker.stdout.setEncoding('utf8');
    worker.stdout.on('data', (chunk: string) => {
      const lines = (partial + chunk).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) if (line) out.write(line + '\n');
    });
  }

  private workerExited(slot: WorkerSlot, code: number): void {
    slot.state = 'dead';
    slot.untrack?.();
    slot.untrack = undefined;
    this.runtime.disconnect(slot.index);
    for (const peer of this.slots) {
      if (peer !== slot && peer.state === 'live') void this.call(peer, (c) => c.disconnect(slot.index)).catch(() => undefined);
    }
    // A thread that died on its own (uncaught error, process.exit) failed its actors; one we ended killed them.
    const reason: ExitReason = slot.intentional
      ? 'shutdown'
      : slot.killed
        ? 'killed'
        : { error: serializeError(slot.lastError ?? new Error(`worker thread ${slot.index} exited with code ${code}`)) };
    if (!slot.intentional) this.logger.warn({ thread: slot.index, code, actors: slot.actors.size }, 'worker thread exited');
    for (const id of [...slot.actors]) this.actorExited(id, reason);
    slot.actors.clear();
    const exited = new UnavailableError(`worker thread ${slot.index} exited`, { thread: slot.index });
    for (const abort of [...slot.inflight]) abort(exited);
    slot.markGone();
  }

  /** A control call that fails with UnavailableError if the thread dies first, or after a timeout. */
  private async call<T>(slot: WorkerSlot, fn: (c: Comlink.Remote<WorkerControl>) => Promise<T> | T, timeoutMs = CONTROL_CALL_TIMEOUT_MS): Promise<T> {
    if (!slot.control || slot.state === 'dead') throw new UnavailableError(`worker thread ${slot.index} is not running`);
    let timer: { cancel(): void } | undefined;
    let abort!: (err: Error) => void;
    const failure = new Promise<never>((_, reject) => {
      abort = reject;
      timer = this.realClock.setTimer(timeoutMs, () => reject(new UnavailableError(`worker thread ${slot.index} did not answer in ${timeoutMs} ms`)));
    });
    slot.inflight.add(abort);
    try {
      return await Promise.race([Promise.resolve(fn(slot.control)), failure]);
    } finally {
      timer?.cancel();
      slot.inflight.delete(abort);
    }
  }
}
