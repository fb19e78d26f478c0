// Before/after of the fsmeta read path through the stores in ONE run, for a change on the store side (which
// fsmeta-ab.ts cannot see: it swaps only the gateway). Each side is a whole cluster of its own code (a baseline
// commit built by baseline.ts, and this tree), all ten processes, fsync on, on free ports (ab-cluster.ts); both
// clusters stay up and each op runs on them in alternating rounds (baseline, current, current, baseline, ...) so
// both see the same machine load. Per op: Lookup, GetAttr and ReadDirPlus of a 512-entry directory at 1 and 8 clients through
// the cluster's gateway. Besides latency it reads the stores' /debug/vars (nokv_store.reads) to give the store
// reads per fsmeta call and the ReadIndex rounds per store read; a build without that counter ran one round per
// read (every read called readBarrier) and prints "-". Prints medians over rounds of each round's p50 and
// average, the ratio baseline / current (above 1 = the current code is faster) and the per-round ratios.
// Never fails on timing. The two clusters are not interchangeable (leader placement, which processes share a
// core): FSMETA_READS_AB_BASELINE=HEAD runs the same build on both sides and shows this bench's own bias, which
// was up to ~1.4x on a row (docs/benchmarks.md).
//
// Run: npm run build && node dist/bench/fsmeta-reads-ab.js   (FSMETA_READS_AB_BASELINE=<ref> FSMETA_READS_AB_ROUNDS=3
// FSMETA_READS_AB_RUN_MS=3000)
import { loadavg } from 'node:os';
import { nokvBin } from '../src/cluster/layout.js';
import type { Topology } from '../src/config/topology.js';
import { FsClient } from '../test/fixtures/fsmeta-gateway.js';
import { sleep, waitFor } from '../test/support/env.js';
import { upCluster } from './ab-cluster.js';
import { buildBaseline, type Baseline } from './baseline.js';
import { mean, median, percentileOfSorted } from './stats.js';

const REF = process.env.FSMETA_READS_AB_BASELINE ?? 'main';
const ROUNDS = Number(process.env.FSMETA_READS_AB_ROUNDS ?? 3);
const RUN_MS = Number(process.env.FSMETA_READS_AB_RUN_MS ?? 3000);
const CLIENTS = 8;
const BIG = 512;
/** Files per client's home directory (the Lookup and GetAttr targets). */
const HOME_FILES = 16;
/** A shard reports its counters to the store's main thread at least this often (shard.ts REPORT_EVERY_MS). */
const COUNTER_SETTLE_MS = 1_200;
const mount = 'default';

interface Sample {
  p50: number;
  avg: number;
  calls: number;
  errors: number;
  /** Store reads per fsmeta call and ReadIndex rounds per store read (NaN: the build has no counter). */
  readsPerCall: number;
  roundsPerRead: number;
}

interface Side {
  name: string;
  bin: string;
  rounds: Map<string, Sample[]>;
}

type Op = { name: string; conc: number; run: (cl: FsClient, i: number) => Promise<unknown> };

const attrs = (type: string) => ({ type, mode: 0o644, size: 0, created_unix_ns: '1', updated_unix_ns: '1' });

/** Reads and ReadIndex rounds so far, summed over the stores (undefined if a store does not count them). */
async function readCounters(topo: Topology): Promise<{ reads: number; rounds: number } | undefined> {
  let reads = 0;
  let rounds = 0;
  for (const s of topo.stores) {
    const j = (await fetch(`http://${s.metrics_addr}/debug/vars`, { signal: AbortSignal.timeout(3000) }).then((r) => r.json()).catch(() => undefined)) as
      | { nokv_store?: { reads?: { requests: number; read_index_rounds: number } } }
      | undefined;
    const r = j?.nokv_store?.reads;
    if (!r) return undefined;
    reads += r.requests;
    rounds += r.read_index_rounds;
  }
  return { reads, rounds };
}

interface Running {
  side: Side;
  topo: Topology;
  ops: Op[];
  loop: (op: Op, ms: number) => Promise<{ lat: number[]; errors: number }>;
  close(): Promise<void>;
}

