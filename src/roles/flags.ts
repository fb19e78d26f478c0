// Owns the flag handling every role process shares: the topology file, the cluster token file and
// host:port values. Each problem is a one-line UsageError (exit 2), never a stack trace.
import { readFileSync } from 'node:fs';
import { UsageError } from '../cli/flags.js';
import { loadTopology, type Topology } from '../config/topology.js';
import { parseAddr } from '../transport/index.js';

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
