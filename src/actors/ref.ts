// Owns ActorRef: the handle every sender uses, the same whether the target runs on this thread or another.
// A ref is plain data (thread, id, name) plus a link to the router of the thread it currently lives on; the
// link is not serialised, and codec.ts re-binds a ref to the receiving thread's router when it arrives.
import type { ActorAddress, TraceContext } from './protocol.js';

export interface AskOptions {
  /** Time to wait for the reply, on the injected clock; defaults to DEFAULT_ASK_TIMEOUT_MS. */
  timeoutMs?: number;
  /** Continue this trace instead of starting a new one (ActorContext.ask fills it in). */
  trace?: TraceContext;
}

export interface TellOptions {
  trace?: TraceContext;
}

/** What a ref needs from the thread it lives on. Implemented by ThreadRuntime. */
export interface Router {
  tell(to: ActorAddress, msg: unknown, opts?: TellOptions): void;
  ask(to: ActorAddress, msg: unknown, opts?: AskOptions): Promise<unknown>;
}

/** The brand survives structured clone (private fields do not), so a cloned ref can be recognised. */
export const REF_BRAND = '$actorRef';

export class ActorRef<M = unknown> implements ActorAddress {
  readonly [REF_BRAND] = 1 as const;
  #router: Router;

  constructor(
    readonly thread: number,
    readonly id: number,
    readonly name: string,
    router: Router,
  ) {
    this.#router = router;
  }

  /**
   * Sends a one-way message. Throws ResourceExhaustedError at once if the target is on this thread and its
   * mailbox is full (or the outbox to its thread is); across threads a full mailbox drops the message.
   */
  tell(msg: M, opts?: TellOptions): void {
    this.#router.tell(this, msg, opts);
  }

  /** Sends a request and resolves with the reply; rejects with the handler's typed error or a TimeoutError. */
  ask<R = unknown>(msg: M, opts?: AskOptions): Promise<R> {
    return this.#router.ask(this, msg, opts) as Promise<R>;
  }

  equals(other: ActorAddress | undefined): boolean {
    return !!other && other.id === this.id && other.thread === this.thread;
  }

  address(): ActorAddress {
    return { thread: this.thread, id: this.id, name: this.name };
  }

  toString(): string {
    return `${this.name}@t${this.thread}#${this.id}`;
  }

  /** Logged refs show as their address, not as an object graph. */
  toJSON(): string {
    return this.toString();
  }
}

export function isClonedRef(v: unknown): v is ActorAddress {
  return typeof v === 'object' && v !== null && (v as Record<string, unknown>)[REF_BRAND] === 1 && !(v instanceof ActorRef);
}
