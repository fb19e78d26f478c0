// Owns what every deployment file derives from one topology: the role replicas, their ids, the ports they
// listen on inside a container, and the command line that starts each. docker/docker-compose*.yml and
// deploy/kubernetes/nokv.yaml are generated from this (compose.ts, kubernetes.ts), so a role flag or port
// changes in one place.
import type { Topology } from '../config/topology.js';

export type RoleKind = 'meta-root' | 'coordinator' | 'store' | 'fsmeta';

export interface Replica {
  role: RoleKind;
  /** 0-based position among the role's replicas. */
  ordinal: number;
  /** The role's id flag and value (--node-id 1, --coordinator-id coord-1, --store-id 1, --index 1). */
  idFlag: string;
  id: string;
  /** The process and certificate name (meta-root-1, coordinator-2, store-3, fsmeta-1). */
  name: string;
  /** Host part of its client address in the topology (a container or DNS name). */
  host: string;
  /** Ports it listens on, by use. */
  ports: { grpc: number; raft?: number; metrics: number };
  /** Keeps LMDB data that must survive a restart. */
  durable: boolean;
}

const hostOf = (addr: string) => addr.slice(0, addr.lastIndexOf(':')).replace(/^\[|\]$/g, '');
const portOf = (addr: string) => Number(addr.slice(addr.lastIndexOf(':') + 1));

export function replicasOf(t: Topology): Replica[] {
  return [
    ...t.meta_root.peers.map((p, i): Replica => ({
      role: 'meta-root', ordinal: i, idFlag: '--node-id', id: String(p.node_id), name: `meta-root-${p.node_id}`, host: hostOf(p.addr),
      ports: { grpc: portOf(p.addr), raft: portOf(p.raft_addr), metrics: portOf(p.metrics_addr) }, durable: true,
    })),
    ...t.coordinators.map((c, i): Replica => ({
      role: 'coordinator', ordinal: i, idFlag: '--coordinator-id', id: c.id, name: `coordinator-${i + 1}`, host: hostOf(c.addr),
      ports: { grpc: portOf(c.addr), metrics: portOf(c.metrics_addr) }, durable: false,
    })),
    ...t.stores.map((s, i): Replica => ({
      role: 'store', ordinal: i, idFlag: '--store-id', id: String(s.store_id), name: `store-${s.store_id}`, host: hostOf(s.addr),
      ports: { grpc: portOf(s.addr), metrics: portOf(s.metrics_addr) }, durable: true,
    })),
    ...t.fsmeta.map((f, i): Replica => ({
      role: 'fsmeta', ordinal: i, idFlag: '--index', id: String(i + 1), name: `fsmeta-${i + 1}`, host: hostOf(f.addr),
      ports: { grpc: portOf(f.addr), metrics: portOf(f.metrics_addr) }, durable: false,
    })),
  ];
}

/** Where a containerised role finds what it needs. */
export interface RolePaths {
  config: string;
  tokenFile: string;
  dataDir: string;
  /** Mutual TLS: the folder with the CA and every certificate (`nokv cluster certs`). */
  tlsDir?: string;
}

/** The role's arguments after the id (which compose writes literally and Kubernetes computes in a shell). */
export function roleArgs(r: Replica, p: RolePaths): string[] {
  const args = ['--config', p.config, '--token-file', p.tokenFile, '--addr', `0.0.0.0:${r.ports.grpc}`];
  if (r.ports.raft !== undefined) args.push('--raft-addr', `0.0.0.0:${r.ports.raft}`);
  args.push('--metrics-addr', `0.0.0.0:${r.ports.metrics}`);
  if (r.durable) args.unshift('--data-dir', p.dataDir);
  if (p.tlsDir) args.push('--tls-dir', p.tlsDir, '--tls-name', r.name);
  return args;
}

/** The role process's whole argv after `nokv`. */
export function roleCommand(r: Replica, p: RolePaths): string[] {
  return [r.role, r.idFlag, r.id, ...roleArgs(r, p)];
}

/** What the health checks of a role ask: the metrics port's /readyz (200 once started and while its tree runs). */
export const READY_PATH = '/readyz';
export const LIVE_PATH = '/healthz';

/** The mount every deployment registers once the coordinators answer (as `nokv cluster up` does). */
export const DEFAULT_MOUNT = { mount: 'default', rootInode: 1 };

/** Roles in start order: each waits for the ones before it to be healthy. */
export const START_ORDER: RoleKind[] = ['meta-root', 'coordinator', 'store', 'fsmeta'];
