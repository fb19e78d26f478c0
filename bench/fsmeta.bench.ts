// fsmeta gateway benchmarks over gRPC on loopback, 8 clients, in the shape of the reference harness:
//   checkpoint-storm  mkdir 16 directories, then 8 clients create 16 x 32 files round-robin across them;
//   hotspot-fanin     mkdir, seed 512 files sequentially, then 8 clients x N ReadDirPlus of the whole
//                     directory in one page; measured in the same run against a generic-KV baseline that
//                     reads the page as one scan (ReadDir) plus 512 sequential point gets (GetAttr at the
//                     scan's read_version), i.e. N+1 round trips instead of one;
//   watch-notify      (stores only) one WatchSubtree on a directory, creates in it one at a time: time from
//                     sending the Create to receiving its event.
//   one-dir-storm     (stores only) 64 clients create 2,048 files in one directory: creates/s.
// Every row prints upstream's published figure for the same workload and upstream avg / our avg (above 1 = we
// are faster). Then (stores only) the targets of the fsmeta work, and a summary of every fsmeta RPC at 1 and 8
// clients (p50, p99, ops/s = clients / average latency).
// A third mode, FSMETA_BENCH_MODE=ab FSMETA_BENCH_BASELINE=<git ref>, runs only a before/after table of the
// hot RPCs: the baseline's gateway and this tree's on one cluster, in alternating rounds (fsmeta-ab.ts).
// Two modes, both by default (FSMETA_BENCH_MODE=memory|stores picks one): the gateway in this process on the
// in-memory KV, and the `nokv fsmeta` process of a real cluster (`nokv cluster up` on free ports: three
// raft-replicated stores, coordinators, meta-roots) on mount `default`. Latencies are avg/p50/p95/p99 by the
// index rule of bench/stats.ts (sorted[min(n-1, floor(n*p))], at most one rank above the reference's
// sorted[int((n-1)p)]); throughput is over the op phase only. Never fails on timing.
import { status as grpcStatus } from '@grpc/grpc-js';
import { SystemClock } from '../src/common/clock.js';
import { startGateway } from '../src/gateway/gateway.js';
import { MemoryDuties } from '../src/gateway/memory-duties.js';
import { MemoryKv } from '../src/gateway/memory-kv.js';
import { fsmetaClusterUp } from '../test/fixtures/fsmeta-cluster.js';
import { buildBaseline } from './baseline.js';
import { runAb } from './fsmeta-ab.js';
import { FsClient } from '../test/fixtures/fsmeta-gateway.js';
import { mean, median, percentile, summarize } from './stats.js';

const CLIENTS = 8;
const STORM_DIRS = 16;
const STORM_FILES_PER_DIR = 32;
const HOT_FILES = 512;
/** ReadDirPlus calls per client (upstream's 16); the generic-KV driver (513 round trips a read) makes fewer. */
const HOT_READS_PER_CLIENT = 16;
const GENERIC_READS_PER_CLIENT = { memory: 16, stores: 3 };
/** The one-directory storm: clients and creates. */
const STORM_CLIENTS = 64;
const STORM_CREATES = 2_048;
/** Each op of the per-RPC summary runs this long at each concurrency. */
const SUMMARY_MS = Number(process.env.FSMETA_BENCH_SUMMARY_MS ?? 1_500);
/** The A/B table (FSMETA_BENCH_MODE=ab): rounds per op and side, and their length. */
const AB_ROUNDS = Number(process.env.FSMETA_BENCH_AB_ROUNDS ?? 4);
const AB_ROUND_MS = Number(process.env.FSMETA_BENCH_AB_ROUND_MS ?? 1_000);

