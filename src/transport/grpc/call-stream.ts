// Owns the server side of CallStream (proto/nokv/common/v1/call_stream.proto): a service's unary methods served
// as messages on one long-lived bidirectional stream. startGrpcServer adds it to every service whose definition
// has a `CallStream` method, built from that service's own handlers, so nothing is implemented twice.
//
// Each carried call goes through what the unary call goes through, minus the HTTP/2 stream and the gRPC call
// machinery that cost several times the call itself between two busy processes (docs/benchmarks.md, "Unary
// calls on one stream"): the stream was authenticated when it opened (its access rule is `token`), each call's
// method must be `open` or `token` on this port, its request is refused over the method's size limit before it
// is decoded and answers INVALID_ARGUMENT when it does not decode, the handler runs inside the call's trace, and
// its latency is recorded under its own method (observe.ts). One carried call never fails another or the stream:
// every refusal is that call's answer. What can end the stream: a frame the guard refuses (over the service's
// size limit, or not decodable), a reader that leaves more than MAX_UNREAD_REPLY_BYTES of answers unread, or
// the server shutting down.
import * as grpc from '@grpc/grpc-js';
import { NokvError } from '../../common/errors.js';
import type { Logger } from '../../common/log.js';
import { accessOn } from './auth.js';
import { ERROR_TRAILER_KEY, toGrpcError } from './errors.js';
import { TRACE_KEY, parseTrace } from './metadata.js';
import { recordServedCall } from './observe.js';
import { maxRequestBytesOf } from './options.js';
import { tracedImplementation } from './trace.js';

export const CALL_STREAM_METHOD = 'CallStream';
/** Calls one stream may have running at once; the excess is answered RESOURCE_EXHAUSTED. */
export const MAX_CALLS_IN_FLIGHT_PER_STREAM = 4_096;
/** Calls in one frame (a frame is also bounded by the service's request size limit). */
export const MAX_CALLS_PER_FRAME = 4_096;
/** Answers a reader may leave unread before its stream is cut off (RESOURCE_EXHAUSTED). */
export const MAX_UNREAD_REPLY_BYTES = 64 * 1024 * 1024;

export interface WireCall {
  id?: number;
  method?: string;
  request?: Buffer;
  timeout_ms?: number;
  trace?: string;
}

export interface WireReply {
  id: number;
  code: number;
  response?: Buffer;
  message?: string;
  error?: Buffer;
}

/** Whether `service` offers CallStream (a bidirectional method of that name). */
export function offersCallStream(service: grpc.ServiceDefinition): boolean {
  const def = service[CALL_STREAM_METHOD];
  return def !== undefined && def.requestStream && def.responseStream;
}

interface CarriedMethod {
  def: grpc.MethodDefinition<unknown, unknown>;
  handler: grpc.handleUnaryCall<unknown, unknown>;
  service: string;
  name: string;
  limit: number;
  allowed: boolean;
}

/**
 * The CallStream handler of `service`, dispatching to the unary handlers of `impl`. `raftPort`: the server also
 * carries raft (then `open` methods need the token too: auth.ts; the stream has it anyway).
 */
