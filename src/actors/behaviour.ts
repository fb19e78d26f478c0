// Owns what an actor author writes: a Behaviour (init / receive / terminate over private state) and the
// ActorContext a handler gets. Behaviours are plain logic: time comes from ctx.clock, async work re-enters as
// a message to self, and a throw stops the actor so its supervisor can decide. Also owns how a behaviour is
// found by module + export name, which is how actors are placed on worker threads (functions cannot cross).
import { pathToFileURL } from 'node:url';
import { isAbsolute } from 'node:path';
import type { Logger } from 'pino';
import type { Clock, TimerHandle } from '../common/clock.js';
import { InvalidArgumentError } from '../common/errors.js';
import type { ExitReason } from '../supervisor/types.js';
import type { TraceContext } from './protocol.js';
import type { ActorRef, AskOptions } from './ref.js';

export interface Behaviour<M = any> {
  /** Runs before the first message; spawn resolves after it (rejects if it throws). */
  init?(ctx: ActorContext<M>): void | Promise<void>;
  /** Handles one message; the next waits until a returned promise settles. A throw stops the actor. */
  receive(msg: M, ctx: ActorContext<M>): void | Promise<void>;
  /** Runs once when the actor stops or crashes (not when it is killed). Errors here are logged only. */
  terminate?(reason: ExitReason, ctx: ActorContext<M>): void | Promise<void>;
  /** A plain-data view of the state for inspection and tests. */
  inspect?(): unknown;
}

/** Answers one request; only the first call of either method counts. */
export interface Replier {
  reply(value: unknown): void;
  fail(error: unknown): void;
}

export interface ActorContext<M = any> {
  readonly self: ActorRef<M>;
  readonly clock: Clock;
  /** Logger bound to {role, node, thread, actor, trace, span} of the message being handled. */
  readonly log: Logger;
  /** Trace context of the message being handled (or of init/terminate). */
  readonly trace: TraceContext;
  /** True when the current message is an ask, so a reply is expected. */
  readonly isRequest: boolean;
  /**
   * Answers the current ask. If the handler settles without replying or deferring, the asker gets
   * `undefined`, so an ask never hangs on a handler that forgot to answer. No-op for a tell.
   */
  reply(value: unknown): void;
  /** Answers the current ask with a typed error, without stopping the actor. */
  fail(error: unknown): void;
  /** Takes over the answer so it can be given after this handler returns (e.g. after a later message). */
  deferReply(): Replier;
  /** Sends to another actor, continuing the current trace with a new span. */
  tell<T>(to: ActorRef<T>, msg: T): void;
  /** Asks another actor, continuing the current trace with a new span. */
  ask<R = unknown, T = any>(to: ActorRef<T>, msg: T, opts?: Omit<AskOptions, 'trace'>): Promise<R>;
  /** Delivers msg to this actor after delayMs on the injected clock; cancelled automatically on stop. */
  sendSelfAfter(delayMs: number, msg: M): TimerHandle;
  /** Stops this actor with reason 'normal' once the current message is done. */
  stop(): void;
}

export type BehaviourFactory<A = any, M = any> = (args: A) => Behaviour<M>;
export type BehaviourClass<A = any, M = any> = new (args: A) => Behaviour<M>;

/** An export usable for spawning: a factory function or a class, called with the spawn args every (re)start. */
export type BehaviourSource<A = any, M = any> = BehaviourFactory<A, M> | BehaviourClass<A, M>;

function isClass(fn: Function): fn is BehaviourClass {
  return typeof fn.prototype?.receive === 'function';
}

export function instantiate(source: BehaviourSource | Behaviour, args: unknown, what: string): Behaviour {
  if (typeof source === 'function') {
    const b = isClass(source) ? new source(args) : (source as BehaviourFactory)(args);
    if (!b || typeof b.receive !== 'function') throw new InvalidArgumentError(`${what} did not produce a behaviour with receive()`);
    return b;
  }
  if (source && typeof source.receive === 'function') return source;
  throw new InvalidArgumentError(`${what} is not a behaviour, factory or class`);
}

/** Accepts a file URL (import.meta.url style) or an absolute path. */
export function moduleUrl(module: string): string {
  if (module.startsWith('file:') || module.startsWith('data:')) return module;
  if (isAbsolute(module)) return pathToFileURL(module).href;
  throw new InvalidArgumentError(`behaviour module must be a file URL or an absolute path, got "${module}"`);
}

export async function loadBehaviour(module: string, exportName: string, args: unknown): Promise<Behaviour> {
  const mod = (await import(moduleUrl(module))) as Record<string, unknown>;
  const source = mod[exportName];
  if (source === undefined) throw new InvalidArgumentError(`module ${module} has no export "${exportName}"`);
  return instantiate(source as BehaviourSource, args, `${module}#${exportName}`);
}
