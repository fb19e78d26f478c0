// Owns one run of the whole-stack simulator for one seed: every scenario on the production code, each on its
// own virtual clock and seeded from the run's seed. A property violation (or any unexpected throw) is
// reported in the result, never thrown, so a many-seed run carries on and lists what failed.
import type { InjectedBug } from './host-cluster.js';
import { runKvScenario, type KvStats } from './kv-scenario.js';
import { runMetaScenario, type MetaStats } from './meta-scenario.js';
import { runTxnScenario, type TxnStats } from './txn-scenario.js';

export interface StackSeedOptions {
  seed: number;
  verbose?: boolean;
  bug?: InjectedBug;
  out?: (line: string) => void;
  /** Run one scenario only. */
  only?: 'kv' | 'meta' | 'txn';
  /** Virtual milliseconds of each scenario's faulty phase. */
  safetyMs?: number;
}

export interface StackResult {
  seed: number;
  ok: boolean;
  error?: string;
  kv?: KvStats;
  meta?: MetaStats;
  txn?: TxnStats;
}

export async function runStackSeed(o: StackSeedOptions): Promise<StackResult> {
  const r: StackResult = { seed: o.seed, ok: true };
  const fail = (what: string, err: unknown) => {
    const e = err as Error;
    r.ok = false;
    r.error = `${r.error ? `${r.error}\n` : ''}${what}: ${e.name}: ${e.message}${e.name === 'SimViolation' ? '' : `\n${e.stack}`}`;
  };
  if (!o.only || o.only === 'kv') {
    try {
      r.kv = await runKvScenario(o);
    } catch (err) {
      fail('kv', err);
    }
  }
  if (!o.only || o.only === 'meta') {
    try {
      r.meta = await runMetaScenario(o);
    } catch (err) {
      fail('meta', err);
    }
  }
  if (!o.only || o.only === 'txn') {
    try {
      r.txn = await runTxnScenario(o);
    } catch (err) {
      fail('txn', err);
    }
  }
  return r;
}
