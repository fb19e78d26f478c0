// Chaos for the fsmeta gateway on a real cluster (`nokv cluster up` on free ports): several gRPC clients run a
// create / rename / unlink / readdirplus load against the gateway process while a seeded nemesis, one fault
// after another, stops the active coordinator, SIGKILLs the store leading region 1 (where every fsmeta key
// lives) and stops the meta-root raft leader, restarting each after a seeded pause. Afterwards a ReadDirPlus
// walk must equal the model built from acknowledged results (indeterminate calls may go either way), the audit
// must find no broken invariant, and every client must have resumed within RESUME_BOUND_MS of each fault.
// NOKV_FSMETA_CHAOS_SEED=N replays the nemesis schedule and the clients' choices (not the exact interleaving).
import { expect } from 'chai';
import { SeededPrng } from '../../src/common/prng.js';
import { auditDump, dumpMount } from '../../src/gateway/audit.js';
import { mountPrefix } from '../../src/gateway/keys.js';
import { sleep, waitFor } from '../support/env.js';
import { clusterCmd, metaRootLeader, nokv, waitForHolder } from '../fixtures/coordinator-drills.js';
import { fsmetaClusterUp, type FsmetaCluster } from '../fixtures/fsmeta-cluster.js';
import { dir, FsClient } from '../fixtures/fsmeta-gateway.js';
import { call, FsWorker, listDir } from './fsmeta-workload.js';

const M = 'default';
const ROOT = '1';
const SEED = process.env.NOKV_FSMETA_CHAOS_SEED ? Number(process.env.NOKV_FSMETA_CHAOS_SEED) : (Date.now() % 1_000_000) + 1;
const WORKERS = 4;
/**
 * How long after a fault is injected every client must have an acknowledged call that began after it. The
 * slowest path is the meta-root leader: a raft re-election (~1–2 s) and, when a lease renewal misses, one
 * coordinator era (TTL 3 s) before TSO serves again; a store SIGKILL costs a region election plus the
 * store client's retries; a stopped coordinator releases its lease, so a standby takes over within a commit.
 */
const RESUME_BOUND_MS = 15_000;
/** How long a stopped or killed process stays down, [min, max] ms. */
const DOWN_MS: [number, number] = [300, 1_500];
/** Load without faults before each fault, [min, max] ms. */
const GAP_MS: [number, number] = [800, 1_600];

type Verb = 'stop' | 'kill';
interface Fault {
  name: string;
  verb: Verb;
  target: (c: FsmetaCluster) => Promise<string>;
}

const FAULTS: Fault[] = [
  { name: 'stop the active coordinator', verb: 'stop', target: async (c) => (await waitForHolder(c.cluster, 0)).name },
  {
    name: 'SIGKILL the store leading region 1',
    verb: 'kill',
    target: async (c) => {
      const r = await waitFor('a leader of region 1', async () => {
        const got = await c.coord.getRegionByKey(mountPrefix(M));
        return Number(got.region.leader_store_id) > 0 ? got : null;
      });
      return `store-${Number(r!.region.leader_store_id)}`;
    },
  },
  { name: 'stop the meta-root leader', verb: 'stop', target: (c) => metaRootLeader(c.cluster) },
];

interface Recovery {
  fault: string;
  target: string;
  /** Per client: ms from the fault to its first acknowledged call begun after it. */
  resumedMs: number[];
  /** Per client: the longest time without an acknowledgement from the fault command until all resumed. */
  stalls: number[];
}

const between = (prng: SeededPrng, [lo, hi]: [number, number]) => lo + prng.int(hi - lo + 1);

