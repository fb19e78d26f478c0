// A client in another language, built from proto/ alone: protoc generates Python message classes for every
// proto file, and a Python script (test/fixtures/python/fsmeta_client.py, grpcio) uses the fsmeta API of a real
// gateway over gRPC: creates, reads back (Lookup, GetAttr, ReadDirPlus), watches, and reads an error status with
// its ErrorDetail trailer; a second script (control_client.py) uses the meta-root and coordinators of a real
// cluster: typed rooted events appended and tailed, typed state reads (StateSummary, RootedState), a NotLeaderError's detail, duties, and a
// one-phase commit and read on the store the coordinator routes to.
// Debian's protobuf-compiler, python3-protobuf and python3-grpcio are installed by
// scripts/install-python-grpc.sh (.ci/run runs it); without them the test skips, except under CI, where it fails.
import { expect } from 'chai';
import { execFile, execFileSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startTestGateway, type TestGateway } from '../fixtures/fsmeta-gateway.js';
import { clusterDown, clusterUp, type DrillCluster } from '../fixtures/coordinator-drills.js';
import { makeTempDir } from '../support/env.js';

const repo = fileURLToPath(new URL('../../../', import.meta.url));
const PYTHON = '/usr/bin/python3';

function missingTools(): string | undefined {
  try {
    execFileSync('protoc', ['--version'], { stdio: 'ignore' });
    execFileSync(PYTHON, ['-c', 'import grpc, google.protobuf'], { stdio: 'ignore' });
    return undefined;
  } catch {
    return 'protoc or Debian python3-grpcio/python3-protobuf missing (run scripts/install-python-grpc.sh as root)';
  }
}

function protoFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? protoFiles(p) : f.endsWith('.proto') ? [p] : [];
  });
}

describe('a Python client generated from proto/ alone', function () {
  this.timeout(60_000);
  let tmp: ReturnType<typeof makeTempDir>;
  let gw: TestGateway;
  const TOKEN = 'python-client-token';

  before(async function () {
    const missing = missingTools();
    if (missing) {
      if (process.env.CI) throw new Error(`${missing}: required in CI`);
      this.skip();
    }
    tmp = makeTempDir('nokv-python-');
    gw = await startTestGateway({ token: TOKEN });
    gw.duties.registerMount('default', 1);
  });
  after(async () => {
    await gw?.stop();
    tmp?.remove();
  });

  it('protoc generates Python for every proto file, and the client uses the fsmeta API with them', async () => {
    const protoDir = join(repo, 'proto');
    const files = protoFiles(protoDir).map((f) => relative(protoDir, f));
    execFileSync('protoc', [`-I${protoDir}`, `--python_out=${tmp.path}`, ...files]);
    for (const f of files) expect(statSync(join(tmp.path, f.replace(/\.proto$/, '_pb2.py'))).isFile(), f).to.equal(true);

    const script = join(repo, 'test/fixtures/python/fsmeta_client.py');
    const out = await new Promise<string>((resolve, reject) => {
      execFile(PYTHON, [script, tmp.path, gw.gw.addr, TOKEN], { timeout: 45_000, killSignal: 'SIGKILL' }, (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout)));
    });
    const r = JSON.parse(out);
    expect(r.dir_type).to.equal('INODE_TYPE_DIRECTORY');
    expect(r.event).to.deep.equal({ kind: 'WATCH_EVENT_KIND_CREATED', parent: r.dir_inode, name: 'naïve.txt' });
    expect(r.lookup).to.deep.equal({ name: 'naïve.txt', type: 'INODE_TYPE_FILE' });
    expect(r.attr).to.deep.equal({ size: 42, mode: 0o644, link_count: 1 });
    expect(r.listing).to.deep.equal([['naïve.txt', 42]]);
    expect(r.read_version_positive).to.equal(true);
    expect(r.missing).to.equal('NOT_FOUND');
    expect(r.missing_detail).to.include({ code: 'NOT_FOUND', has_message: true });
    expect(r.missing_detail.name).to.match(/Error$/);
    // What Python wrote, the TypeScript side reads back the same.
    const d = await gw.client.call('Lookup', { mount: 'default', parent: '1', name: 'py-dir' });
    expect(String(d.dentry.inode)).to.equal(String(r.dir_inode));
  });
});

