// Owns the `/debug/vars` endpoint every role serves: expvar-style JSON with `cmdline`, `pid`, `memstats` (process
// memory) and the variables modules publish. `pid` lets a supervisor check that the process answering a port
// is the one it started. Values are functions evaluated at scrape time (async ones awaited, with a bound), so a
// scrape always shows the current state and publishing costs nothing between scrapes.
//
// Beside it, every metrics port serves what standard tooling expects: `/metrics` (Prometheus text format, the
// process's registry in src/common/metrics.ts), `/healthz` (the process answers: liveness) and `/readyz` (200
// once the role has started and while every child of its tree runs, else 503 with the reason: readiness).
//
// A module may also add a small admin route next to it (ExpvarRegistry.route, e.g. a store's
// `/debug/faults`): JSON in, JSON out, and by default answered only for loopback peers, because such a route
// changes what the process does.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { trackResource } from '../common/resources.js';
import { InvalidArgumentError, NokvError } from '../common/errors.js';
import { EXPOSITION_CONTENT_TYPE, exposition } from '../common/metrics.js';

/** Whether the process is ready to serve; `reason` says why not (shown by /readyz). */
export interface Readiness {
  ready: boolean;
  reason?: string;
}

export type VarValue = unknown | (() => unknown);

export type RouteMethod = 'GET' | 'POST' | 'PUT' | 'DELETE';

export interface RouteReply {
  status: number;
  body: unknown;
}

export interface ExpvarRoute {
  method: RouteMethod;
  /** Exact path, e.g. `/debug/faults`; `/debug/vars` is reserved. */
  path: string;
  /** Answer only requests from 127.0.0.1 / ::1 (default true); others get 403. */
  loopbackOnly?: boolean;
  /** Gets the request body as text (at most MAX_ROUTE_BODY_BYTES). A thrown NokvError INVALID_ARGUMENT is a 400. */
  handle(body: string): RouteReply | Promise<RouteReply>;
}

const RESERVED_PATHS = new Set(['/debug/vars', '/metrics', '/healthz', '/readyz']);

/** Largest request body an admin route accepts; anything bigger is a 413. */
export const MAX_ROUTE_BODY_BYTES = 64 * 1024;

/** Named variables of one process. Names are unique; publishing a name twice is a bug. */
export class ExpvarRegistry {
  private readonly vars = new Map<string, VarValue>();
  private readonly routes = new Map<string, ExpvarRoute>();
  private readiness: () => Readiness = () => ({ ready: true });

  /** Sets what /readyz reports (the role runtime does; by default a process is ready). */
  setReadiness(fn: () => Readiness): void {
    this.readiness = fn;
  }

  ready(): Readiness {
    try {
      return this.readiness();
    } catch (err) {
      return { ready: false, reason: err instanceof Error ? err.message : String(err) };
    }
  }

  /** Adds an admin route; the returned function removes it. Registering one method+path twice is a bug. */
  route(r: ExpvarRoute): () => void {
    const key = `${r.method} ${r.path}`;
    if (RESERVED_PATHS.has(r.path)) throw new Error(`${r.path} is reserved`);
    if (this.routes.has(key)) throw new Error(`expvar route ${key} registered twice`);
    this.routes.set(key, r);
    return () => {
      if (this.routes.get(key) === r) this.routes.delete(key);
    };
  }

  findRoute(method: string, path: string): ExpvarRoute | undefined {
    return this.routes.get(`${method} ${path}`);
  }

  publish(name: string, value: VarValue): void {
    if (this.vars.has(name)) throw new Error(`expvar ${name} published twice`);
    this.vars.set(name, value);
  }

  /** One published variable, evaluated now (undefined if absent or failing). */
  value(name: string): unknown {
    const v = this.vars.get(name);
    try {
      return typeof v === 'function' ? (v as () => unknown)() : v;
    } catch {
      return undefined;
    }
  }

  unpublish(name: string): void {
    this.vars.delete(name);
  }

  /**
   * The whole document as served: cmdline, pid, memstats, then every published variable. A variable may be
   * async (e.g. one that asks actors on worker threads): it is awaited, for at most ASYNC_VAR_TIMEOUT_MS.
   */
  async snapshot(): Promise<Record<string, unknown>> {
    const doc: Record<string, unknown> = { cmdline: process.argv, pid: process.pid, memstats: memstats() };
    const pending: Promise<void>[] = [];
    for (const [name, value] of this.vars) {
      try {
        const v = typeof value === 'function' ? (value as () => unknown)() : value;
        doc[name] = v;
        if (isThenable(v)) pending.push(settleVar(v).then((r) => void (doc[name] = r)));
      } catch (err) {
        doc[name] = { error: err instanceof Error ? err.message : String(err) };
      }
    }
    await Promise.all(pending);
    return doc;
  }
}

/** Longest an async variable may take before /debug/vars shows `{ error: 'timed out' }` for it. */
export const ASYNC_VAR_TIMEOUT_MS = 1_000;

function isThenable(v: unknown): v is PromiseLike<unknown> {
  return typeof (v as PromiseLike<unknown> | null)?.then === 'function';
}