/** Upstream's published averages and p50s (ms) of the same workloads (Docker Compose, 3 stores, 8 clients). */
const UPSTREAM: Record<string, { avg: number; p50: number }> = {
  'checkpoint-storm/mkdir native': { avg: 158.82, p50: 158.6 },
  'checkpoint-storm/create_checkpoint native': { avg: 338.55, p50: 242.78 },
  'hotspot-fanin/seed_create native': { avg: 165.07, p50: 160.62 },
  'hotspot-fanin/readdirplus native': { avg: 12.02, p50: 11.34 },
  'hotspot-fanin/readdirplus generic-kv': { avg: 510.29, p50: 508.72 },
  'watch-notify/create_to_event native': { avg: 222.81, p50: 178.08 },
};
const WATCH_EVENTS = 100;
/** Bound on waiting for one watch event before it counts as an error. */
const WATCH_EVENT_TIMEOUT_MS = 10_000;

type Mode = 'memory' | 'stores';

/** One gateway under test: its clients, the mount to use and how many hotspot reads each client makes. */
interface Target {
  mode: Mode;
  clients: FsClient[];
  mount: string;
}

interface Row {
  workload: string;
  driver: string;
  op: string;
  lat: number[];
  errors: number;
  phaseMs: number;
}

let rows: Row[] = [];

async function timed(row: Row, fn: () => Promise<unknown>): Promise<void> {
  const t0 = performance.now();
  try {
    await fn();
  } catch {
    row.errors++;
  }
  row.lat.push(performance.now() - t0);
}

function newRow(workload: string, driver: string, op: string): Row {
  const r = { workload, driver, op, lat: [], errors: 0, phaseMs: 0 };
  rows.push(r);
  return r;
}

async function phase(row: Row, fn: () => Promise<void>): Promise<void> {
  const t0 = performance.now();
  await fn();
  row.phaseMs = performance.now() - t0;
}

const attrs = (type: string, mode: number) => ({ type, mode, size: 0, created_unix_ns: '1', updated_unix_ns: '1' });

async function checkpointStorm({ clients, mount: MOUNT }: Target): Promise<void> {
  const c = clients[0]!;
  const mkdir = newRow('checkpoint-storm', 'native', 'mkdir');
  const dirs: string[] = [];
  await phase(mkdir, async () => {
    for (let d = 0; d < STORM_DIRS; d++) {
      await timed(mkdir, async () => dirs.push((await c.call('Create', { mount: MOUNT, parent: '1', name: `storm-dir-${String(d).padStart(4, '0')}`, attrs: attrs('INODE_TYPE_DIRECTORY', 0o755) })).inode.inode));
    }
  });
  const create = newRow('checkpoint-storm', 'native', 'create_checkpoint');
  let next = 0;
  const total = STORM_DIRS * STORM_FILES_PER_DIR;
  await phase(create, async () => {
    await Promise.all(
      clients.map(async (cl) => {
        for (let idx = next++; idx < total; idx = next++) {
          const parent = dirs[idx % STORM_DIRS]!;
          await timed(create, () => cl.call('Create', { mount: MOUNT, parent, name: `storm-file-${String(idx).padStart(8, '0')}`, attrs: attrs('INODE_TYPE_FILE', 0o644) }));
        }
      }),
    );
  });
}

