// Before/after of the store's write path in ONE run: the code of one or more baseline commits (git archive of
// each ref in KV_AB_BASELINE, comma-separated, default `main`, built in a temp dir) and the current tree, each
// as a whole cluster (all ten processes, fsync on) brought up in turn on free ports, in alternating rounds
// (baseline, current, current, baseline, ...) so every side sees the same machine load. Per round and side:
// one-phase puts at 1 and 64 clients and two-phase puts (one key in each bootstrap region) at 1 client, through
// the store client a cluster user runs (bench/kv.bench.ts has the same ops beside etcd). Besides latency it reads
// each store's group commits from /metrics (nokv_storage_fsync_seconds: one observation per LMDB transaction
// waited to disk) to give transactions per put across the three stores. Prints medians over rounds of each
// round's p50 and ops/s, and the ratio baseline / current (above 1 = the current code is faster). Never fails on
// timing.
//
// Run: npm run build && node dist/bench/kv-ab.js   (KV_AB_BASELINE=main,abc123 KV_AB_ROUNDS=3 KV_AB_RUN_MS=3000)
import { loadavg } from 'node:os';
import { nokvBin } from '../src/cluster/layout.js';
import type { Topology } from '../src/config/topology.js';
import { connectStoreClient } from '../src/store/client/connect.js';
import { upCluster } from './ab-cluster.js';
import { buildBaseline, type Baseline } from './baseline.js';
import { median, percentileOfSorted } from './stats.js';

const REFS = (process.env.KV_AB_BASELINE ?? 'main').split(',').filter((r) => r.length > 0);
const ROUNDS = Number(process.env.KV_AB_ROUNDS ?? 3);
const RUN_MS = Number(process.env.KV_AB_RUN_MS ?? 3000);
const WARMUP_MS = 1500;
const VALUE_BYTES = 256;

interface Side {
  name: string;
  bin: string;
  /** Per row: each round's p50, ops/s and store transactions per put. */
  rounds: Map<string, Array<{ p50: number; ops: number; txnsPerPut: number; errors: number }>>;
}

interface Row {
  name: string;
  conc: number;
  twoRegions: boolean;
}

const ROWS: Row[] = [
  { name: 'one-phase put', conc: 1, twoRegions: false },
  { name: 'one-phase put', conc: 64, twoRegions: false },
  { name: 'two-phase put (2 regions)', conc: 1, twoRegions: true },
];

/** Group commits waited to disk so far, summed over the stores (from their Prometheus text). */
async function storeTxns(topo: Topology): Promise<number> {
  let n = 0;
  for (const s of topo.stores) {
    const text = await fetch(`http://${s.metrics_addr}/metrics`, { signal: AbortSignal.timeout(3000) }).then((r) => r.text()).catch(() => '');
    const m = /^nokv_storage_fsync_seconds_count(?:\{[^}]*\})? (\d+)/m.exec(text);
    n += m ? Number(m[1]) : NaN;
  }
  return n;
}

async function measureSide(side: Side): Promise<void> {
  const c = await upCluster(side.bin, 'nokv-kv-ab-');
  const client = connectStoreClient({ coordinatorAddrs: c.topo.coordinators.map((x) => x.addr), token: c.token });
  try {
    const value = Buffer.alloc(VALUE_BYTES, 7);
    let seq = 0;
    const put = (twoRegions: boolean) => async (w: number) => {
      const n = seq++ % 1024;
      const t = await client.begin();
      if (twoRegions) t.put(Buffer.from(`a/${w}/${n}`), value); // region 1
      t.put(Buffer.from(`n/${w}/${n}`), value); // region 2 (keys from "m")
      await t.commit();
    };
    const loop = async (conc: number, ms: number, op: (w: number) => Promise<void>) => {
      const lat: number[] = [];
      let errors = 0;
      const t0 = performance.now();
      const deadline = t0 + ms;
      await Promise.all(Array.from({ length: conc }, async (_, w) => {
        while (performance.now() < deadline) {
          const s = performance.now();
          try {
            await op(w);
            lat.push(performance.now() - s);
          } catch {
            errors++;
          }
        }
      }));
      return { lat: lat.sort((a, b) => a - b), errors, ms: performance.now() - t0 };
    };
    await loop(1, WARMUP_MS, put(false));
    for (const row of ROWS) {
      const op = put(row.twoRegions);
      await loop(row.conc, 500, op);
      const before = await storeTxns(c.topo);
      const r = await loop(row.conc, RUN_MS, op);
      const txns = (await storeTxns(c.topo)) - before;
      const key = `${row.name} x${row.conc}`;
      const list = side.rounds.get(key) ?? [];
      side.rounds.set(key, list);
      list.push({ p50: percentileOfSorted(r.lat, 0.5), ops: (r.lat.length / r.ms) * 1000, txnsPerPut: txns / Math.max(1, r.lat.length), errors: r.errors });
    }
  } finally {
    client.close();
    await c.down();
  }
}

