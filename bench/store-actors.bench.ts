// Store data plane with regions as actors against a baseline build, in one run: transactions on the two
// bootstrap regions (one-phase and two-phase, 8 clients) and one-phase commits spread over 64 regions (16
// clients), each on three fresh `nokv store` processes. The baseline is a git ref of this repository built in a
// temp dir (NOKV_BASELINE_REF, bench/baseline.ts) or another checkout's build (NOKV_BASELINE, its root:
// bin/nokv.mjs and dist/); without either only this build is measured. Variants run in alternating rounds
// (A B A B) so a change in machine load hits both; medians and ratios are printed. `--workers` variants of this
// build are added with NOKV_BENCH_WORKERS=1,2; NOKV_BASELINE2_REF or NOKV_BASELINE2 names a second baseline
// (e.g. the commit before a change). Never fails on timing.
//
// NOKV_BENCH_SINGLE=0,1,2 instead measures one store that is the bottleneck: store 1 leads every region (stores
// 2 and 3 wait ten times longer before campaigning, so store 1 wins every election, the 64 split children's
// included) and runs with each listed --workers value while stores 2 and 3 stay at --workers 0; ratios are
// against the first value.
//
//   NOKV_BASELINE_REF=main node dist/bench/store-actors.bench.js
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { startStoreCluster, type StoreCluster } from '../test/fixtures/store-cluster.js';
import { sleep } from '../test/support/env.js';
import { buildBaseline, type Baseline } from './baseline.js';
import { median, percentile } from './stats.js';

const ROW_MS = Number(process.env.NOKV_BENCH_ROW_MS ?? 3_000);
const ROUNDS = Number(process.env.NOKV_BENCH_ROUNDS ?? 2);
const REGIONS = 64;
/** A fresh leader takes one-phase commits once its wall-clock floor passed (no coordinators here). */
const FLOOR_WAIT_MS = 5_500;

interface Variant {
  name: string;
  nokv?: string;
  args: string[];
  argsOf?: (storeId: number) => string[];
}

/** Stores other than 1 campaign this much later than the default 10 ticks (see NOKV_BENCH_SINGLE). */
const FOLLOWER_ELECTION_TICKS = 100;

interface Row {
  txnPerSec: number;
  p50: number;
  p99: number;
  onePc: number;
  twoPc: number;
  /** Transactions that failed (counted, not timed; the row goes on). */
  errors: number;
}

async function load(c: StoreCluster, clients: number, keysOf: (w: number, n: number) => [string, string]): Promise<Row> {
  const lat: number[] = [];
  const before = { ...c.client.stats };
  const started = Date.now();
  let seq = 0;
  let errors = 0;
  await Promise.all(
    Array.from({ length: clients }, async (_, w) => {
      while (Date.now() - started < ROW_MS) {
        const n = seq++;
        const t0 = performance.now();
        try {
          const t = await c.client.begin();
          const [a, b] = keysOf(w, n);
          t.put(Buffer.from(a), Buffer.from(`v${n}`));
          t.put(Buffer.from(b), Buffer.from(`v${n}`));
          await t.commit();
          lat.push(performance.now() - t0);
        } catch {
          errors++;
        }
      }
    }),
  );
  const secs = (Date.now() - started) / 1000;
  return { txnPerSec: lat.length / secs, p50: percentile(lat, 0.5), p99: percentile(lat, 0.99), onePc: c.client.stats.onePc - before.onePc, twoPc: c.client.stats.twoPc - before.twoPc, errors };
}

/** Splits region 1 at k/63, k/62, ... k/01 (always region 1, so no routing is needed), then waits for leaders. */
async function splitInto(c: StoreCluster, regions: number): Promise<void> {
  const key = (i: number) => `k/${String(i).padStart(2, '0')}`;
  for (let i = regions - 1; i >= 1; i--) {
    for (let attempt = 0; ; attempt++) {
      const leader = await c.leaderOf(1);
      const list = await c.client.callStore<any>(leader, 'ListRegions', {}, 2_000);
      const r1 = list.regions.find((r: any) => Number(r.descriptor.region_id) === 1);
      try {
        await c.client.callStore(leader, 'SplitRegion', { context: { region_id: 1, epoch: r1.descriptor.epoch }, split_key: Buffer.from(key(i)), new_region_id: 100 + i }, 5_000);
        break;
      } catch (err) {
        if (attempt > 20) throw err;
        await sleep(100);
      }
    }
  }
  for (let i = 1; i < regions; i++) await c.leaderOf(100 + i, 30_000);
}

