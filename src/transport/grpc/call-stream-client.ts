// Owns the client side of CallStream (proto/nokv/common/v1/call_stream.proto, served by call-stream.ts): a
// client made with `createClient(..., { callStream: true })` sends its unary calls as messages on one long-lived
// stream instead of a new HTTP/2 stream each. Calls made in the same turn of the event loop travel in one
// message; answers come back in any order, matched by id. To the caller nothing changes: `unaryCall` resolves
// with the response or rejects with the same typed error a unary call gives (the status and the error detail
// travel with each answer), each call keeps its own deadline, and its trace travels with it.
//
// The stream opens on the first call and again on the first call after it broke. When it breaks, every call
// still waiting fails UNAVAILABLE, as a unary call whose connection broke does (it may or may not have run).
// A server that does not offer CallStream answers the stream UNIMPLEMENTED: the calls waiting on it are sent
// again as unary calls (they reached no handler) and this client stays unary from then on.
import * as grpc from '@grpc/grpc-js';
import { TimeoutError, UnavailableError } from '../../common/errors.js';
import { currentTrace, newSpanId, type TraceContext } from '../../common/trace-context.js';
import { CALL_STREAM_METHOD, offersCallStream, type WireCall, type WireReply } from './call-stream.js';
import { ERROR_TRAILER_KEY, fromGrpcError } from './errors.js';
import { formatTrace, setToken } from './metadata.js';
import { rpcDebugLogger } from './observe.js';

/** A request bigger than this goes as a unary call of its own rather than inside a shared message. */
export const MAX_CARRIED_REQUEST_BYTES = 256 * 1024;
/** A message of calls is sent once it holds this many bytes of requests (far below every service's limit). */
export const MAX_FRAME_BYTES = 1024 * 1024;
/** Calls waiting for an answer on one stream; above it calls go unary (the server answers the excess RESOURCE_EXHAUSTED). */
export const MAX_CARRIED_IN_FLIGHT = 4_000;

export interface CarriedCallOptions {
  deadlineMs: number;
  token?: string;
  trace?: TraceContext;
}

type Duplex = grpc.ClientDuplexStream<{ calls: WireCall[] }, { replies?: WireReply[] }>;
type Unary = (method: string, req: unknown, opts: CarriedCallOptions) => Promise<unknown>;

interface Waiting {
  method: string;
  def: grpc.MethodDefinition<unknown, unknown>;
  req: unknown;
  opts: CarriedCallOptions;
  deadlineAt: number;
  startedAt: number;
  trace: TraceContext | undefined;
  resolve(res: unknown): void;
  reject(err: unknown): void;
  timer: ReturnType<typeof setTimeout>;
}

export interface CallStreamStats {
  /** Calls answered through the stream. */
  carried: number;
  /** Messages of calls sent (carried / frames = calls per message). */
  frames: number;
  /** Streams opened (1 + reopenings after a break). */
  opened: number;
  /** Calls sent unary instead (no token, too big, another token, no stream on the server, stream too busy). */
  unary: number;
}

export class CallStreamChannel {
  private stream: Duplex | undefined;
  private readonly waiting = new Map<number, Waiting>();
  private outgoing: WireCall[] = [];
  private outgoingBytes = 0;
  private flushScheduled = false;
  private nextId = 1;
  private unsupported = false;
  private closed = false;
  /** The token the stream was opened with; a call with another goes unary. */
  private token: string | undefined;
  readonly stats: CallStreamStats = { carried: 0, frames: 0, opened: 0, unary: 0 };

  constructor(
    private readonly client: grpc.Client,
    private readonly service: grpc.ServiceDefinition,
    private readonly unary: Unary,
  ) {}

  /** Whether `service` can be called this way. */
  static supports(service: grpc.ServiceDefinition | undefined): service is grpc.ServiceDefinition {
    return service !== undefined && offersCallStream(service);
  }

