// Owns everything one thread needs to host actors and talk to other threads: the cells living here, one link
// (MessagePort + outbox) per peer thread, the pending asks this thread is waiting on, and trace/span ids.
// Messages for another thread are batched per destination and flushed once per event-loop turn
// (setImmediate), so thousands of small messages cost a handful of postMessage calls.
import type { MessagePort } from 'node:worker_threads';
import type { Logger } from 'pino';
import type { Clock } from '../common/clock.js';
import {
  InvalidArgumentError,
  ResourceExhaustedError,
  TimeoutError,
  UnavailableError,
  reviveError,
  serializeError,
} from '../common/errors.js';
import type { ExitReason } from '../supervisor/types.js';
import type { Behaviour, Replier } from './behaviour.js';
import { ActorCell, type CellHost, type CellStats, type MailboxItem } from './cell.js';
import type { BatchCodec } from './codec.js';
import { ambientTrace } from './trace.js';
import { DEFAULT_ASK_TIMEOUT_MS, MAX_PENDING_ASKS, OUTBOX_LIMIT_PER_THREAD } from './limits.js';
import type { ActorAddress, Batch, Envelope, RequestEnvelope, SignalEnvelope, TraceContext } from './protocol.js';
import { ActorRef, type AskOptions, type Router, type TellOptions } from './ref.js';

export interface ThreadRuntimeOptions {
  thread: number;
  clock: Clock;
  /** Root logger of this thread; actors log through children of it. */
  logger: Logger;
  codec: BatchCodec;
  /** Prefix of every trace and span id minted here; unique per system so ids never collide across threads. */
  idPrefix: string;
}

interface Link {
  port: MessagePort;
  outbox: Envelope[];
  sendSeq: number;
  recvSeq: number;
}

interface PendingAsk {
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
  timer: { cancel(): void };
  thread: number;
}

export class ThreadRuntime implements Router, CellHost {
  readonly thread: number;
  readonly clock: Clock;
  readonly logger: Logger;
  private readonly codec: BatchCodec;
  private readonly idPrefix: string;
  private readonly cells = new Map<number, ActorCell>();
  private readonly links = new Map<number, Link>();
  private readonly pending = new Map<number, PendingAsk>();
  private nextAskSeq = 1;
  private nextIdNum = 1;
  private flushScheduled = false;
  private closed = false;
  /** Told about every local actor's exit (the owner fires listeners; a worker forwards to the owner). */
  exitObserver: ((id: number, reason: ExitReason) => void) | undefined;
  /** Told about exit signals arriving from other threads (only the owner thread gets them). */
  remoteExitObserver: ((id: number, reason: ExitReason) => void) | undefined;

  constructor(opts: ThreadRuntimeOptions) {
    this.thread = opts.thread;
    this.clock = opts.clock;
    this.logger = opts.logger.child({ thread: opts.thread });
    this.codec = opts.codec;
    this.idPrefix = opts.idPrefix;
  }

  // ---- ids and traces ----

  private newId(): string {
    return `${this.idPrefix}.${this.thread}.${(this.nextIdNum++).toString(36)}`;
  }

  newTrace(sender: string): TraceContext {
    const id = this.newId();
    return { traceId: id, spanId: id, sender };
  }

  childTrace(parent: TraceContext, sender: string): TraceContext {
    return { traceId: parent.traceId, spanId: this.newId(), sender };
  }

  /** A message sent outside a handler continues the request being served (trace.ts), else starts a trace. */
  private outsideTrace(): TraceContext {
    const ambient = ambientTrace();
    return ambient ? this.childTrace(ambient, ambient.sender) : this.newTrace('external');
  }

  refFor(addr: ActorAddress): ActorRef {
    return new ActorRef(addr.thread, addr.id, addr.name, this);
  }

  // ---- hosting cells ----

  /** Creates and starts a cell here; resolves after its init, rejects if init throws. */
  async startCell(addr: ActorAddress, behaviour: Behaviour, mailboxLimit: number): Promise<ActorRef> {
    if (this.closed) throw new UnavailableError(`thread ${this.thread} is shutting down`);
    if (addr.thread !== this.thread) throw new Error(`assertion: cell for thread ${addr.thread} started on ${this.thread}`);
    if (this.cells.has(addr.id)) throw new Error(`assertion: actor id ${addr.id} already hosted`);
    const ref = this.refFor(addr);
    const cell = new ActorCell(ref, behaviour, this, this.logger.child({ actor: addr.name }), mailboxLimit);
    this.cells.set(addr.id, cell);
    try {
      await cell.start(this.newTrace(addr.name));
    } catch (err) {
      this.cells.delete(addr.id);
      throw err;
    }
    return ref;
  }

  cellExited(cell: ActorCell, reason: ExitReason): void {
    this.cells.delete(cell.ref.id);
    const level = reason === 'normal' || reason === 'shutdown' ? 'debug' : 'warn';
    cell.logger[level]({ reason }, 'actor exited');
    this.exitObserver?.(cell.ref.id, reason);
  }

