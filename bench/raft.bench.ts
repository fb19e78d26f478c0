// Replicated-write throughput and commit latency of the raft host: three node processes on loopback, LMDB
// with fsync on, 256-byte proposals. Rows: one group at 1 and 64 concurrent proposers (in-process at the
// leader, and through an HTTP client like etcd's), the same with parallel leader append off, and 64 groups
// per process with leaders spread over the three. Baseline in the same run: a 3-member etcd 3.4 on loopback
// through its v3 JSON gateway (/v3/kv/put) with the same HTTP client (rows skipped when `etcd` is absent).
// Prints the median of RUNS runs per row and the ratio to etcd. Never fails on timing.
//
// Run: npm run build && node dist/bench/raft.bench.js   (or: npm run bench -- raft)
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { freePorts, makeTempDir, sleep, waitFor } from '../test/support/env.js';
import { callNode, startNode, stopNode, type NodeProc } from '../test/fixtures/raft-procs.js';
import { agent, etcdAvailable, etcdLeaderPort, httpLoad, sample, startEtcd, stopEtcd, type Sample } from './etcd.js';
import { median } from './stats.js';

const RUNS = Number(process.env.NOKV_BENCH_RUNS ?? 3);
const RUN_MS = Number(process.env.NOKV_BENCH_RUN_MS ?? 2000);
/** Long enough for JIT, gRPC channels and the first LMDB pages to warm up after a cluster starts. */
const WARMUP_MS = 1500;
const VALUE_BYTES = 256;
const MANY_GROUPS = 64;
const NODE = fileURLToPath(new URL('../test/fixtures/raft-bench-node.js', import.meta.url));

interface Row {
  name: string;
  samples: Sample[];
  etcdBaseline?: string;
}

// ---- the HTTP client and etcd cluster shared with the KV benchmark: bench/etcd.ts ----------------------

// ---- raft cluster ----------------------------------------------------------------------------------------

interface RaftCluster {
  nodes: NodeProc[];
  dir: ReturnType<typeof makeTempDir>;
}

async function startRaft(groups: number, parallelAppend: boolean): Promise<RaftCluster> {
  const dir = makeTempDir('nokv-raft-bench-');
  const ports = await freePorts(6);
  const nodes: NodeProc[] = [1, 2, 3].map((id, i) => ({ id, http: ports[3 + i]! }));
  const peers = [1, 2, 3].map((id, i) => `${id}=127.0.0.1:${ports[i]}`).join(',');
  const c = { nodes, dir };
  try {
    await Promise.all(nodes.map((n) => startNode(n, NODE, ['--id', String(n.id), '--dir', join(dir.path, `n${n.id}`), '--peers', peers, '--http', String(n.http),
      '--groups', String(groups), '--value-bytes', String(VALUE_BYTES), '--parallel-append', parallelAppend ? '1' : '0'])));
    // Leaders spread: group g is led by node ((g-1) mod 3)+1; campaign, then hand over any group won elsewhere.
    await waitFor('leaders spread over the nodes', async () => {
      await Promise.all(nodes.map((n) => callNode(n, '/campaign')));
      await Promise.all(nodes.map((n) => callNode(n, '/balance')));
      const sts = await Promise.all(nodes.map((n) => callNode(n, '/status')));
      return sts.every((s) => (s.body.leaders as number[]).every((l, g) => l === (g % 3) + 1));
    }, 30_000, 300);
    return c;
  } catch (err) {
    await stopRaft(c);
    throw err;
  }
}

async function stopRaft(c: RaftCluster): Promise<void> {
  await Promise.all(c.nodes.map((n) => stopNode(n, 'SIGKILL')));
  c.dir.remove();
}

/** In-process proposers on every node for the groups it leads; ops summed, latencies merged. */
async function raftLoad(c: RaftCluster, perGroupConc: number, ms: number): Promise<Sample> {
  const rs = await Promise.all(c.nodes.map((n) => callNode(n, `/load?conc=${perGroupConc}&ms=${ms}`, ms + 30_000)));
  const lat = rs.flatMap((r) => (r.body.latUs as number[]).map((us) => us / 1000));
  return sample(rs.reduce((a, r) => a + r.body.ops, 0), rs.reduce((a, r) => a + r.body.errors, 0), lat, ms);
}

async function fsyncsPerProposal(c: RaftCluster): Promise<string> {
  const st = await Promise.all(c.nodes.map((n) => callNode(n, '/stats')));
  return st.map((s, i) => `node ${c.nodes[i]!.id}: ${s.body.storage.writes} persists in ${s.body.storage.batches} fsyncs`).join('; ');
}

/**
 * Between clusters: flush the previous cluster's dirty pages (a removed data dir still has writeback in
 * flight) and pause, so the next cluster's fsyncs do not pay for the previous one's.
 */
