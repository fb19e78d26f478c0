// meta-root raft peer placement, in one run: two three-process clusters of this build side by side, one with
// `--workers 0` (the peer, its LMDB environment and the tail actor on the main thread) and one with
// `--workers 1` (they run on worker thread 1; the gRPC front and the raft transport stay on the main thread, so
// an Append crosses threads for the ask and its reply, and raft traffic crosses once each way per turn). Rows
// alternate between the clusters, and which goes first alternates too, ROUNDS times; the table prints each
// row's median over the rounds and the workers-1 / workers-0 ratios (throughput > 1 and latency < 1 favour the
// worker). Rows: Append of one event with 1 and 32 concurrent clients, Append of 32 events with 32 clients, and
// a linearizable snapshot read (the whole rooted state crosses the thread) with 1 client. Never fails on timing.
//
// Run: npm run build && node dist/bench/metaroot-workers.bench.js   (NOKV_BENCH_RUN_MS, NOKV_BENCH_ROUNDS)
import { loadavg } from 'node:os';
import { MetaRootClient } from '../src/metaroot/client.js';
import { events, type RootEvent } from '../src/metaroot/state/index.js';
import { MetaRootTestCluster } from '../test/fixtures/metaroot-cluster.js';
import { median, percentile } from './stats.js';

const RUN_MS = Number(process.env.NOKV_BENCH_RUN_MS ?? 2000);
const ROUNDS = Number(process.env.NOKV_BENCH_ROUNDS ?? 3);
const WARMUP_MS = 300;

interface Row {
  opsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  refused: number;
}

type Op = (client: MetaRootClient, clientIndex: number) => Promise<boolean>;

async function measure(cluster: MetaRootTestCluster, clients: number, op: Op): Promise<Row> {
  const cs = Array.from({ length: clients }, () => new MetaRootClient({ endpoints: cluster.endpoints, token: cluster.token, deadlineMs: 10_000 }));
  const lat: number[] = [];
  let ops = 0;
  let refused = 0;
  const begin = Date.now();
  const measureFrom = begin + WARMUP_MS;
  const stopAt = measureFrom + RUN_MS;
  try {
    await Promise.all(cs.map(async (c, ci) => {
      while (Date.now() < stopAt) {
        const start = process.hrtime.bigint();
        const ok = await op(c, ci);
        const ms = Number(process.hrtime.bigint() - start) / 1e6;
        if (!ok) refused++;
        if (Date.now() >= measureFrom) {
          lat.push(ms);
          ops++;
        }
      }
    }));
  } finally {
    for (const c of cs) c.close();
  }
  const secs = (Date.now() - measureFrom) / 1000;
  return { opsPerSec: ops / secs, p50Ms: median(lat), p99Ms: percentile(lat, 0.99), refused };
}

/** Quota-fence updates with a rising era per subject, so the rooted state stays the same size all run. */
function appendOp(tag: string, batch: number, era: { n: number }): Op {
  return async (c, ci) => {
    const evs: RootEvent[] = [];
    for (let i = 0; i < batch; i++) evs.push(events.quotaFenceUpdated(`bench-${tag}-${ci}`, 1 << 20, 1000, ++era.n));
    return (await c.append(evs)).accepted;
  };
}

const snapshotOp: Op = async (c) => {
  const snap = await c.snapshot({ linearizable: true });
  return snap.state.last_applied.index > 0;
};

interface Shape {
  name: string;
  clients: number;
  op: (era: { n: number }) => Op;
}

const SHAPES: Shape[] = [
  { name: 'Append 1 event, 1 client', clients: 1, op: (era) => appendOp('a1', 1, era) },
  { name: 'Append 1 event, 32 clients', clients: 32, op: (era) => appendOp('a32', 1, era) },
  { name: 'Append 32 events, 32 clients', clients: 32, op: (era) => appendOp('b32', 32, era) },
  { name: 'Snapshot (linearizable), 1 client', clients: 1, op: () => snapshotOp },
];

async function main(): Promise<void> {
  const load = [loadavg()[0]!];
  const w0 = await MetaRootTestCluster.start({ token: 'bench-token', extraArgs: ['--workers', '0'] });
  const w1 = await MetaRootTestCluster.start({ token: 'bench-token', extraArgs: ['--workers', '1'] }).catch(async (err) => {
    await w0.destroy();
    throw err;
  });
  try {
    await w0.leaderId();
    await w1.leaderId();
    // Some state for the snapshot rows to carry: 200 stores joined on each cluster.
    for (const c of [w0, w1]) {
      const client = new MetaRootClient({ endpoints: c.endpoints, token: c.token, deadlineMs: 10_000 });
      try {
        for (let i = 1; i <= 200; i += 20) {
          await client.append(Array.from({ length: 20 }, (_, k) => events.storeJoined(i + k, `127.0.0.1:${20000 + i + k}`)));
        }
      } finally {
        client.close();
      }
    }
    const eras = new Map([[w0, { n: 0 }], [w1, { n: 0 }]]);
    const results = SHAPES.map(() => ({ w0: [] as Row[], w1: [] as Row[] }));
    let turn = 0;
    for (let round = 0; round < ROUNDS; round++) {
      for (const [i, shape] of SHAPES.entries()) {
        const order: Array<['w0' | 'w1', MetaRootTestCluster]> = turn++ % 2 === 0 ? [['w0', w0], ['w1', w1]] : [['w1', w1], ['w0', w0]];
        for (const [key, cluster] of order) results[i]![key].push(await measure(cluster, shape.clients, shape.op(eras.get(cluster)!)));
      }
      load.push(loadavg()[0]!);
    }
    const med = (rows: Row[], k: keyof Row) => median(rows.map((r) => r[k]));
    console.log(`meta-root peer placement, ${ROUNDS} rounds x ${RUN_MS} ms per row and placement (median over rounds); load average ${load.map((l) => l.toFixed(1)).join(' -> ')}`);
    console.log(`${'row'.padEnd(36)} ${'w0 ops/s'.padStart(9)} ${'w1 ops/s'.padStart(9)} ${'w0 p50'.padStart(7)} ${'w1 p50'.padStart(7)} ${'w0 p99'.padStart(7)} ${'w1 p99'.padStart(7)} ${'ops x'.padStart(6)} ${'p50 x'.padStart(6)} ${'p99 x'.padStart(6)} refused`);
    for (const [i, shape] of SHAPES.entries()) {
      const r = results[i]!;
      const [o0, o1, a0, a1, b0, b1] = [med(r.w0, 'opsPerSec'), med(r.w1, 'opsPerSec'), med(r.w0, 'p50Ms'), med(r.w1, 'p50Ms'), med(r.w0, 'p99Ms'), med(r.w1, 'p99Ms')];
      const refused = [...r.w0, ...r.w1].reduce((n, x) => n + x.refused, 0);
      console.log(`${shape.name.padEnd(36)} ${o0.toFixed(0).padStart(9)} ${o1.toFixed(0).padStart(9)} ${a0.toFixed(2).padStart(7)} ${a1.toFixed(2).padStart(7)} ${b0.toFixed(2).padStart(7)} ${b1.toFixed(2).padStart(7)} ${(o1 / o0).toFixed(2).padStart(6)} ${(a1 / a0).toFixed(2).padStart(6)} ${(b1 / b0).toFixed(2).padStart(6)} ${refused}`);
    }
  } finally {
    await w0.destroy();
    await w1.destroy();
  }
}

await main();
