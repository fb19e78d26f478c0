// Owns one running actor: its behaviour, its bounded mailbox and the loop that handles exactly one message at
// a time (an async handler holds the next message back until its promise settles). Knows nothing about
// threads: the host (ThreadRuntime) delivers messages into it and learns of its exit through cellExited().
import type { Logger } from 'pino';
import type { Clock, TimerHandle } from '../common/clock.js';
import { UnavailableError, serializeError } from '../common/errors.js';
import type { ExitReason } from '../supervisor/types.js';
import type { ActorContext, Behaviour, Replier } from './behaviour.js';
import { Mailbox } from './mailbox.js';
import type { TraceContext } from './protocol.js';
import { traceLogger, withTrace } from './trace.js';
import type { ActorRef, AskOptions } from './ref.js';

/** Messages handled back to back before the loop yields (a microtask) so other actors on the thread run. */
export const MAX_MESSAGES_PER_SLICE = 64;

export interface CellHost {
  readonly clock: Clock;
  childTrace(parent: TraceContext, sender: string): TraceContext;
  cellExited(cell: ActorCell, reason: ExitReason): void;
}

export interface MailboxItem {
  msg: unknown;
  trace: TraceContext;
  /** Present for asks. */
  replier?: Replier;
}

type CellState = 'new' | 'running' | 'stopping' | 'stopped';

export interface CellStats {
  id: number;
  name: string;
  mailbox: number;
  processed: number;
  dropped: number;
  state?: unknown;
}

export class ActorCell {
  private readonly mailbox: Mailbox<MailboxItem>;
  private state: CellState = 'new';
  private looping = false;
  private stopReason: 'normal' | 'shutdown' = 'normal';
  private readonly timers = new Set<TimerHandle>();
  private readonly exitWaiters: (() => void)[] = [];
  private current: MailboxItem | undefined;
  processed = 0;
  dropped = 0;

  constructor(
    readonly ref: ActorRef,
    private readonly behaviour: Behaviour,
    private readonly host: CellHost,
    readonly logger: Logger,
    mailboxLimit: number,
  ) {
    this.mailbox = new Mailbox(mailboxLimit);
  }

  get name(): string {
    return this.ref.name;
  }

  get alive(): boolean {
    return this.state === 'running' || this.state === 'stopping' || this.state === 'new';
  }

  /** Takes new messages: not yet stopping. A refused delivery to an accepting cell means a full mailbox. */
  get accepting(): boolean {
    return this.state === 'running' || this.state === 'new';
  }

  /** Runs init; rejects (and leaves the cell stopped, without an exit report) if init throws. */
  async start(trace: TraceContext): Promise<void> {
    const ctx = new Context(this, this.host, { msg: undefined, trace });
    try {
      await this.behaviour.init?.(ctx);
    } catch (err) {
      this.state = 'stopped';
      this.cancelTimers();
      throw err;
    }
    if (this.state === 'stopped') return; // killed during init
    if (this.state === 'stopping') return this.finish(this.stopReason); // stopped during init
    this.state = 'running';
    this.schedule();
  }

  /** Queues an item; false when the mailbox is full or the actor no longer accepts messages. */
  deliver(item: MailboxItem): boolean {
    if (!this.accepting) return false;
    if (!this.mailbox.push(item)) {
      this.dropped++;
      return false;
    }
    this.schedule();
    return true;
  }

  get mailboxLimit(): number {
    return this.mailbox.limit;
  }

  get mailboxSize(): number {
    return this.mailbox.size;
  }

  /** Graceful stop after the current message; resolves once the actor has exited. */
  stop(reason: 'normal' | 'shutdown'): Promise<void> {
    if (this.state === 'stopped') return Promise.resolve();
    const exited = new Promise<void>((resolve) => this.exitWaiters.push(resolve));
    if (this.state !== 'stopping') {
      this.stopReason = reason;
      this.state = 'stopping';
      if (!this.looping) void this.finish(reason);
    }
    return exited;
  }

  /** Ends the actor at once: no terminate hook, the message in progress is abandoned. */
  kill(): void {
    if (this.state === 'stopped') return;
    const inFlight = this.current;
    this.current = undefined;
    inFlight?.replier?.fail(new UnavailableError(`actor ${this.name} was killed`));
    this.exit('killed');
  }

  stats(): CellStats {
    const s: CellStats = { id: this.ref.id, name: this.name, mailbox: this.mailbox.size, processed: this.processed, dropped: this.dropped };
    if (this.behaviour.inspect) s.state = this.behaviour.inspect();
    return s;
  }

  addTimer(t: TimerHandle): void {
    this.timers.add(t);
  }

  removeTimer(t: TimerHandle): void {
    this.timers.delete(t);
  }

  requestStop(): void {
    if (this.state === 'running') {
      this.stopReason = 'normal';
      this.state = 'stopping';
    }
  }

  private schedule(): void {
    if (this.looping || this.state !== 'running' || this.mailbox.size === 0) return;
    this.looping = true;
    queueMicrotask(() => void this.loop());
  }

  private async loop(): Promise<void> {
    let handled = 0;
    while (this.state === 'running' && handled < MAX_MESSAGES_PER_SLICE) {
      const item = this.mailbox.shift();
      if (!item) break;
      handled++;
      // Synchronous handlers are not awaited: a message costs no extra microtask hops.
      let ok = this.handle(item);
      if (typeof ok !== 'boolean') ok = await ok;
      if (!ok) return; // crashed or killed: exit already reported
    }
    this.looping = false;
    if (this.state === 'stopping') await this.finish(this.stopReason);
    else this.schedule();
  }