async function hotspotFanin({ clients, mount: MOUNT, mode }: Target): Promise<void> {
  const c = clients[0]!;
  const dir = (await c.call('Create', { mount: MOUNT, parent: '1', name: 'hotspot', attrs: attrs('INODE_TYPE_DIRECTORY', 0o755) })).inode.inode as string;
  const seed = newRow('hotspot-fanin', 'native', 'seed_create');
  await phase(seed, async () => {
    for (let i = 0; i < HOT_FILES; i++) await timed(seed, () => c.call('Create', { mount: MOUNT, parent: dir, name: `hot-${String(i).padStart(8, '0')}`, attrs: attrs('INODE_TYPE_FILE', 0o644) }));
  });
  const native = newRow('hotspot-fanin', 'native', 'readdirplus');
  const generic = newRow('hotspot-fanin', 'generic-kv', 'readdirplus');
  const nativeRead = async (cl: FsClient) => {
    const r = await cl.call('ReadDirPlus', { mount: MOUNT, parent: dir, limit: HOT_FILES });
    if (r.entries.length !== HOT_FILES) throw new Error(`short page ${r.entries.length}`);
  };
  const genericRead = async (cl: FsClient) => {
    const page = await cl.call('ReadDir', { mount: MOUNT, parent: dir, limit: HOT_FILES });
    for (const e of page.entries) await cl.call('GetAttr', { mount: MOUNT, inode: e.inode, snapshot_version: page.read_version });
    if (page.entries.length !== HOT_FILES) throw new Error(`short page ${page.entries.length}`);
  };
  for (const [row, read, reads] of [[native, nativeRead, HOT_READS_PER_CLIENT], [generic, genericRead, GENERIC_READS_PER_CLIENT[mode]]] as const) {
    await phase(row, async () => {
      await Promise.all(clients.map(async (cl) => {
        for (let i = 0; i < reads; i++) await timed(row, () => read(cl));
      }));
    });
  }
  if (mode === 'stores') {
    const single = newRow('hotspot-fanin', 'native', 'readdirplus, 1 client');
    await phase(single, async () => {
      for (let i = 0; i < HOT_READS_PER_CLIENT; i++) await timed(single, () => nativeRead(clients[0]!));
    });
  }
}

function print(): void {
  const f = (n: number) => n.toFixed(2).padStart(9);
  process.stdout.write(`${'workload/op'.padEnd(38)} ${'driver'.padEnd(10)} ${'count'.padStart(6)} ${'err'.padStart(4)} ${'ops/s'.padStart(9)} ${'avg ms'.padStart(9)} ${'p50'.padStart(9)} ${'p95'.padStart(9)} ${'p99'.padStart(9)}   upstream avg / p50 -> upstream/ours\n`);
  for (const r of rows) {
    const s = summarize(r.lat);
    const thr = s.count / (r.phaseMs / 1000);
    const up = UPSTREAM[`${r.workload}/${r.op} ${r.driver}`];
    const vs = up ? `   ${up.avg.toFixed(2)} / ${up.p50.toFixed(2)} ms -> ${(up.avg / s.avg).toFixed(2)}x` : '';
    process.stdout.write(`${`${r.workload}/${r.op}`.padEnd(38)} ${r.driver.padEnd(10)} ${String(s.count).padStart(6)} ${String(r.errors).padStart(4)} ${f(thr)} ${f(s.avg)} ${f(s.p50)} ${f(s.p95)} ${f(s.p99)}${vs}\n`);
  }
  const nat = rows.find((r) => r.driver === 'native' && r.op === 'readdirplus')!;
  const gen = rows.find((r) => r.driver === 'generic-kv')!;
  const stat = (r: Row, p?: number) => (p === undefined ? mean(r.lat) : percentile(r.lat, p));
  process.stdout.write(
    `\nReadDirPlus of ${HOT_FILES} entries, generic-kv / native: avg ${(stat(gen) / stat(nat)).toFixed(1)}x, p50 ${(stat(gen, 0.5) / stat(nat, 0.5)).toFixed(1)}x, ` +
      `p95 ${(stat(gen, 0.95) / stat(nat, 0.95)).toFixed(1)}x, p99 ${(stat(gen, 0.99) / stat(nat, 0.99)).toFixed(1)}x (upstream 42.5x avg)\n`,
  );
}

