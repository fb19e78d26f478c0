// Owns how a trace travels with gRPC calls, both ways, for every server and client of the project:
//   - server side: each handler (unary or streaming, of every service a server offers) runs with the call's
//     trace as the current trace (common/trace-context.ts). The trace is the caller's `x-nokv-trace`, else its
//     W3C `traceparent`, else a new one the server starts; it is written back into the call's metadata as
//     `x-nokv-trace`, so traceOf(call) always names it;
//   - client side: an interceptor on every client made by createClient puts the current trace (or the one
//     the caller set explicitly) on the outgoing call as both `x-nokv-trace` and `traceparent`, with a new span.
// So one request's trace id shows in the log lines of every process it crosses, and tools that speak W3C
// trace context can join it.
import * as grpc from '@grpc/grpc-js';
import { currentTrace, freshTrace, newSpanId, parseTraceparent, toTraceparent, withTrace, type TraceContext } from '../../common/trace-context.js';
import { getTrace, setTrace, TRACE_KEY } from './metadata.js';
import { rpcDebugLogger } from './observe.js';

export const TRACEPARENT_KEY = 'traceparent';

/** The caller's trace: `x-nokv-trace` when present (it keeps NoKV's own ids), else `traceparent`. */
export function incomingTrace(md: grpc.Metadata | undefined): TraceContext | undefined {
  const own = getTrace(md);
  if (own) return own;
  const w3c = md?.get(TRACEPARENT_KEY)[0];
  return typeof w3c === 'string' ? parseTraceparent(w3c) : undefined;
}

/** Sets both trace headers on outgoing metadata. */
export function putTrace(md: grpc.Metadata, trace: TraceContext): grpc.Metadata {
  setTrace(md, trace);
  md.set(TRACEPARENT_KEY, toTraceparent(trace));
  return md;
}

/** The trace a server call runs under: the caller's, or a new one; recorded in the call's metadata. */
function serverTrace(call: { metadata?: grpc.Metadata }, path: string): TraceContext {
  const md = call.metadata;
  const trace = incomingTrace(md) ?? freshTrace(`grpc:${path}`);
  if (md && md.get(TRACE_KEY).length === 0) setTrace(md, trace);
  return trace;
}

/** `impl` whose every method runs inside its call's trace. */
export function tracedImplementation(
  service: grpc.ServiceDefinition,
  impl: grpc.UntypedServiceImplementation,
): grpc.UntypedServiceImplementation {
  const pathOf = new Map<string, string>();
  for (const [name, def] of Object.entries(service)) {
    pathOf.set(name, def.path);
    if (def.originalName) pathOf.set(def.originalName, def.path);
  }
  const out: grpc.UntypedServiceImplementation = {};
  for (const [name, fn] of Object.entries(impl)) {
    if (typeof fn !== 'function') {
      out[name] = fn;
      continue;
    }
    const path = pathOf.get(name) ?? name;
    const handler = fn as (call: { metadata?: grpc.Metadata }, ...rest: unknown[]) => unknown;
    out[name] = ((call: { metadata?: grpc.Metadata }, ...rest: unknown[]) =>
      withTrace(serverTrace(call, path), () => handler(call, ...rest))) as grpc.UntypedHandleCall;
  }
  return out;
}

/**
 * Client interceptor: the call carries the trace the caller set in its metadata (unaryCall's `trace`), else
 * the current trace as of when the call was made, as a new span of it. A call made outside any trace goes
 * without one (the server starts its own).
 */
export const traceInterceptor: grpc.Interceptor = (options, nextCall) => {
  const ambient = currentTrace(); // read when the call is made: start() may run later, outside the trace
  return new grpc.InterceptingCall(nextCall(options), {
    start(metadata, listener, next) {
      let sent = getTrace(metadata);
      if (sent) {
        if (metadata.get(TRACEPARENT_KEY).length === 0) metadata.set(TRACEPARENT_KEY, toTraceparent(sent));
      } else if (ambient) {
        sent = { traceId: ambient.traceId, spanId: newSpanId() };
        if (ambient.sender) sent.sender = ambient.sender;
        putTrace(metadata, sent);
      }
      const log = rpcDebugLogger();
      if (!log || !sent) return next(metadata, listener);
      const started = performance.now();
      const trace = sent;
      // A partial listener: grpc-js passes everything else through unchanged.
      next(metadata, {
        onReceiveStatus: (status, pass) => {
          const ms = Math.round((performance.now() - started) * 10) / 10;
          log.debug({ rpc: options.method_definition.path, code: grpc.status[status.code] ?? status.code, ms, trace: trace.traceId, span: trace.spanId }, 'rpc answered');
          pass(status);
        },
      });
    },
  });
};
