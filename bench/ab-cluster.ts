// Owns the whole-cluster side of the before/after benchmarks: a cluster of one `nokv` build (this tree's or a
// baseline's from baseline.ts) brought up with its own CLI on free ports in a temp dir (all ten processes,
// fsync on), and taken down with the same build. kv-ab.ts and fsmeta-reads-ab.ts run one per side and round.
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { topologyOnPorts, type Topology } from '../src/config/topology.js';
import { freePorts, makeTempDir } from '../test/support/env.js';

export function runNokv(bin: string, args: string[], timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [bin, ...args], { timeout: timeoutMs, killSignal: 'SIGKILL' }, (err, stdout, stderr) => {
      if (err) reject(new Error(`nokv ${args.join(' ')} failed: ${stderr || err.message}`));
      else resolve(stdout);
    });
  });
}

export interface AbCluster {
  topo: Topology;
  dataDir: string;
  token: string;
  down(): Promise<void>;
}

/** A cluster of `bin`'s code on free ports; down() stops it with the same code and removes its folder. */
export async function upCluster(bin: string, prefix: string): Promise<AbCluster> {
  const tmp = makeTempDir(prefix);
  const topo: Topology = { ...topologyOnPorts(await freePorts(23)), lease: { ttl_ms: 3000, renew_before_ms: 1000 } };
  const topoFile = join(tmp.path, 'topology.json');
  writeFileSync(topoFile, JSON.stringify(topo));
  const dataDir = join(tmp.path, 'data');
  const down = async () => {
    try {
      await runNokv(bin, ['cluster', 'down', '-v', '--data-dir', dataDir], 90_000);
    } finally {
      tmp.remove();
    }
  };
  try {
    await runNokv(bin, ['cluster', 'up', '--detach', '--config', topoFile, '--data-dir', dataDir], 120_000);
    return { topo, dataDir, token: readFileSync(join(dataDir, 'cluster.token'), 'utf8').trim(), down };
  } catch (err) {
    await down().catch(() => undefined);
    throw err;
  }
}