/** Brings up `side`'s cluster and seeds it: a directory of BIG files, a home of HOME_FILES files per client. */
async function startSide(side: Side): Promise<Running> {
  const c = await upCluster(side.bin, 'nokv-fsmeta-reads-ab-');
  const clients = Array.from({ length: CLIENTS }, () => new FsClient(c.topo.fsmeta[0]!.addr, c.token));
  const close = async () => {
    for (const cl of clients) cl.close();
    await c.down();
  };
  try {
    await waitFor('the gateway serves mount default', async () => (await clients[0]!.call('GetAttr', { mount, inode: '1' }).catch(() => undefined))?.inode, 60_000, 200);
    const mk = (cl: FsClient, parent: string, name: string, type = 'INODE_TYPE_FILE') => cl.call('Create', { mount, parent, name, attrs: attrs(type) }).then((r: any) => r.inode.inode as string);
    const big = await mk(clients[0]!, '1', 'big', 'INODE_TYPE_DIRECTORY');
    let next = 0;
    await Promise.all(clients.map(async (cl) => {
      for (let i = next++; i < BIG; i = next++) await mk(cl, big, `hot-${String(i).padStart(8, '0')}`);
    }));
    const homes = await Promise.all(clients.map(async (cl, i) => {
      const dir = await mk(cl, '1', `home-${i}`, 'INODE_TYPE_DIRECTORY');
      const files: string[] = [];
      for (let f = 0; f < HOME_FILES; f++) files.push(await mk(cl, dir, `f${f}`));
      return { dir, files, n: 0 };
    }));
    const ops: Op[] = [];
    for (const conc of [1, CLIENTS]) {
      ops.push(
        { name: 'Lookup', conc, run: (cl, i) => cl.call('Lookup', { mount, parent: homes[i]!.dir, name: `f${homes[i]!.n++ % HOME_FILES}` }) },
        { name: 'GetAttr', conc, run: (cl, i) => cl.call('GetAttr', { mount, inode: homes[i]!.files[homes[i]!.n++ % HOME_FILES] }) },
        { name: `ReadDirPlus (${BIG})`, conc, run: async (cl) => {
          const r = await cl.call('ReadDirPlus', { mount, parent: big, limit: BIG });
          if (r.entries.length !== BIG) throw new Error(`short page ${r.entries.length}`);
        } },
      );
    }
    const loop = async (op: Op, ms: number) => {
      const lat: number[] = [];
      let errors = 0;
      const deadline = performance.now() + ms;
      await Promise.all(clients.slice(0, op.conc).map(async (cl, i) => {
        while (performance.now() < deadline) {
          const t0 = performance.now();
          try {
            await op.run(cl, i);
            lat.push(performance.now() - t0);
          } catch {
            errors++;
          }
        }
      }));
      return { lat: lat.sort((a, b) => a - b), errors };
    };
    return { side, topo: c.topo, ops, loop, close };
  } catch (err) {
    await close().catch(() => undefined);
    throw err;
  }
}

/** One round of `op` (index into the side's ops) on a running side. */
async function measure(r: Running, opIndex: number): Promise<void> {
  const op = r.ops[opIndex]!;
  await r.loop(op, 500);
  await sleep(COUNTER_SETTLE_MS);
  const before = await readCounters(r.topo);
  const res = await r.loop(op, RUN_MS);
  await sleep(COUNTER_SETTLE_MS);
  const after = await readCounters(r.topo);
  const reads = before && after ? after.reads - before.reads : NaN;
  const rounds = before && after ? after.rounds - before.rounds : NaN;
  const key = `${op.name} x${op.conc}`;
  const list = r.side.rounds.get(key) ?? [];
  r.side.rounds.set(key, list);
  list.push({ p50: percentileOfSorted(res.lat, 0.5), avg: mean(res.lat), calls: res.lat.length, errors: res.errors, readsPerCall: reads / Math.max(1, res.lat.length + res.errors), roundsPerRead: rounds / reads });
}