export function callStreamHandler(
  service: grpc.ServiceDefinition,
  impl: grpc.UntypedServiceImplementation,
  opts: { raftPort: boolean; logger?: Logger },
): grpc.handleBidiStreamingCall<{ calls?: WireCall[] }, { replies: WireReply[] }> {
  const traced = tracedImplementation(service, impl);
  const methods = new Map<string, CarriedMethod>();
  for (const [name, def] of Object.entries(service)) {
    const handler = traced[name];
    if (name === CALL_STREAM_METHOD || def.requestStream || def.responseStream || typeof handler !== 'function') continue;
    const access = accessOn(def.path, opts.raftPort);
    const [, serviceName = '?'] = def.path.split('/');
    methods.set(name, {
      def,
      handler: handler as grpc.handleUnaryCall<unknown, unknown>,
      service: serviceName,
      name,
      limit: maxRequestBytesOf(def.path),
      allowed: access === 'open' || access === 'token',
    });
  }

  return (stream) => {
    let inFlight = 0;
    let halfClosed = false;
    let done = false;
    let outgoing: WireReply[] = [];
    let flushScheduled = false;

    const finish = () => {
      done = true;
      outgoing = [];
    };
    stream.on('cancelled', finish);
    stream.on('error', finish);
    stream.on('close', finish);

    const flush = () => {
      flushScheduled = false;
      if (done || outgoing.length === 0) return;
      const replies = outgoing;
      outgoing = [];
      if (stream.writableLength > MAX_UNREAD_REPLY_BYTES) {
        finish();
        stream.destroy(toGrpcError(new NokvError('RESOURCE_EXHAUSTED', `more than ${MAX_UNREAD_REPLY_BYTES} bytes of answers left unread`)));
        return;
      }
      stream.write({ replies });
      if (halfClosed && inFlight === 0) stream.end();
    };
    // Answers ready in the same turn of the event loop go out as one message.
    const reply = (r: WireReply) => {
      if (done) return;
      outgoing.push(r);
      if (!flushScheduled) {
        flushScheduled = true;
        setImmediate(flush);
      }
    };
    const refuse = (id: number, code: grpc.status, message: string) => reply({ id, code, message });

    const start = (c: WireCall) => {
      const id = (c.id ?? 0) >>> 0;
      const m = methods.get(String(c.method ?? ''));
      if (!m) return refuse(id, grpc.status.UNIMPLEMENTED, `method "${String(c.method ?? '').slice(0, 64)}" is not a unary method of this service`);
      if (!m.allowed) return refuse(id, grpc.status.PERMISSION_DENIED, `${m.def.path} cannot be called on a stream`);
      if (inFlight >= MAX_CALLS_IN_FLIGHT_PER_STREAM) return refuse(id, grpc.status.RESOURCE_EXHAUSTED, `more than ${MAX_CALLS_IN_FLIGHT_PER_STREAM} calls in flight on one stream`);
      const bytes = c.request ?? Buffer.alloc(0);
      if (bytes.length > m.limit) return refuse(id, grpc.status.RESOURCE_EXHAUSTED, `request of ${bytes.length} bytes is over the ${m.limit}-byte limit of ${m.def.path}`);
      let request: unknown;
      try {
        request = m.def.requestDeserialize(bytes);
      } catch (err) {
        return refuse(id, grpc.status.INVALID_ARGUMENT, `malformed request for ${m.def.path}: ${(err as Error).message.slice(0, 120)}`);
      }
      const metadata = new grpc.Metadata();
      if (parseTrace(c.trace)) metadata.set(TRACE_KEY, c.trace!);
      const timeoutMs = c.timeout_ms ?? 0;
      const deadline: grpc.Deadline = timeoutMs > 0 ? Date.now() + timeoutMs : Infinity;
      // What a unary handler reads of its call: the request, the metadata (its trace) and, rarely, the deadline.
      const call = {
        request,
        metadata,
        cancelled: false,
        getDeadline: () => deadline,
        getPeer: () => stream.getPeer(),
        getPath: () => m.def.path,
        on: () => call,
        once: () => call,
      } as unknown as grpc.ServerUnaryCall<unknown, unknown>;
      const started = process.hrtime.bigint();
      inFlight++;
      let answered = false;
      const answer: grpc.sendUnaryData<unknown> = (err, res) => {
        if (answered) return;
        answered = true;
        inFlight--;
        let r: WireReply;
        if (err) {
          const code = typeof err.code === 'number' ? err.code : grpc.status.UNKNOWN;
          const detail = err.metadata instanceof grpc.Metadata ? err.metadata.get(ERROR_TRAILER_KEY)[0] : undefined;
          r = { id, code, message: err.details ?? (err as Partial<Error>).message ?? '', ...(Buffer.isBuffer(detail) ? { error: detail } : {}) };
        } else {
          try {
            r = { id, code: grpc.status.OK, response: m.def.responseSerialize(res) };
          } catch (e) {
            opts.logger?.error({ err: e, rpc: m.def.path }, 'response does not encode');
            r = { id, code: grpc.status.INTERNAL, message: `internal error: the response of ${m.def.path} does not encode` };
          }
        }
        recordServedCall(m.service, m.name, r.code, Number(process.hrtime.bigint() - started) / 1e9);
        reply(r);
      };
      try {
        m.handler(call, answer);
      } catch (err) {
        const e = toGrpcError(err);
        answer(e as unknown as grpc.ServerErrorResponse, null);
      }
    };

    stream.on('data', (frame: { calls?: WireCall[] }) => {
      const calls = Array.isArray(frame?.calls) ? frame.calls : [];
      if (calls.length > MAX_CALLS_PER_FRAME) {
        for (const c of calls) refuse((c.id ?? 0) >>> 0, grpc.status.RESOURCE_EXHAUSTED, `more than ${MAX_CALLS_PER_FRAME} calls in one message`);
        return;
      }
      for (const c of calls) start(c);
    });
    // The caller sent its last call: answer what is running, then end the stream.
    stream.on('end', () => {
      halfClosed = true;
      if (inFlight === 0 && outgoing.length === 0 && !done) stream.end();
    });
  };
}
