// Owns the flag handling every role process shares: the topology file, the cluster token file, host:port
// values and the actor worker-thread count. Each problem is a one-line UsageError (exit 2), never a stack trace.
import { readFileSync } from 'node:fs';
import { UsageError, type FlagSpec, type FlagSpecs } from '../cli/flags.js';
import { limits } from '../actors/index.js';
import { availableParallelism } from 'node:os';
import { loadTopology, type Topology, type WorkersRole } from '../config/topology.js';
import { loadTlsMaterial, parseAddr, useTls } from '../transport/index.js';

/** The topology from --config (or the default 333 layout when the flag is absent). */
export function topologyFlag(file: string | undefined): Topology {
  try {
    return loadTopology(file);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

/** The cluster token from --token-file; undefined when the flag is absent or the file is empty. */
export function tokenFileFlag(file: string | undefined): string | undefined {
  if (file === undefined) return undefined;
  try {
    return readFileSync(file, 'utf8').trim() || undefined;
  } catch (err) {
    throw new UsageError(`cannot read --token-file ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

/** A host:port flag value, checked. */
export function addrFlag(name: string, value: string): string {
  try {
    parseAddr(value);
  } catch {
    throw new UsageError(`--${name} must be host:port, got "${value}"`);
  }
  return value;
}

/**
 * Worker threads of a role's actor system. The default is 0 (every actor on the main thread): the 333 topology
 * runs ten role processes on a machine with two cores, so extra threads per process would only contend for
 * them. `auto` gives each process of the role its share of the spare cores (see autoWorkers).
 */
export const DEFAULT_ROLE_WORKERS = 0;

/** The `--workers N|auto` flag definition every role accepts; add it to the role's FlagSpecs as `workers`. */
export const workersFlag: FlagSpec = {
  type: 'string',
  help: `worker threads for this process's actors: 0..${limits.MAX_WORKER_THREADS} (0 = all on the main thread) or auto (a share of the spare cores); default: the topology's workers.<role>, else 0`,
};

/**
 * One worker per spare core: the cores not needed by one main thread per role process on this host, shared
 * among the processes of the role that asks. 0 on a 2-core machine running the ten processes of the 333
 * topology; 2 per store on a 16-core machine running the same ten processes ((16 - 10) / 3).
 */
export function autoWorkers(cores: number, processesOnHost: number, roleProcessesOnHost: number): number {
  const spare = Math.max(0, cores - processesOnHost);
  return Math.min(limits.MAX_WORKER_THREADS, Math.floor(spare / Math.max(1, roleProcessesOnHost)));
}

function hostOf(addr: string): string {
  return addr.slice(0, addr.lastIndexOf(':'));
}

/** Processes of the topology listening on `host`, in total and of `role`. */
function processesOn(topo: Topology, host: string, role: WorkersRole): { all: number; role: number } {
  const byRole: Record<WorkersRole, string[]> = {
    meta_root: topo.meta_root.peers.map((p) => p.addr),
    coordinator: topo.coordinators.map((c) => c.addr),
    store: topo.stores.map((s) => s.addr),
    fsmeta: topo.fsmeta.map((f) => f.addr),
  };
  const on = (addrs: string[]) => addrs.filter((a) => hostOf(a) === host).length;
  return { all: Object.values(byRole).reduce((n, addrs) => n + on(addrs), 0), role: on(byRole[role]) };
}

/**
 * The most worker threads `auto` gives a process of each role: as many as the role can place work on. A store
 * places a shard of regions on each; a meta-root runs its one raft peer (and tail hub) on thread 1 and a
 * coordinator its lease holder, so a second thread would host nothing; the fsmeta gateway places its watch
 * session actors there, but its calls, router and executor stay on the main thread, so one thread takes all the
 * sessions' work and more would add threads, not capacity. On a 2-core machine running the 333 topology `auto`
 * gives every role 0. An explicit count is taken as given.
 */
export const AUTO_WORKERS_CAP: Record<WorkersRole, number> = { store: limits.MAX_WORKER_THREADS, meta_root: 1, coordinator: 1, fsmeta: 1 };

/**
 * The --workers value: the flag (a count or `auto`), else the topology's `workers.<role>`, else 0. `auto`
 * counts the topology's processes on this process's host (`addr`) against os.availableParallelism(), capped
 * by what the role can use (AUTO_WORKERS_CAP).
 */
export function workersOf(value: unknown, where?: { topology: Topology; role: WorkersRole; addr: string; cores?: number }): number {
  const setting = value ?? where?.topology.workers?.[where.role];
  if (setting === undefined) return DEFAULT_ROLE_WORKERS;
  if (setting === 'auto') {
    if (!where) return DEFAULT_ROLE_WORKERS;
    const n = processesOn(where.topology, hostOf(where.addr), where.role);
    return Math.min(AUTO_WORKERS_CAP[where.role], autoWorkers(where.cores ?? availableParallelism(), Math.max(1, n.all), Math.max(1, n.role)));
  }
  const n = typeof setting === 'number' ? setting : /^\d+$/.test(String(setting)) ? Number(setting) : NaN;
  if (!Number.isInteger(n) || n < 0 || n > limits.MAX_WORKER_THREADS) {
    throw new UsageError(`--workers must be 0..${limits.MAX_WORKER_THREADS} or auto, got "${String(setting)}"`);
  }
  return n;
}

/** `--tls-dir` / `--tls-name`, accepted by every role (`nokv cluster up --tls` passes them). */
export const tlsFlags: FlagSpecs = {
  'tls-dir': { type: 'string', help: 'folder with the cluster CA and this process\'s certificate: mutual TLS on every port' },
  'tls-name': { type: 'string', help: 'certificate to present from --tls-dir (default: the process name, e.g. store-1; a coordinator must name it)' },
};

/**
 * Turns mutual TLS on for this process from --tls-dir (identity --tls-name, else `name`), or off without it,
 * so a role never inherits a tool's default identity.
 */
export function useTlsFlags(flags: Record<string, unknown>, name: string | undefined): void {
  const dir = flags['tls-dir'] as string | undefined;
  if (dir === undefined) return useTls(undefined);
  const identity = (flags['tls-name'] as string | undefined) ?? name;
  if (identity === undefined) throw new UsageError('--tls-dir needs --tls-name here (the certificate to present, e.g. coordinator-1)');
  try {
    useTls(loadTlsMaterial(dir, identity));
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}
