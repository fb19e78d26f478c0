// What mutual TLS costs, measured in one run: the same `nokv cluster` (free ports) brought up plaintext, then
// with `--tls`, and in each one client measuring, one call at a time, the latency of a coordinator Tso and of a
// single-key store transaction (a one-phase commit: its keys are in one region). Prints p50/p99 per mode and the
// TLS/plain ratio of the medians. Speed never fails the run.
import { CoordinatorClient } from '../src/coordinator/client.js';
import { connectStoreClient } from '../src/store/client/connect.js';
import { clusterDown, clusterUp, waitForHolder } from '../test/fixtures/coordinator-drills.js';
import { waitFor } from '../test/support/env.js';
import { percentile } from './stats.js';

const TSO_CALLS = Number(process.env.TLS_BENCH_TSO ?? 2_000);
const TXNS = Number(process.env.TLS_BENCH_TXNS ?? 400);
const WARMUP = 100;

interface Result {
  tso: number[];
  onePc: number[];
  onePcCount: number;
}

async function measure(tls: boolean): Promise<Result> {
  const c = await clusterUp(undefined, { tls });
  const coord = new CoordinatorClient({ endpoints: c.coordAddrs, token: c.token });
  const store = connectStoreClient({ coordinatorAddrs: c.coordAddrs, token: c.token });
  try {
    await waitForHolder(c, 0);
    const tso: number[] = [];
    for (let i = 0; i < WARMUP + TSO_CALLS; i++) {
      const t0 = performance.now();
      await coord.tso(1);
      if (i >= WARMUP) tso.push(performance.now() - t0);
    }
    // A fresh region leader takes its one-phase floor from the TSO first; wait until commits go one-phase.
    await waitFor('one-phase commits', async () => {
      const before = store.stats.onePc;
      const txn = await store.begin();
      txn.put(Buffer.from('a/tls-bench/warm'), Buffer.from('x'));
      await txn.commit();
      return store.stats.onePc > before;
    }, 30_000, 100);
    const onePc: number[] = [];
    const before = store.stats.onePc;
    for (let i = 0; i < WARMUP + TXNS; i++) {
      const t0 = performance.now();
      const txn = await store.begin();
      txn.put(Buffer.from(`a/tls-bench/${i}`), Buffer.from(`v${i}`));
      await txn.commit();
      if (i >= WARMUP) onePc.push(performance.now() - t0);
    }
    return { tso, onePc, onePcCount: store.stats.onePc - before };
  } finally {
    store.close();
    coord.close();
    await clusterDown(c);
  }
}

const plain = await measure(false);
const tls = await measure(true);
const ms = (x: number) => x.toFixed(2).padStart(7);
const row = (what: string, a: number[], b: number[]) =>
  `${what.padEnd(34)} plain p50 ${ms(percentile(a, 0.5))} ms  p99 ${ms(percentile(a, 0.99))} ms   TLS p50 ${ms(percentile(b, 0.5))} ms  p99 ${ms(percentile(b, 0.99))} ms   TLS/plain p50 ${(percentile(b, 0.5) / percentile(a, 0.5)).toFixed(2)}x`;
process.stdout.write(`${row(`coordinator Tso (${TSO_CALLS} calls)`, plain.tso, tls.tso)}\n`);
process.stdout.write(`${row(`store 1PC txn (${TXNS} txns)`, plain.onePc, tls.onePc)}\n`);
process.stdout.write(`one-phase commits: plain ${plain.onePcCount}/${TXNS + WARMUP}, TLS ${tls.onePcCount}/${TXNS + WARMUP} (each txn = Tso + commit)\n`);