  stopCell(id: number, reason: 'normal' | 'shutdown'): Promise<void> {
    return this.cells.get(id)?.stop(reason) ?? Promise.resolve();
  }

  killCell(id: number): void {
    this.cells.get(id)?.kill();
  }

  hosts(id: number): boolean {
    return this.cells.has(id);
  }

  stats(): CellStats[] {
    return [...this.cells.values()].map((c) => c.stats());
  }

  // ---- Router: what ActorRefs call ----

  tell(to: ActorAddress, msg: unknown, opts?: TellOptions): void {
    const trace = opts?.trace ?? this.outsideTrace();
    if (to.thread === this.thread) {
      const cell = this.cells.get(to.id);
      if (!cell) return this.deadLetter(to, 'no such actor');
      if (!cell.deliver({ msg, trace })) {
        if (!cell.accepting) return this.deadLetter(to, 'actor stopped');
        throw new ResourceExhaustedError(`mailbox of ${cell.name} is full`, { actor: cell.name, limit: cell.mailboxLimit });
      }
      return;
    }
    this.enqueue(to.thread, { k: 'event', to: to.id, msg, trace }, to);
  }

  ask(to: ActorAddress, msg: unknown, opts?: AskOptions): Promise<unknown> {
    if (this.pending.size >= MAX_PENDING_ASKS) {
      return Promise.reject(new ResourceExhaustedError(`thread ${this.thread} has ${MAX_PENDING_ASKS} asks outstanding`));
    }
    const trace = opts?.trace ?? this.outsideTrace();
    const timeoutMs = opts?.timeoutMs ?? DEFAULT_ASK_TIMEOUT_MS;
    const seq = this.nextAskSeq++;
    const promise = new Promise<unknown>((resolve, reject) => {
      const timer = this.clock.setTimer(timeoutMs, () => {
        if (this.pending.delete(seq)) reject(new TimeoutError(`ask to ${to.name} timed out after ${timeoutMs} ms`, { actor: to.name, timeoutMs }));
      });
      this.pending.set(seq, { resolve, reject, timer, thread: to.thread });
    });
    if (to.thread === this.thread) {
      const cell = this.cells.get(to.id);
      const replier = this.localReplier(seq);
      if (!cell) replier.fail(new UnavailableError(`actor ${to.name} is not running`, { actor: to.name }));
      else if (!cell.deliver({ msg, trace, replier })) {
        replier.fail(
          cell.accepting
            ? new ResourceExhaustedError(`mailbox of ${cell.name} is full`, { actor: cell.name })
            : new UnavailableError(`actor ${to.name} is not running`, { actor: to.name }),
        );
      }
    } else {
      try {
        this.enqueue(to.thread, { k: 'request', to: to.id, msg, trace, seq, from: this.thread }, to);
      } catch (err) {
        this.settle(seq, undefined, err);
      }
    }
    return promise;
  }

  private settle(seq: number, value: unknown, error: unknown): void {
    const p = this.pending.get(seq);
    if (!p) return; // timed out already, or the peer thread died
    this.pending.delete(seq);
    p.timer.cancel();
    if (error !== undefined) p.reject(error);
    else p.resolve(value);
  }

  private localReplier(seq: number): Replier {
    return {
      reply: (v) => this.settle(seq, v, undefined),
      fail: (e) => this.settle(seq, undefined, e ?? new Error('ask failed')),
    };
  }

  private remoteReplier(req: RequestEnvelope): Replier {
    let done = false;
    const send = (env: Envelope) => {
      if (done) return;
      done = true;
      try {
        this.enqueue(req.from, env);
      } catch (err) {
        this.logger.warn({ err, to: req.from }, 'reply could not be queued');
      }
    };
    return {
      reply: (value) => send({ k: 'reply', seq: req.seq, value }),
      fail: (e) => send({ k: 'reply', seq: req.seq, error: serializeError(e ?? new Error('ask failed')) }),
    };
  }

  private deadLetter(to: ActorAddress, why: string): void {
    this.logger.debug({ to: `${to.name}#${to.id}`, why }, 'dead letter');
  }

  // ---- links to other threads ----

  connect(thread: number, port: MessagePort): void {
    this.disconnect(thread);
    const link: Link = { port, outbox: [], sendSeq: 0, recvSeq: 0 };
    this.links.set(thread, link);
    port.on('message', (data) => this.receive(thread, link, data));
    // The entangled port closes when the other thread ends; fail what waits on it.
    port.on('close', () => {
      if (this.links.get(thread) === link) this.disconnect(thread);
    });
  }

  /** Forgets the link to a thread and fails every ask still waiting on it. */
  disconnect(thread: number): void {
    const link = this.links.get(thread);
    if (!link) return;
    this.links.delete(thread);
    link.port.removeAllListeners('message');
    link.port.close();
    const gone = new UnavailableError(`thread ${thread} is gone`, { thread });
    for (const env of link.outbox) if (env.k === 'request') this.settle(env.seq, undefined, gone);
    for (const [seq, p] of this.pending) if (p.thread === thread) this.settle(seq, undefined, gone);
  }

