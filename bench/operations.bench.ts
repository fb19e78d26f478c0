// Operator-facing latencies: `cluster up`'s port pre-flight over a whole topology (all ports free, and all 23
// held, with each holder found in /proc), and how long the CLI takes to report a dead cluster, against the
// CLI's own start-up (`nokv --version`) measured in the same run. Prints medians and ratios; never fails.
import { execFile } from 'node:child_process';
import net from 'node:net';
import { busyPorts } from '../src/cluster/preflight.js';
import { nokvBin } from '../src/cluster/layout.js';
import { topologyOnPorts } from '../src/config/topology.js';
import { freePorts } from '../test/support/env.js';
import { median } from './stats.js';

const PREFLIGHT_ROUNDS = 20;
const CLI_ROUNDS = 8;

async function timeIt(rounds: number, fn: () => Promise<unknown>): Promise<number> {
  const ms: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const t0 = performance.now();
    await fn();
    ms.push(performance.now() - t0);
  }
  return median(ms);
}

function cli(args: string[]): Promise<void> {
  return new Promise((resolve) => execFile(process.execPath, [nokvBin(), ...args], { timeout: 30_000 }, () => resolve()));
}

async function main(): Promise<void> {
  const ports = await freePorts(23);
  const topo = topologyOnPorts(ports);
  const free = await timeIt(PREFLIGHT_ROUNDS, () => busyPorts(topo));
  const holders = await Promise.all(ports.map((p) => new Promise<net.Server>((r) => { const s = net.createServer(); s.listen(p, '127.0.0.1', () => r(s)); })));
  let found = 0;
  const busy = await timeIt(PREFLIGHT_ROUNDS, async () => (found = (await busyPorts(topo)).filter((b) => b.holder).length));
  await Promise.all(holders.map((s) => new Promise((r) => s.close(r))));
  console.log(`pre-flight, 23 ports free:                 median ${free.toFixed(1)} ms`);
  console.log(`pre-flight, 23 ports held (holders named: ${found}): median ${busy.toFixed(1)} ms`);

  const [closed] = await freePorts(1);
  const startup = await timeIt(CLI_ROUNDS, () => cli(['--version']));
  const dead = await timeIt(CLI_ROUNDS, () => cli(['tso', '--endpoints', `127.0.0.1:${closed}`]));
  console.log(`nokv --version (CLI start-up):             median ${startup.toFixed(0)} ms`);
  console.log(`nokv tso against a dead cluster:           median ${dead.toFixed(0)} ms (${(dead / startup).toFixed(2)}x start-up)`);
}

await main();