/** Creates one file at a time in a watched directory; each latency is Create sent → its event received. */
async function watchNotify({ clients, mount }: Target): Promise<void> {
  const [c, writer] = [clients[0]!, clients[1]!];
  const dir = (await c.call('Create', { mount, parent: '1', name: 'watch-notify', attrs: attrs('INODE_TYPE_DIRECTORY', 0o755) })).inode.inode as string;
  const stream = c.watch();
  const waiting = new Map<string, () => void>();
  let ready!: () => void;
  const isReady = new Promise<void>((r) => (ready = r));
  stream.on('data', (m: any) => {
    if (m.body === 'ready') return ready();
    stream.write({ ack: { cursor: m.event.cursor } });
    waiting.get(String(m.event.name))?.();
  });
  stream.on('error', () => undefined);
  stream.write({ subscribe: { mount, root_inode: dir } });
  await isReady;
  const row = newRow('watch-notify', 'native', 'create_to_event');
  try {
    await phase(row, async () => {
      for (let i = 0; i < WATCH_EVENTS; i++) {
        const name = `w-${i}`;
        await timed(row, async () => {
          const seen = new Promise<void>((resolve, reject) => {
            const timer = setTimeout(() => reject(new Error('no event')), WATCH_EVENT_TIMEOUT_MS);
            waiting.set(name, () => (clearTimeout(timer), resolve()));
          });
          await writer.call('Create', { mount, parent: dir, name, attrs: attrs('INODE_TYPE_FILE', 0o644) });
          await seen;
        });
        waiting.delete(name);
      }
    });
  } finally {
    stream.cancel();
  }
}

/** 64 clients create into one directory: the creates/s a hot directory sustains (none may conflict). */
async function oneDirStorm(addr: string, token: string, mount: string): Promise<Row> {
  const clients = Array.from({ length: STORM_CLIENTS }, () => new FsClient(addr, token));
  try {
    const dir = (await clients[0]!.call('Create', { mount, parent: '1', name: 'one-dir-storm', attrs: attrs('INODE_TYPE_DIRECTORY', 0o755) })).inode.inode as string;
    const row = newRow('one-dir-storm', 'native', `create, ${STORM_CLIENTS} clients`);
    let next = 0;
    await phase(row, async () => {
      await Promise.all(clients.map(async (cl) => {
        for (let i = next++; i < STORM_CREATES; i = next++) await timed(row, () => cl.call('Create', { mount, parent: dir, name: `f-${i}`, attrs: attrs('INODE_TYPE_FILE', 0o644) }));
      }));
    });
    return row;
  } finally {
    for (const c of clients) c.close();
  }
}

interface SummaryLine {
  op: string;
  conc: number;
  lat: number[];
  errors: number;
  /** gRPC status name → count, so an error row says what it was. */
  codes: Map<string, number>;
}

/** The status name of a failed call (FsClient rejects with grpc-js's ServiceError). */
const statusName = (err: unknown): string => {
  const code = (err as { code?: unknown })?.code;
  return typeof code === 'number' ? (grpcStatus[code] ?? String(code)) : 'error';
};

/**
 * Every fsmeta RPC at 1 and 8 clients for SUMMARY_MS each: p50, p99, and ops/s as clients / average latency
 * (so the untimed setup some ops need between calls does not count). Each client works in directories of its
 * own, so the ops do not contend with each other.
 */