  connectedThreads(): number[] {
    return [...this.links.keys()];
  }

  sendSignal(thread: number, env: SignalEnvelope): void {
    this.enqueue(thread, env);
  }

  private enqueue(thread: number, env: Envelope, to?: ActorAddress): void {
    const link = this.links.get(thread);
    if (!link) {
      if (env.k === 'request') throw new UnavailableError(`thread ${thread} is not reachable`, { thread });
      if (to) this.deadLetter(to, `thread ${thread} not reachable`);
      return;
    }
    if (link.outbox.length >= OUTBOX_LIMIT_PER_THREAD) {
      throw new ResourceExhaustedError(`outbox to thread ${thread} is full`, { thread, limit: OUTBOX_LIMIT_PER_THREAD });
    }
    link.outbox.push(env);
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => this.flush());
    }
  }

  /** Sends every non-empty outbox as one batch. Public so shutdown can push out the last signals. */
  flush(): void {
    this.flushScheduled = false;
    for (const [thread, link] of this.links) {
      if (link.outbox.length === 0) continue;
      const envs = link.outbox;
      link.outbox = [];
      this.post(thread, link, envs);
    }
  }

  private post(thread: number, link: Link, envs: Envelope[]): void {
    const batch: Batch = { from: this.thread, seq: link.sendSeq, envs };
    let encoded;
    try {
      encoded = this.codec.encode(batch);
    } catch {
      // Some message could not be encoded; find it so only its sender is told, then send the rest.
      const good = envs.filter((env) => this.encodable(env));
      if (good.length === 0) return;
      encoded = this.codec.encode({ ...batch, envs: good });
    }
    link.sendSeq++;
    link.port.postMessage(encoded.data, encoded.transfer);
  }

  private encodable(env: Envelope): boolean {
    try {
      this.codec.encode({ from: this.thread, seq: 0, envs: [env] });
      return true;
    } catch (err) {
      const bad = new InvalidArgumentError(`message not serialisable for another thread: ${String(err)}`);
      if (env.k === 'request') this.settle(env.seq, undefined, bad);
      else this.logger.error({ err, kind: env.k }, 'dropped a message that cannot cross threads');
      return false;
    }
  }

  private receive(thread: number, link: Link, data: unknown): void {
    const batch = this.codec.decode(data, this);
    if (batch.seq !== link.recvSeq || batch.from !== thread) {
      throw new Error(`assertion: batch ${batch.from}/${batch.seq} on link ${thread} expected seq ${link.recvSeq}`);
    }
    link.recvSeq++;
    for (const env of batch.envs) this.dispatch(env);
  }

  private dispatch(env: Envelope): void {
    switch (env.k) {
      case 'event': {
        const cell = this.cells.get(env.to);
        if (!cell) return this.deadLetter({ thread: this.thread, id: env.to, name: '?' }, 'no such actor');
        if (!cell.deliver({ msg: env.msg, trace: env.trace })) {
          if (cell.dropped % 1000 === 1) cell.logger.warn({ dropped: cell.dropped }, 'mailbox full: dropped a message from another thread');
        }
        return;
      }
      case 'request': {
        const replier = this.remoteReplier(env);
        const cell = this.cells.get(env.to);
        const item: MailboxItem = { msg: env.msg, trace: env.trace, replier };
        if (!cell) replier.fail(new UnavailableError(`actor #${env.to} is not running on thread ${this.thread}`));
        else if (!cell.deliver(item)) {
          replier.fail(
            cell.accepting
              ? new ResourceExhaustedError(`mailbox of ${cell.name} is full`, { actor: cell.name })
              : new UnavailableError(`actor ${cell.name} is not running`),
          );
        }
        return;
      }
      case 'reply':
        if (env.error) this.settle(env.seq, undefined, reviveError(env.error));
        else this.settle(env.seq, env.value, undefined);
        return;
      case 'signal':
        if (env.sig === 'exit') this.remoteExitObserver?.(env.actor, env.reason);
        else if (env.reason === 'killed') this.killCell(env.actor);
        else void this.stopCell(env.actor, env.reason);
        return;
    }
  }

  /** Fails every pending ask and closes every link. Cells must have been stopped before. */
  close(): void {
    this.closed = true;
    this.flush();
    for (const thread of [...this.links.keys()]) this.disconnect(thread);
    const gone = new UnavailableError(`thread ${this.thread} shut down`);
    for (const seq of [...this.pending.keys()]) this.settle(seq, undefined, gone);
  }

  /** Cells still hosted here, newest first (the order shutdown stops them in). */
  cellIdsNewestFirst(): number[] {
    return [...this.cells.keys()].reverse();
  }
}
