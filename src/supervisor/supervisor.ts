// Owns the supervisor runtime: ordered start, reverse-order stop with shutdown timeouts, reacting to child
// exits with OTP's restart strategies and intensity limit, and the dynamic child API. Decisions come from the
// pure functions in decide.ts; this file only executes them. Everything that changes the child list runs as
// one task at a time on an internal queue (like OTP's supervisor, a gen_server handling one message at a
// time), so an exit that arrives during a restart cycle is handled after that cycle.
import type { Clock, TimerHandle } from '../common/clock.js';
import { InvalidArgumentError, serializeError } from '../common/errors.js';
import { silentLogger, type Logger } from '../common/log.js';
import { planExit, planRestart, recordRestart, type ChildView } from './decide.js';
import {
  ChildAlreadyExistsError,
  ChildNotFoundError,
  ChildStartError,
  ChildStateError,
  describeExit,
  restartIntensityExit,
} from './errors.js';
import type { ChildInstance, ChildSpec, ChildStatus, ExitReason, RestartType, Shutdown, Strategy } from './types.js';

export interface SupervisorOptions {
  id: string;
  strategy: Strategy;
  /** At most this many restarts within periodMs; one more and the supervisor gives up (OTP MaxR). */
  intensity: number;
  /** The sliding window for intensity, on `clock` (OTP MaxT, in milliseconds here). */
  periodMs: number;
  clock: Clock;
  logger?: Logger;
  /** Started in this order, stopped in reverse. */
  children: ChildSpec[];
}

/**
 * idle: never started or a start failed; starting/running/stopping: a run is in progress; exited: the run
 * ended (stop(), kill() or escalation). A supervisor in idle or exited can be started again, with the
 * children of its options (dynamic children of the previous run are gone, as in OTP).
 */
export type SupervisorState = 'idle' | 'starting' | 'running' | 'stopping' | 'exited';

export interface ChildInfo {
  id: string;
  type: ChildSpec['type'];
  restart: RestartType;
  status: ChildStatus;
  /** Times the supervisor restarted this child on its own (crash or sibling restart), this run. */
  restarts: number;
  /** OS process id of the running instance, when the child is a process. */
  pid?: number;
}

export interface AsChildOptions {
  restart?: RestartType;
  /** OTP's advice for supervisor children is 'infinity': give the subtree all the time it needs. */
  shutdown?: Shutdown;
}

/** One started instance of a child, with its exit as a promise. */
interface Incarnation {
  instance: ChildInstance;
  exited: Promise<ExitReason>;
  resolveExit: (reason: ExitReason) => void;
  reason?: ExitReason;
  /** We asked it to stop or killed it: its exit is the answer, not a crash to react to. */
  deliberate: boolean;
}

interface ChildRecord {
  spec: ChildSpec;
  current?: Incarnation;
  status: ChildStatus;
  restarts: number;
}

/** One run of the supervisor (start() to exit); its exit is reported exactly once. */
interface Run {
  reason?: ExitReason;
  listeners: Array<(reason: ExitReason) => void>;
}

export class Supervisor {
  readonly id: string;
  private readonly strategy: Strategy;
  private readonly intensity: number;
  private readonly periodMs: number;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly specs: readonly ChildSpec[];

  private current: SupervisorState = 'idle';
  private children: ChildRecord[] = [];
  private restartStamps: number[] = [];
  private run?: Run;
  /** Bumped whenever a run begins or ends; an in-flight task that sees it change abandons its work. */
  private epoch = 0;
  private readonly exitListeners = new Set<(reason: ExitReason) => void>();

  private readonly queue: Array<() => Promise<void>> = [];
  private draining = false;
  private idleWaiters: Array<() => void> = [];

