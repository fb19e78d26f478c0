// The KV path a cluster client actually uses, against etcd in the same run: single-key puts of 256-byte values
// through the transactional store client (`connectStoreClient`: start ts from the coordinator TSO, one-phase
// commit whose ts the region leader picks) on a real cluster (`nokv cluster up` on free ports, all ten
// processes, fsync on), at 1 and 64 concurrent clients, beside a 3-member etcd 3.4 on loopback taking the same
// puts through its v3 JSON gateway (rows skipped without `etcd`: scripts/install-etcd.sh). Also a two-phase row
// (one key in each bootstrap region) to show what the second phase costs over one. Medians of RUNS runs of
// RUN_MS; never fails on timing. Last, one client's put split into its TSO call and its commit call (p50 of each),
// and one client's single-key read with a TSO call of its own against a Get at version 0, alternating.
//
// Run: npm run bench -- kv   (or node dist/bench/kv.bench.js)
import { clusterDown, clusterUp } from '../test/fixtures/coordinator-drills.js';
import { connectStoreClient } from '../src/store/client/connect.js';
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { agent, etcdAvailable, etcdLeaderPort, httpLoad, sample, startEtcd, stopEtcd, type Sample } from './etcd.js';
import { median } from './stats.js';

const RUNS = Number(process.env.NOKV_BENCH_RUNS ?? 3);
const RUN_MS = Number(process.env.NOKV_BENCH_RUN_MS ?? 2000);
const WARMUP_MS = 1500;
const VALUE_BYTES = 256;
const CONCURRENCY = [1, 64];

interface Row {
  name: string;
  conc: number;
  samples: Sample[];
  onePc?: number;
  twoPc?: number;
}

async function closedLoop(conc: number, ms: number, op: (w: number, n: number) => Promise<void>): Promise<Sample> {
  const lat: number[] = [];
  let errors = 0;
  let n = 0;
  const deadline = performance.now() + ms;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: conc }, async (_, w) => {
    while (performance.now() < deadline) {
      const s = performance.now();
      try {
        await op(w, n++);
        lat.push(performance.now() - s);
      } catch {
        errors++;
      }
    }
  }));
  return sample(lat.length, errors, lat, performance.now() - t0);
}

const rows: Row[] = [];
let split: { tso: number; commit: number; n: number } | undefined;
let reads: { viaClient: number; viaLeader: number; n: number } | undefined;
const started = Date.now();
process.stdout.write(`KV puts: ${VALUE_BYTES}-byte values, ${RUNS} runs x ${RUN_MS} ms per row (medians), fsync on\n`);

if (etcdAvailable()) {
  const e = await startEtcd();
  try {
    const port = await etcdLeaderPort(e);
    const val = Buffer.alloc(VALUE_BYTES, 42).toString('base64');
    const body = (n: number) => `{"key":"${Buffer.from(`k${n % 1024}`).toString('base64')}","value":"${val}"}`;
    for (const conc of CONCURRENCY) {
      await httpLoad(port, '/v3/kv/put', body, conc, WARMUP_MS);
      const samples: Sample[] = [];
      for (let i = 0; i < RUNS; i++) samples.push(await httpLoad(port, '/v3/kv/put', body, conc, RUN_MS));
      rows.push({ name: 'etcd 3.4, 3 members, put', conc, samples });
    }
  } finally {
    await stopEtcd(e);
  }
} else {
  process.stdout.write('etcd not installed: etcd rows skipped (scripts/install-etcd.sh)\n');
}

