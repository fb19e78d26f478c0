// Before/after of the fsmeta gateway in ONE run, on ONE cluster: the gateway of a baseline commit (git archive
// of FSMETA_BENCH_BASELINE, built in a temp dir by baseline.ts) runs as a second `nokv fsmeta` process beside
// the cluster's own gateway (this tree), against the same stores and coordinators. Each op runs in alternating rounds on the
// two gateways (baseline, current, baseline, current, ...), so both see the same machine load; the table gives
// p50 and average of each and the ratio baseline / current (above 1 = the current code is faster).
import { loadavg } from 'node:os';
import type { FsmetaCluster } from '../test/fixtures/fsmeta-cluster.js';
import { FsClient } from '../test/fixtures/fsmeta-gateway.js';
import type { Baseline } from './baseline.js';
import { startGatewayProcess, type GatewayProcess } from './gateway-process.js';
import { mean, percentile } from './stats.js';

/** The baseline's gateway as a second fsmeta process of the cluster, on free ports. */
function startBaselineGateway(b: Baseline, c: FsmetaCluster): Promise<GatewayProcess> {
  return startGatewayProcess({
    nokvBin: b.nokvBin,
    args: ['--config', c.cluster.topoFile, '--index', '1', '--token-file', c.cluster.tokenFile],
    token: c.token,
    what: 'the baseline gateway serves mount default',
  });
}

const attrs = (type: string) => ({ type, mode: 0o644, size: 0, created_unix_ns: '1', updated_unix_ns: '1' });

interface Side {
  name: string;
  clients: FsClient[];
  /** Per client: its directory of 64 files, the files' inodes, a counter. */
  homes: Array<{ dir: string; files: string[]; n: number }>;
  lat: Map<string, number[]>;
  errors: Map<string, number>;
}

/** Runs the A/B table; `big` is a directory of `bigCount` files for the page reads. */
export async function runAb(c: FsmetaCluster, b: Baseline, opts: { clients: number; roundMs: number; rounds: number }): Promise<string> {
  const base = await startBaselineGateway(b, c);
  const currentAddr = c.cluster.topo.fsmeta[0]!.addr;
  const mount = 'default';
  const sides: Side[] = [
    { name: 'baseline', clients: Array.from({ length: opts.clients }, () => new FsClient(base.addr, c.token)), homes: [], lat: new Map(), errors: new Map() },
    { name: 'current', clients: Array.from({ length: opts.clients }, () => new FsClient(currentAddr, c.token)), homes: [], lat: new Map(), errors: new Map() },
  ];
  try {
    const mk = (cl: FsClient, parent: string, name: string, type = 'INODE_TYPE_FILE') => cl.call('Create', { mount, parent, name, attrs: attrs(type) }).then((r: any) => r.inode.inode as string);
    const root = await mk(sides[1]!.clients[0]!, '1', `ab-${Date.now().toString(36)}`, 'INODE_TYPE_DIRECTORY');
    // One directory of 512 files read by both sides (seeded by 8 parallel writers), and 64-file homes per client.
    const big = await mk(sides[1]!.clients[0]!, root, 'big', 'INODE_TYPE_DIRECTORY');
    let next = 0;
    await Promise.all(sides[1]!.clients.map(async (cl) => {
      for (let i = next++; i < 512; i = next++) await mk(cl, big, `hot-${String(i).padStart(8, '0')}`);
    }));
    for (const s of sides) {
      s.homes = await Promise.all(s.clients.map(async (cl, i) => {
        const dir = await mk(cl, root, `${s.name}-${i}`, 'INODE_TYPE_DIRECTORY');
        const files: string[] = [];
        for (let f = 0; f < 64; f++) files.push(await mk(cl, dir, `f${f}`));
        return { dir, files, n: 0 };
      }));
    }
    type Op = { name: string; conc: number; run: (cl: FsClient, h: Side['homes'][number]) => Promise<unknown> };
    const ops: Op[] = [];
    for (const conc of [1, opts.clients]) {
      ops.push(
        { name: 'Create', conc, run: (cl, h) => mk(cl, h.dir, `n${h.n++}`) },
        { name: 'Lookup', conc, run: (cl, h) => cl.call('Lookup', { mount, parent: h.dir, name: `f${h.n++ % 64}` }) },
        { name: 'GetAttr', conc, run: (cl, h) => cl.call('GetAttr', { mount, inode: h.files[h.n++ % 64] }) },
        { name: 'ReadDir (64)', conc, run: (cl, h) => cl.call('ReadDir', { mount, parent: h.dir, limit: 64 }) },
        { name: 'ReadDirPlus (64)', conc, run: (cl, h) => cl.call('ReadDirPlus', { mount, parent: h.dir, limit: 64 }) },
        { name: 'ReadDirPlus (512)', conc, run: async (cl) => {
          const r = await cl.call('ReadDirPlus', { mount, parent: big, limit: 512 });
          if (r.entries.length !== 512) throw new Error(`short page ${r.entries.length}`);
        } },
      );
    }
    const key = (o: Op) => `${o.name} x${o.conc}`;
    for (const op of ops) {
      for (let round = 0; round < opts.rounds; round++) {
        for (const s of round % 2 === 0 ? sides : [...sides].reverse()) {
          const lat = s.lat.get(key(op)) ?? [];
          s.lat.set(key(op), lat);
          const deadline = performance.now() + opts.roundMs;
          await Promise.all(s.clients.slice(0, op.conc).map(async (cl, i) => {
            while (performance.now() < deadline) {
              const t0 = performance.now();
              try {
                await op.run(cl, s.homes[i]!);
                lat.push(performance.now() - t0);
              } catch {
                s.errors.set(key(op), (s.errors.get(key(op)) ?? 0) + 1);
              }
            }
          }));
        }
      }
    }
    const lines = [
      `Gateway A/B on one cluster: baseline ${b.ref} vs current, ${opts.rounds} alternating rounds of ${opts.roundMs} ms per op and side; load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}`,
      '| op | clients | baseline p50 ms | current p50 ms | p50 ratio | baseline avg ms | current avg ms | avg ratio | calls b / c | errors b / c |',
      '|---|---|---|---|---|---|---|---|---|---|',
    ];
    for (const op of ops) {
      const [bl, cu] = sides.map((s) => s.lat.get(key(op)) ?? []) as [number[], number[]];
      const [p50b, p50c, avgb, avgc] = [percentile(bl, 0.5), percentile(cu, 0.5), mean(bl), mean(cu)];
      lines.push(
        `| ${op.name} | ${op.conc} | ${p50b.toFixed(2)} | ${p50c.toFixed(2)} | ${(p50b / p50c).toFixed(2)}× | ${avgb.toFixed(2)} | ${avgc.toFixed(2)} | ${(avgb / avgc).toFixed(2)}× | ${bl.length} / ${cu.length} | ${sides[0]!.errors.get(key(op)) ?? 0} / ${sides[1]!.errors.get(key(op)) ?? 0} |`,
      );
    }
    return lines.join('\n');
  } finally {
    for (const s of sides) for (const cl of s.clients) cl.close();
    await base.stop();
  }
}
