// Owns starting and stopping a gRPC server: binding (127.0.0.1 unless told otherwise), the guard every call
// passes before its handler (access rule and token, size limit, malformed bytes: guard.ts), server reflection
// for every proto-loaded service it serves, the call's trace around every handler (trace.ts), resource
// tracking, and a handler wrapper that maps typed errors.
import * as grpc from '@grpc/grpc-js';
import type * as protoLoader from '@grpc/proto-loader';
import { ReflectionService } from '@grpc/reflection';
import { InvalidArgumentError, NokvError } from '../../common/errors.js';
import type { Logger } from '../../common/log.js';
import { trackResource } from '../../common/resources.js';
import { toGrpcError, UnauthenticatedError } from './errors.js';
import { carriesRaft, guardedDefinition, guardInterceptor, methodsWithoutAccessRule, receiveLimitOf } from './guard.js';
import { serverOptions } from './options.js';
import { tracedImplementation } from './trace.js';
import { addHealth, observeCalls } from './observe.js';
import { serverCredentials, type TlsMaterial } from './tls.js';
import { CALL_STREAM_METHOD, callStreamHandler, offersCallStream } from './call-stream.js';
import { packageDefinitionOf } from './proto.js';

export const DEFAULT_HOST = '127.0.0.1';
/**
 * How long close() lets in-flight calls finish before cancelling them. Unary calls here finish in
 * milliseconds; what is still open after this are streams and long-polls (peer raft streams, WaitTail),
 * which would otherwise hold every role's stop for the full grace.
 */
export const DEFAULT_SHUTDOWN_GRACE_MS = 300;

export interface ServiceBinding {
  service: grpc.ServiceDefinition;
  impl: grpc.UntypedServiceImplementation;
}

export interface GrpcServerConfig {
  /** `host:port`; port 0 picks a free one; an empty host means 127.0.0.1. Default `127.0.0.1:0`. */
  addr?: string;
  services: ServiceBinding[];
  /**
   * The cluster token calls to methods whose access rule needs one must present (auth.ts). Unset: no
   * authentication (a role started by hand for development; `nokv cluster up` always sets one).
   */
  token?: string;
  /**
   * Serve grpc.reflection.v1 and v1alpha for every proto-loaded service in `services`. Default true; ports
   * that carry raft traffic turn it off (nothing there is for generic clients).
   */
  reflection?: boolean;
  /** TLS material of this server; default the process's (tls.ts): mutual TLS when on, plaintext when off. */
  tls?: TlsMaterial;
  /** Extra package definitions to expose through reflection (services added later by hand). */
  reflectionPackages?: protoLoader.PackageDefinition[];
  options?: grpc.ServerOptions;
}

export interface RunningGrpcServer {
  readonly server: grpc.Server;
  readonly port: number;
  /** `host:port` as bound, ready to give to a client. */
  readonly addr: string;
  /** Stops accepting calls, lets running ones finish for graceMs, then cancels the rest. Idempotent. */
  close(graceMs?: number): Promise<void>;
}

/** Splits `host:port` (IPv6 hosts in brackets); an empty host becomes 127.0.0.1. */
export function parseAddr(addr: string): { host: string; port: number } {
  const m = /^(\[[^\]]*\]|[^:]*):(\d+)$/.exec(addr);
  if (!m) throw new InvalidArgumentError(`address "${addr}" is not host:port`);
  const port = Number(m[2]);
  if (port > 65535) throw new InvalidArgumentError(`address "${addr}" has an invalid port`);
  return { host: m[1] || DEFAULT_HOST, port };
}

