// The fsmeta gateway on a real cluster (`nokv cluster up` on free ports: meta-roots, coordinators, stores,
// mount-init, fsmeta): the gRPC API on mount `default` with metadata in the stores' Percolator KV and mounts and
// quota fences as rooted truth; WatchSubtree fed by the stores' apply streams; the concurrent history checker
// against an executor on the same stores; and a SIGKILL of the store that leads region 1 (where every fsmeta key
// lives) during a create load, after which every acknowledged create is listed and was announced to a watch,
// and the audit is clean.
import * as grpc from '@grpc/grpc-js';
import { expect } from 'chai';
import { auditDump, dumpMount } from '../../src/gateway/audit.js';
import { mountPrefix, prefixEnd } from '../../src/gateway/keys.js';
import { sleep, waitFor } from '../support/env.js';
import { clusterCmd, debugVars, nokv } from '../fixtures/coordinator-drills.js';
import { clusterHistoryTarget, fsmetaClusterUp, type FsmetaCluster } from '../fixtures/fsmeta-cluster.js';
import { dir, file, FsClient } from '../fixtures/fsmeta-gateway.js';
import { checkHistory } from '../fixtures/fsmeta-history.js';
import { hotSteps } from '../fixtures/fsmeta-script.js';

const M = 'default';
const ROOT = '1';
/** History checker on the cluster: seeds × steps (each op is a few store round trips). */
const HISTORY_SEEDS = [1, 2, 3, 4, 5];
const HISTORY_STEPS = 60;
const LOAD_WORKERS = 4;
/** The hot directory on the stores: clients × creates in all, into one directory. */
const STORM_CLIENTS = 16;
const STORM_CREATES = 1_000;
const HOT_HISTORY_SEEDS = [1, 2];
const HOT_HISTORY_STEPS = 40;