const SETTLE_BETWEEN_CLUSTERS_MS = 2_000;
async function settleDisk(): Promise<void> {
  spawnSync('sync');
  await sleep(SETTLE_BETWEEN_CLUSTERS_MS);
}

// ---- runs ------------------------------------------------------------------------------------------------

async function measure(name: string, run: () => Promise<Sample>, warmup: () => Promise<unknown>): Promise<Row> {
  await warmup();
  const samples: Sample[] = [];
  for (let i = 0; i < RUNS; i++) samples.push(await run());
  return { name, samples };
}

function printRows(rows: Row[], etcd: Map<number, number>): void {
  const pad = (s: string, n: number) => s.padEnd(n);
  process.stdout.write(`\n${pad('row', 52)} ${pad('ops/s', 9)} ${pad('p50 ms', 8)} ${pad('p99 ms', 8)} ${pad('errors', 7)} vs etcd\n`);
  for (const r of rows) {
    const ops = median(r.samples.map((s) => s.opsPerSec));
    const conc = Number(/c=(\d+)/.exec(r.name)?.[1] ?? 0);
    const base = etcd.get(conc);
    const ratio = base && !r.name.startsWith('etcd') ? `${(ops / base).toFixed(2)}x` : '';
    process.stdout.write(`${pad(r.name, 52)} ${pad(ops.toFixed(0), 9)} ${pad(median(r.samples.map((s) => s.p50Ms)).toFixed(2), 8)} ${pad(median(r.samples.map((s) => s.p99Ms)).toFixed(2), 8)} ${pad(String(r.samples.reduce((a, s) => a + s.errors, 0)), 7)} ${ratio}\n`);
  }
}

const started = Date.now();
const rows: Row[] = [];
const etcdOps = new Map<number, number>();
process.stdout.write(`raft replication: 3 processes on loopback, LMDB fsync on, ${VALUE_BYTES}-byte values, ${RUNS} runs x ${RUN_MS} ms per row (medians)\n`);

if (etcdAvailable()) {
  const e = await startEtcd();
  try {
    const port = await etcdLeaderPort(e);
    const val = Buffer.alloc(VALUE_BYTES, 42).toString('base64');
    const body = (n: number) => `{"key":"${Buffer.from(`k${n % 1024}`).toString('base64')}","value":"${val}"}`;
    for (const conc of [1, 64]) {
      const row = await measure(`etcd 3.4 3 members, http client c=${conc}`, () => httpLoad(port, '/v3/kv/put', body, conc, RUN_MS), () => httpLoad(port, '/v3/kv/put', body, conc, WARMUP_MS));
      rows.push(row);
      etcdOps.set(conc, median(row.samples.map((s) => s.opsPerSec)));
    }
  } finally {
    await stopEtcd(e);
    await settleDisk();
  }
} else {
  process.stdout.write('etcd not installed: etcd rows skipped (apt-get install -y etcd-server etcd-client)\n');
}

for (const parallel of [true, false]) {
  const c = await startRaft(1, parallel);
  const tag = parallel ? '' : ', serial leader append';
  try {
    for (const conc of [1, 64]) {
      rows.push(await measure(`raft 1 group, in-process c=${conc}${tag}`, () => raftLoad(c, conc, RUN_MS), () => raftLoad(c, conc, WARMUP_MS)));
    }
    if (parallel) {
      const leaderPort = c.nodes[0]!.http;
      for (const conc of [1, 64]) {
        rows.push(await measure(`raft 1 group, http client c=${conc}`, () => httpLoad(leaderPort, '/put', () => '{}', conc, RUN_MS), () => httpLoad(leaderPort, '/put', () => '{}', conc, WARMUP_MS)));
      }
      process.stdout.write(`group commit (1 group): ${await fsyncsPerProposal(c)}\n`);
    }
  } finally {
    await stopRaft(c);
    await settleDisk();
  }
}

{
  const c = await startRaft(MANY_GROUPS, true);
  try {
    for (const perGroup of [1, 4]) {
      const total = perGroup * MANY_GROUPS;
      rows.push(await measure(`raft ${MANY_GROUPS} groups/process, ${perGroup}/group c=${total}`, () => raftLoad(c, perGroup, RUN_MS), () => raftLoad(c, perGroup, WARMUP_MS)));
    }
    process.stdout.write(`group commit (${MANY_GROUPS} groups): ${await fsyncsPerProposal(c)}\n`);
  } finally {
    await stopRaft(c);
  }
}

agent.destroy();
printRows(rows, etcdOps);
process.stdout.write(`\n(${((Date.now() - started) / 1000).toFixed(1)} s; node ${process.version}; ratios compare equal total concurrency with etcd)\n`);
await sleep(0);