async function summary(addr: string, token: string, mount: string): Promise<SummaryLine[]> {
  const clients = Array.from({ length: CLIENTS }, () => new FsClient(addr, token));
  const out: SummaryLine[] = [];
  const ns = (ms: number) => (BigInt(Date.now() + ms) * 1_000_000n).toString();
  const mk = (cl: FsClient, parent: string, name: string, type = 'INODE_TYPE_FILE') => cl.call('Create', { mount, parent, name, attrs: attrs(type, 0o644) }).then((r: any) => r.inode.inode as string);
  try {
    const base = await mk(clients[0]!, '1', 'summary', 'INODE_TYPE_DIRECTORY');
    // Per client: a directory with 64 files (listed, looked up, updated) and a file for sessions, links, renames.
    const homes = await Promise.all(clients.map(async (cl, i) => {
      const dir = await mk(cl, base, `c${i}`, 'INODE_TYPE_DIRECTORY');
      const files: string[] = [];
      for (let f = 0; f < 64; f++) files.push(await mk(cl, dir, `f${f}`));
      // Where the renamed files are now: a rename's direction follows a successful one, so no rename names
      // a source that an earlier rename moved away (which is what the 8-client rows once counted as errors).
      return { dir, files, n: 0, renamed: false, moved: false };
    }));
    type Op = { name: string; run: (cl: FsClient, h: (typeof homes)[number], timed: (fn: () => Promise<unknown>) => Promise<void>) => Promise<void> };
    const ops: Op[] = [
      { name: 'Create', run: (cl, h, t) => t(() => mk(cl, h.dir, `n${h.n++}`)) },
      { name: 'Lookup', run: (cl, h, t) => t(() => cl.call('Lookup', { mount, parent: h.dir, name: `f${h.n++ % 64}` })) },
      { name: 'GetAttr', run: (cl, h, t) => t(() => cl.call('GetAttr', { mount, inode: h.files[h.n++ % 64] })) },
      { name: 'ReadDir (64)', run: (cl, h, t) => t(() => cl.call('ReadDir', { mount, parent: h.dir, limit: 64 })) },
      { name: 'ReadDirPlus (64)', run: (cl, h, t) => t(() => cl.call('ReadDirPlus', { mount, parent: h.dir, limit: 64 })) },
      { name: 'UpdateInode', run: (cl, h, t) => t(() => cl.call('UpdateInode', { mount, parent: h.dir, name: 'f0', inode: h.files[0], set_size: true, size: h.n++ })) },
      { name: 'Rename', run: (cl, h, t) => t(async () => {
        await cl.call('Rename', { mount, from_parent: h.dir, from_name: h.renamed ? 'r1' : 'f1', to_parent: h.dir, to_name: h.renamed ? 'f1' : 'r1' });
        h.renamed = !h.renamed;
      }) },
      { name: 'RenameSubtree', run: (cl, h, t) => t(async () => {
        await cl.call('RenameSubtree', { mount, from_parent: h.dir, from_name: h.moved ? 's1' : 'f2', to_parent: h.dir, to_name: h.moved ? 'f2' : 's1' });
        h.moved = !h.moved;
      }) },
      { name: 'Link', run: (cl, h, t) => t(() => cl.call('Link', { mount, from_parent: h.dir, from_name: 'f3', to_parent: h.dir, to_name: `l${h.n++}` })) },
      { name: 'Unlink', run: async (cl, h, t) => {
        await mk(cl, h.dir, `u${h.n}`);
        await t(() => cl.call('Unlink', { mount, parent: h.dir, name: `u${h.n++}` }));
      } },
      { name: 'RemoveDirectory', run: async (cl, h, t) => {
        await mk(cl, h.dir, `d${h.n}`, 'INODE_TYPE_DIRECTORY');
        await t(() => cl.call('RemoveDirectory', { mount, parent: h.dir, name: `d${h.n++}` }));
      } },
      { name: 'GetQuotaUsage', run: (cl, _h, t) => t(() => cl.call('GetQuotaUsage', { mount, scope: 0 })) },
      { name: 'SnapshotSubtree + Retire', run: (cl, h, t) => t(async () => {
        const snap = await cl.call('SnapshotSubtree', { mount, root_inode: h.dir });
        await cl.call('RetireSnapshotSubtree', { mount, root_inode: h.dir, read_version: snap.read_version });
      }) },
      { name: 'Open+Heartbeat+CloseWriteSession', run: (cl, h, t) => t(async () => {
        const session = `s-${h.dir}-${h.n++}`;
        await cl.call('OpenWriteSession', { mount, inode: h.files[4], session, expires_unix_ns: ns(60_000) });
        await cl.call('HeartbeatWriteSession', { mount, inode: h.files[4], session, expires_unix_ns: ns(120_000) });
        await cl.call('CloseWriteSession', { mount, session });
      }) },
      { name: 'ExpireWriteSessions', run: (cl, _h, t) => t(() => cl.call('ExpireWriteSessions', { mount, limit: 16 })) },
    ];
    for (const op of ops) {
      for (const conc of [1, CLIENTS]) {
        const line: SummaryLine = { op: op.name, conc, lat: [], errors: 0, codes: new Map() };
        const deadline = performance.now() + SUMMARY_MS;
        await Promise.all(clients.slice(0, conc).map(async (cl, i) => {
          const t = async (fn: () => Promise<unknown>) => {
            const t0 = performance.now();
            try {
              await fn();
              line.lat.push(performance.now() - t0);
            } catch (err) {
              line.errors++;
              line.codes.set(statusName(err), (line.codes.get(statusName(err)) ?? 0) + 1);
            }
          };
          while (performance.now() < deadline) await op.run(cl, homes[i]!, t);
        }));
        out.push(line);
      }
    }
    return out;
  } finally {
    for (const c of clients) c.close();
  }
}

