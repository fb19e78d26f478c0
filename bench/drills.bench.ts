// Benchmark of the failure drills on a real `nokv cluster` (free ports, lease TTL 2 s, renew 0.7 s): median
// time from the drill command to the first Tso+AllocID pair served again (by a new era where the lease moves),
// over RUNS runs each; and TSO / AllocID throughput from one client, sequential and with calls in flight.
// Targets: graceful stop of the holder under 0.5 s, meta-root leader loss under 3 s.
import {
  DutyLoad,
  clusterCmd,
  clusterDown,
  clusterUp,
  coordStates,
  metaRootLeader,
  nokv,
  waitForHolder,
  type DrillCluster,
} from '../test/fixtures/coordinator-drills.js';
import { CoordinatorClient } from '../src/coordinator/client.js';
import { sleep, waitFor } from '../test/support/env.js';
import { median } from './stats.js';

const RUNS = Number(process.env.DRILL_RUNS ?? 5);
const THROUGHPUT_MS = 2_000;
const IN_FLIGHT = 32;

async function rejoin(c: DrillCluster, name: string): Promise<void> {
  await clusterCmd(c, 'start', name);
  await waitFor(`${name} to rejoin`, async () => (await coordStates(c)).some((s) => s.name === name && s.era > 0), 30_000);
}

interface Timing {
  /** From issuing the drill command (includes starting the `nokv` CLI process) to the first pair served again. */
  fromCommandMs: number;
  /** Service gap seen by the client: last pair served before the resuming one, to the resuming one. */
  gapMs: number;
}

function timing(load: DutyLoad, t0: number, resumedAt: number): Timing {
  const i = load.ok.findIndex((s) => s.atMs === resumedAt);
  const prev = i > 0 ? load.ok[i - 1]!.atMs : t0;
  return { fromCommandMs: resumedAt - t0, gapMs: resumedAt - prev };
}

async function drill(c: DrillCluster, load: DutyLoad, kind: 'stop' | 'kill' | 'meta-root' | 'handover'): Promise<Timing> {
  const before = await waitForHolder(c, 0);
  await sleep(300);
  const t0 = Date.now();
  if (kind === 'stop' || kind === 'kill') {
    await clusterCmd(c, kind, before.name);
    const s = await load.firstSuccessAfter(t0, before.era + 1);
    await rejoin(c, before.name);
    return timing(load, t0, s.atMs);
  }
  if (kind === 'meta-root') {
    const leader = await metaRootLeader(c);
    const t1 = Date.now();
    await clusterCmd(c, 'stop', leader);
    // Resumed = a pair served after the leader is gone (any era; the lease may or may not have moved).
    const s = await load.firstSuccessAfter(Date.now(), before.era);
    await clusterCmd(c, 'start', leader);
    await sleep(1000);
    return timing(load, t1, s.atMs);
  }
  const target = c.topo.coordinators.find((co) => co.id !== before.id)!.id;
  await nokv(['coordinator', 'handover', '--to', target, '--endpoints', c.coordAddrs.join(','), '--token-file', c.tokenFile]);
  const s = await load.firstSuccessAfter(t0, before.era + 1);
  return timing(load, t0, s.atMs);
}

async function throughput(endpoints: string[], token: string, inFlight: number, method: 'tso' | 'allocId'): Promise<number> {
  const client = new CoordinatorClient({ endpoints, token });
  let n = 0;
  const end = Date.now() + THROUGHPUT_MS;
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (Date.now() < end) {
        await client[method](1);
        n++;
      }
    }),
  );
  client.close();
  return Math.round((n * 1000) / THROUGHPUT_MS);
}

async function main(): Promise<void> {
  const c = await clusterUp();
  try {
    await waitForHolder(c, 0);
    const rows: Array<[string, string]> = [];
    for (const [method, label] of [['tso', 'Tso'], ['allocId', 'AllocID']] as const) {
      rows.push([`${label} calls/s, 1 in flight`, String(await throughput(c.coordAddrs, c.token, 1, method))]);
      rows.push([`${label} calls/s, ${IN_FLIGHT} in flight`, String(await throughput(c.coordAddrs, c.token, IN_FLIGHT, method))]);
    }
    const load = new DutyLoad(c.coordAddrs, c.token, 2);
    await load.firstSuccessAfter(0, 1);
    for (const kind of ['stop', 'kill', 'meta-root', 'handover'] as const) {
      const xs: Timing[] = [];
      for (let i = 0; i < RUNS; i++) xs.push(await drill(c, load, kind));
      const gaps = xs.map((x) => x.gapMs);
      const cmds = xs.map((x) => x.fromCommandMs);
      rows.push([`${kind}: client service gap (ms, median of ${RUNS})`, `${median(gaps)}  [${gaps.join(', ')}]`]);
      rows.push([`${kind}: command to resumed (ms, median of ${RUNS})`, `${median(cmds)}  [${cmds.join(', ')}]`]);
    }
    await load.stop();
    const v = load.violations();
    rows.push(['values checked (ids / timestamps)', `${load.ids.length} / ${load.tsos.length}, violations: ${v.length}`]);
    const w = Math.max(...rows.map((r) => r[0].length));
    for (const [k, val] of rows) process.stdout.write(`${k.padEnd(w)}  ${val}\n`);
  } finally {
    await clusterDown(c);
  }
}

await main();
