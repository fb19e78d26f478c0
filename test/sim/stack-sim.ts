// Owns one run of the whole-stack simulator for one seed: every scenario on the production code, each on its
// own virtual clock and seeded from the run's seed. A property violation (or any unexpected throw) is
// reported in the result, never thrown, so a many-seed run carries on and lists what failed.
import type { InjectedBug } from './host-cluster.js';
import { runKvScenario, type KvStats } from './kv-scenario.js';

export interface StackSeedOptions {
  seed: number;
  verbose?: boolean;
  bug?: InjectedBug;
  out?: (line: string) => void;
  /** Virtual milliseconds of each scenario's faulty phase. */
  safetyMs?: number;
}

export interface StackResult {
  seed: number;
  ok: boolean;
  error?: string;
  kv?: KvStats;
}

export async function runStackSeed(o: StackSeedOptions): Promise<StackResult> {
  const r: StackResult = { seed: o.seed, ok: true };
  try {
    r.kv = await runKvScenario(o);
  } catch (err) {
    const e = err as Error;
    r.ok = false;
    r.error = `kv: ${e.name}: ${e.message}${e.name === 'SimViolation' ? '' : `\n${e.stack}`}`;
  }
  return r;
}