function printSummary(lines: SummaryLine[]): void {
  process.stdout.write(`\nEvery fsmeta RPC (clients in directories of their own; ops/s = clients / avg latency)\n`);
  process.stdout.write(`${'op'.padEnd(34)} ${'1 client: p50'.padStart(14)} ${'p99'.padStart(8)} ${'ops/s'.padStart(8)}   ${'8 clients: p50'.padStart(14)} ${'p99'.padStart(8)} ${'ops/s'.padStart(8)} ${'errors'.padStart(7)}\n`);
  const cell = (l: SummaryLine) => {
    const s = summarize(l.lat);
    return `${s.p50.toFixed(2).padStart(14)} ${s.p99.toFixed(2).padStart(8)} ${((l.conc * 1000) / s.avg).toFixed(0).padStart(8)}`;
  };
  for (let i = 0; i + 1 < lines.length; i += 2) {
    const [one, eight] = [lines[i]!, lines[i + 1]!];
    const codes = [...one.codes, ...eight.codes].map(([c, n]) => `${c} ${n}`).join(', ');
    process.stdout.write(`${one.op.padEnd(34)} ${cell(one)}   ${cell(eight)} ${String(one.errors + eight.errors).padStart(7)}${codes ? `  (${codes})` : ''}\n`);
  }
}

/** The targets of the fsmeta work against what this run measured. */
function printTargets(lines: SummaryLine[]): void {
  const byName = (w: string, op: string) => rows.find((r) => r.workload === w && r.op === op)!;
  const line = (op: string, conc: number) => lines.find((l) => l.op === op && l.conc === conc)!;
  const storm = byName('one-dir-storm', `create, ${STORM_CLIENTS} clients`);
  const targets: Array<[string, string, string]> = [
    ['create p50, 8 clients (checkpoint-storm)', `${median(byName('checkpoint-storm', 'create_checkpoint').lat).toFixed(2)} ms`, '<= 10 ms (upstream p50 242.78 ms)'],
    [`creates/s, ${STORM_CLIENTS} clients into one directory`, `${(storm.lat.length / (storm.phaseMs / 1000)).toFixed(0)}/s, ${storm.errors} errors`, '>= 1,000/s'],
    ['ReadDirPlus 512 avg, 8 clients', `${mean(byName('hotspot-fanin', 'readdirplus').lat).toFixed(2)} ms`, '<= 12 ms (upstream 12.02 ms)'],
    ['ReadDirPlus 512 p50, 1 client', `${median(byName('hotspot-fanin', 'readdirplus, 1 client').lat).toFixed(2)} ms`, '<= 5 ms'],
    ['Lookup p50, 1 client', `${median(line('Lookup', 1).lat).toFixed(2)} ms`, '<= 2 ms'],
    ['GetAttr p50, 1 client', `${median(line('GetAttr', 1).lat).toFixed(2)} ms`, '<= 2 ms'],
    ['watch notify p50', `${median(byName('watch-notify', 'create_to_event').lat).toFixed(2)} ms`, '<= 5 ms (upstream p50 178.08 ms)'],
  ];
  process.stdout.write(`\nTargets\n`);
  for (const [what, got, goal] of targets) process.stdout.write(`${what.padEnd(44)} ${got.padStart(22)}   target ${goal}\n`);
}