describe('fsmeta gateway on a real cluster', function () {
  this.timeout(60_000);
  let c: FsmetaCluster | undefined;
  const streams: grpc.ClientDuplexStream<any, any>[] = [];
  const create = async (parent: string, name: string, attrs: object = file()) => (await c!.fs.call('Create', { mount: M, parent, name, attrs })).inode.inode as string;
  const names = async (parent: string) => {
    const out: string[] = [];
    for (let after = ''; ; ) {
      const page = await c!.fs.call('ReadDirPlus', { mount: M, parent, start_after: after, limit: 256 });
      out.push(...page.entries.map((e: any) => e.dentry.name as string));
      if (page.entries.length < 256) return out;
      after = out.at(-1)!;
    }
  };

  before(async function () {
    this.timeout(150_000);
    c = await fsmetaClusterUp();
  });

  after(async function () {
    this.timeout(120_000);
    for (const s of streams) s.cancel();
    await c?.close();
  });

  it('mount default works out of the box: create, lookup, readdirplus, rename, unlink, rmdir on the stores', async () => {
    const d = await create(ROOT, 'docs', dir());
    await create(d, 'b.txt', file(10));
    const a = await create(d, 'a.txt', file(20));
    const look = await c!.fs.call('Lookup', { mount: M, parent: d, name: 'a.txt' });
    expect(look.dentry).to.include({ inode: a, type: 'INODE_TYPE_FILE' });
    const plus = await c!.fs.call('ReadDirPlus', { mount: M, parent: d, limit: 0 });
    expect(plus.entries.map((e: any) => [e.dentry.name, e.inode.size])).to.deep.equal([['a.txt', '20'], ['b.txt', '10']]);
    expect(BigInt(plus.read_version) > 0n).to.equal(true);
    expect(await c!.fs.status('Create', { mount: M, parent: d, name: 'a.txt', attrs: file() })).to.equal('ALREADY_EXISTS');

    await c!.fs.call('Rename', { mount: M, from_parent: d, from_name: 'a.txt', to_parent: ROOT, to_name: 'moved.txt' });
    expect((await c!.fs.call('Lookup', { mount: M, parent: ROOT, name: 'moved.txt' })).dentry.inode).to.equal(a);
    expect(await c!.fs.status('Lookup', { mount: M, parent: d, name: 'a.txt' })).to.equal('NOT_FOUND');
    expect(await c!.fs.status('RemoveDirectory', { mount: M, parent: ROOT, name: 'docs' })).to.equal('FAILED_PRECONDITION');
    await c!.fs.call('Unlink', { mount: M, parent: d, name: 'b.txt' });
    await c!.fs.call('RemoveDirectory', { mount: M, parent: ROOT, name: 'docs' });
    expect(await c!.fs.status('GetAttr', { mount: M, inode: d })).to.equal('NOT_FOUND');
    expect(await c!.fs.status('Create', { mount: 'no-such-mount', parent: ROOT, name: 'x', attrs: file() })).to.equal('NOT_FOUND');

    // The records are in the stores, not in the gateway: a raw scan of the mount's range finds them.
    const pairs = await c!.kv.begin(await c!.store.tso()).scan(mountPrefix(M), prefixEnd(mountPrefix(M)), 100);
    expect(pairs.length).to.be.at.least(2);
  });

  it('writer sessions and quota fences set through the coordinators (rooted truth)', async () => {
    const f = await create(ROOT, 'sess.bin');
    const ns = (ms: number) => (BigInt(Date.now() + ms) * 1_000_000n).toString();
    const open = (session: string, ms: number) => c!.fs.status('OpenWriteSession', { mount: M, inode: f, session, expires_unix_ns: ns(ms) });
    expect(await open('w1', 60_000)).to.equal('OK');
    expect(await open('w2', 60_000)).to.equal('ALREADY_EXISTS');
    await c!.fs.call('HeartbeatWriteSession', { mount: M, inode: f, session: 'w1', expires_unix_ns: ns(120_000) });
    await c!.fs.call('CloseWriteSession', { mount: M, session: 'w1' });
    expect(await open('w3', 100)).to.equal('OK');
    await sleep(250);
    expect((await c!.fs.call('ExpireWriteSessions', { mount: M, limit: 0 })).expired).to.equal('1');

    // A fence on a directory nobody has asked about yet (the gateway caches fence answers for a second).
    const q = await create(ROOT, 'quota', dir());
    await c!.coord.setQuota(`${M}/${q}`, 100, 2);
    await create(q, 'q1', file(60));
    expect(await c!.fs.status('Create', { mount: M, parent: q, name: 'q2', attrs: file(50) })).to.equal('RESOURCE_EXHAUSTED');
    await create(q, 'q2', file(40));
    expect(await c!.fs.status('Create', { mount: M, parent: q, name: 'q3', attrs: file(0) })).to.equal('RESOURCE_EXHAUSTED');
    expect(await c!.fs.call('GetQuotaUsage', { mount: M, scope: q })).to.deep.include({ bytes: '100', inodes: '2' });
    await c!.fs.call('Unlink', { mount: M, parent: q, name: 'q1' });
    expect(await c!.fs.call('GetQuotaUsage', { mount: M, scope: q })).to.deep.include({ bytes: '40', inodes: '1' });
  });

  it('WatchSubtree delivers events (from the stores\' apply streams) for changes another client makes', async () => {
    const d = await create(ROOT, 'watched', dir());
    const stream = c!.fs.watch();
    streams.push(stream);
    const events: any[] = [];
    let ready = false;
    stream.on('data', (m: any) => (m.body === 'ready' ? (ready = true) : events.push(m.event)));
    stream.on('error', () => undefined);
    stream.write({ subscribe: { mount: M, root_inode: d, descend_recursively: true } });
    await waitFor('ready', () => ready, 10_000);

    const other = new FsClient(c!.cluster.topo.fsmeta[0]!.addr, c!.token);
    try {
      const sub = (await other.call('Create', { mount: M, parent: d, name: 'sub', attrs: dir() })).inode.inode as string;
      const f = (await other.call('Create', { mount: M, parent: sub, name: 'deep.txt', attrs: file(1) })).inode.inode as string;
      await other.call('UpdateInode', { mount: M, parent: sub, name: 'deep.txt', inode: f, set_size: true, size: 2 });
      await other.call('Unlink', { mount: M, parent: sub, name: 'deep.txt' });
      await other.call('Create', { mount: M, parent: ROOT, name: 'not-watched', attrs: file() });
    } finally {
      other.close();
    }
    await waitFor('4 events', () => events.length >= 4, 10_000);
    await sleep(300);
    const summary = events.map((e) => `${e.kind.replace('WATCH_EVENT_KIND_', '')} ${e.name}`);
    expect(summary).to.deep.equal(['CREATED sub', 'CREATED deep.txt', 'UPDATED deep.txt', 'DELETED deep.txt']);
    const versions = events.map((e) => BigInt(e.commit_version));
    expect(versions.every((v, i) => i === 0 || v > versions[i - 1]!)).to.equal(true);
    expect(Number(events[0].cursor.region_id)).to.equal(1);
    const vars = (await debugVars(c!.cluster.topo.fsmeta[0]!.metrics_addr))!.nokv_fsmeta_watch;
    expect(vars.duplicates).to.be.greaterThan(0); // three replicas report each entry; the router keeps one
  });

  it('the concurrent history checker finds a linearizable order for every seed against an executor on the stores', async function () {
    this.timeout(120_000);
    for (const seed of HISTORY_SEEDS) {
      const r = await checkHistory(seed, HISTORY_STEPS, 4, { target: clusterHistoryTarget(c!, seed) });
      if (process.env.NOKV_TEST_REPORT) console.log(`seed ${seed}: ${r.ops} ops in ${r.batches} batches, ${r.overlapped} overlapped, ${r.aborted} aborted, ${r.conflicts} conflicts`);
      expect(r.failure ?? '').to.equal('');
      expect(r.ok).to.equal(true);
    }
  });

  it(`${STORM_CLIENTS} clients creating ${STORM_CREATES} files in one directory: none ABORTED, every one listed`, async function () {
    this.timeout(180_000);
    const hot = await create(ROOT, 'storm', dir());
    const addr = c!.cluster.topo.fsmeta[0]!.addr;
    const vars = async () => (await debugVars(c!.cluster.topo.fsmeta[0]!.metrics_addr))!.nokv_fsmeta_executor;
    const before = await vars();
    const clients = Array.from({ length: STORM_CLIENTS }, () => new FsClient(addr, c!.token));
    const failures = new Map<string, number>();
    let next = 0;
    const t0 = Date.now();
    try {
      await Promise.all(clients.map(async (cl) => {
        for (let i = next++; i < STORM_CREATES; i = next++) {
          const code = await cl.status('Create', { mount: M, parent: hot, name: `f-${String(i).padStart(5, '0')}`, attrs: file() });
          if (code !== 'OK') failures.set(code, (failures.get(code) ?? 0) + 1);
        }
      }));
    } finally {
      for (const cl of clients) cl.close();
    }
    const after = await vars();
    if (process.env.NOKV_TEST_REPORT) console.log(`${STORM_CREATES} creates in ${Date.now() - t0} ms; conflicts retried ${after.conflicts - before.conflicts}`);
    expect(Object.fromEntries(failures)).to.deep.equal({});
    expect(after.aborted - before.aborted).to.equal(0);
    expect(after.conflicts - before.conflicts, 'inserts into one directory do not conflict').to.equal(0);
    const listed = await names(hot);
    expect(listed.length).to.equal(STORM_CREATES);
    expect(new Set(listed).size).to.equal(STORM_CREATES);
  });

  it('the hot-directory history checker (inserts racing RemoveDirectory in one directory) on the stores', async function () {
    this.timeout(120_000);
    for (const seed of HOT_HISTORY_SEEDS) {
      const r = await checkHistory(seed, HOT_HISTORY_STEPS, 5, { target: clusterHistoryTarget(c!, seed), steps: hotSteps(), noFences: true });
      if (process.env.NOKV_TEST_REPORT) console.log(`hot seed ${seed}: ${r.ops} ops, ${r.overlapped} overlapped, ${r.conflicts} conflicts, ${r.insertOnlyConflicts} among inserts`);
      expect(r.failure ?? '').to.equal('');
      expect(r.insertOnlyConflicts).to.equal(0);
      expect(r.aborted).to.equal(0);
    }
  });

  it('RegisterMount with root_inode 0 registers root 1 (the documented default), and the gateway serves the mount', async () => {
    const reg = await c!.coord.call('RegisterMount', { mount_id: 'zero-root', root_inode: 0, schema_version: 0 }, false);
    expect(reg.mount).to.deep.include({ root_inode: '1', schema_version: '1' });
    const made = await c!.fs.call('Create', { mount: 'zero-root', parent: ROOT, name: 'works', attrs: file() });
    expect(made.dentry.name).to.equal('works');
    expect((await c!.fs.call('ReadDir', { mount: 'zero-root', parent: ROOT })).entries.map((e: any) => e.name)).to.deep.equal(['works']);
  });

  it('RenameSubtree publishes the handoff through the coordinators: the rooted authority of default/1 advances its era with none left pending', async () => {
    const authority = async () => {
      const doc = JSON.parse(await nokv(['config', 'snapshot', '--json', '--linearizable', '--config', `${c!.cluster.dataDir}/topology.json`]));
      return doc.subtrees.find((s: any) => s.subtree_id === `${M}/${ROOT}`);
    };
    const before = await authority();
    expect(before, 'the mount registration created the authority record').to.not.equal(undefined);
    const src = await create(ROOT, 'tree', dir());
    await create(src, 'leaf.txt', file(3));
    const dst = await create(ROOT, 'elsewhere', dir());
    await c!.fs.call('RenameSubtree', { mount: M, from_parent: ROOT, from_name: 'tree', to_parent: dst, to_name: 'tree' });
    expect((await c!.fs.call('Lookup', { mount: M, parent: dst, name: 'tree' })).dentry.inode).to.equal(src);
    expect((await c!.fs.call('Lookup', { mount: M, parent: src, name: 'leaf.txt' })).dentry.name).to.equal('leaf.txt');

    const moved = await authority();
    expect(moved.era).to.be.greaterThan(before.era);
    expect(moved.handoff).to.equal(null);
    expect(moved.authority_id).to.equal(`fsmeta-1@${moved.era}`);
    expect(BigInt(moved.frontier) > BigInt(before.frontier)).to.equal(true);

    // A refused move still completes its handoff (another era, nothing pending).
    expect(await c!.fs.status('RenameSubtree', { mount: M, from_parent: dst, from_name: 'tree', to_parent: dst, to_name: 'tree' })).to.not.equal('OK');
    expect(await c!.fs.status('RenameSubtree', { mount: M, from_parent: ROOT, from_name: 'elsewhere', to_parent: dst, to_name: 'x' })).to.equal('FAILED_PRECONDITION');
    const refused = await authority();
    expect(refused.era).to.be.greaterThan(moved.era);
    expect(refused.handoff).to.equal(null);
  });

  it('SIGKILL of the store leading region 1 during a create load: every acknowledged create is listed and watched, the audit is clean', async function () {
    this.timeout(90_000);
    const cl = c!.cluster;
    const load = await create(ROOT, 'load', dir());
    const r1 = await c!.coord.getRegionByKey(mountPrefix(M));
    expect(Number(r1.region.region_id)).to.equal(1);
    const victim = Number(r1.region.leader_store_id);
    expect(victim).to.be.greaterThan(0);

    // A watch on the directory across the kill: the two surviving replicas' apply streams keep it fed.
    const stream = c!.fs.watch();
    streams.push(stream);
    const created = new Set<string>();
    let ready = false;
    stream.on('data', (m: any) => (m.body === 'ready' ? (ready = true) : m.event.kind === 'WATCH_EVENT_KIND_CREATED' && created.add(String(m.event.name))));
    stream.on('error', () => undefined);
    stream.write({ subscribe: { mount: M, root_inode: load, back_pressure_window: 65_536 } });
    await waitFor('ready', () => ready, 10_000);

    const acked: string[] = [];
    const errors: string[] = [];
    let running = true;
    let killedAt = 0;
    let afterKill = 0;
    const worker = async (w: number) => {
      for (let n = 0; running; n++) {
        const name = `w${w}-${n}`;
        try {
          await c!.fs.call('Create', { mount: M, parent: load, name, attrs: file(1) });
          acked.push(name);
          if (killedAt && Date.now() > killedAt) afterKill++;
        } catch (err) {
          errors.push((err as Error).message);
        }
      }
    };
    const workers = Array.from({ length: LOAD_WORKERS }, (_, w) => worker(w));
    try {
      await waitFor('creates before the kill', () => acked.length >= 20, 20_000);
      killedAt = Date.now();
      await clusterCmd(cl, 'kill', `store-${victim}`);
      await waitFor('creates after the kill', () => afterKill >= 20, 30_000, 100);
    } finally {
      running = false;
      await Promise.all(workers);
    }
    if (process.env.NOKV_TEST_REPORT) console.log(`${acked.length} acknowledged creates (${afterKill} after the kill), ${errors.length} errors`, errors.slice(0, 3));

    const listed = new Set(await names(load));
    expect(acked.filter((n) => !listed.has(n))).to.deep.equal([]);
    const issues = auditDump(await dumpMount(c!.kv, M, await c!.store.tso()), 1);
    expect(issues).to.deep.equal([]);
    await waitFor('a CREATED event for every acknowledged create', () => acked.every((n) => created.has(n)), 10_000, 100).catch(() => undefined);
    expect(acked.filter((n) => !created.has(n))).to.deep.equal([]);

    await clusterCmd(cl, 'start', `store-${victim}`);
  });
});
