// The failure drills of the demo on real processes (`nokv cluster` on free ports, lease TTL 2 s), with a client
// issuing Tso and AllocID calls throughout. After every drill the duties resume with a strictly greater era
// where the lease moved, and over the whole run no ID was served twice and no timestamp failed to increase.
import { expect } from 'chai';
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
} from '../fixtures/coordinator-drills.js';
import { sleep, waitFor } from '../support/env.js';
import { LONG_PROFILE } from '../support/profile.js';

// Plaintext with the meta-root raft peers and the coordinators' lease holders on worker threads (topology
// workers 1); under `npm run test:long` also with mutual TLS between every process and for the clients
// (`cluster up --tls`) with every actor on the main thread (workers 0), so both placements go through every
// drill. (`npm test` covers TLS clusters in the hostile-input suite.)
const RUNS: Array<{ tls: boolean; workers?: { meta_root: number; coordinator: number } }> = [
  { tls: false, workers: { meta_root: 1, coordinator: 1 } },
  ...(LONG_PROFILE ? [{ tls: true }] : []),
];
for (const { tls, workers } of RUNS) describe(`coordinator failure drills (real processes${tls ? ', mutual TLS' : ''}, --workers ${workers ? 1 : 0})`, function () {
  this.timeout(60_000);
  let cluster: DrillCluster | undefined;
  let load: DutyLoad | undefined;

  before(async function () {
    this.timeout(150_000);
    cluster = await clusterUp(undefined, { tls, ...(workers ? { workers } : {}) });
    await waitForHolder(cluster, 0);
    load = new DutyLoad(cluster.coordAddrs, cluster.token);
    await load.firstSuccessAfter(0, 1);
  });

  after(async function () {
    this.timeout(120_000);
    await load?.stop();
    if (cluster) await clusterDown(cluster);
  });

  afterEach(function () {
    // Every drill keeps the history clean; report the first problem right where it appeared.
    expect(load!.violations()).to.deep.equal([]);
  });

  if (workers) {
    it('runs each lease holder and meta-root raft peer on worker thread 1', async () => {
      const c = cluster!;
      const placed = async (addr: string, name: string) => {
        const doc = (await (await fetch(`http://${addr}/debug/vars`)).json()) as { nokv_actors: { threads: Array<{ thread: number; actors: Array<{ name: string }> }> } };
        return doc.nokv_actors.threads.filter((t) => t.actors.some((a) => a.name === name)).map((t) => t.thread);
      };
      for (const co of c.topo.coordinators) expect(await placed(co.metrics_addr, 'lease-holder'), co.id).to.deep.equal([1]);
      for (const p of c.topo.meta_root.peers) expect(await placed(p.metrics_addr, 'raft-peer'), `meta-root-${p.node_id}`).to.deep.equal([1]);
    });
  }

  it('stopping the active coordinator moves the lease to a standby with a greater era', async () => {
    const c = cluster!;
    const before = await waitForHolder(c, 0);
    const t0 = Date.now();
    await clusterCmd(c, 'stop', before.name);
    const after = await waitForHolder(c, before.era);
    expect(after.id).to.not.equal(before.id);
    const survivors = await coordStates(c);
    expect(survivors.map((s) => s.name)).to.not.include(before.name);
    for (const s of survivors) expect(s.era, `${s.name} era`).to.be.greaterThan(before.era);
    const resumed = await load!.firstSuccessAfter(t0, after.era);
    expect(resumed.atMs - t0).to.be.lessThan(10_000);
    // Rejoin: the stopped coordinator comes back as a standby without disturbing the era.
    await clusterCmd(c, 'start', before.name);
    const back = (await waitFor('the restarted coordinator to report', async () =>
      (await coordStates(c)).find((s) => s.name === before.name && s.era > 0),
    ))!;
    await sleep(1500);
    const now = (await coordStates(c)).find((s) => s.name === before.name)!;
    expect(back.held_by_self).to.equal(false);
    expect(now.held_by_self).to.equal(false);
    expect(now.era).to.equal(after.era);
    expect((await waitForHolder(c, 0)).era).to.equal(after.era);
  });

  it('SIGKILL of the active coordinator: a standby takes over once the lease expires', async () => {
    const c = cluster!;
    const before = await waitForHolder(c, 0);
    const t0 = Date.now();
    await clusterCmd(c, 'kill', before.name);
    const after = await waitForHolder(c, before.era, 20_000);
    expect(after.id).to.not.equal(before.id);
    const resumed = await load!.firstSuccessAfter(t0, after.era);
    expect(resumed.atMs - t0).to.be.lessThan(15_000);
    await clusterCmd(c, 'start', before.name);
    await waitFor('the killed coordinator to rejoin', async () => (await coordStates(c)).some((s) => s.name === before.name && s.era >= after.era));
    const rejoined = (await coordStates(c)).find((s) => s.name === before.name)!;
    expect(rejoined.held_by_self).to.equal(false);
  });

  it('stopping the meta-root raft leader: re-election, the lease moves through at most one era, duties resume', async () => {
    const c = cluster!;
    const before = await waitForHolder(c, 0);
    const leader = await metaRootLeader(c);
    const t0 = Date.now();
    await clusterCmd(c, 'stop', leader);
    const newLeader = await metaRootLeader(c);
    expect(newLeader).to.not.equal(leader);
    await load!.firstSuccessAfter(t0 + 50, before.era, 30_000);
    const after = await waitForHolder(c, before.era - 1);
    expect(after.era - before.era).to.be.within(0, 1);
    await clusterCmd(c, 'start', leader);
    await sleep(500);
  });

  it('planned handover seals, the target takes the next era, and the handover record reaches closed', async () => {
    const c = cluster!;
    const before = await waitForHolder(c, 0);
    const target = c.topo.coordinators.find((co) => co.id !== before.id)!.id;
    const out = await nokv(['coordinator', 'handover', '--to', target, '--endpoints', c.coordAddrs.join(','), '--token-file', c.tokenFile]);
    const m = /^handover (\S+) era (\d+) -> (\S+) era (\d+): (\w+)$/m.exec(out);
    expect(m, out).to.not.equal(null);
    const [, from, legacyEra, to, successorEra, stage] = m!;
    expect({ to, stage }).to.deep.equal({ to: target, stage: 'closed' });
    expect(from).to.not.equal(target);
    expect(Number(legacyEra)).to.be.at.least(before.era);
    expect(Number(successorEra)).to.equal(Number(legacyEra) + 1);
    const after = await waitForHolder(c, Number(legacyEra));
    expect(after).to.include({ id: target, era: Number(successorEra), handover_stage: 'closed' });
    await load!.firstSuccessAfter(Date.now(), after.era);
  });

  it('the whole run served every value once and timestamps strictly increased', async () => {
    await sleep(300);
    expect(load!.ids.length).to.be.greaterThan(100);
    expect(load!.violations()).to.deep.equal([]);
  });
});