describe('a Python client of the meta-root and coordinators, generated from proto/ alone', function () {
  this.timeout(240_000);
  let tmp: ReturnType<typeof makeTempDir>;
  let cluster: DrillCluster | undefined;

  before(async function () {
    const missing = missingTools();
    if (missing) {
      if (process.env.CI) throw new Error(`${missing}: required in CI`);
      this.skip();
    }
    tmp = makeTempDir('nokv-python-');
    cluster = await clusterUp();
  });
  after(async () => {
    if (cluster) await clusterDown(cluster);
    tmp?.remove();
  });

  it('decodes typed rooted events, typed state reads, error details, coordinator duties and a store read and write', async () => {
    const protoDir = join(repo, 'proto');
    execFileSync('protoc', [`-I${protoDir}`, `--python_out=${tmp.path}`, ...protoFiles(protoDir).map((f) => relative(protoDir, f))]);
    const c = cluster!;
    const script = join(repo, 'test/fixtures/python/control_client.py');
    const args = [script, tmp.path, c.token, c.topo.meta_root.peers.map((p) => p.addr).join(','), c.coordAddrs.join(',')];
    const out = await new Promise<string>((resolve, reject) => {
      execFile(PYTHON, args, { timeout: 90_000, killSignal: 'SIGKILL' }, (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout)));
    });
    const r = JSON.parse(out);
    expect(r.replicas).to.deep.equal([1, 2, 3]);
    // Status.summary and Snapshot.state are typed messages: counts, tenure, records with enum states.
    expect(r.summary).to.include({ stores: 3 });
    expect(r.summary.regions).to.be.greaterThan(0);
    expect(r.summary.era).to.be.greaterThan(0);
    expect(r.summary.holder).to.match(/^coord/);
    expect(r.summary.applied_index).to.be.greaterThan(0);
    expect(r.state_views).to.deep.include({ stores: [1, 2, 3], store_state: 'STORE_STATE_JOINED', region_state: 'REGION_STATE_RUNNING', mount_root: 1 });
    expect(r.state_views.tenure_era).to.equal(r.summary.era);
    // A follower refuses the write; the ErrorDetail trailer names the class and where the leader is.
    expect(r.refusal.status).to.equal('FAILED_PRECONDITION');
    expect(r.refusal.detail).to.include({ name: 'NotLeaderError', code: 'FAILED_PRECONDITION' });
    expect(r.refusal.detail.details.leaderId).to.equal(r.leader_id);
    expect(r.appended).to.deep.equal({ accepted: true, kinds: ['quota_fence_updated'], subject: 'py-quota' });
    // The rooted log from the start, every event decoded as its typed oneof member.
    expect(r.tail_kinds).to.include.members(['store_joined', 'region_bootstrap', 'mount_registered', 'tenure', 'quota_fence_updated']);
    expect(r.state_quota).to.deep.equal({ limit_inodes: 1000, limit_bytes: 2 ** 40, era: 1 });
    expect(r.tso).to.include({ timestamp_positive: true, count: 4 });
    expect(r.tso.era).to.be.greaterThan(0);
    expect(r.region.found).to.equal(true);
    expect(r.region.peers).to.equal(3);
    expect(r.stores).to.deep.equal([1, 2, 3]);
    expect(r.mounts).to.include('default');
    expect(r.lease.active).to.equal(true);
    expect(r.published).to.deep.equal({ accepted: true, root_index_positive: true });
    // The store tier: a one-phase commit on the routed leader, read back; a wrong epoch is a typed refusal.
    expect(r.kv).to.deep.include({ errors: 0, committed_above_start: true, value: 'py-value', not_found: false });
    expect(r.kv.wrong_epoch).to.deep.equal({ status: 'FAILED_PRECONDITION', name: 'EpochNotMatchError' });
  });
});