  /** Returns false if the actor ended (crash or kill) while handling the item. */
  private handle(item: MailboxItem): boolean | Promise<boolean> {
    this.current = item;
    const ctx = new Context(this, this.host, item);
    let r: void | Promise<void>;
    try {
      // The message's trace is the thread's current trace while it is handled (trace.ts).
      r = withTrace(item.trace, () => this.behaviour.receive(item.msg, ctx));
    } catch (err) {
      return this.crashed(item, ctx, err);
    }
    if (r && typeof (r as Promise<void>).then === 'function') {
      return (r as Promise<void>).then(
        () => this.handled(item, ctx),
        (err) => this.crashed(item, ctx, err),
      );
    }
    return this.handled(item, ctx);
  }

  private handled(item: MailboxItem, ctx: Context): boolean {
    if (this.current !== item) return false; // killed meanwhile
    this.current = undefined;
    this.processed++;
    ctx.settle(undefined);
    return true;
  }

  private async crashed(item: MailboxItem, ctx: Context, err: unknown): Promise<boolean> {
    if (this.current !== item) return false; // killed meanwhile; the kill already answered
    this.current = undefined;
    ctx.settle(err);
    this.logger.error({ err, trace: item.trace.traceId, span: item.trace.spanId }, 'actor handler threw; stopping');
    await this.runTerminate({ error: serializeError(err) }, item.trace);
    this.exit({ error: serializeError(err) });
    return false;
  }

  private async finish(reason: 'normal' | 'shutdown'): Promise<void> {
    if (this.state === 'stopped') return;
    await this.runTerminate(reason, this.host.childTrace({ traceId: 'stop', spanId: 'stop', sender: this.name }, this.name));
    this.exit(reason);
  }

  private async runTerminate(reason: ExitReason, trace: TraceContext): Promise<void> {
    if (!this.behaviour.terminate) return;
    try {
      await this.behaviour.terminate(reason, new Context(this, this.host, { msg: undefined, trace }));
    } catch (err) {
      this.logger.warn({ err }, 'actor terminate hook threw');
    }
  }

  private exit(reason: ExitReason): void {
    if (this.state === 'stopped') return;
    this.state = 'stopped';
    this.cancelTimers();
    const gone = new UnavailableError(`actor ${this.name} stopped`);
    for (const item of this.mailbox.drain()) item.replier?.fail(gone);
    this.host.cellExited(this, reason);
    for (const w of this.exitWaiters.splice(0)) w();
  }

  private cancelTimers(): void {
    for (const t of this.timers) t.cancel();
    this.timers.clear();
  }
}

/** The per-message view a handler gets. One per message, so a captured ctx keeps its own trace and reply. */
class Context implements ActorContext {
  private replied = false;
  private deferred = false;
  private childLog: Logger | undefined;

  constructor(
    private readonly cell: ActorCell,
    private readonly host: CellHost,
    private readonly item: MailboxItem,
  ) {}

  get self(): ActorRef {
    return this.cell.ref;
  }

  get clock() {
    return this.host.clock;
  }

  get trace(): TraceContext {
    return this.item.trace;
  }

  get isRequest(): boolean {
    return this.item.replier !== undefined;
  }

  get log(): Logger {
    // Made on first use: most messages log nothing, and a pino child per message is not free.
    this.childLog ??= traceLogger(this.cell.logger, this.item.trace);
    return this.childLog;
  }

  reply(value: unknown): void {
    if (this.replied || this.deferred) return;
    this.replied = true;
    this.item.replier?.reply(value);
  }

  fail(error: unknown): void {
    if (this.replied || this.deferred) return;
    this.replied = true;
    this.item.replier?.fail(error);
  }

  deferReply(): Replier {
    if (this.replied || this.deferred) return { reply: () => {}, fail: () => {} };
    this.deferred = true;
    const inner = this.item.replier;
    let done = false;
    return {
      reply: (v) => { if (!done) { done = true; inner?.reply(v); } },
      fail: (e) => { if (!done) { done = true; inner?.fail(e); } },
    };
  }

  /** Called by the cell when the handler settled: answers an ask nobody answered. */
  settle(err: unknown): void {
    if (this.replied || this.deferred) return;
    this.replied = true;
    if (err !== undefined) this.item.replier?.fail(err);
    else this.item.replier?.reply(undefined);
  }

  tell<T>(to: ActorRef<T>, msg: T): void {
    to.tell(msg, { trace: this.host.childTrace(this.item.trace, this.cell.name) });
  }

  ask<R = unknown, T = any>(to: ActorRef<T>, msg: T, opts?: Omit<AskOptions, 'trace'>): Promise<R> {
    return to.ask<R>(msg, { ...opts, trace: this.host.childTrace(this.item.trace, this.cell.name) });
  }

  sendSelfAfter(delayMs: number, msg: unknown): TimerHandle {
    const trace = this.host.childTrace(this.item.trace, this.cell.name);
    const handle = this.host.clock.setTimer(delayMs, () => {
      this.cell.removeTimer(handle);
      // A full mailbox at fire time drops the message: a timer must not throw into the clock.
      if (!this.cell.deliver({ msg, trace })) this.cell.logger.warn({ delayMs }, 'self message dropped: mailbox full or actor stopped');
    });
    this.cell.addTimer(handle);
    return {
      cancel: () => {
        handle.cancel();
        this.cell.removeTimer(handle);
      },
    };
  }

  stop(): void {
    this.cell.requestStop();
  }
}