async function measure(v: Variant): Promise<Record<string, Row>> {
  const c = await startStoreCluster(v.args, { ...(v.nokv ? { nokv: v.nokv } : {}), ...(v.argsOf ? { argsOf: v.argsOf } : {}) });
  try {
    await Promise.all([c.leaderOf(1), c.leaderOf(2)]);
    await sleep(FLOOR_WAIT_MS);
    const out: Record<string, Row> = {};
    out['1pc, 2 regions, 8 clients'] = await load(c, 8, (w, n) => [`a/${w}/${n}`, `b/${w}/${n}`]);
    out['2pc, 2 regions, 8 clients'] = await load(c, 8, (w, n) => [`a/${w}/${n}`, `z/${w}/${n}`]);
    await splitInto(c, REGIONS);
    // Learn the 64 regions now: a build whose stores answer a stale epoch in an older error format (the
    // baseline) would otherwise fail the first commits of the row instead of healing the route.
    await c.client.refreshRoutes();
    await sleep(FLOOR_WAIT_MS);
    out[`1pc, ${REGIONS} regions, 16 clients`] = await load(c, 16, (w, n) => {
      const r = String((w * 7 + n) % REGIONS).padStart(2, '0');
      return [`k/${r}/${w}/${n}/a`, `k/${r}/${w}/${n}/b`];
    });
    if (v.argsOf) {
      // The row is only meaningful if store 1 led what was loaded.
      const led = await c.client.callStore<any>(1, 'ListRegions', {}, 5_000);
      const leading = led.regions.filter((r: any) => r.is_leader).length;
      process.stdout.write(`  (${v.name}: store 1 leads ${leading} of ${led.regions.length} regions)\n`);
    }
    return out;
  } finally {
    await c.stop();
  }
}

/** Baselines built from a ref here; removed when the bench ends, however it ends. */
const built: Baseline[] = [];

/** The `nokv` launcher of the baseline that `<name>` (a checkout's root) or `<name>_REF` (a git ref) names. */
async function baselineBin(name: string): Promise<string | undefined> {
  const dir = process.env[name];
  const ref = process.env[`${name}_REF`];
  if (dir && ref) throw new Error(`set ${name} or ${name}_REF, not both`);
  if (dir) return join(dir, 'bin', 'nokv.mjs');
  if (!ref) return undefined;
  process.stdout.write(`building ${ref} in a temp dir for ${name}_REF...\n`);
  const b = await buildBaseline(ref);
  built.push(b);
  process.stdout.write(`${name}_REF ${ref} is ${b.ref}\n`);
  return b.nokvBin;
}

async function main(): Promise<void> {
  const variants: Variant[] = [];
  const single = (process.env.NOKV_BENCH_SINGLE ?? '').split(',').filter(Boolean);
  if (single.length > 0) {
    for (const w of single) {
      variants.push({
        name: `store 1 at --workers ${w}`,
        args: [],
        argsOf: (id) => (id === 1 ? ['--workers', w] : ['--workers', '0', '--election-ticks', String(FOLLOWER_ELECTION_TICKS)]),
      });
    }
  } else {
    variants.push({ name: 'this build, --workers 0', args: ['--workers', '0'] });
    const nokv2 = await baselineBin('NOKV_BASELINE2');
    if (nokv2) variants.unshift({ name: 'baseline 2', nokv: nokv2, args: [] });
    const nokv1 = await baselineBin('NOKV_BASELINE');
    if (nokv1) variants.unshift({ name: 'baseline', nokv: nokv1, args: [] });
    for (const w of (process.env.NOKV_BENCH_WORKERS ?? '').split(',').filter(Boolean)) variants.push({ name: `this build, --workers ${w}`, args: ['--workers', w] });
  }

  const results = new Map<string, Array<Record<string, Row>>>(variants.map((v) => [v.name, []]));
  for (let round = 0; round < ROUNDS; round++) {
    for (const v of variants) {
      const r = await measure(v);
      results.get(v.name)!.push(r);
      process.stdout.write(`round ${round + 1} ${v.name}: ${Object.entries(r).map(([k, x]) => `${k} ${x.txnPerSec.toFixed(0)} txn/s p50 ${x.p50.toFixed(1)} ms`).join('; ')}\n`);
    }
  }

  const base = variants[0]!.name;
  const rowsOf = Object.keys(results.get(base)![0]!);
  process.stdout.write(`\nstore data plane, 3 store processes on loopback, ${ROW_MS / 1000} s per row, median of ${ROUNDS} rounds; ratios against "${base}"; load ${loadavg().map((x) => x.toFixed(1)).join(' ')}\n`);
  for (const row of rowsOf) {
    process.stdout.write(`\n${row}\n`);
    const med = (name: string, f: (x: Row) => number) => median(results.get(name)!.map((r) => f(r[row]!)));
    const b = { tps: med(base, (x) => x.txnPerSec), p50: med(base, (x) => x.p50) };
    for (const v of variants) {
      const tps = med(v.name, (x) => x.txnPerSec);
      const p50 = med(v.name, (x) => x.p50);
      const p99 = med(v.name, (x) => x.p99);
      const one = results.get(v.name)!.reduce((n, r) => n + r[row]!.onePc, 0);
      const two = results.get(v.name)!.reduce((n, r) => n + r[row]!.twoPc, 0);
      const errs = results.get(v.name)!.reduce((n, r) => n + r[row]!.errors, 0);
      process.stdout.write(
        `  ${v.name.padEnd(26)} ${tps.toFixed(0).padStart(6)} txn/s (x${(tps / b.tps).toFixed(2)})   p50 ${p50.toFixed(1).padStart(6)} ms (x${(p50 / b.p50).toFixed(2)})   p99 ${p99.toFixed(1).padStart(6)} ms   1PC/2PC ${one}/${two}   errors ${errs}\n`,
      );
    }
  }
}

try {
  await main();
} finally {
  for (const b of built) b.remove();
}