export async function startGrpcServer(config: GrpcServerConfig): Promise<RunningGrpcServer> {
  const { host, port: wanted } = parseAddr(config.addr ?? `${DEFAULT_HOST}:0`);
  const unruled = config.services.flatMap(({ service }) => methodsWithoutAccessRule(service));
  if (unruled.length > 0) throw new InvalidArgumentError(`no access rule (src/transport/grpc/auth.ts) for ${unruled.join(', ')}`);
  const server = new grpc.Server(
    serverOptions({
      'grpc.max_receive_message_length': receiveLimitOf(config.services.map((b) => b.service)),
      ...config.options,
      interceptors: [observeCalls, guardInterceptor(config.token, carriesRaft(config.services.map((b) => b.service))), ...(config.options?.interceptors ?? [])],
    }),
  );
  // Every service this server offers (its own, health, reflection) passes the same guard, and each of its
  // handlers runs inside its call's trace (trace.ts).
  const guarded: Pick<grpc.Server, 'addService'> = {
    addService: (svc, impl) => server.addService(guardedDefinition(svc), tracedImplementation(svc, impl)),
  };
  const raftPort = carriesRaft(config.services.map((b) => b.service));
  for (const { service, impl } of config.services) {
    // A service that offers CallStream serves its own unary handlers on it (call-stream.ts).
    const withStream = offersCallStream(service) && impl[CALL_STREAM_METHOD] === undefined
      ? { ...impl, [CALL_STREAM_METHOD]: callStreamHandler(service, impl, { raftPort }) }
      : impl;
    guarded.addService(service, withStream);
  }
  const health = addHealth(guarded, config.services.map((s) => serviceNameOf(s.service)).filter((n): n is string => n !== undefined));
  if (config.reflection ?? true) addReflection(guarded, config);

  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(`${host}:${wanted}`, serverCredentials(config.tls), (err, bound) => {
      if (err) reject(new NokvError('UNAVAILABLE', `cannot bind ${host}:${wanted}: ${err.message}`));
      else resolve(bound);
    });
  }).catch((err) => {
    server.forceShutdown();
    throw err;
  });
  const addr = `${host}:${port}`;
  const untrack = trackResource({ kind: 'server', description: `grpc server ${addr}` });
  let closing: Promise<void> | undefined;

  const close = (graceMs = DEFAULT_SHUTDOWN_GRACE_MS): Promise<void> => {
    closing ??= new Promise<void>((resolve) => {
      health.shutdown();
      const force = setTimeout(() => server.forceShutdown(), Math.max(0, graceMs));
      server.tryShutdown(() => {
        clearTimeout(force);
        untrack();
        resolve();
      });
    });
    return closing;
  };
  return { server, port, addr, close };
}

/** `pkg.Service` from a service definition's method paths (`/pkg.Service/Method`). */
function serviceNameOf(service: grpc.ServiceDefinition): string | undefined {
  const first = Object.values(service)[0] as { path?: string } | undefined;
  return first?.path?.split('/')[1];
}

function addReflection(server: Pick<grpc.Server, 'addService'>, config: GrpcServerConfig): void {
  const merged: protoLoader.PackageDefinition = {};
  for (const { service } of config.services) Object.assign(merged, packageDefinitionOf(service) ?? {});
  for (const pkg of config.reflectionPackages ?? []) Object.assign(merged, pkg);
  if (Object.keys(merged).length > 0) new ReflectionService(merged).addToServer(server);
}

export interface HandlerOptions {
  /** Unexpected (non-typed) errors are logged here with their stack before INTERNAL goes back. */
  logger?: Logger;
}

/** Wraps an async unary implementation: resolves → OK, throws → the mapped gRPC status. */
export function unaryHandler<Req, Res>(
  fn: (req: Req, call: grpc.ServerUnaryCall<Req, Res>) => Promise<Res> | Res,
  opts: HandlerOptions = {},
): grpc.handleUnaryCall<Req, Res> {
  return (call, callback) => {
    Promise.resolve()
      .then(() => fn(call.request, call))
      .then(
        (res) => callback(null, res),
        (err: unknown) => {
          if (!(err instanceof NokvError) && !(err instanceof UnauthenticatedError)) {
            opts.logger?.error({ err }, 'unexpected error in gRPC handler');
          }
          callback(toGrpcError(err));
        },
      );
  };
}
