// Owns the one message protocol spoken between threads: tagged envelopes (request / reply / event / signal),
// the trace context every message carries, and the batch that groups all envelopes for one destination
// thread within one event-loop turn. Encoding lives in codec.ts; this file is types and small helpers only.
import type { SerializedError } from '../common/errors.js';
import type { ExitReason } from '../supervisor/types.js';

/** Follows one logical operation across actors and threads; every log line of a handler carries it. */
export interface TraceContext {
  traceId: string;
  spanId: string;
  /** Name of the actor (or 'external') that sent the message. */
  sender: string;
}

/** Where an actor lives: thread 0 is the thread that owns the ActorSystem, 1..N are its workers. */
export interface ActorAddress {
  thread: number;
  /** Unique within one ActorSystem for its whole life; a restarted actor gets a new id. */
  id: number;
  name: string;
}

/** A one-way actor message (`tell`). */
export interface EventEnvelope {
  k: 'event';
  to: number;
  msg: unknown;
  trace: TraceContext;
}

/** A message that expects exactly one reply (`ask`); `seq` is unique per sending thread. */
export interface RequestEnvelope {
  k: 'request';
  to: number;
  msg: unknown;
  trace: TraceContext;
  seq: number;
  /** Thread the reply goes back to. */
  from: number;
}

/** The answer to a request; `error` set means it failed (revived with its class on arrival). */
export interface ReplyEnvelope {
  k: 'reply';
  seq: number;
  value?: unknown;
  error?: SerializedError;
}

/** Runtime signals: an actor ended (worker to owner), or stop/kill an actor (owner to worker). */
export type SignalEnvelope =
  | { k: 'signal'; sig: 'exit'; actor: number; reason: ExitReason }
  | { k: 'signal'; sig: 'stop'; actor: number; reason: 'normal' | 'shutdown' | 'killed' };

export type Envelope = EventEnvelope | RequestEnvelope | ReplyEnvelope | SignalEnvelope;

/** Everything one thread sends another in one turn. `seq` numbers batches per link so gaps and reorders show. */
export interface Batch {
  from: number;
  seq: number;
  envs: Envelope[];
}

/** Thread index of the thread that owns the ActorSystem. */
export const OWNER_THREAD = 0;