const started = Date.now();
const load0 = loadavg();
let baseline: Baseline | undefined;
try {
  baseline = await buildBaseline(REF);
  const sides: Side[] = [
    { name: baseline.ref, bin: baseline.nokvBin, rounds: new Map() },
    { name: 'current', bin: nokvBin(), rounds: new Map() },
  ];
  const loads: string[] = [];
  // Both clusters stay up (the idle one costs each side the same) and every op alternates between them round
  // by round, so a drift of the machine's load lands on both.
  const running: Running[] = [];
  try {
    for (const s of sides) running.push(await startSide(s));
    for (let opIndex = 0; opIndex < running[0]!.ops.length; opIndex++) {
      for (let round = 0; round < ROUNDS; round++) {
        for (const r of round % 2 === 0 ? running : [...running].reverse()) {
          loads.push(loadavg()[0]!.toFixed(1));
          await measure(r, opIndex);
        }
      }
      const op = running[0]!.ops[opIndex]!;
      process.stdout.write(`${op.name} x${op.conc} measured (load average ${loadavg()[0]!.toFixed(1)})\n`);
    }
  } finally {
    for (const r of running) await r.close().catch(() => undefined);
  }
  const [base, cur] = sides as [Side, Side];
  const keys = [...cur.rounds.keys()];
  const m = (s: Side, key: string, f: keyof Sample) => median((s.rounds.get(key) ?? []).map((r) => r[f]));
  const fmt = (x: number, d = 2) => (Number.isFinite(x) ? x.toFixed(d) : '-');
  process.stdout.write(
    `\nfsmeta reads through the stores, A/B of whole clusters: ${base.name} vs current, ${ROUNDS} alternating rounds of ${RUN_MS} ms per op and side, fsync on\n` +
      `| op | clients | ${base.name} p50 ms | current p50 ms | p50 ratio | ${base.name} avg ms | current avg ms | avg ratio | store reads per call b / c | ReadIndex rounds per read b / c | errors b / c |\n` +
      '|---|---|---|---|---|---|---|---|---|---|---|\n',
  );
  for (const key of keys) {
    const [name, conc] = [key.slice(0, key.lastIndexOf(' x')), key.slice(key.lastIndexOf(' x') + 2)];
    const err = (s: Side) => (s.rounds.get(key) ?? []).reduce((a, r) => a + r.errors, 0);
    process.stdout.write(
      `| ${name} | ${conc} | ${fmt(m(base, key, 'p50'))} | ${fmt(m(cur, key, 'p50'))} | ${fmt(m(base, key, 'p50') / m(cur, key, 'p50'))}× | ${fmt(m(base, key, 'avg'))} | ${fmt(m(cur, key, 'avg'))} | ${fmt(m(base, key, 'avg') / m(cur, key, 'avg'))}× | ` +
        `${fmt(m(base, key, 'readsPerCall'), 1)} / ${fmt(m(cur, key, 'readsPerCall'), 1)} | ${fmt(m(base, key, 'roundsPerRead'))} / ${fmt(m(cur, key, 'roundsPerRead'))} | ${err(base)} / ${err(cur)} |\n`,
    );
  }
  // The load of a shared machine drifts between rounds: the ratio within each round (the two sides ran back to
  // back) says more than the ratio of medians.
  process.stdout.write('\nper round, p50 / avg of each side (baseline, current) and the p50 ratio baseline / current:\n');
  for (const key of keys) {
    const per = Array.from({ length: ROUNDS }, (_, r) => {
      const [b, c] = [base.rounds.get(key)?.[r], cur.rounds.get(key)?.[r]];
      return `${fmt(b?.p50 ?? NaN, 1)}/${fmt(b?.avg ?? NaN, 1)} vs ${fmt(c?.p50 ?? NaN, 1)}/${fmt(c?.avg ?? NaN, 1)} (${fmt((b?.p50 ?? NaN) / (c?.p50 ?? NaN))}×)`;
    });
    process.stdout.write(`${key}: ${per.join('; ')}\n`);
  }
  process.stdout.write(`\nload average (1 min) at the start of each measurement: ${loads.join(', ')}\n`);
} finally {
  baseline?.remove();
}
process.stdout.write(`\n(${((Date.now() - started) / 1000).toFixed(1)} s; node ${process.version}; load average before ${load0.map((l) => l.toFixed(1)).join(' ')}, after ${loadavg().map((l) => l.toFixed(1)).join(' ')})\n`);
