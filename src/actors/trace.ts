// Owns how a trace that arrived from outside the process (gRPC metadata `x-nokv-trace`, whose span and sender
// are optional) becomes the trace context of the actor message it causes, so one request can be followed from
// a gRPC front into the actors that handle it.
import type { TraceContext } from './protocol.js';

/** The parts of an incoming trace; only the trace id is required on the wire. */
export interface IncomingTrace {
  traceId: string;
  spanId?: string;
  sender?: string;
}

/**
 * The trace for `ref.ask(msg, { trace })` on behalf of a call; `sender` names the front that sends it (e.g.
 * `grpc:Tso`). Undefined when the call carried none, and the ask then starts a trace of its own.
 */
export function actorTrace(incoming: IncomingTrace | undefined, sender: string): TraceContext | undefined {
  if (!incoming?.traceId) return undefined;
  return { traceId: incoming.traceId, spanId: incoming.spanId || incoming.traceId, sender };
}