function settleVar(v: PromiseLike<unknown>): Promise<unknown> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<unknown>((resolve) => {
    timer = setTimeout(() => resolve({ error: 'timed out' }), ASYNC_VAR_TIMEOUT_MS);
    timer.unref();
  });
  return Promise.race([
    Promise.resolve(v).then(
      (x) => x,
      (err: unknown) => ({ error: err instanceof Error ? err.message : String(err) }),
    ),
    timeout,
  ]).finally(() => clearTimeout(timer));
}

function memstats(): Record<string, number> {
  const m = process.memoryUsage();
  const r = process.resourceUsage();
  return {
    rss_bytes: m.rss,
    heap_total_bytes: m.heapTotal,
    heap_used_bytes: m.heapUsed,
    external_bytes: m.external,
    array_buffers_bytes: m.arrayBuffers,
    user_cpu_us: r.userCPUTime,
    system_cpu_us: r.systemCPUTime,
    uptime_s: Math.round(process.uptime()),
  };
}

export interface ExpvarServer {
  port: number;
  close(): Promise<void>;
}

/** Parses "host:port" (port 0 = any free port). Rejects anything else with a one-line message. */
export function parseHostPort(addr: string, what = 'address'): { host: string; port: number } {
  const m = /^(\[[^\]]+\]|[^:]+):(\d{1,5})$/.exec(addr);
  const port = m ? Number(m[2]) : NaN;
  if (!m || port > 65535) throw new InvalidArgumentError(`invalid ${what} "${addr}" (want host:port)`);
  return { host: m[1]!.replace(/^\[|\]$/g, ''), port };
}

const isLoopback = (addr: string | undefined) => addr === '127.0.0.1' || addr === '::1' || addr === '::ffff:127.0.0.1';

function reply(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body, (_k, v) => (typeof v === 'bigint' ? v.toString() : v));
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8' }).end(text);
}

async function serveRoute(route: ExpvarRoute, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  if ((route.loopbackOnly ?? true) && !isLoopback(req.socket.remoteAddress)) {
    req.resume();
    return reply(res, 403, { error: 'this route answers loopback clients only' });
  }
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of req as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > MAX_ROUTE_BODY_BYTES) return reply(res, 413, { error: `body above ${MAX_ROUTE_BODY_BYTES} bytes` });
      chunks.push(chunk);
    }
    const out = await route.handle(Buffer.concat(chunks).toString('utf8'));
    reply(res, out.status, out.body);
  } catch (err) {
    const invalid = err instanceof NokvError && err.code === 'INVALID_ARGUMENT';
    if (!res.headersSent) reply(res, invalid ? 400 : 500, { error: err instanceof Error ? err.message : String(err) });
  }
}

function serveMetrics(res: http.ServerResponse, headers: Record<string, string>): void {
  exposition().then(
    (text) => res.writeHead(200, { ...headers, 'Content-Type': EXPOSITION_CONTENT_TYPE }).end(text),
    (err: unknown) => res.writeHead(500, { ...headers, 'Content-Type': 'text/plain' }).end(`cannot collect metrics: ${String(err)}\n`),
  );
}

/** Serves GET /debug/vars, /metrics, /healthz and /readyz on addr, plus the registry's admin routes; every other path is 404. JSON with permissive CORS, as expvar does. */
export async function startExpvarServer(addr: string, registry: ExpvarRegistry): Promise<ExpvarServer> {
  const { host, port } = parseHostPort(addr, 'metrics address');
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0];
    const headers = {
      'Access-Control-Allow-Origin': '*',
      'Access-Control-Allow-Methods': 'GET, OPTIONS',
    };
    if (req.method === 'OPTIONS') {
      res.writeHead(204, headers).end();
      return;
    }
    const route = registry.findRoute(req.method ?? '', path ?? '');
    if (route) {
      void serveRoute(route, req, res);
      return;
    }
    if (req.method === 'GET' || req.method === 'HEAD') {
      if (path === '/metrics') return void serveMetrics(res, headers);
      if (path === '/healthz') return void res.writeHead(200, { ...headers, 'Content-Type': 'text/plain' }).end('ok\n');
      if (path === '/readyz') {
        const r = registry.ready();
        return void res.writeHead(r.ready ? 200 : 503, { ...headers, 'Content-Type': 'text/plain' }).end(r.ready ? 'ready\n' : `not ready: ${r.reason ?? 'starting'}\n`);
      }
    }
    if (path !== '/debug/vars' || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res.writeHead(404, { ...headers, 'Content-Type': 'text/plain' }).end('404 page not found\n');
      return;
    }
    void registry.snapshot().then((doc) => {
      const body = JSON.stringify(doc, (_k, v) => (typeof v === 'bigint' ? v.toString() : v), 1);
      res.writeHead(200, { ...headers, 'Content-Type': 'application/json; charset=utf-8' }).end(body);
    });
  });
  server.keepAliveTimeout = 1000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const untrack = trackResource({ kind: 'server', description: `expvar http ${addr}` });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => {
          untrack();
          resolve();
        });
      }),
  };
}
