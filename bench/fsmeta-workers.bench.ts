// fsmeta watch session placement, in one run: gateways with `--workers 0` (session actors on the main thread)
// and `--workers 1` (session actors on worker thread 1, each stream's call and router subscription behind a
// main-thread port actor: an event crosses to the session and back), as separate `nokv fsmeta` processes, the
// clients in this process. Two pairs: on `--dev-memory-kv` (classification reads are in memory, so the event
// path is what is measured) and on the stores of one cluster (the cluster's own gateway at 0 and a second
// gateway process at 1 on the same stores and coordinators). Rows, each a median over ROUNDS rounds in which
// the two gateways of a pair alternate (and which goes first alternates):
//   notify    one watch on a fresh directory, creates in it one at a time through the same gateway: Create sent →
//             its event received (p50, p99);
//   fan-out   WATCHERS watches on one directory, WRITERS clients creating CREATES files in it through the same
//             gateway: events delivered per second over all watchers (first Create sent → last event received);
//             on the stores bounded by how fast they commit the creates;
//   replay    (memory only) REPLAYERS watches opened at once, each resuming after the fan-out's first event: the
//             router replays the rest of that region's events from its history to each, so nothing waits on
//             commits: events per second over all of them. (On the stores each replayed event costs the router a
//             store read to classify it, one at a time, which is all such a row would measure.)
// Prints w1/w0 ratios and the load average before and after every round. Never fails on timing.
//
// Run from the repository root: npm run build && node dist/bench/fsmeta-workers.bench.js
//   (NOKV_BENCH_ROUNDS, NOKV_BENCH_NOTIFY, NOKV_BENCH_CREATES; NOKV_BENCH_ONLY=memory|stores)
import { loadavg } from 'node:os';
import { fsmetaClusterUp } from '../test/fixtures/fsmeta-cluster.js';
import { FsClient } from '../test/fixtures/fsmeta-gateway.js';
import { startGatewayProcess as startSharedGateway, type GatewayProcess } from './gateway-process.js';
import { median, percentile } from './stats.js';

type Mode = 'memory' | 'stores';

const ROUNDS = Number(process.env.NOKV_BENCH_ROUNDS ?? 4);
const NOTIFY = Number(process.env.NOKV_BENCH_NOTIFY ?? 30);
/** Files the fan-out creates per round: the in-memory gateways take many more per second than the stores. */
const CREATES: Record<Mode, number> = { memory: Number(process.env.NOKV_BENCH_CREATES ?? 384), stores: Number(process.env.NOKV_BENCH_CREATES ?? 96) };
const WATCHERS = 8;
const REPLAYERS = 16;
const WRITERS = 8;
const EVENT_TIMEOUT_MS = 20_000;

const fileAttrs = { type: 'INODE_TYPE_FILE', mode: 0o644, size: 0, created_unix_ns: '1', updated_unix_ns: '1' };
const dirAttrs = { type: 'INODE_TYPE_DIRECTORY', mode: 0o755 };

interface Gateway {
  name: 'w0' | 'w1';
  clients: FsClient[];
}


interface Sample {
  notifyP50: number;
  notifyP99: number;
  fanoutRate: number;
  replayRate: number;
}

/** A `nokv fsmeta` process of this tree with `args`, serving mount default. */
function startGatewayProcess(args: string[], token?: string): Promise<GatewayProcess> {
  return startSharedGateway({ nokvBin: 'bin/nokv.mjs', args, ...(token ? { token } : {}), env: { ...process.env, NOKV_LOG_LEVEL: 'warn' }, what: `fsmeta ${args.join(' ')} serves mount default` });
}

/** A watch on dir that calls onEvent with each event (acknowledging it); resolves once ready. */
async function watchDir(c: FsClient, dir: string, onEvent: (name: string, cursor: any) => void, resume?: any): Promise<() => void> {
  const stream = c.watch();
  let ready!: () => void;
  const isReady = new Promise<void>((r) => (ready = r));
  stream.on('data', (m: any) => {
    if (m.body === 'ready') return ready();
    stream.write({ ack: { cursor: m.event.cursor } });
    onEvent(String(m.event.name), m.event.cursor);
  });
  stream.on('error', () => undefined);
  stream.write({ subscribe: { mount: 'default', root_inode: dir, back_pressure_window: 4096, ...(resume ? { resume_cursor: resume } : {}) } });
  await isReady;
  return () => stream.cancel();
}

