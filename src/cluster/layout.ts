// Owns the mapping from a topology to the role processes `nokv cluster` runs: their names (as in the
// compose file, without the `nokv-` prefix), command lines, data folders, log files and addresses.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Topology } from '../config/topology.js';

export type RoleKind = 'meta-root' | 'coordinator' | 'store' | 'fsmeta';

/** Start order: each tier depends on the one before it. */
export const ROLE_ORDER: RoleKind[] = ['meta-root', 'coordinator', 'store', 'fsmeta'];

export interface RoleProcess {
  name: string;
  role: RoleKind;
  addr: string;
  metricsAddr: string;
  /** Arguments after `node bin/nokv.mjs`. */
  args: string[];
  logFile: string;
}

export interface ClusterPaths {
  dataDir: string;
  topologyFile: string;
  tokenFile: string;
  controlSocket: string;
  /** The manager's lock: its pid, created exclusively. */
  pidFile: string;
  /** The pids of the role processes the manager spawned, by name. */
  processesFile: string;
  logDir: string;
  /** The cluster CA and a certificate per process; TLS is on for a data dir whose tls/ holds a CA. */
  tlsDir: string;
}

export function clusterPaths(dataDir: string): ClusterPaths {
  return {
    dataDir,
    topologyFile: join(dataDir, 'topology.json'),
    tokenFile: join(dataDir, 'cluster.token'),
    controlSocket: join(dataDir, 'cluster.sock'),
    pidFile: join(dataDir, 'cluster.pid'),
    processesFile: join(dataDir, 'processes.json'),
    logDir: join(dataDir, 'logs'),
    tlsDir: join(dataDir, 'tls'),
  };
}

/** The `nokv` launcher in this checkout. */
export function nokvBin(): string {
  return fileURLToPath(new URL('../../../bin/nokv.mjs', import.meta.url));
}

/** Accepts `meta-root-1` or the compose container name `nokv-meta-root-1`. */
export function normaliseName(name: string): string {
  return name.startsWith('nokv-') ? name.slice(5) : name;
}

export function clusterLayout(topo: Topology, paths: ClusterPaths, roles: readonly RoleKind[]): RoleProcess[] {
  const out: RoleProcess[] = [];
  const common = ['--config', paths.topologyFile, '--token-file', paths.tokenFile];
  const log = (name: string) => join(paths.logDir, `${name}.log`);
  if (roles.includes('meta-root')) {
    for (const p of topo.meta_root.peers) {
      const name = `meta-root-${p.node_id}`;
      out.push({
        name,
        role: 'meta-root',
        addr: p.addr,
        metricsAddr: p.metrics_addr,
        args: ['meta-root', '--node-id', String(p.node_id), '--data-dir', join(paths.dataDir, name), ...common],
        logFile: log(name),
      });
    }
  }
  if (roles.includes('coordinator')) {
    for (const [i, c] of topo.coordinators.entries()) {
      const name = `coordinator-${i + 1}`;
      out.push({ name, role: 'coordinator', addr: c.addr, metricsAddr: c.metrics_addr, args: ['coordinator', '--coordinator-id', c.id, ...common], logFile: log(name) });
    }
  }
  if (roles.includes('store')) {
    for (const s of topo.stores) {
      const name = `store-${s.store_id}`;
      out.push({
        name,
        role: 'store',
        addr: s.addr,
        metricsAddr: s.metrics_addr,
        args: ['store', '--store-id', String(s.store_id), '--data-dir', join(paths.dataDir, name), ...common],
        logFile: log(name),
      });
    }
  }
  if (roles.includes('fsmeta')) {
    for (const [i, f] of topo.fsmeta.entries()) {
      const name = `fsmeta-${i + 1}`;
      out.push({ name, role: 'fsmeta', addr: f.addr, metricsAddr: f.metrics_addr, args: ['fsmeta', '--index', String(i + 1), ...common], logFile: log(name) });
    }
  }
  if (!tlsEnabled(paths)) return out;
  // Each process presents the certificate named after it (the raft transport checks store-N / meta-root-N).
  return out.map((p) => ({ ...p, args: [...p.args, '--tls-dir', paths.tlsDir, '--tls-name', p.name] }));
}

/** Whether the cluster in this data dir runs with mutual TLS (`nokv cluster up --tls` made its CA). */
export function tlsEnabled(paths: ClusterPaths): boolean {
  return existsSync(join(paths.tlsDir, 'ca.crt'));
}