async function runMemory(): Promise<void> {
  const kv = new MemoryKv();
  const duties = new MemoryDuties(kv.tso);
  duties.registerMount('bench', 1);
  const gw = await startGateway({ kv, source: kv, duties, clock: new SystemClock(), addr: '127.0.0.1:0' });
  const clients = Array.from({ length: CLIENTS }, () => new FsClient(gw.addr));
  try {
    process.stdout.write(`fsmeta gateway on the in-memory KV at ${gw.addr}, ${CLIENTS} gRPC clients\n\n`);
    const t: Target = { mode: 'memory', clients, mount: 'bench' };
    await checkpointStorm(t);
    await hotspotFanin(t);
    print();
    const st = gw.executor.stats;
    process.stdout.write(`executor: ${st.commits} commits, ${st.conflicts} conflicts retried, ${st.aborted} aborted\n\n`);
  } finally {
    for (const c of clients) c.close();
    await gw.stop();
  }
}

async function runStores(): Promise<void> {
  process.stdout.write('starting a cluster on free ports (3 meta-roots, 3 coordinators, 3 stores, fsmeta)...\n');
  const c = await fsmetaClusterUp();
  const addr = c.cluster.topo.fsmeta[0]!.addr;
  const clients = Array.from({ length: CLIENTS }, () => new FsClient(addr, c.token));
  try {
    process.stdout.write(`fsmeta gateway process on the stores at ${addr}, mount default, ${CLIENTS} gRPC clients\n\n`);
    const t: Target = { mode: 'stores', clients, mount: 'default' };
    await checkpointStorm(t);
    await hotspotFanin(t);
    await watchNotify(t);
    await oneDirStorm(addr, c.token, 'default');
    print();
    const lines = await summary(addr, c.token, 'default');
    printSummary(lines);
    printTargets(lines);
    const vars = (await (await fetch(`http://${c.cluster.topo.fsmeta[0]!.metrics_addr}/debug/vars`)).json()) as Record<string, any>;
    const st = vars.nokv_fsmeta_executor;
    process.stdout.write(`executor: ${st.commits} commits, ${st.conflicts} conflicts retried, ${st.aborted} aborted; watch: ${JSON.stringify(vars.nokv_fsmeta_watch)}\n\n`);
  } finally {
    for (const cl of clients) cl.close();
    await c.close();
  }
}

/** Only the before/after table: FSMETA_BENCH_MODE=ab FSMETA_BENCH_BASELINE=<git ref> (fsmeta-ab.ts). */
async function runAbOnly(ref: string): Promise<void> {
  process.stdout.write(`building the baseline ${ref} in a temp dir...\n`);
  const b = await buildBaseline(ref);
  try {
    process.stdout.write('starting a cluster on free ports (3 meta-roots, 3 coordinators, 3 stores, fsmeta)...\n');
    const c = await fsmetaClusterUp();
    try {
      process.stdout.write(`${await runAb(c, b, { clients: CLIENTS, roundMs: AB_ROUND_MS, rounds: AB_ROUNDS })}\n`);
    } finally {
      await c.close();
    }
  } finally {
    b.remove();
  }
}

const mode = process.env.FSMETA_BENCH_MODE;
const baselineRef = process.env.FSMETA_BENCH_BASELINE;
if (mode === 'ab') {
  if (!baselineRef) throw new Error('FSMETA_BENCH_MODE=ab needs FSMETA_BENCH_BASELINE=<git ref>');
  await runAbOnly(baselineRef);
} else {
  if (mode !== 'stores') await runMemory();
  rows = [];
  if (mode !== 'memory') await runStores();
}
