// Owns how a trace crosses the boundary of the actor runtime:
//   - a trace that arrived from outside the process (gRPC metadata `x-nokv-trace` or W3C `traceparent`, whose
//     span and sender are optional) becomes the trace context of the actor message it causes;
//   - a handler runs with its message's trace as the thread's current trace (common/trace-context.ts), so the
//     gRPC calls it makes carry the trace on (the client interceptor in transport/grpc/trace.ts) and every
//     line it logs names it;
//   - a tell or ask made outside any handler, but while a traced request is being served (a gRPC front),
//     continues that request's trace instead of starting a new one.
import { currentTrace, type TraceContext as AmbientTrace } from '../common/trace-context.js';
import type { TraceContext } from './protocol.js';

export { currentTrace, withTrace, traceLogger } from '../common/trace-context.js';

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

/**
 * The trace a message sent from outside any handler continues: the current request's (as a message from
 * `sender`), or undefined when nothing traced is running and the runtime starts a new trace.
 */
export function ambientTrace(sender = 'external'): TraceContext | undefined {
  const t: AmbientTrace | undefined = currentTrace();
  return t ? actorTrace(t, t.sender ?? sender) : undefined;
}