  constructor(opts: SupervisorOptions) {
    if (!opts.id) throw new InvalidArgumentError('supervisor id must be non-empty');
    if (!Number.isInteger(opts.intensity) || opts.intensity < 0) {
      throw new InvalidArgumentError(`supervisor ${opts.id}: intensity must be a non-negative integer`, { intensity: opts.intensity });
    }
    if (!(opts.periodMs > 0)) {
      throw new InvalidArgumentError(`supervisor ${opts.id}: periodMs must be positive`, { periodMs: opts.periodMs });
    }
    const ids = new Set<string>();
    for (const spec of opts.children) {
      validateSpec(opts.id, spec);
      if (ids.has(spec.id)) throw new InvalidArgumentError(`supervisor ${opts.id}: duplicate child id "${spec.id}"`);
      ids.add(spec.id);
    }
    this.id = opts.id;
    this.strategy = opts.strategy;
    this.intensity = opts.intensity;
    this.periodMs = opts.periodMs;
    this.clock = opts.clock;
    this.log = (opts.logger ?? silentLogger()).child({ supervisor: opts.id });
    this.specs = [...opts.children];
  }

  get state(): SupervisorState {
    return this.current;
  }

  /**
   * Starts the children in order. If one fails, the ones already started are stopped in reverse order and
   * the promise rejects with ChildStartError; the supervisor is then idle again.
   */
  start(): Promise<void> {
    return this.enqueue(async () => {
      if (this.current !== 'idle' && this.current !== 'exited') {
        throw new ChildStateError(`supervisor ${this.id} is ${this.current}`, { supervisor: this.id });
      }
      const epoch = ++this.epoch;
      this.run = { listeners: [] };
      this.children = this.specs.map(newRecord);
      this.restartStamps = [];
      this.current = 'starting';
      for (const rec of this.children) {
        try {
          await this.startRecord(rec, epoch);
        } catch (err) {
          this.log.error({ child: rec.spec.id, err: serializeError(err) }, 'child failed to start; stopping the started ones');
          if (this.epoch === epoch) {
            await this.terminateAll();
            this.current = 'idle';
            this.epoch++;
          }
          throw startError(this.id, rec.spec.id, err);
        }
      }
      if (this.epoch !== epoch) throw new ChildStateError(`supervisor ${this.id} was killed while starting`);
      this.current = 'running';
      this.log.info({ strategy: this.strategy, children: this.children.length }, 'supervisor started');
    });
  }

  /** Stops every child in reverse start order, honouring each child's shutdown, then exits with 'shutdown'. */
  stop(): Promise<void> {
    return this.enqueue(async () => {
      if (this.current !== 'running') return;
      this.current = 'stopping';
      this.log.info('supervisor stopping');
      await this.terminateAll();
      this.finishRun('shutdown');
    });
  }

  /**
   * Kills every child at once, bypassing the queue (a parent's shutdown timer ran out, or brutal_kill), then
   * exits with 'killed'. An in-flight restart cycle notices and abandons its work.
   */
  async kill(): Promise<void> {
    if (this.current === 'idle' || this.current === 'exited') return;
    this.epoch++;
    this.current = 'stopping';
    this.log.warn('supervisor killed; killing all children');
    // Includes children a stop in progress is still waiting for: kill overrides their graceful stop.
    const live = this.children.filter((rec) => rec.current && rec.current.reason === undefined).reverse();
    await Promise.all(
      live.map((rec) => {
        const inc = rec.current!;
        inc.deliberate = true;
        this.killInstance(rec.spec.id, inc);
        return inc.exited;
      }),
    );
    this.finishRun('killed');
  }

  /** Called every time the supervisor exits (each run); returns an unsubscribe function. */
  onExit(listener: (reason: ExitReason) => void): () => void {
    this.exitListeners.add(listener);
    return () => {
      this.exitListeners.delete(listener);
    };
  }

  /** Adds and starts a child at the end of the start order. The child is not added if its start fails. */
  startChild(spec: ChildSpec): Promise<void> {
    return this.enqueue(async () => {
      this.requireRunning('startChild');
      validateSpec(this.id, spec);
      const existing = this.find(spec.id);
      if (existing) {
        const what = existing.current ? 'already started' : 'already present';
        throw new ChildAlreadyExistsError(`supervisor ${this.id}: child "${spec.id}" is ${what}`, { supervisor: this.id, child: spec.id });
      }
      const rec = newRecord(spec);
      try {
        await this.startRecord(rec, this.epoch);
      } catch (err) {
        throw startError(this.id, spec.id, err);
      }
      this.children.push(rec);
    });
  }

