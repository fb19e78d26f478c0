// Owns the checks every gRPC server applies before any handler runs, installed once by startGrpcServer so no
// service can skip them:
//   - the method's access rule (auth.ts) and the cluster token, checked when the call's headers arrive, so
//     an unauthenticated request is refused (UNAUTHENTICATED) before its body is even read;
//   - the request size limit of the method's service (options.ts), checked on the raw bytes before they are
//     decoded (RESOURCE_EXHAUSTED); the server's own receive limit already refused anything bigger from its
//     length prefix;
//   - bytes that do not decode as the request message answer INVALID_ARGUMENT (grpc-js would say INTERNAL).
import * as grpc from '@grpc/grpc-js';
import { accessOf, accessOn, needsToken } from './auth.js';
import { toGrpcError, UnauthenticatedError } from './errors.js';
import { requireToken } from './metadata.js';
import { maxRequestBytesOf } from './options.js';

/** A request refused before decoding; the interceptor answers it and the handler never sees it. */
class RefusedRequest {
  constructor(
    readonly code: grpc.status,
    readonly details: string,
  ) {}
}

/** Paths of `service`'s methods that have no access rule (a server refuses to serve such a service). */
export function methodsWithoutAccessRule(service: grpc.ServiceDefinition): string[] {
  return Object.values(service)
    .map((m) => m.path)
    .filter((path) => accessOf(path) === undefined);
}

/** Whether these services include raft (a `peer` method): then the server has no open method (auth.ts). */
export function carriesRaft(services: grpc.ServiceDefinition[]): boolean {
  return services.some((s) => Object.values(s).some((m) => accessOf(m.path) === 'peer'));
}

/** The largest request any method of these services (or the health checks every server adds) accepts: the server's receive limit. */
export function receiveLimitOf(services: grpc.ServiceDefinition[]): number {
  let max = maxRequestBytesOf('/grpc.health.v1.Health/Check');
  for (const s of services) for (const m of Object.values(s)) max = Math.max(max, maxRequestBytesOf(m.path));
  return max;
}

/** `service` with request decoders that check the size limit first and never throw. */
export function guardedDefinition(service: grpc.ServiceDefinition): grpc.ServiceDefinition {
  const out: Record<string, grpc.MethodDefinition<unknown, unknown>> = {};
  for (const [name, def] of Object.entries(service)) {
    const limit = maxRequestBytesOf(def.path);
    const decode = def.requestDeserialize;
    out[name] = {
      ...def,
      requestDeserialize: (bytes: Buffer) => {
        if (bytes.length > limit) {
          return new RefusedRequest(grpc.status.RESOURCE_EXHAUSTED, `request of ${bytes.length} bytes is over the ${limit}-byte limit of ${def.path}`);
        }
        try {
          return decode(bytes);
        } catch (err) {
          return new RefusedRequest(grpc.status.INVALID_ARGUMENT, `malformed request for ${def.path}: ${(err as Error).message.slice(0, 120)}`);
        }
      },
    };
  }
  return out as grpc.ServiceDefinition;
}

/**
 * The server interceptor that enforces the access rule of every call. With no token configured the server
 * runs without authentication (a role started by hand for development); `nokv cluster up` always sets one.
 */
export function guardInterceptor(token: string | undefined, raftPort = false): grpc.ServerInterceptor {
  return (method, call) => {
    const access = accessOn(method.path, raftPort);
    const guarded: grpc.ServerInterceptingCall = new grpc.ServerInterceptingCall(call, {
      start: (next) =>
        next({
          onReceiveMetadata: (metadata, pass) => {
            const refusal = refuseCall(method.path, access, metadata, token);
            if (refusal) return guarded.sendStatus(refusal);
            pass(metadata);
          },
          onReceiveMessage: (message, pass) => {
            if (message instanceof RefusedRequest) return guarded.sendStatus({ code: message.code, details: message.details });
            pass(message);
          },
        }),
    });
    return guarded;
  };
}

function refuseCall(path: string, access: ReturnType<typeof accessOf>, metadata: grpc.Metadata, token: string | undefined): { code: grpc.status; details: string; metadata?: grpc.Metadata } | undefined {
  if (access === undefined) return { code: grpc.status.PERMISSION_DENIED, details: `no access rule for ${path}` };
  if (!needsToken(access)) return undefined;
  try {
    requireToken({ metadata }, token);
    return undefined;
  } catch (err) {
    if (!(err instanceof UnauthenticatedError)) throw err;
    const e = toGrpcError(new UnauthenticatedError(`${err.message} for ${path}`));
    return { code: e.code, details: e.details, metadata: e.metadata };
  }
}