describe('fsmeta gateway under coordinator, store and meta-root failover (chaos)', function () {
  this.timeout(60_000);
  let c: FsmetaCluster | undefined;
  const workers: FsWorker[] = [];
  const recoveries: Recovery[] = [];
  let chaosDir = '';
  let stopped = false;
  const stopWorkers = async () => {
    if (stopped) return;
    stopped = true;
    await Promise.all(workers.map((w) => w.stop()));
  };

  before(async function () {
    this.timeout(150_000);
    console.log(`      fsmeta chaos seed ${SEED} (reproduce with NOKV_FSMETA_CHAOS_SEED=${SEED})`);
    c = await fsmetaClusterUp();
    chaosDir = (await c.fs.call('Create', { mount: M, parent: ROOT, name: 'chaos', attrs: dir() })).inode.inode;
    const prng = new SeededPrng(SEED);
    for (let w = 0; w < WORKERS; w++) {
      const wd = (await c.fs.call('Create', { mount: M, parent: chaosDir, name: `worker-${w}`, attrs: dir() })).inode.inode;
      workers.push(new FsWorker(w, new FsClient(c.cluster.topo.fsmeta[0]!.addr, c.token), M, wd, prng.fork()));
    }
  });

  after(async function () {
    this.timeout(120_000);
    await stopWorkers();
    await c?.close();
  });

  it(`every client resumes within ${RESUME_BOUND_MS} ms after each fault, and no listing contradicts the model`, async function () {
    this.timeout(90_000);
    const cl = c!;
    const prng = new SeededPrng(SEED ^ 0x5eed);
    for (const w of workers) w.start();
    try {
      for (const fault of FAULTS) {
        await sleep(between(prng, GAP_MS));
        const target = await fault.target(cl);
        const injectedAt = Date.now();
        await clusterCmd(cl.cluster, fault.verb, target);
        // Measured from when the command returned: the process is gone by then.
        const t0 = Date.now();
        await sleep(between(prng, DOWN_MS));
        await clusterCmd(cl.cluster, 'start', target);
        await waitFor(`every client to resume after "${fault.name}"`, () => workers.every((w) => w.firstOkAfter(t0)), RESUME_BOUND_MS + 5_000, 50).catch(() => undefined);
        const resumedMs = workers.map((w) => (w.firstOkAfter(t0)?.endMs ?? Infinity) - t0);
        const stalls = workers.map((w) => w.longestStallMs(injectedAt));
        recoveries.push({ fault: fault.name, target, resumedMs, stalls });
        if (process.env.NOKV_TEST_REPORT) console.log(`      ${fault.name} (${target}): clients resumed after ${resumedMs.join(', ')} ms; longest stalls ${stalls.join(', ')} ms`);
      }
      await sleep(between(prng, GAP_MS));
    } finally {
      await stopWorkers();
    }
    for (const r of recoveries) {
      for (const [w, ms] of r.resumedMs.entries()) expect(ms, `seed ${SEED}: worker ${w} after "${r.fault}" (${r.target})`).to.be.at.most(RESUME_BOUND_MS);
      for (const [w, ms] of r.stalls.entries()) expect(ms, `seed ${SEED}: worker ${w} stalled by "${r.fault}" (${r.target})`).to.be.at.most(RESUME_BOUND_MS);
    }
    const acked = workers.reduce((n, w) => n + w.samples.filter((s) => s.ok && s.op !== 'readdirplus').length, 0);
    if (process.env.NOKV_TEST_REPORT) {
      const codes = workers.flatMap((w) => [...w.errorCodes]).map(([k, n]) => `${k}×${n}`);
      console.log(`      ${acked} acknowledged mutations; errors: ${codes.join(' ') || 'none'}`);
    }
    expect(acked, 'the load made progress').to.be.greaterThan(40);
    expect(workers.flatMap((w) => w.violations), `seed ${SEED}`).to.deep.equal([]);
  });

  it('a final ReadDirPlus walk equals the model built from acknowledged results', async () => {
    const fs = c!.fs;
    const top = await waitFor('the gateway to list the chaos directory', () => listDir(fs, M, chaosDir).catch(() => null), 20_000, 200);
    expect([...top!.keys()].sort()).to.deep.equal(workers.map((w) => `worker-${w.id}`).sort());
    for (const w of workers) {
      expect(top!.get(`worker-${w.id}`)).to.equal(w.dir);
      w.check(await listDir(fs, M, w.dir), 'final walk');
      // Each acknowledged name also resolves by Lookup to the same inode.
      for (const [name, inode] of w.present) expect((await call(fs, 'Lookup', { mount: M, parent: w.dir, name })).dentry.inode).to.equal(inode);
    }
    expect(workers.flatMap((w) => w.violations), `seed ${SEED}`).to.deep.equal([]);
  });

  it('the audit of the mount finds no broken invariant', async () => {
    const issues = auditDump(await dumpMount(c!.kv, M, await c!.store.tso()), 1);
    expect(issues, `seed ${SEED}`).to.deep.equal([]);
  });

  it('the subtree authority moved on through the faults and the next RenameSubtree leaves no handoff pending', async () => {
    const authority = async () => {
      const doc = JSON.parse(await nokv(['config', 'snapshot', '--json', '--linearizable', '--config', `${c!.cluster.dataDir}/topology.json`]));
      return doc.subtrees.find((s: any) => s.subtree_id === `${M}/${ROOT}`);
    };
    const w = workers[0]!;
    const subtreeMoves = workers.reduce((n, x) => n + x.samples.filter((s) => s.ok && s.op === 'rename_subtree').length, 0);
    expect(subtreeMoves, 'acknowledged RenameSubtree calls').to.be.greaterThan(0);
    const seen = await authority();
    expect(seen.era).to.be.greaterThan(subtreeMoves); // at least one era per acknowledged move
    // A handoff a fault cut short between its two events is finished by the next one (Finality).
    const from = [...w.present.keys()][0] ?? null;
    const name = from ?? 'finality';
    if (!from) await c!.fs.call('Create', { mount: M, parent: w.dir, name, attrs: { type: 'INODE_TYPE_FILE' } });
    await c!.fs.call('RenameSubtree', { mount: M, from_parent: w.dir, from_name: name, to_parent: w.dir, to_name: `${name}-final` });
    const after = await authority();
    expect(after.era).to.be.greaterThan(seen.era);
    expect(after.handoff, `seed ${SEED}`).to.equal(null);
  });
});
