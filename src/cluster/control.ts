// Owns the control channel between `nokv cluster` commands and the running cluster manager: small JSON
// requests over HTTP on a unix socket in the data folder (no TCP port, only the folder's owner can reach it).
import http from 'node:http';
import { existsSync, unlinkSync } from 'node:fs';
import { trackResource } from '../common/resources.js';
import { UnavailableError, reviveError, serializeError, type SerializedError } from '../common/errors.js';

export type ControlHandler = (method: string, path: string) => Promise<unknown>;

export interface ControlServer {
  close(): Promise<void>;
}

export async function startControlServer(socketPath: string, handler: ControlHandler): Promise<ControlServer> {
  if (existsSync(socketPath)) unlinkSync(socketPath); // a stale socket from a manager that was killed
  const server = http.createServer((req, res) => {
    handler(req.method ?? 'GET', req.url ?? '/').then(
      (body) => res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify(body ?? {})),
      (err) => res.writeHead(400, { 'Content-Type': 'application/json' }).end(JSON.stringify({ error: serializeError(err) })),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, () => resolve());
  });
  const untrack = trackResource({ kind: 'server', description: `cluster control ${socketPath}` });
  return {
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

/** Sends one request to the manager; UnavailableError if no manager answers on the socket. */
export function controlRequest<T = unknown>(socketPath: string, method: string, path: string, timeoutMs = 30_000): Promise<T> {
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath, method, path, timeout: timeoutMs }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (text += c));
      res.on('end', () => {
        try {
          const body = JSON.parse(text);
          if (res.statusCode === 200) resolve(body as T);
          else reject(reviveError(body.error as SerializedError));
        } catch (e) {
          reject(e);
        }
      });
    });
    req.on('timeout', () => req.destroy(new UnavailableError(`cluster manager did not answer within ${timeoutMs} ms`)));
    req.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT' || e.code === 'ECONNREFUSED') reject(new UnavailableError('no cluster is running in this data dir'));
      // The manager closed the socket under us: it is shutting down (e.g. right after `down`).
      else if (e.code === 'ECONNRESET' || e.code === 'EPIPE') reject(new UnavailableError('the cluster manager went away (shutting down)'));
      else reject(e);
    });
    req.end();
  });
}