/** Resolves once `count` reaches `want`, rejects after EVENT_TIMEOUT_MS saying how far it got. */
function counting(want: number, what: string): { hit(): void; done: Promise<void>; get: () => number } {
  let got = 0;
  let resolve!: () => void;
  let reject!: (e: Error) => void;
  const done = new Promise<void>((res, rej) => ((resolve = res), (reject = rej)));
  const timer = setTimeout(() => reject(new Error(`${what}: ${got} of ${want} events`)), EVENT_TIMEOUT_MS);
  return {
    hit: () => {
      if (++got === want) (clearTimeout(timer), resolve());
    },
    done,
    get: () => got,
  };
}

async function mkdir(c: FsClient, name: string): Promise<string> {
  return (await c.call('Create', { mount: 'default', parent: '1', name, attrs: dirAttrs })).inode.inode as string;
}

async function notify(g: Gateway, round: number): Promise<{ p50: number; p99: number }> {
  const [c, writer] = [g.clients[0]!, g.clients[1]!];
  const dir = await mkdir(c, `notify-${g.name}-${round}`);
  const waiting = new Map<string, () => void>();
  const cancel = await watchDir(c, dir, (name) => waiting.get(name)?.());
  const lat: number[] = [];
  try {
    for (let i = 0; i < NOTIFY; i++) {
      const name = `n-${i}`;
      const seen = new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no event for ${name}`)), EVENT_TIMEOUT_MS);
        waiting.set(name, () => (clearTimeout(timer), resolve()));
      });
      const s = performance.now();
      await writer.call('Create', { mount: 'default', parent: dir, name, attrs: fileAttrs });
      await seen;
      lat.push(performance.now() - s);
      waiting.delete(name);
    }
  } finally {
    cancel();
  }
  return { p50: median(lat), p99: percentile(lat, 0.99) };
}

async function fanout(g: Gateway, round: number, creates: number): Promise<{ rate: number; dir: string; cursors: any[] }> {
  const dir = await mkdir(g.clients[0]!, `fanout-${g.name}-${round}`);
  const n = counting(creates * WATCHERS, 'fan-out');
  const cursors: any[] = [];
  const cancels = await Promise.all(Array.from({ length: WATCHERS }, (_, i) => watchDir(g.clients[i % g.clients.length]!, dir, (_name, cursor) => {
    if (i === 0) cursors.push(cursor);
    n.hit();
  })));
  try {
    let next = 0;
    const t0 = performance.now();
    await Promise.all(g.clients.slice(0, WRITERS).map(async (c) => {
      for (let i = next++; i < creates; i = next++) await c.call('Create', { mount: 'default', parent: dir, name: `f-${i}`, attrs: fileAttrs });
    }));
    await n.done;
    return { rate: (creates * WATCHERS) / ((performance.now() - t0) / 1000), dir, cursors };
  } finally {
    for (const c of cancels) c();
  }
}

/** REPLAYERS watches resume after the fan-out's first event at once; each gets the rest of that region's events. */
async function replay(g: Gateway, dir: string, cursors: any[]): Promise<number> {
  const from = cursors[0];
  const each = cursors.filter((c) => c.region_id === from.region_id).length - 1;
  const n = counting(each * REPLAYERS, 'replay');
  const t0 = performance.now();
  const cancels = await Promise.all(Array.from({ length: REPLAYERS }, (_, i) => watchDir(g.clients[i % g.clients.length]!, dir, () => n.hit(), from)));
  try {
    await n.done;
    return (each * REPLAYERS) / ((performance.now() - t0) / 1000);
  } finally {
    for (const c of cancels) c();
  }
}

async function sample(g: Gateway, round: number, mode: Mode): Promise<Sample> {
  const n = await notify(g, round);
  const f = await fanout(g, round, CREATES[mode]);
  return { notifyP50: n.p50, notifyP99: n.p99, fanoutRate: f.rate, replayRate: mode === 'memory' ? await replay(g, f.dir, f.cursors) : NaN };
}

async function runPair(mode: Mode, addrs: { w0: string; w1: string }, token?: string): Promise<void> {
  const gateways: Gateway[] = (['w0', 'w1'] as const).map((name) => ({ name, clients: Array.from({ length: WRITERS }, () => new FsClient(addrs[name], token)) }));
  try {
    for (const g of gateways) await sample(g, -1, mode); // warm-up (the JIT, the session thread), not counted
    const load = [loadavg()[0]!];
    const out: Record<'w0' | 'w1', Sample[]> = { w0: [], w1: [] };
    for (let r = 0; r < ROUNDS; r++) {
      const order = r % 2 === 0 ? gateways : [...gateways].reverse();
      for (const g of order) out[g.name].push(await sample(g, r, mode));
      load.push(loadavg()[0]!);
    }
    const m = (k: 'w0' | 'w1', f: keyof Sample) => median(out[k].map((x) => x[f]));
    console.log(`\n${mode === 'memory' ? 'on --dev-memory-kv (two gateway processes)' : 'on the stores (two gateway processes of one cluster)'}, ${ROUNDS} rounds, medians over rounds; load average ${load.map((l) => l.toFixed(1)).join(' -> ')}`);
    console.log(`${'row'.padEnd(56)} ${'w0'.padStart(9)} ${'w1'.padStart(9)} ${'w1/w0'.padStart(7)}`);
    const rows = [
      [`notify p50 (ms), ${NOTIFY} creates one at a time`, 'notifyP50', 2],
      [`notify p99 (ms)`, 'notifyP99', 2],
      [`fan-out events/s (${WATCHERS} watches, ${WRITERS} writers, ${CREATES[mode]} creates)`, 'fanoutRate', 0],
      ...(mode === 'memory' ? [[`replay events/s (${REPLAYERS} resuming watches)`, 'replayRate', 0] as const] : []),
    ] as const;
    for (const [name, f, digits] of rows) console.log(`${name.padEnd(56)} ${m('w0', f).toFixed(digits).padStart(9)} ${m('w1', f).toFixed(digits).padStart(9)} ${(m('w1', f) / m('w0', f)).toFixed(2).padStart(7)}`);
    for (const k of ['w0', 'w1'] as const) console.log(`${k} per round: ${out[k].map((x) => `${x.notifyP50.toFixed(1)}/${x.notifyP99.toFixed(1)} ms ${x.fanoutRate.toFixed(0)}${mode === 'memory' ? `/${x.replayRate.toFixed(0)}` : ''} ev/s`).join(', ')}`);
  } finally {
    for (const g of gateways) for (const cl of g.clients) cl.close();
  }
}

const only = process.env.NOKV_BENCH_ONLY;
console.log(`fsmeta watch sessions, --workers 0 vs 1`);
if (only !== 'stores') {
  const w0 = await startGatewayProcess(['--dev-memory-kv', '--workers', '0']);
  const w1 = await startGatewayProcess(['--dev-memory-kv', '--workers', '1']).catch(async (err) => {
    await w0.stop();
    throw err;
  });
  try {
    await runPair('memory', { w0: w0.addr, w1: w1.addr });
  } finally {
    await Promise.all([w0.stop(), w1.stop()]);
  }
}
if (only !== 'memory') {
  const c = await fsmetaClusterUp();
  try {
    const w1 = await startGatewayProcess(['--config', c.cluster.topoFile, '--index', '1', '--token-file', c.cluster.tokenFile, '--workers', '1'], c.token);
    try {
      await runPair('stores', { w0: c.cluster.topo.fsmeta[0]!.addr, w1: w1.addr }, c.token);
    } finally {
      await w1.stop();
    }
  } finally {
    await c.close();
  }
}
