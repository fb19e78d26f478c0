// Owns what the benchmarks need to compare with etcd: a 3-member etcd 3.4 cluster on free loopback ports (the
// `etcd` binary from Debian's etcd-server, scripts/install-etcd.sh; rows are skipped without it), a keep-alive
// HTTP client for its v3 JSON gateway, and a closed-loop load that measures ops/s, p50 and p99.
import http from 'node:http';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { freePorts, makeTempDir, waitFor } from '../test/support/env.js';
import { percentileOfSorted, sortedCopy } from './stats.js';

export interface Sample {
  opsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
}

export function sample(ops: number, errors: number, latMs: number[], ms: number): Sample {
  const s = sortedCopy(latMs);
  return { opsPerSec: (ops * 1000) / ms, p50Ms: percentileOfSorted(s, 0.5), p99Ms: percentileOfSorted(s, 0.99), errors };
}

export const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });

function post(port: number, path: string, body: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end(body);
  });
}

export async function httpLoad(port: number, path: string, body: (n: number) => string, conc: number, ms: number): Promise<Sample> {
  const lat: number[] = [];
  let errors = 0;
  let n = 0;
  const deadline = performance.now() + ms;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: conc }, async () => {
    while (performance.now() < deadline) {
      const s = performance.now();
      const status = await post(port, path, body(n++)).catch(() => 0);
      if (status === 200) lat.push(performance.now() - s);
      else errors++;
    }
  }));
  return sample(lat.length, errors, lat, performance.now() - t0);
}

export interface EtcdCluster {
  procs: ChildProcess[];
  clientPorts: number[];
  dir: ReturnType<typeof makeTempDir>;
}

export function etcdAvailable(): boolean {
  const r = spawnSync('etcd', ['--version'], { encoding: 'utf8' });
  return r.status === 0;
}

export async function startEtcd(): Promise<EtcdCluster> {
  const dir = makeTempDir('nokv-etcd-bench-');
  const ports = await freePorts(6);
  const clientPorts = ports.slice(0, 3);
  const peerUrl = (i: number) => `http://127.0.0.1:${ports[3 + i]}`;
  const initial = [0, 1, 2].map((i) => `e${i}=${peerUrl(i)}`).join(',');
  const procs = [0, 1, 2].map((i) => spawn('etcd', [
    '--name', `e${i}`, '--data-dir', join(dir.path, `e${i}`),
    '--listen-client-urls', `http://127.0.0.1:${clientPorts[i]}`, '--advertise-client-urls', `http://127.0.0.1:${clientPorts[i]}`,
    '--listen-peer-urls', peerUrl(i), '--initial-advertise-peer-urls', peerUrl(i),
    '--initial-cluster', initial, '--initial-cluster-state', 'new', '--initial-cluster-token', 'nokv-bench',
    '--logger', 'zap', '--log-level', 'error',
  ], { stdio: ['ignore', 'ignore', 'ignore'] }));
  return { procs, clientPorts, dir };
}

export async function etcdLeaderPort(c: EtcdCluster): Promise<number> {
  return waitFor('an etcd leader', async () => {
    for (const port of c.clientPorts) {
      const res = await fetch(`http://127.0.0.1:${port}/v3/maintenance/status`, { method: 'POST', body: '{}', signal: AbortSignal.timeout(1000) }).catch(() => undefined);
      if (!res?.ok) continue;
      const st = (await res.json()) as { leader?: string; header?: { member_id?: string } };
      if (st.leader && st.leader === st.header?.member_id) return port;
    }
    return undefined;
  }, 30_000, 200) as Promise<number>;
}

export async function stopEtcd(c: EtcdCluster): Promise<void> {
  await Promise.all(c.procs.map((p) => (p.exitCode !== null || p.signalCode !== null ? undefined : new Promise((r) => { p.once('exit', r); p.kill('SIGKILL'); }))));
  c.dir.remove();
}
