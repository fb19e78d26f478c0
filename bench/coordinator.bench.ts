// Benchmark of the coordinator's in-process paths: the pure window allocators (values per second when the
// window holds), and the lease holder's AllocID/Tso on an in-process root (window refills included), which
// bounds what the gRPC front can serve (each call is an ask to the holder actor). Medians of RUNS runs.
import { ActorSystem } from '../src/actors/index.js';
import { SystemClock } from '../src/common/clock.js';
import { SeededPrng } from '../src/common/prng.js';
import { silentLogger } from '../src/common/log.js';
import { WindowAllocator, idPolicy, tsoPolicy } from '../src/coordinator/allocator.js';
import { LeaseHolder } from '../src/coordinator/holder.js';
import { leaseTiming } from '../src/coordinator/lease.js';
import { startViewParts } from '../test/fixtures/coordinator-view.js';
import { FakeRoot } from '../test/fixtures/coordinator-fake-root.js';
import { median } from './stats.js';

const RUNS = 5;

function allocatorRate(policy: typeof idPolicy, n: number): number {
  const a = new WindowAllocator(policy);
  a.reset('0');
  a.raised(1n << 62n);
  const now = Date.now();
  const t0 = performance.now();
  for (let i = 0; i < n; i++) a.plan(1, now);
  return Math.round(n / ((performance.now() - t0) / 1000));
}

async function holderRate(duty: 'id' | 'tso', n: number): Promise<{ rate: number; fences: number }> {
  const clock = new SystemClock();
  const root = new FakeRoot(clock);
  const actors = await ActorSystem.start({ role: 'bench', clock, logger: silentLogger() });
  const parts = await startViewParts(actors, root);
  const view = parts.view;
  const holder = new LeaseHolder({ selfId: 'bench', timing: leaseTiming(3000, 1000), root, view, actors, prng: new SeededPrng(1) });
  await holder.start();
  while (!(await holder.status()).serving) await new Promise((r) => setTimeout(r, 5));
  const t0 = performance.now();
  for (let i = 0; i < n; i++) await holder.allocate(duty, 1);
  const rate = Math.round(n / ((performance.now() - t0) / 1000));
  const fences = holder.metrics.fences;
  await holder.stop();
  const stopped = parts.stop();
  root.close(); // wakes the view's pending long-poll
  await stopped;
  await actors.shutdown();
  return { rate, fences };
}

const rows: Array<[string, string]> = [];
rows.push(['allocator plan(), ids/s', String(median(Array.from({ length: RUNS }, () => allocatorRate(idPolicy, 1_000_000))))]);
rows.push(['allocator plan(), timestamps/s', String(median(Array.from({ length: RUNS }, () => allocatorRate(tsoPolicy, 1_000_000))))]);
for (const duty of ['id', 'tso'] as const) {
  const xs: number[] = [];
  let fences = 0;
  for (let i = 0; i < RUNS; i++) {
    const r = await holderRate(duty, 50_000);
    xs.push(r.rate);
    fences = r.fences;
  }
  rows.push([`holder.allocate('${duty}') on an in-process root, calls/s`, `${median(xs)} (${fences} fences per 50000 calls)`]);
}
const w = Math.max(...rows.map((r) => r[0].length));
for (const [k, v] of rows) process.stdout.write(`${k.padEnd(w)}  ${v}\n`);
