// Owns what every NoKV gRPC server offers to standard tooling, beside its own services: the grpc.health.v1
// Health service (Check, List, Watch; "" is the whole server, each served service by its full name) and a
// server interceptor that records every call's latency by service, method and status code, and logs each call
// at debug level (`rpc served`, under the call's trace) to the process's rpc logger (setRpcLogger).
import * as grpc from '@grpc/grpc-js';
import type { Logger } from '../../common/log.js';
import { rpcSeconds } from '../../common/metrics.js';
import { loadProto } from './proto.js';

export const HEALTH_SERVICE = 'grpc.health.v1.Health';
type Status = 'SERVING' | 'NOT_SERVING';

let callsServed = 0;
let rpcLogger: Logger | undefined;

/** Where this process's servers and clients log each call at debug level (the role runtime sets it). */
export function setRpcLogger(logger: Logger | undefined): void {
  rpcLogger = logger;
}

/** The process's rpc logger when it logs debug lines, else undefined (so callers skip building the line). */
export function rpcDebugLogger(): Logger | undefined {
  return rpcLogger?.isLevelEnabled('debug') ? rpcLogger : undefined;
}

/** Calls this process has answered so far, every server and method together (for request rates). */
export function rpcCallsServed(): number {
  return callsServed;
}

/**
 * Counts one answered call of `service`/`method` and records its latency; also what CallStream (call-stream.ts)
 * does for each call it carries, so a method's numbers are the same whichever way it was called. Called from
 * the handler's answer, inside the call's trace: the debug line carries it (common/log.ts).
 */
export function recordServedCall(service: string, method: string, code: grpc.status, seconds: number): void {
  const codeName = grpc.status[code] ?? String(code);
  rpcSeconds.observe({ service, method, code: codeName }, seconds);
  callsServed++;
  rpcDebugLogger()?.debug({ rpc: `/${service}/${method}`, code: codeName, ms: Math.round(seconds * 1e4) / 10 }, 'rpc served');
}

/** Records each call's latency once its status is sent. */
export const observeCalls: grpc.ServerInterceptor = (method, call) => {
  const started = process.hrtime.bigint();
  const [, service = '?', name = '?'] = method.path.split('/');
  return new grpc.ServerInterceptingCall(call, {
    sendStatus: (status, next) => {
      recordServedCall(service, name, status.code, Number(process.hrtime.bigint() - started) / 1e9);
      next(status);
    },
  });
};

export interface HealthHandle {
  /** Reports NOT_SERVING for everything (before the server shuts down) and ends open watches. */
  shutdown(): void;
}

/** Adds grpc.health.v1.Health to the server; every service in `names` (and "") starts SERVING. */
export function addHealth(server: Pick<grpc.Server, 'addService'>, names: string[]): HealthHandle {
  const statuses = new Map<string, Status>([['', 'SERVING'], ...names.map((n) => [n, 'SERVING'] as [string, Status])]);
  const watchers = new Set<{ service: string; call: grpc.ServerWritableStream<{ service: string }, unknown> }>();
  const statusOf = (service: string) => statuses.get(service);
  server.addService(loadProto('grpc/health/v1/health.proto').service(HEALTH_SERVICE), {
    Check: (call: grpc.ServerUnaryCall<{ service: string }, unknown>, cb: grpc.sendUnaryData<unknown>) => {
      const s = statusOf(call.request.service);
      if (s) cb(null, { status: s });
      else cb({ code: grpc.status.NOT_FOUND, details: `unknown service "${call.request.service}"` });
    },
    List: (_call: grpc.ServerUnaryCall<unknown, unknown>, cb: grpc.sendUnaryData<unknown>) => {
      cb(null, { statuses: Object.fromEntries([...statuses].map(([k, v]) => [k, { status: v }])) });
    },
    Watch: (call: grpc.ServerWritableStream<{ service: string }, unknown>) => {
      const w = { service: call.request.service, call };
      watchers.add(w);
      call.write({ status: statusOf(w.service) ?? 'SERVICE_UNKNOWN' });
      call.on('cancelled', () => watchers.delete(w));
      call.on('close', () => watchers.delete(w));
    },
  });
  return {
    shutdown: () => {
      for (const k of statuses.keys()) statuses.set(k, 'NOT_SERVING');
      for (const w of watchers) {
        w.call.write({ status: 'NOT_SERVING' });
        w.call.end();
      }
      watchers.clear();
    },
  };
}
