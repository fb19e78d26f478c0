// Owns the trace of the work in progress on this thread: an AsyncLocalStorage that follows one request
// through awaits and callbacks, so a gRPC server call, the actor messages it causes and the gRPC calls those
// make all carry the same trace id without passing it by hand. Also the W3C `traceparent` form of a trace
// (https://www.w3.org/TR/trace-context/), which is what other tools read and write.
//
// Every pino logger made by createLogger (log.ts) adds `trace` and `span` of the current trace to each line,
// unless the logger already binds them itself (traceLogger below).
import { AsyncLocalStorage } from 'node:async_hooks';
import { createHash, randomBytes } from 'node:crypto';
import type { Logger } from 'pino';

/** Follows one logical operation across actors, threads and processes. */
export interface TraceContext {
  traceId: string;
  spanId?: string;
  /** Who sent the message or made the call, e.g. `grpc:Tso` or an actor's name. */
  sender?: string;
}

const storage = new AsyncLocalStorage<TraceContext>();

/** The trace of the work running now, if any. */
export function currentTrace(): TraceContext | undefined {
  return storage.getStore();
}

/** Runs `fn` (and everything it awaits or schedules) with `trace` as the current trace. */
export function withTrace<R>(trace: TraceContext | undefined, fn: () => R): R {
  return trace ? storage.run(trace, fn) : fn();
}

// Random ids are drawn from a pool refilled 4 KiB at a time: one randomBytes call per 256 trace ids.
let pool = Buffer.alloc(0);
let poolAt = 0;
function randomHex(bytes: number): string {
  if (poolAt + bytes > pool.length) {
    pool = randomBytes(4096);
    poolAt = 0;
  }
  const hex = pool.toString('hex', poolAt, poolAt + bytes);
  poolAt += bytes;
  return hex;
}

/** A fresh W3C trace id: 32 lowercase hex digits. */
export function newTraceId(): string {
  return randomHex(16);
}

/** A fresh W3C span (parent) id: 16 lowercase hex digits. */
export function newSpanId(): string {
  return randomHex(8);
}

/** A new trace with a random id, started by `sender`. */
export function freshTrace(sender?: string): TraceContext {
  const t: TraceContext = { traceId: newTraceId(), spanId: newSpanId() };
  if (sender) t.sender = sender;
  return t;
}

const HEX32 = /^[0-9a-f]{32}$/;
const HEX16 = /^[0-9a-f]{16}$/;
const ZERO32 = '0'.repeat(32);
const ZERO16 = '0'.repeat(16);

/**
 * `id` as `len` hex digits for traceparent: itself when it already is a valid W3C id (every trace a gRPC
 * server starts is), otherwise a stable hash of it, so the same NoKV trace always maps to the same W3C id.
 */
function w3cId(id: string, len: 16 | 32): string {
  const valid = len === 32 ? HEX32.test(id) && id !== ZERO32 : HEX16.test(id) && id !== ZERO16;
  if (valid) return id;
  const h = createHash('sha256').update(id).digest('hex').slice(0, len);
  return h === (len === 32 ? ZERO32 : ZERO16) ? '1'.padStart(len, '0') : h;
}

/** The W3C trace id of a trace (see w3cId). */
export function w3cTraceId(traceId: string): string {
  return w3cId(traceId, 32);
}

/** `00-<trace-id>-<parent-id>-01` for this trace; the parent id is its span (or the trace id when none). */
export function toTraceparent(trace: TraceContext): string {
  return `00-${w3cId(trace.traceId, 32)}-${w3cId(trace.spanId || trace.traceId, 16)}-01`;
}

const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;

/**
 * The trace of a `traceparent` header, or undefined when it is not one: wrong shape, version ff, an all-zero
 * id, or a version-00 header with trailing fields. Later versions are read by their version-00 prefix, as
 * the specification asks.
 */
export function parseTraceparent(header: string | undefined): TraceContext | undefined {
  if (typeof header !== 'string' || header.length > 512) return undefined;
  const m = TRACEPARENT.exec(header.trim());
  if (!m) return undefined;
  const [, version, traceId, spanId, , rest] = m;
  if (version === 'ff' || (version === '00' && rest !== undefined)) return undefined;
  if (traceId === ZERO32 || spanId === ZERO16) return undefined;
  return { traceId: traceId!, spanId: spanId! };
}

/** Marks loggers (and, through pino's prototype chain, their children) that bind trace and span themselves. */
const TRACE_BOUND = Symbol('nokv.traceBound');

/** A child of `logger` bound to `trace`; the current-trace mixin leaves its lines alone. */
export function traceLogger(logger: Logger, trace: TraceContext): Logger {
  const child = logger.child({ trace: trace.traceId, span: trace.spanId });
  (child as unknown as Record<symbol, boolean>)[TRACE_BOUND] = true;
  return child;
}

/** pino mixin: `trace` and `span` of the current trace, for loggers that do not bind their own. */
export function traceMixin(_merge: object, _level: number, logger: unknown): object {
  const t = storage.getStore();
  if (!t || (logger as Record<symbol, boolean> | undefined)?.[TRACE_BOUND]) return {};
  return t.spanId ? { trace: t.traceId, span: t.spanId } : { trace: t.traceId };
}
