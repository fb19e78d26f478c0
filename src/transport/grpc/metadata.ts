// Owns what travels in gRPC metadata besides errors: the trace context and bearer-token auth.
//
// `x-nokv-trace: <traceId>;<spanId>;<sender>` — each part URI-encoded, empty parts allowed. Every server call
// runs inside its trace (trace.ts: this header, else W3C `traceparent`, else a new trace, written back here),
// so traceOf(call) names it in any handler.
// `authorization: Bearer <token>` — checked by requireToken() on mutating RPCs.
import { timingSafeEqual } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import type { TraceContext } from '../../common/trace-context.js';
import { UnauthenticatedError } from './errors.js';

export const TRACE_KEY = 'x-nokv-trace';
export const AUTH_KEY = 'authorization';
/** Longest trace header accepted; anything longer is ignored rather than logged. */
export const MAX_TRACE_HEADER_CHARS = 512;

export type { TraceContext };

/** A trace as the `x-nokv-trace` header's text. */
export function formatTrace(trace: TraceContext): string {
  return [trace.traceId, trace.spanId ?? '', trace.sender ?? ''].map(encodeURIComponent).join(';');
}

export function setTrace(md: grpc.Metadata, trace: TraceContext): grpc.Metadata {
  md.set(TRACE_KEY, formatTrace(trace));
  return md;
}

export function getTrace(md: grpc.Metadata | undefined): TraceContext | undefined {
  return parseTrace(md?.get(TRACE_KEY)[0]);
}

/** The trace in an `x-nokv-trace` text; undefined for anything else (too long, malformed, not a string). */
export function parseTrace(raw: unknown): TraceContext | undefined {
  if (typeof raw !== 'string' || raw.length === 0 || raw.length > MAX_TRACE_HEADER_CHARS) return undefined;
  try {
    const [traceId, spanId, sender] = raw.split(';').map(decodeURIComponent);
    if (!traceId) return undefined;
    const ctx: TraceContext = { traceId };
    if (spanId) ctx.spanId = spanId;
    if (sender) ctx.sender = sender;
    return ctx;
  } catch {
    return undefined;
  }
}

/** The trace context of an incoming call (the caller's or the one its server started: trace.ts). */
export function traceOf(call: { metadata: grpc.Metadata }): TraceContext | undefined {
  return getTrace(call.metadata);
}

export function setToken(md: grpc.Metadata, token: string): grpc.Metadata {
  md.set(AUTH_KEY, `Bearer ${token}`);
  return md;
}

/**
 * Throws UnauthenticatedError unless the call carries `authorization: Bearer <token>`. An undefined or empty
 * expected token means auth is switched off for this server, and every call passes.
 */
export function requireToken(call: { metadata: grpc.Metadata }, token: string | undefined): void {
  if (!token) return;
  const header = call.metadata.get(AUTH_KEY)[0];
  const presented = typeof header === 'string' && header.startsWith('Bearer ') ? header.slice(7) : undefined;
  if (presented === undefined) throw new UnauthenticatedError('missing bearer token');
  const a = Buffer.from(presented, 'utf8');
  const b = Buffer.from(token, 'utf8');
  // Constant-time compare so the check does not leak the token's prefix through timing.
  if (a.length !== b.length || !timingSafeEqual(a, b)) throw new UnauthenticatedError('invalid bearer token');
}
