// Lease holder placement, in one run and one process: holder.allocate('tso', 1) — what each Tso RPC asks the
// holder actor — with the holder on the main thread (an ActorSystem with workers 0) and on worker thread 1 (an
// ActorSystem with workers 1: the call crosses to the worker and back, and each window refill's fenced root
// commit crosses back to the main thread's port actor), against the same kind of in-process root. Rows: one
// caller in sequence (latency p50/p99 and calls/s) and 32 concurrent callers (calls/s). Placements alternate,
// and which goes first alternates, ROUNDS times; medians over the rounds and w1/w0 ratios. Never fails on timing.
//
// Run: npm run build && node dist/bench/coordinator-workers.bench.js   (NOKV_BENCH_ROUNDS, NOKV_BENCH_CALLS)
import { loadavg } from 'node:os';
import { ActorSystem } from '../src/actors/index.js';
import { SystemClock } from '../src/common/clock.js';
import { SeededPrng } from '../src/common/prng.js';
import { silentLogger } from '../src/common/log.js';
import { LeaseHolder } from '../src/coordinator/holder.js';
import { leaseTiming } from '../src/coordinator/lease.js';
import { startViewParts } from '../test/fixtures/coordinator-view.js';
import { FakeRoot } from '../test/fixtures/coordinator-fake-root.js';
import { median, percentile } from './stats.js';

const ROUNDS = Number(process.env.NOKV_BENCH_ROUNDS ?? 5);
const CALLS = Number(process.env.NOKV_BENCH_CALLS ?? 5_000);
const CONCURRENCY = 32;

interface Sample {
  p50Us: number;
  p99Us: number;
  seqRate: number;
  parRate: number;
}

async function sample(workers: number): Promise<Sample> {
  const clock = new SystemClock();
  const root = new FakeRoot(clock);
  const actors = await ActorSystem.start({ role: 'bench', workers, clock, logger: silentLogger(), logLevel: 'silent' });
  const parts = await startViewParts(actors, root);
  const holder = new LeaseHolder({ selfId: 'bench', timing: leaseTiming(3000, 1000), root, view: parts.view, actors, prng: new SeededPrng(1) });
  try {
    await holder.start();
    while (!(await holder.status()).serving) await new Promise((r) => setTimeout(r, 5));
    for (let i = 0; i < 200; i++) await holder.allocate('tso', 1); // warm-up
    const lat: number[] = [];
    const t0 = performance.now();
    for (let i = 0; i < CALLS; i++) {
      const s = performance.now();
      await holder.allocate('tso', 1);
      lat.push((performance.now() - s) * 1000);
    }
    const seqRate = CALLS / ((performance.now() - t0) / 1000);
    const t1 = performance.now();
    await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
      for (let i = 0; i < CALLS / CONCURRENCY; i++) await holder.allocate('tso', 1);
    }));
    const parRate = CALLS / ((performance.now() - t1) / 1000);
    return { p50Us: median(lat), p99Us: percentile(lat, 0.99), seqRate, parRate };
  } finally {
    await holder.stop();
    const stopped = parts.stop();
    root.close(); // wakes the view's pending long-poll
    await stopped;
    await actors.shutdown();
  }
}

const load = [loadavg()[0]!];
const out: Record<'w0' | 'w1', Sample[]> = { w0: [], w1: [] };
for (let r = 0; r < ROUNDS; r++) {
  const order: Array<0 | 1> = r % 2 === 0 ? [0, 1] : [1, 0];
  for (const w of order) out[w === 0 ? 'w0' : 'w1'].push(await sample(w));
  load.push(loadavg()[0]!);
}
const m = (k: 'w0' | 'w1', f: keyof Sample) => median(out[k].map((s) => s[f]));
console.log(`lease holder allocate('tso', 1), ${ROUNDS} rounds x ${CALLS} calls per placement (median over rounds); load average ${load.map((l) => l.toFixed(1)).join(' -> ')}`);
console.log(`${'row'.padEnd(30)} ${'w0'.padStart(10)} ${'w1'.padStart(10)} ${'w1/w0'.padStart(7)}`);
for (const [name, f] of [['1 caller p50 (us)', 'p50Us'], ['1 caller p99 (us)', 'p99Us'], ['1 caller calls/s', 'seqRate'], [`${CONCURRENCY} callers calls/s`, 'parRate']] as const) {
  console.log(`${name.padEnd(30)} ${m('w0', f).toFixed(0).padStart(10)} ${m('w1', f).toFixed(0).padStart(10)} ${(m('w1', f) / m('w0', f)).toFixed(2).padStart(7)}`);
}
