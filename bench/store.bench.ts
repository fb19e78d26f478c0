// Transactions per second and latency of the store cluster on three local processes: one-phase commits (two
// keys in one region) and Percolator two-phase commits (one key in each bootstrap region), each with a few
// concurrent clients for a fixed time. Every commit is durable on a raft quorum before it is acknowledged.
// Measuring starts once both regions have leaders and a single-region commit goes through in one phase (a
// fresh leader refuses one-phase commits until its floor is known; these stores run without coordinators,
// so that is the wall-clock fallback). Prints throughput, p50, p99 and how many commits took one and two
// phases per row; never fails on timing.
import { startStoreCluster } from '../test/fixtures/store-cluster.js';
import { percentile } from './stats.js';

const RUN_MS = 5_000;
const CONCURRENCY = [1, 8];
/** Longest wait for leaders and a live one-phase path before giving up. */
const WARMUP_BUDGET_MS = 30_000;

const cluster = await startStoreCluster();
try {
  const warm0 = Date.now();
  await Promise.all([cluster.leaderOf(1, WARMUP_BUDGET_MS), cluster.leaderOf(2, WARMUP_BUDGET_MS)]);
  const leadersMs = Date.now() - warm0;
  for (let i = 0; cluster.client.stats.onePc === 0; i++) {
    if (Date.now() - warm0 > WARMUP_BUDGET_MS) throw new Error(`no one-phase commit within ${WARMUP_BUDGET_MS} ms`);
    const t = await cluster.client.begin();
    t.put(Buffer.from(`warm/a/${i}`), Buffer.from('w'));
    t.put(Buffer.from(`warm/b/${i}`), Buffer.from('w'));
    await t.commit();
  }
  process.stdout.write(`warm-up: leaders after ${leadersMs} ms, one-phase path live after ${Date.now() - warm0} ms\n`);
  const rows: string[] = [];
  for (const mode of ['1pc', '2pc'] as const) {
    for (const conc of CONCURRENCY) {
      const lat: number[] = [];
      const before = { ...cluster.client.stats };
      const started = Date.now();
      let seq = 0;
      const worker = async (w: number) => {
        while (Date.now() - started < RUN_MS) {
          const n = seq++;
          const t0 = performance.now();
          const t = await cluster.client.begin();
          const v = Buffer.from(`value-${n}`);
          if (mode === '1pc') {
            t.put(Buffer.from(`a/${w}/${n}`), v);
            t.put(Buffer.from(`b/${w}/${n}`), v);
          } else {
            t.put(Buffer.from(`a/${w}/${n}`), v);
            t.put(Buffer.from(`z/${w}/${n}`), v);
          }
          await t.commit();
          lat.push(performance.now() - t0);
        }
      };
      await Promise.all(Array.from({ length: conc }, (_, w) => worker(w)));
      const secs = (Date.now() - started) / 1000;
      rows.push(`${mode.padEnd(4)} clients=${String(conc).padEnd(3)} ${(lat.length / secs).toFixed(0).padStart(6)} txn/s   p50 ${percentile(lat, 0.5).toFixed(1).padStart(6)} ms   p99 ${percentile(lat, 0.99).toFixed(1).padStart(6)} ms   (${lat.length} txns: ${cluster.client.stats.onePc - before.onePc} 1PC, ${cluster.client.stats.twoPc - before.twoPc} 2PC)`);
    }
  }
  process.stdout.write(`store transactions, 3 store processes on loopback, ${RUN_MS / 1000} s per row\n${rows.join('\n')}\n`);
  process.stdout.write(`client: ${JSON.stringify(cluster.client.stats)}\n`);
} finally {
  await cluster.stop();
}