  /**
   * Stops a child (honouring its shutdown) and keeps it down: it is not restarted until restartChild(id).
   * A temporary child is removed instead. As in OTP, a later one_for_all / rest_for_one cycle that covers
   * this child starts it again; use one_for_one where "stays down" must hold regardless of siblings.
   */
  terminateChild(id: string): Promise<void> {
    return this.enqueue(async () => {
      this.requireRunning('terminateChild');
      const rec = this.get(id);
      await this.stopRecord(rec);
      this.log.info({ child: id }, 'child terminated; stays down until restarted');
      if (rec.spec.restart === 'temporary') this.remove(rec);
    });
  }

  /**
   * Kills a child at once (brutal kill, whatever its shutdown says) and keeps it down until restartChild(id):
   * what `docker kill` is to a container. A temporary child is removed instead.
   */
  killChild(id: string): Promise<void> {
    return this.enqueue(async () => {
      this.requireRunning('killChild');
      const rec = this.get(id);
      await this.stopRecord(rec, 'brutal_kill');
      this.log.info({ child: id }, 'child killed; stays down until restarted');
      if (rec.spec.restart === 'temporary') this.remove(rec);
    });
  }

  /** Starts a child that is not running (terminated, or a transient child that ended normally). */
  restartChild(id: string): Promise<void> {
    return this.enqueue(async () => {
      this.requireRunning('restartChild');
      const rec = this.get(id);
      if (rec.current) throw new ChildStateError(`supervisor ${this.id}: child "${id}" is running`, { supervisor: this.id, child: id });
      try {
        await this.startRecord(rec, this.epoch);
      } catch (err) {
        throw startError(this.id, id, err);
      }
    });
  }

  /** Forgets a child that is not running. */
  deleteChild(id: string): Promise<void> {
    return this.enqueue(async () => {
      this.requireRunning('deleteChild');
      const rec = this.get(id);
      if (rec.status !== 'stopped') {
        throw new ChildStateError(`supervisor ${this.id}: child "${id}" is ${rec.status}`, { supervisor: this.id, child: id });
      }
      this.remove(rec);
    });
  }

  /** The children in start order, with their status. */
  whichChildren(): ChildInfo[] {
    return this.children.map((rec) => {
      const info: ChildInfo = {
        id: rec.spec.id,
        type: rec.spec.type,
        restart: rec.spec.restart,
        status: rec.status,
        restarts: rec.restarts,
      };
      const pid = rec.current?.instance.pid;
      if (pid !== undefined) info.pid = pid;
      return info;
    });
  }

