// meta-root write path on a real three-process cluster (`nokv meta-root` x3 on loopback, LMDB with fsync):
// Append throughput and latency through MetaRootClient, one event per Append and 32 events per Append, with 1
// and 32 concurrent clients; then the time from SIGKILL of the leader until the next Append succeeds (the
// client follows the new leader), median of FAILOVERS runs. Events are quota-fence updates with a rising era
// per client, so the rooted state stays the same size however long the run. Never fails on timing.
//
// With NOKV_BENCH_BASELINE=<another build's bin/nokv.mjs> the Append rows also run on a cluster of that build, in
// the same run, alternating row by row, and print current/baseline ratios (throughput ratio > 1 and latency
// ratio < 1 favour the current build).
//
// Run: npm run build && node dist/bench/metaroot.bench.js
import { MetaRootClient } from '../src/metaroot/client.js';
import { events, type RootEvent } from '../src/metaroot/state/index.js';
import { MetaRootTestCluster } from '../test/fixtures/metaroot-cluster.js';
import { sleep, waitFor } from '../test/support/env.js';
import { median, percentile } from './stats.js';

const RUN_MS = Number(process.env.NOKV_BENCH_RUN_MS ?? 2000);
const WARMUP_MS = 300;
const FAILOVERS = Number(process.env.NOKV_BENCH_FAILOVERS ?? 5);
const BATCH = 32;
const CLIENTS = 32;

interface Row {
  name: string;
  appendsPerSec: number;
  eventsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  refused: number;
}

async function measure(cluster: MetaRootTestCluster, name: string, clients: number, batch: number, eraBase: { n: number }): Promise<Row> {
  const cs = Array.from({ length: clients }, () => new MetaRootClient({ endpoints: cluster.endpoints, token: cluster.token, deadlineMs: 10_000 }));
  const lat: number[] = [];
  let appends = 0;
  let refused = 0;
  let measuring = false;
  const stopAt = Date.now() + WARMUP_MS + RUN_MS;
  setTimeout(() => { measuring = true; }, WARMUP_MS);
  let t0 = 0;
  setTimeout(() => { t0 = Date.now(); }, WARMUP_MS);
  try {
    await Promise.all(cs.map(async (c, ci) => {
      const subject = `bench-${name.replace(/\W+/g, '-')}-${ci}`;
      while (Date.now() < stopAt) {
        const evs: RootEvent[] = [];
        for (let i = 0; i < batch; i++) evs.push(events.quotaFenceUpdated(subject, 1 << 20, 1000, ++eraBase.n));
        const start = process.hrtime.bigint();
        const out = await c.append(evs);
        const ms = Number(process.hrtime.bigint() - start) / 1e6;
        if (!out.accepted) refused++;
        if (measuring) {
          lat.push(ms);
          appends++;
        }
      }
    }));
  } finally {
    for (const c of cs) c.close();
  }
  const secs = (Date.now() - t0) / 1000;
  return { name, appendsPerSec: appends / secs, eventsPerSec: (appends * batch) / secs, p50Ms: median(lat), p99Ms: percentile(lat, 0.99), refused };
}

async function failoverMs(cluster: MetaRootTestCluster, client: MetaRootClient, era: { n: number }): Promise<number> {
  await client.append([events.quotaFenceUpdated('bench-failover', 1, 1, ++era.n)]);
  const leader = await cluster.leaderId();
  await cluster.stopNode(leader, 'SIGKILL');
  const killed = Date.now();
  const out = await client.append([events.quotaFenceUpdated('bench-failover', 1, 1, ++era.n)]);
  const ms = Date.now() - killed;
  if (!out.accepted) throw new Error(`append after failover refused: ${out.error?.message}`);
  await cluster.startNode(leader);
  await waitFor('restarted replica caught up', async () => ((await cluster.vars(leader))?.applied_index ?? 0) >= out.cursor.index, 20_000, 50);
  await sleep(500);
  return ms;
}

const SHAPES: Array<[string, number, number]> = [
  ['1 event/append, 1 client', 1, 1],
  ['1 event/append, 32 clients', CLIENTS, 1],
  [`${BATCH} events/append, 1 client`, 1, BATCH],
  [`${BATCH} events/append, 32 clients`, CLIENTS, BATCH],
];

function printRows(title: string, rows: Row[]): void {
  console.log(`${title}, ${RUN_MS} ms per row`);
  console.log(`${'row'.padEnd(32)} ${'appends/s'.padStart(10)} ${'events/s'.padStart(10)} ${'p50 ms'.padStart(8)} ${'p99 ms'.padStart(8)} refused`);
  for (const r of rows) {
    console.log(`${r.name.padEnd(32)} ${r.appendsPerSec.toFixed(0).padStart(10)} ${r.eventsPerSec.toFixed(0).padStart(10)} ${r.p50Ms.toFixed(2).padStart(8)} ${r.p99Ms.toFixed(2).padStart(8)} ${r.refused}`);
  }
}

async function main(): Promise<void> {
  const baselineBin = process.env.NOKV_BENCH_BASELINE;
  const cluster = await MetaRootTestCluster.start({ token: 'bench-token' });
  const baseline = baselineBin ? await MetaRootTestCluster.start({ token: 'bench-token', bin: baselineBin }).catch(async (err) => {
    await cluster.destroy();
    throw err;
  }) : undefined;
  try {
    await cluster.leaderId();
    if (baseline) await baseline.leaderId();
    const era = { n: 0 };
    const baseEra = { n: 0 };
    const rows: Row[] = [];
    const baseRows: Row[] = [];
    for (const [name, clients, batch] of SHAPES) {
      // Alternate which build goes first, so a drift of the machine's load does not favour one side.
      if (baseline && baseRows.length % 2 === 1) baseRows.push(await measure(baseline, name, clients, batch, baseEra));
      rows.push(await measure(cluster, name, clients, batch, era));
      if (baseline && baseRows.length < rows.length) baseRows.push(await measure(baseline, name, clients, batch, baseEra));
    }
    printRows('meta-root Append on 3 processes (LMDB fsync, loopback)', rows);
    if (baseline) {
      await baseline.destroy();
      printRows(`baseline build (${baselineBin}), same run`, baseRows);
      console.log(`${'current / baseline'.padEnd(32)} ${'appends/s'.padStart(10)} ${'p50'.padStart(8)} ${'p99'.padStart(8)}`);
      rows.forEach((r, i) => {
        const b = baseRows[i]!;
        console.log(`${r.name.padEnd(32)} ${(r.appendsPerSec / b.appendsPerSec).toFixed(2).padStart(10)} ${(r.p50Ms / b.p50Ms).toFixed(2).padStart(8)} ${(r.p99Ms / b.p99Ms).toFixed(2).padStart(8)}`);
      });
    }
    const client = new MetaRootClient({ endpoints: cluster.endpoints, token: cluster.token, deadlineMs: 20_000 });
    const times: number[] = [];
    try {
      for (let i = 0; i < FAILOVERS; i++) times.push(await failoverMs(cluster, client, era));
    } finally {
      client.close();
    }
    console.log(`leader SIGKILL -> next Append succeeds: median ${median(times)} ms over ${times.length} runs (each: ${times.join(', ')} ms)`);
  } finally {
    await cluster.destroy();
    await baseline?.destroy();
  }
}

await main();
