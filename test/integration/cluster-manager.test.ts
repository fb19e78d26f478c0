// The cluster manager dying must not leave the cluster half-alive: role processes notice their manager's
// channel close and stop on their own; a role that cannot (here: frozen with SIGSTOP) is found through the
// data dir's records and port identity, reported by `status`, and keeps `up` from starting duplicates; once it
// is gone, the next `up` starts new processes and every acknowledged write is still there.
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { nokvBin } from '../../src/cluster/layout.js';
import { pidAlive } from '../../src/cluster/liveness.js';
import { ORPHAN_STOP_MS } from '../../src/roles/runtime.js';
import { CoordinatorClient } from '../../src/coordinator/client.js';
import { connectStoreClient } from '../../src/store/client/connect.js';
import { clusterDown, clusterUp, type DrillCluster } from '../fixtures/coordinator-drills.js';
import { waitFor } from '../support/env.js';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function run(args: string[], timeoutMs = 60_000): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [nokvBin(), ...args], { timeout: timeoutMs, killSignal: 'SIGKILL' }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

async function statusJson(c: DrillCluster): Promise<{ pid: number; processes: Array<{ name: string; pid: number; status: string }> }> {
  const r = await run(['cluster', 'status', '--json', '--data-dir', c.dataDir]);
  expect(r.code, r.stderr).to.equal(0);
  return JSON.parse(r.stdout);
}

async function mounts(c: DrillCluster, register?: string): Promise<string[]> {
  const client = new CoordinatorClient({ endpoints: c.coordAddrs, token: readFileSync(c.tokenFile, 'utf8').trim() });
  try {
    if (register) await client.registerMount(register, 1, 1);
    return (await client.listMounts(false)).mounts.map((m: { mount_id: string }) => m.mount_id);
  } finally {
    client.close();
  }
}

async function putAndGet(c: DrillCluster, key: string, value?: string): Promise<string | undefined> {
  const client = connectStoreClient({ coordinatorAddrs: c.coordAddrs, token: readFileSync(c.tokenFile, 'utf8').trim() });
  try {
    if (value !== undefined) {
      const txn = await client.begin();
      txn.put(Buffer.from(key), Buffer.from(value));
      await txn.commit();
    }
    return (await client.get(Buffer.from(key)))?.toString();
  } finally {
    client.close();
  }
}

describe('cluster manager: killed with SIGKILL, no orphans and no duplicates', function () {
  this.timeout(180_000);
  let cluster: DrillCluster | undefined;
  const frozen: number[] = [];

  after(async function () {
    this.timeout(90_000);
    for (const pid of frozen) if (pidAlive(pid)) process.kill(pid, 'SIGCONT');
    if (cluster) await clusterDown(cluster);
  });

  it('roles stop on their own, a frozen one is reported and blocks `up`, then `up` starts fresh with the data intact', async () => {
    cluster = await clusterUp();
    const c = cluster;
    expect(await mounts(c, 'survivor')).to.include('survivor');
    expect(await putAndGet(c, 'a/kill-manager', 'acknowledged')).to.equal('acknowledged');

    const before = await statusJson(c);
    const byName = new Map(before.processes.map((p) => [p.name, p.pid]));
    const store3 = byName.get('store-3')!;
    process.kill(store3, 'SIGSTOP'); // a role that cannot stop by itself
    frozen.push(store3);
    const t0 = Date.now();
    process.kill(before.pid, 'SIGKILL');

    // `up` at once: it waits for the roles that stop by themselves and refuses because of the frozen one.
    const refused = await run(['cluster', 'up', '--detach', '--data-dir', c.dataDir]);
    expect(refused.code).to.not.equal(0);
    expect(refused.stderr).to.match(new RegExp(`store-3 \\(pid ${store3}\\)`));
    expect(refused.stderr).to.not.match(/cluster is up/);
    const others = [...byName].filter(([name]) => name !== 'store-3');
    const gone = others.filter(([, pid]) => !pidAlive(pid)).map(([name]) => name);
    expect(gone, 'roles still alive after the wait').to.have.length(others.length);
    expect(Date.now() - t0).to.be.below(ORPHAN_STOP_MS + 12_000);

    const st = await run(['cluster', 'status', '--data-dir', c.dataDir]);
    expect(st.code).to.equal(1);
    expect(st.stderr).to.match(new RegExp(`no cluster manager runs .* still alive: store-3 \\(pid ${store3}\\)`));

    process.kill(store3, 'SIGCONT'); // now it sees its manager gone and stops
    await waitFor('the thawed store to stop', () => !pidAlive(store3), ORPHAN_STOP_MS + 2_000, 100);
    const none = await run(['cluster', 'status', '--data-dir', c.dataDir]);
    expect(none.code).to.equal(1);
    expect(none.stderr).to.match(/no cluster is running from/);

    const again = await run(['cluster', 'up', '--detach', '--data-dir', c.dataDir], 120_000);
    expect(again.code, again.stderr).to.equal(0);
    const after = await statusJson(c);
    for (const p of after.processes) {
      expect(p.status).to.equal('running');
      expect(byName.get(p.name)).to.not.equal(p.pid);
      expect(pidAlive(p.pid)).to.equal(true);
    }
    expect(await mounts(c)).to.include('survivor');
    expect(await putAndGet(c, 'a/kill-manager')).to.equal('acknowledged');
  });
});
