// fsmeta gateway benchmarks over gRPC on loopback, 8 clients, in the shape of the reference harness:
//   checkpoint-storm  mkdir 16 directories, then 8 clients create 16 x 32 files round-robin across them;
//   hotspot-fanin     mkdir, seed 512 files sequentially, then 8 clients x N ReadDirPlus of the whole
//                     directory in one page; measured in the same run against a generic-KV baseline that
//                     reads the page as one scan (ReadDir) plus 512 sequential point gets (GetAttr at the
//                     scan's read_version), i.e. N+1 round trips instead of one;
//   watch-notify      (stores only) one WatchSubtree on a directory, creates in it one at a time: time from
//                     sending the Create to receiving its event.
// Two modes, both by default (FSMETA_BENCH_MODE=memory|stores picks one): the gateway in this process on the
// in-memory KV, and the `nokv fsmeta` process of a real cluster (`nokv cluster up` on free ports: three
// raft-replicated stores, coordinators, meta-roots) on mount `default`. Latencies are avg/p50/p95/p99 with the
// reference's index rule (sorted[int((n-1)p)]); throughput is over the op phase only. Never fails on timing.
import { SystemClock } from '../src/common/clock.js';
import { startGateway } from '../src/gateway/gateway.js';
import { MemoryDuties } from '../src/gateway/memory-duties.js';
import { MemoryKv } from '../src/gateway/memory-kv.js';
import { fsmetaClusterUp } from '../test/fixtures/fsmeta-cluster.js';
import { FsClient } from '../test/fixtures/fsmeta-gateway.js';

const CLIENTS = 8;
const STORM_DIRS = 16;
const STORM_FILES_PER_DIR = 32;
const HOT_FILES = 512;
/** ReadDirPlus calls per client and driver; on the stores a generic-KV read is 513 store round trips. */
const HOT_READS_PER_CLIENT = { memory: 16, stores: 3 };
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
const pct = (s: number[], p: number) => s[Math.floor((s.length - 1) * p)] ?? 0;

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
  for (const [row, read] of [[native, nativeRead], [generic, genericRead]] as const) {
    await phase(row, async () => {
      await Promise.all(clients.map(async (cl) => {
        for (let i = 0; i < HOT_READS_PER_CLIENT[mode]; i++) await timed(row, () => read(cl));
      }));
    });
  }
}

function print(): void {
  const f = (n: number) => n.toFixed(2).padStart(9);
  process.stdout.write(`${'workload/op'.padEnd(34)} ${'driver'.padEnd(10)} ${'count'.padStart(6)} ${'err'.padStart(4)} ${'ops/s'.padStart(9)} ${'avg ms'.padStart(9)} ${'p50'.padStart(9)} ${'p95'.padStart(9)} ${'p99'.padStart(9)}\n`);
  for (const r of rows) {
    const s = [...r.lat].sort((a, b) => a - b);
    const avg = s.reduce((a, b) => a + b, 0) / Math.max(1, s.length);
    const thr = s.length / (r.phaseMs / 1000);
    process.stdout.write(`${`${r.workload}/${r.op}`.padEnd(34)} ${r.driver.padEnd(10)} ${String(s.length).padStart(6)} ${String(r.errors).padStart(4)} ${f(thr)} ${f(avg)} ${f(pct(s, 0.5))} ${f(pct(s, 0.95))} ${f(pct(s, 0.99))}\n`);
  }
  const nat = rows.find((r) => r.driver === 'native' && r.op === 'readdirplus')!;
  const gen = rows.find((r) => r.driver === 'generic-kv')!;
  const stat = (r: Row, p?: number) => {
    const s = [...r.lat].sort((a, b) => a - b);
    return p === undefined ? s.reduce((a, b) => a + b, 0) / s.length : pct(s, p);
  };
  process.stdout.write(
    `\nReadDirPlus of ${HOT_FILES} entries, generic-kv / native: avg ${(stat(gen) / stat(nat)).toFixed(1)}x, p50 ${(stat(gen, 0.5) / stat(nat, 0.5)).toFixed(1)}x, ` +
      `p95 ${(stat(gen, 0.95) / stat(nat, 0.95)).toFixed(1)}x, p99 ${(stat(gen, 0.99) / stat(nat, 0.99)).toFixed(1)}x\n`,
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
    print();
    const vars = (await (await fetch(`http://${c.cluster.topo.fsmeta[0]!.metrics_addr}/debug/vars`)).json()) as Record<string, any>;
    const st = vars.nokv_fsmeta_executor;
    process.stdout.write(`executor: ${st.commits} commits, ${st.conflicts} conflicts retried, ${st.aborted} aborted; watch: ${JSON.stringify(vars.nokv_fsmeta_watch)}\n\n`);
  } finally {
    for (const cl of clients) cl.close();
    await c.close();
  }
}

const mode = process.env.FSMETA_BENCH_MODE;
if (mode !== 'stores') await runMemory();
rows = [];
if (mode !== 'memory') await runStores();
