// Owns the flag handling every role process shares: the topology file, the cluster token file, host:port
// values and the actor worker-thread count. Each problem is a one-line UsageError (exit 2), never a stack trace.
import { readFileSync } from 'node:fs';
import { UsageError, type FlagSpec, type FlagSpecs } from '../cli/flags.js';
import { limits } from '../actors/index.js';
import { loadTopology, type Topology } from '../config/topology.js';
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
 * them. A process that owns CPU-heavy actors (a store with many regions) may be given one or two.
 */
export const DEFAULT_ROLE_WORKERS = 0;

/** The `--workers N` flag definition every role accepts; add it to the role's FlagSpecs as `workers`. */
export const workersFlag: FlagSpec = {
  type: 'int',
  help: `worker threads for this process's actors (0 = all on the main thread; max ${limits.MAX_WORKER_THREADS})`,
  default: DEFAULT_ROLE_WORKERS,
  min: 0,
  max: limits.MAX_WORKER_THREADS,
};

/** The --workers value (the default when the flag is absent). */
export function workersOf(value: unknown): number {
  return typeof value === 'number' ? value : DEFAULT_ROLE_WORKERS;
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