  call(method: string, req: unknown, opts: CarriedCallOptions): Promise<unknown> {
    const def = this.service[method];
    // The stream needs the cluster token; a caller without one (open reads) makes unary calls, as before.
    if (!opts.token || this.unsupported || this.closed || !def || def.requestStream || def.responseStream || this.waiting.size >= MAX_CARRIED_IN_FLIGHT) {
      return this.viaUnary(method, req, opts);
    }
    if (this.stream === undefined && this.waiting.size === 0 && this.outgoing.length === 0) this.token = opts.token;
    if (opts.token !== this.token) return this.viaUnary(method, req, opts);
    let request: Buffer;
    try {
      request = def.requestSerialize(req);
    } catch {
      return this.viaUnary(method, req, opts); // the unary call reports the encoding error as it always has
    }
    if (request.length > MAX_CARRIED_REQUEST_BYTES) return this.viaUnary(method, req, opts);
    const trace = opts.trace ?? spanOfCurrentTrace();
    const id = this.allocateId();
    return new Promise<unknown>((resolve, reject) => {
      const timer = setTimeout(() => {
        const w = this.waiting.get(id);
        if (!w) return;
        this.waiting.delete(id);
        logAnswered(w, grpc.status.DEADLINE_EXCEEDED);
        reject(new TimeoutError(`${method}: no answer within ${opts.deadlineMs} ms`, { method }));
      }, opts.deadlineMs);
      this.waiting.set(id, { method, def, req, opts, deadlineAt: Date.now() + opts.deadlineMs, startedAt: performance.now(), trace, resolve, reject, timer });
      this.outgoing.push({ id, method, request, timeout_ms: Math.min(0xffffffff, Math.ceil(opts.deadlineMs)), ...(trace ? { trace: formatTrace(trace) } : {}) });
      this.outgoingBytes += request.length;
      if (this.outgoingBytes >= MAX_FRAME_BYTES) this.flush();
      else if (!this.flushScheduled) {
        this.flushScheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  /** Ends the stream; calls still waiting fail UNAVAILABLE. */
  close(): void {
    this.closed = true;
    const s = this.stream;
    this.stream = undefined;
    s?.cancel();
    this.failWaiting(new UnavailableError('client closed'));
  }

  private viaUnary(method: string, req: unknown, opts: CarriedCallOptions): Promise<unknown> {
    this.stats.unary++;
    return this.unary(method, req, opts);
  }

  private allocateId(): number {
    let id = this.nextId;
    while (this.waiting.has(id) || id === 0) id = (id + 1) >>> 0;
    this.nextId = (id + 1) >>> 0;
    return id;
  }

  private flush(): void {
    this.flushScheduled = false;
    if (this.outgoing.length === 0) return;
    const calls = this.outgoing;
    this.outgoing = [];
    this.outgoingBytes = 0;
    // Calls whose deadline passed while they waited for this turn have already failed; do not send them.
    const live = calls.filter((c) => this.waiting.has(c.id!));
    if (live.length === 0) return;
    this.stats.frames++;
    this.open().write({ calls: live });
  }

  private open(): Duplex {
    if (this.stream) return this.stream;
    const def = this.service[CALL_STREAM_METHOD]!;
    const md = new grpc.Metadata();
    if (this.token) setToken(md, this.token);
    const s = this.client.makeBidiStreamRequest(def.path, def.requestSerialize as (v: { calls: WireCall[] }) => Buffer, def.responseDeserialize as (b: Buffer) => { replies?: WireReply[] }, md, {});
    this.stream = s;
    this.stats.opened++;
    s.on('data', (frame: { replies?: WireReply[] }) => {
      for (const r of frame.replies ?? []) this.settle(r);
    });
    s.on('error', (err: grpc.ServiceError) => this.broken(s, err));
    s.on('end', () => this.broken(s, undefined));
    return s;
  }

  private settle(r: WireReply): void {
    const w = this.waiting.get(r.id);
    if (!w) return; // answered after its deadline
    this.waiting.delete(r.id);
    clearTimeout(w.timer);
    this.stats.carried++;
    logAnswered(w, r.code);
    if (r.code === grpc.status.OK) {
      try {
        w.resolve(w.def.responseDeserialize(r.response ?? Buffer.alloc(0)));
      } catch (err) {
        w.reject(fromGrpcError(statusError(grpc.status.INTERNAL, `response of ${w.method} does not decode: ${(err as Error).message}`)));
      }
      return;
    }
    const metadata = new grpc.Metadata();
    if (r.error && r.error.length > 0) metadata.set(ERROR_TRAILER_KEY, Buffer.from(r.error));
    w.reject(fromGrpcError(statusError(r.code, r.message ?? '', metadata)));
  }

  private broken(s: Duplex, err: grpc.ServiceError | undefined): void {
    if (this.stream !== s) return;
    this.stream = undefined;
    s.removeAllListeners('data');
    if (err?.code === grpc.status.UNIMPLEMENTED) {
      // An older server: what waited on the stream reached no handler, so it is safe to send again.
      this.unsupported = true;
      const waiting = [...this.waiting.values()];
      this.waiting.clear();
      for (const w of waiting) {
        clearTimeout(w.timer);
        const left = w.deadlineAt - Date.now();
        if (left <= 0) {
          w.reject(new TimeoutError(`${w.method}: no answer within ${w.opts.deadlineMs} ms`, { method: w.method }));
          continue;
        }
        this.viaUnary(w.method, w.req, { ...w.opts, deadlineMs: left }).then(w.resolve, w.reject);
      }
      return;
    }
    this.failWaiting(err ? fromGrpcError(err) : new UnavailableError('the server ended the call stream'));
  }

  private failWaiting(err: unknown): void {
    const waiting = [...this.waiting.values()];
    this.waiting.clear();
    for (const w of waiting) {
      clearTimeout(w.timer);
      w.reject(err);
    }
  }
}

/** The debug line a unary call's client interceptor writes (trace.ts), for a call answered on the stream. */
function logAnswered(w: Waiting, code: number): void {
  const log = rpcDebugLogger();
  if (!log || !w.trace) return;
  const ms = Math.round((performance.now() - w.startedAt) * 10) / 10;
  log.debug({ rpc: w.def.path, code: grpc.status[code] ?? code, ms, trace: w.trace.traceId, span: w.trace.spanId, via: 'CallStream' }, 'rpc answered');
}

function spanOfCurrentTrace(): TraceContext | undefined {
  const ambient = currentTrace();
  if (!ambient) return undefined;
  return { traceId: ambient.traceId, spanId: newSpanId(), ...(ambient.sender ? { sender: ambient.sender } : {}) };
}

function statusError(code: number, details: string, metadata = new grpc.Metadata()): grpc.ServiceError {
  return Object.assign(new Error(details), { code, details, metadata }) as grpc.ServiceError;
}