const started = Date.now();
const load0 = loadavg();
const baselines: Baseline[] = [];
try {
  for (const ref of REFS) baselines.push(await buildBaseline(ref));
  const sides: Side[] = [
    ...baselines.map((b) => ({ name: b.ref, bin: b.nokvBin, rounds: new Map() })),
    { name: 'current', bin: nokvBin(), rounds: new Map() },
  ];
  for (let round = 0; round < ROUNDS; round++) {
    for (const s of round % 2 === 0 ? sides : [...sides].reverse()) {
      process.stdout.write(`round ${round + 1}: ${s.name} (load average ${loadavg()[0]!.toFixed(1)})\n`);
      await measureSide(s);
    }
  }
  const cur = sides[sides.length - 1]!;
  process.stdout.write(
    `\nKV write path A/B: ${sides.map((s) => s.name).join(' vs ')}, ${ROUNDS} alternating rounds of ${RUN_MS} ms per row and side, ${VALUE_BYTES}-byte values, fsync on\n` +
      `| row | clients | ${sides.map((s) => `${s.name} p50 ms`).join(' | ')} | ${sides.map((s) => `${s.name} ops/s`).join(' | ')} | ${sides.map((s) => `${s.name} txns/put`).join(' | ')} | ${sides.slice(0, -1).map((s) => `p50 ${s.name} / current`).join(' | ')} | errors |\n` +
      `|${'---|'.repeat(2 + sides.length * 3 + sides.length - 1 + 1)}\n`,
  );
  for (const row of ROWS) {
    const key = `${row.name} x${row.conc}`;
    const m = (s: Side, f: 'p50' | 'ops' | 'txnsPerPut') => median((s.rounds.get(key) ?? []).map((r) => r[f]));
    const cells = [
      ...sides.map((s) => m(s, 'p50').toFixed(2)),
      ...sides.map((s) => m(s, 'ops').toFixed(0)),
      ...sides.map((s) => m(s, 'txnsPerPut').toFixed(2)),
      ...sides.slice(0, -1).map((s) => `${(m(s, 'p50') / m(cur, 'p50')).toFixed(2)}×`),
      sides.map((s) => (s.rounds.get(key) ?? []).reduce((a, r) => a + r.errors, 0)).join(' / '),
    ];
    process.stdout.write(`| ${row.name} | ${row.conc} | ${cells.join(' | ')} |\n`);
  }
  // The load of a shared machine drifts between rounds: the ratio within each round (the two sides ran back to
  // back) says more than the ratio of medians.
  process.stdout.write('\nper round, p50 of each side (baselines, then current) and the ratio baseline / current:\n');
  for (const row of ROWS) {
    const key = `${row.name} x${row.conc}`;
    const per = Array.from({ length: ROUNDS }, (_, r) => {
      const vals = sides.map((s) => s.rounds.get(key)?.[r]?.p50 ?? NaN);
      return `${vals.map((v) => v.toFixed(1)).join(' / ')} (${sides.slice(0, -1).map((_, i) => `${(vals[i]! / vals[vals.length - 1]!).toFixed(2)}×`).join(', ')})`;
    });
    const ratios = sides.slice(0, -1).map((s) => median(Array.from({ length: ROUNDS }, (_, r) => (s.rounds.get(key)?.[r]?.p50 ?? NaN) / (cur.rounds.get(key)?.[r]?.p50 ?? NaN))));
    process.stdout.write(`${key}: ${per.join('; ')}; median ratio ${ratios.map((x) => `${x.toFixed(2)}×`).join(', ')}\n`);
  }
} finally {
  for (const b of baselines) b.remove();
}
process.stdout.write(`\n(${((Date.now() - started) / 1000).toFixed(1)} s; node ${process.version}; load average before ${load0.map((l) => l.toFixed(1)).join(' ')}, after ${loadavg().map((l) => l.toFixed(1)).join(' ')})\n`);
