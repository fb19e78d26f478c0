// Summarises the CPU profiles of a profiled fsmeta run (bench/fsmeta-profile.ts): for each phase (one operation)
// and each process, the CPU time per operation and how it splits over the layers — the gateway's executor and
// gRPC front, gRPC (grpc-js and http2), protobuf encode/decode, the store client, the store's region / MVCC /
// Percolator code, raft, LMDB and storage, the coordinator, logging, GC and the rest of Node. Self time of each
// sampled function, attributed by the file it comes from; samples outside the phase's window are dropped.
//
// Run: node dist/bench/profile-summary.js DIR   (DIR holds *.cpuprofile and phases.json)
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { PhaseWindow } from './fsmeta-profile.js';

interface CallFrame {
  functionName: string;
  url: string;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
}
interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** Layers in the order they are printed; the first rule that matches a frame wins. */
const LAYERS: Array<[string, (f: CallFrame) => boolean]> = [
  ['idle', (f) => f.functionName === '(idle)'],
  ['gc', (f) => f.functionName === '(garbage collector)'],
  ['protobuf', (f) => /\/(protobufjs|@protobufjs|@grpc\/proto-loader)\//.test(f.url)],
  ['grpc-js', (f) => f.url.includes('/@grpc/grpc-js/')],
  ['msgpack', (f) => f.url.includes('/msgpackr/')],
  ['lmdb', (f) => f.url.includes('/lmdb/')],
  ['logging', (f) => /\/(pino|sonic-boom|thread-stream)/.test(f.url)],
  ['gateway', (f) => f.url.includes('/src/gateway/')],
  ['store client', (f) => f.url.includes('/src/store/client/')],
  ['mvcc/percolator', (f) => /\/src\/store\/(mvcc|percolator|keys)/.test(f.url)],
  ['store region/server', (f) => /\/src\/store\//.test(f.url)],
  ['raft', (f) => f.url.includes('/src/raft/')],
  ['storage', (f) => f.url.includes('/src/storage/')],
  ['transport', (f) => f.url.includes('/src/transport/')],
  ['coordinator', (f) => f.url.includes('/src/coordinator/')],
  ['other nokv', (f) => f.url.includes('/dist/')],
  ['node http2/net', (f) => /^node:internal\/(http2|net|stream|streams|tls)/.test(f.url) || /^node:(net|http2|stream)/.test(f.url)],
  ['node other', (f) => f.url.startsWith('node:')],
  ['native/vm', () => true],
];

function layerOf(f: CallFrame): string {
  return LAYERS.find(([, m]) => m(f))![0];
}

/** Self microseconds per layer of the samples inside [startUs, endUs). */
function attribute(p: CpuProfile, startUs: number, endUs: number): Map<string, number> {
  const layer = new Map(p.nodes.map((n) => [n.id, layerOf(n.callFrame)]));
  const out = new Map<string, number>();
  let t = p.startTime;
  for (let i = 0; i < p.samples.length; i++) {
    t += p.timeDeltas[i]!;
    const dt = p.timeDeltas[i + 1] ?? 0;
    if (t < startUs || t >= endUs) continue;
    const l = layer.get(p.samples[i]!)!;
    out.set(l, (out.get(l) ?? 0) + dt);
  }
  return out;
}

const dir = process.argv[2];
if (!dir) throw new Error('usage: profile-summary DIR');
const meta = JSON.parse(readFileSync(join(dir, 'phases.json'), 'utf8')) as { phases: PhaseWindow[]; roles: Record<string, string>; region1Leader: string };
const profiles = readdirSync(dir)
  .filter((f) => f.endsWith('.cpuprofile'))
  .map((f) => ({ pid: /(\d+)\.cpuprofile$/.exec(f)?.[1] ?? '?', p: JSON.parse(readFileSync(join(dir, f), 'utf8')) as CpuProfile }));
const nameOf = (pid: string) => {
  const r = meta.roles[pid] ?? `pid ${pid}`;
  return r === meta.region1Leader ? `${r} (region 1 leader)` : r;
};
const cols = LAYERS.map(([n]) => n).filter((n) => n !== 'idle');

for (const ph of meta.phases) {
  process.stdout.write(`\n${ph.name}: ${ph.ops} ops in ${((ph.endUs - ph.startUs) / 1e6).toFixed(1)} s — CPU µs per op by process and layer\n`);
  process.stdout.write(`${'process'.padEnd(30)} ${'busy'.padStart(7)} ${cols.map((c) => c.padStart(Math.max(7, c.length))).join(' ')}\n`);
  const rows = profiles
    .map(({ pid, p }) => ({ name: nameOf(pid), by: attribute(p, ph.startUs, ph.endUs) }))
    .map((r) => ({ ...r, busy: [...r.by].filter(([l]) => l !== 'idle').reduce((a, [, v]) => a + v, 0) }))
    .filter((r) => r.busy > 0)
    .sort((a, b) => b.busy - a.busy);
  let total = 0;
  for (const r of rows) {
    total += r.busy;
    const cells = cols.map((c) => ((r.by.get(c) ?? 0) / ph.ops).toFixed(0).padStart(Math.max(7, c.length)));
    process.stdout.write(`${r.name.padEnd(30)} ${(r.busy / ph.ops).toFixed(0).padStart(7)} ${cells.join(' ')}\n`);
  }
  process.stdout.write(`${'all processes'.padEnd(30)} ${(total / ph.ops).toFixed(0).padStart(7)}\n`);
}

// PROFILE_TOP=N: the N functions with the most self time per op, for each phase and process that spent at least a
// tenth of the phase's busiest process (the call-level detail the layer table sums up).
const TOP = Number(process.env.PROFILE_TOP ?? 0);
if (TOP > 0) {
  for (const ph of meta.phases) {
    const perProc = profiles.map(({ pid, p }) => {
      const byFn = new Map<string, number>();
      const label = new Map(p.nodes.map((n) => [n.id, `${n.callFrame.functionName || '(anonymous)'} ${n.callFrame.url.replace(/^.*\/(node_modules|dist)\//, '')}`]));
      let t = p.startTime;
      let busy = 0;
      for (let i = 0; i < p.samples.length; i++) {
        t += p.timeDeltas[i]!;
        const dt = p.timeDeltas[i + 1] ?? 0;
        if (t < ph.startUs || t >= ph.endUs) continue;
        const l = label.get(p.samples[i]!)!;
        if (l.startsWith('(idle)')) continue;
        busy += dt;
        byFn.set(l, (byFn.get(l) ?? 0) + dt);
      }
      return { name: nameOf(pid), busy, byFn };
    });
    const max = Math.max(...perProc.map((r) => r.busy));
    for (const r of perProc.filter((r) => r.busy >= max / 10).sort((a, b) => b.busy - a.busy)) {
      process.stdout.write(`\n${ph.name} — ${r.name}: top functions, self µs per op\n`);
      for (const [fn, us] of [...r.byFn].sort((a, b) => b[1] - a[1]).slice(0, TOP)) process.stdout.write(`  ${(us / ph.ops).toFixed(0).padStart(8)}  ${fn}\n`);
    }
  }
}