  /** Resolves once no task is queued or running (tests use it to let a reaction finish). */
  whenIdle(): Promise<void> {
    if (!this.draining && this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /**
   * This supervisor as a child of another. Each start of the spec is a new run of this supervisor; the
   * instance's exit is that run's exit, so reaching the intensity limit here is an abnormal exit there.
   */
  asChildSpec(opts: AsChildOptions = {}): ChildSpec {
    return {
      id: this.id,
      type: 'supervisor',
      restart: opts.restart ?? 'permanent',
      shutdown: opts.shutdown ?? 'infinity',
      start: async () => {
        await this.start();
        const run = this.run!;
        const instance: ChildInstance = {
          stop: () => (this.run === run ? this.stop() : Promise.resolve()),
          kill: () => (this.run === run ? this.kill() : Promise.resolve()),
          onExit: (listener) => {
            if (run.reason !== undefined) listener(run.reason);
            else run.listeners.push(listener);
          },
        };
        return instance;
      },
    };
  }

  // ---- reacting to exits -------------------------------------------------------------------------------

  private onChildExit(rec: ChildRecord, inc: Incarnation, reason: ExitReason): void {
    if (inc.reason !== undefined) return; // the contract says once; a second report is ignored
    inc.reason = reason;
    inc.resolveExit(reason);
    if (inc.deliberate || rec.current !== inc) return;
    this.enqueue(() => this.handleExit(rec, inc, reason)).catch((err) => {
      this.log.error({ child: rec.spec.id, err: serializeError(err) }, 'handling a child exit failed');
    });
  }

  private async handleExit(rec: ChildRecord, inc: Incarnation, reason: ExitReason): Promise<void> {
    // Stale if a restart cycle or an API call replaced or stopped this instance since the exit was queued.
    if (this.current !== 'running' || rec.current !== inc || !this.children.includes(rec)) return;
    this.log.info({ child: rec.spec.id, reason: describeExit(reason) }, 'child exited');
    rec.current = undefined;
    rec.status = 'stopped';
    const plan = planExit(this.strategy, this.views(), rec.spec.id, reason);
    if (plan.action === 'remove') this.remove(rec);
    else if (plan.action === 'restart') await this.restartCycle(rec.spec.id);
  }

  /** One restart cycle for `subjectId`: count it, stop the affected siblings, start the planned children. */
  private async restartCycle(subjectId: string): Promise<void> {
    const epoch = this.epoch;
    const { stamps, exceeded } = recordRestart(this.restartStamps, this.clock.now(), this.intensity, this.periodMs);
    this.restartStamps = stamps;
    if (exceeded) {
      await this.escalate();
      return;
    }
    const plan = planRestart(this.strategy, this.views(), subjectId);
    for (const id of plan.stop) {
      await this.stopRecord(this.get(id));
      if (this.epoch !== epoch) return;
    }
    for (const id of plan.remove) this.remove(this.get(id));
    for (const id of plan.start) {
      const rec = this.get(id);
      try {
        await this.startRecord(rec, epoch);
      } catch (err) {
        if (this.epoch !== epoch) return;
        // OTP's try_again_restart: retry later as a new task; every attempt counts toward intensity.
        this.log.warn({ child: id, err: serializeError(err) }, 'child restart failed; will retry');
        rec.status = 'restarting';
        this.enqueue(() => this.retryRestart(rec)).catch((e) => {
          this.log.error({ child: id, err: serializeError(e) }, 'retrying a restart failed');
        });
        return;
      }
      rec.restarts++;
      this.log.info({ child: id, restarts: rec.restarts }, 'child restarted');
    }
  }

  private async retryRestart(rec: ChildRecord): Promise<void> {
    if (this.current !== 'running' || !this.children.includes(rec) || rec.status !== 'restarting') return;
    await this.restartCycle(rec.spec.id);
  }

  private async escalate(): Promise<void> {
    this.log.error(
      { intensity: this.intensity, periodMs: this.periodMs },
      'reached max restart intensity; stopping all children and exiting',
    );
    this.current = 'stopping';
    await this.terminateAll();
    this.finishRun(restartIntensityExit(this.id, this.intensity, this.periodMs));
  }

  private finishRun(reason: ExitReason): void {
    const run = this.run;
    if (!run || run.reason !== undefined) return;
    run.reason = reason;
    this.current = 'exited';
    this.epoch++;
    this.log.info({ reason: describeExit(reason) }, 'supervisor exited');
    for (const listener of [...run.listeners, ...this.exitListeners]) {
      try {
        listener(reason);
      } catch (err) {
        this.log.error({ err: serializeError(err) }, 'supervisor exit listener threw');
      }
    }
  }

  // ---- starting and stopping one child -----------------------------------------------------------------

  private async startRecord(rec: ChildRecord, epoch: number): Promise<void> {
    const instance = await rec.spec.start();
    let resolveExit!: (reason: ExitReason) => void;
    const exited = new Promise<ExitReason>((resolve) => (resolveExit = resolve));
    const inc: Incarnation = { instance, exited, resolveExit, deliberate: false };
    rec.current = inc;
    rec.status = 'running';
    instance.onExit((reason) => this.onChildExit(rec, inc, reason));
    if (this.epoch !== epoch) {
      // The run ended (kill) while this child was starting: it must not outlive the run.
      await this.stopRecord(rec, 'brutal_kill');
      throw new ChildStateError(`supervisor ${this.id} ended while child "${rec.spec.id}" was starting`);
    }
    this.log.info({ child: rec.spec.id, pid: instance.pid }, 'child started');
  }

  /** Stops the child's instance, if any, with its shutdown (or the one given); resolves once it has exited. */
  private async stopRecord(rec: ChildRecord, shutdown: Shutdown = rec.spec.shutdown): Promise<void> {
    const inc = rec.current;
    if (inc && inc.reason === undefined) {
      inc.deliberate = true;
      const reason = await this.shutdownInstance(rec.spec.id, inc, shutdown);
      this.log.info({ child: rec.spec.id, reason: describeExit(reason) }, 'child stopped');
    }
    if (rec.current === inc) {
      rec.current = undefined;
      rec.status = 'stopped';
    }
  }

  private killInstance(id: string, inc: Incarnation): void {
    invoke(() => inc.instance.kill()).catch((err) => this.log.error({ child: id, err: serializeError(err) }, 'kill failed'));
  }

  /** OTP shutdown: graceful stop, then kill once `shutdown` ms pass on the clock; brutal_kill kills at once. */
  private async shutdownInstance(id: string, inc: Incarnation, shutdown: Shutdown): Promise<ExitReason> {
    const kill = () => this.killInstance(id, inc);
    let timer: TimerHandle | undefined;
    if (shutdown === 'brutal_kill') {
      kill();
    } else {
      invoke(() => inc.instance.stop()).catch((err) => {
        this.log.warn({ child: id, err: serializeError(err) }, 'graceful stop failed; killing');
        kill();
      });
      if (shutdown !== 'infinity') {
        timer = this.clock.setTimer(shutdown, () => {
          if (inc.reason !== undefined) return;
          this.log.warn({ child: id, shutdownMs: shutdown }, 'child did not stop in time; killing');
          kill();
        });
      }
    }
    try {
      return await inc.exited;
    } finally {
      timer?.cancel();
    }
  }

  private async terminateAll(): Promise<void> {
    for (const rec of [...this.children].reverse()) await this.stopRecord(rec);
  }

  // ---- bookkeeping -------------------------------------------------------------------------------------

  private enqueue<T>(task: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push(() => task().then(resolve, reject));
      if (!this.draining) void this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.draining = true;
    while (this.queue.length > 0) await this.queue.shift()!();
    this.draining = false;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }

  private requireRunning(op: string): void {
    if (this.current !== 'running') {
      throw new ChildStateError(`supervisor ${this.id} is ${this.current}; cannot ${op}`, { supervisor: this.id });
    }
  }

  private views(): ChildView[] {
    return this.children.map((rec) => ({ id: rec.spec.id, restart: rec.spec.restart }));
  }

  private find(id: string): ChildRecord | undefined {
    return this.children.find((rec) => rec.spec.id === id);
  }

  private get(id: string): ChildRecord {
    const rec = this.find(id);
    if (!rec) throw new ChildNotFoundError(`supervisor ${this.id}: no child "${id}"`, { supervisor: this.id, child: id });
    return rec;
  }

  private remove(rec: ChildRecord): void {
    this.children = this.children.filter((r) => r !== rec);
  }
}

function newRecord(spec: ChildSpec): ChildRecord {
  return { spec, status: 'stopped', restarts: 0 };
}

function validateSpec(supervisor: string, spec: ChildSpec): void {
  if (!spec.id) throw new InvalidArgumentError(`supervisor ${supervisor}: child id must be non-empty`);
  const s = spec.shutdown;
  if (s !== 'brutal_kill' && s !== 'infinity' && !(typeof s === 'number' && s >= 0)) {
    throw new InvalidArgumentError(`supervisor ${supervisor}: child "${spec.id}" has an invalid shutdown`, { shutdown: s });
  }
}

function startError(supervisor: string, child: string, err: unknown): ChildStartError {
  const cause = serializeError(err);
  return new ChildStartError(`supervisor ${supervisor}: child "${child}" failed to start: ${cause.message}`, {
    supervisor,
    child,
    cause,
  });
}

/** Calls fn, turning a synchronous throw into a rejected promise. */
function invoke(fn: () => Promise<void>): Promise<void> {
  try {
    return Promise.resolve(fn());
  } catch (err) {
    return Promise.reject(err);
  }
}
