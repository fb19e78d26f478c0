// Owns the `/debug/vars` endpoint every role serves: expvar-style JSON with `cmdline`, `memstats` (process
// memory) and the variables modules publish. Values are functions evaluated at scrape time, so a scrape always
// shows the current state and publishing costs nothing between scrapes.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { trackResource } from '../common/resources.js';
import { InvalidArgumentError } from '../common/errors.js';

export type VarValue = unknown | (() => unknown);

/** Named variables of one process. Names are unique; publishing a name twice is a bug. */
export class ExpvarRegistry {
  private readonly vars = new Map<string, VarValue>();

  publish(name: string, value: VarValue): void {
    if (this.vars.has(name)) throw new Error(`expvar ${name} published twice`);
    this.vars.set(name, value);
  }

  unpublish(name: string): void {
    this.vars.delete(name);
  }

  /** The whole document as served: cmdline, memstats, then every published variable. */
  snapshot(): Record<string, unknown> {
    const doc: Record<string, unknown> = { cmdline: process.argv, memstats: memstats() };
    for (const [name, value] of this.vars) {
      try {
        doc[name] = typeof value === 'function' ? (value as () => unknown)() : value;
      } catch (err) {
        doc[name] = { error: err instanceof Error ? err.message : String(err) };
      }
    }
    return doc;
  }
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

/** Serves GET /debug/vars on addr; every other path is 404. JSON with permissive CORS, as expvar does. */
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
    if (path !== '/debug/vars' || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res.writeHead(404, { ...headers, 'Content-Type': 'text/plain' }).end('404 page not found\n');
      return;
    }
    const body = JSON.stringify(registry.snapshot(), (_k, v) => (typeof v === 'bigint' ? v.toString() : v), 1);
    res.writeHead(200, { ...headers, 'Content-Type': 'application/json; charset=utf-8' }).end(body);
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
