// Owns the client side of gRPC: creating tracked clients with the project's channel options, and a promise
// helper for unary calls that sets deadline, token and trace, and turns failures into typed errors.
import * as grpc from '@grpc/grpc-js';
import { InvalidArgumentError } from '../../common/errors.js';
import { trackResource } from '../../common/resources.js';
import { fromGrpcError } from './errors.js';
import { setToken, setTrace, type TraceContext } from './metadata.js';
import { channelOptions } from './options.js';
import { channelCredentials } from './tls.js';
import { traceInterceptor } from './trace.js';
import { CallStreamChannel, type CallStreamStats } from './call-stream-client.js';

/**
 * A client for `ctor` (from LoadedProto.clientConstructor) talking to `addr`, with the process's TLS identity
 * when TLS is on (tls.ts), whose calls carry the current trace (trace.ts). The client is registered as a
 * live resource until its close() is called, so a test that forgets to close it fails.
 */
export function createClient<C extends grpc.Client = grpc.Client>(
  ctor: grpc.ServiceClientConstructor,
  addr: string,
  overrides: grpc.ChannelOptions = {},
  opts: ClientOptions = {},
): C {
  const client = new ctor(addr, channelCredentials(), { ...channelOptions(overrides), interceptors: [traceInterceptor] }) as unknown as C;
  const untrack = trackResource({ kind: 'other', description: `grpc client ${ctor.serviceName} -> ${addr}` });
  const stream = opts.callStream && CallStreamChannel.supports(ctor.service)
    ? new CallStreamChannel(client, ctor.service, (method, req, o) => directUnaryCall(client, method, req, o))
    : undefined;
  if (stream) callStreams.set(client, stream);
  const close = client.close.bind(client);
  client.close = () => {
    stream?.close();
    untrack();
    close();
  };
  return client;
}

export interface ClientOptions {
  /**
   * Send unary calls as messages on one CallStream when the service offers it (call-stream-client.ts): for
   * clients between NoKV processes that make many small calls (store client, coordinator client).
   */
  callStream?: boolean;
}

const callStreams = new WeakMap<grpc.Client, CallStreamChannel>();

/** How `client`'s calls went over its CallStream, if it has one. */
export function callStreamStats(client: grpc.Client): CallStreamStats | undefined {
  return callStreams.get(client)?.stats;
}

export interface UnaryCallOptions {
  /** Time the call may take end to end; required, because a call without a deadline can hang forever. */
  deadlineMs: number;
  token?: string;
  trace?: TraceContext;
  metadata?: grpc.Metadata;
}

type UnaryMethod = (
  req: unknown,
  md: grpc.Metadata,
  opts: grpc.CallOptions,
  cb: (err: grpc.ServiceError | null, res?: unknown) => void,
) => grpc.ClientUnaryCall;

/**
 * Calls `client[method](req)`; rejects with the typed error (TimeoutError on deadline, NotLeaderError, ...).
 * On a client made with `callStream`, the call travels on its CallStream (unless it brings metadata of its own).
 */
export function unaryCall<Req, Res>(client: grpc.Client, method: string, req: Req, opts: UnaryCallOptions): Promise<Res> {
  const stream = opts.metadata ? undefined : callStreams.get(client);
  if (stream) {
    if (!(opts.deadlineMs > 0)) throw new InvalidArgumentError(`deadlineMs must be positive, got ${opts.deadlineMs}`);
    return stream.call(method, req, opts) as Promise<Res>;
  }
  return directUnaryCall(client, method, req, opts);
}

/** A unary call as its own HTTP/2 stream. */
function directUnaryCall<Req, Res>(client: grpc.Client, method: string, req: Req, opts: UnaryCallOptions): Promise<Res> {
  const fn = (client as unknown as Record<string, unknown>)[method];
  if (typeof fn !== 'function') throw new InvalidArgumentError(`client has no method ${method}`);
  if (!(opts.deadlineMs > 0)) throw new InvalidArgumentError(`deadlineMs must be positive, got ${opts.deadlineMs}`);
  const md = opts.metadata?.clone() ?? new grpc.Metadata();
  if (opts.token) setToken(md, opts.token);
  if (opts.trace) setTrace(md, opts.trace);
  const deadline = new Date(Date.now() + opts.deadlineMs);
  return new Promise<Res>((resolve, reject) => {
    (fn as UnaryMethod).call(client, req, md, { deadline }, (err, res) => {
      if (err) reject(fromGrpcError(err));
      else resolve(res as Res);
    });
  });
}