const cluster = await clusterUp({ ttl_ms: 3000, renew_before_ms: 1000 });
const token = readFileSync(cluster.tokenFile, 'utf8').trim();
const client = connectStoreClient({ coordinatorAddrs: cluster.coordAddrs, token });
try {
  const value = Buffer.alloc(VALUE_BYTES, 7);
  const put1 = async (w: number, n: number) => {
    const t = await client.begin();
    t.put(Buffer.from(`n/${w}/${n % 1024}`), value); // region 2 (keys from "m")
    await t.commit();
  };
  const put2 = async (w: number, n: number) => {
    const t = await client.begin();
    t.put(Buffer.from(`a/${w}/${n % 1024}`), value); // region 1
    t.put(Buffer.from(`n/${w}/${n % 1024}`), value); // region 2
    await t.commit();
  };
  const measure = async (name: string, conc: number, op: typeof put1) => {
    await closedLoop(conc, WARMUP_MS, op);
    const before = { ...client.stats };
    const samples: Sample[] = [];
    for (let i = 0; i < RUNS; i++) samples.push(await closedLoop(conc, RUN_MS, op));
    rows.push({ name, conc, samples, onePc: client.stats.onePc - before.onePc, twoPc: client.stats.twoPc - before.twoPc });
  };
  for (const conc of CONCURRENCY) await measure('store txn client, 1 key (one-phase)', conc, put1);
  for (const conc of CONCURRENCY) await measure('store txn client, 2 regions (two-phase)', conc, put2);
  // Where one client's one-phase put goes, as the client sees it: the TSO call (begin) and the commit call.
  const tsoLat: number[] = [];
  const commitLat: number[] = [];
  const splitEnd = performance.now() + RUN_MS;
  for (let n = 0; performance.now() < splitEnd; n++) {
    const t0 = performance.now();
    const t = await client.begin();
    const t1 = performance.now();
    t.put(Buffer.from(`n/split/${n % 1024}`), value);
    await t.commit();
    tsoLat.push(t1 - t0);
    commitLat.push(performance.now() - t1);
  }
  split = { tso: median(tsoLat), commit: median(commitLat), n: tsoLat.length };
  // A single-key read, 1 client, the two ways alternating op by op (so both see the same load): a TSO call
  // then a Get at that ts, against one Get at version 0 whose ts the region leader takes from the TSO while its
  // ReadIndex round runs.
  const viaClient: number[] = [];
  const viaLeader: number[] = [];
  const readEnd = performance.now() + 2 * RUN_MS;
  for (let n = 0; performance.now() < readEnd; n++) {
    const k = Buffer.from(`n/split/${n % Math.max(1, split.n)}`);
    const t0 = performance.now();
    if (n % 2 === 0) await client.get(k);
    else await client.getLatest(k);
    (n % 2 === 0 ? viaClient : viaLeader).push(performance.now() - t0);
  }
  reads = { viaClient: median(viaClient), viaLeader: median(viaLeader), n: viaClient.length + viaLeader.length };
  const tso = client.coordinator.tsoStats;
  process.stdout.write(`TSO: ${tso.requests} timestamps in ${tso.calls} calls (batched)\n`);
} finally {
  client.close();
  await clusterDown(cluster);
}

agent.destroy();
const etcdOps = new Map(rows.filter((r) => r.name.startsWith('etcd')).map((r) => [r.conc, median(r.samples.map((s) => s.opsPerSec))]));
const onePcP50 = new Map(rows.filter((r) => r.name.includes('one-phase')).map((r) => [r.conc, median(r.samples.map((s) => s.p50Ms))]));
process.stdout.write(`\n${'row'.padEnd(44)} ${'clients'.padStart(7)} ${'ops/s'.padStart(8)} ${'p50 ms'.padStart(8)} ${'p99 ms'.padStart(8)} ${'errors'.padStart(6)}  vs etcd   1PC/2PC      note\n`);
for (const r of rows) {
  const ops = median(r.samples.map((s) => s.opsPerSec));
  const p50 = median(r.samples.map((s) => s.p50Ms));
  const base = etcdOps.get(r.conc);
  const vs = base && !r.name.startsWith('etcd') ? `${(ops / base).toFixed(2)}x` : '';
  const phases = r.onePc !== undefined ? `${r.onePc}/${r.twoPc}` : '';
  const note = r.name.includes('two-phase') && onePcP50.get(r.conc) ? `p50 ${(p50 / onePcP50.get(r.conc)!).toFixed(2)}x one-phase` : '';
  process.stdout.write(
    `${r.name.padEnd(44)} ${String(r.conc).padStart(7)} ${ops.toFixed(0).padStart(8)} ${p50.toFixed(2).padStart(8)} ${median(r.samples.map((s) => s.p99Ms)).toFixed(2).padStart(8)} ` +
      `${String(r.samples.reduce((a, s) => a + s.errors, 0)).padStart(6)}  ${vs.padStart(7)}  ${phases.padStart(9)}  ${note}\n`,
  );
}
if (split) {
  process.stdout.write(`\none-phase put, 1 client, ${split.n} puts: TSO call (begin) p50 ${split.tso.toFixed(2)} ms + OnePhaseCommit call p50 ${split.commit.toFixed(2)} ms\n`);
}
if (reads) {
  process.stdout.write(
    `single-key read, 1 client, ${reads.n} reads alternating: TSO + Get p50 ${reads.viaClient.toFixed(2)} ms, Get at version 0 (leader's TSO) p50 ${reads.viaLeader.toFixed(2)} ms ` +
      `(${(reads.viaClient / reads.viaLeader).toFixed(2)}x)\n`,
  );
}
process.stdout.write(`\n(${((Date.now() - started) / 1000).toFixed(1)} s; node ${process.version}; load average ${loadavg().map((l) => l.toFixed(1)).join(' ')})\n`);
