// How every command finds its cluster (src/cli/target.ts): flags over environment over the data dir's own
// topology and token over the defaults; the nearest .nokv/ is found from a subfolder; a printed command carries
// --data-dir exactly when it would not reach the cluster without it. And failures read as one line.
import { expect } from 'chai';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { oneLine } from '../../src/cli/errors.js';
import { UsageError } from '../../src/cli/flags.js';
import { resolveTarget, withWhere } from '../../src/cli/target.js';
import { topologyOnPorts } from '../../src/config/topology.js';
import { FailedPreconditionError, TimeoutError, UnavailableError } from '../../src/common/errors.js';
import { makeTempDir } from '../support/env.js';

const ports = (base: number) => Array.from({ length: 23 }, (_, i) => base + i);

describe('cli target: one way to find a cluster', () => {
  let tmp: { path: string; remove: () => void };
  let nokvDir: string;
  beforeEach(() => {
    tmp = makeTempDir();
    nokvDir = join(tmp.path, '.nokv');
    mkdirSync(join(tmp.path, 'docs', 'deep'), { recursive: true });
    mkdirSync(nokvDir);
    writeFileSync(join(nokvDir, 'topology.json'), JSON.stringify(topologyOnPorts(ports(12000))));
    writeFileSync(join(nokvDir, 'cluster.token'), 'tok-from-data-dir\n');
  });
  afterEach(() => tmp.remove());

  it('finds the nearest .nokv/ from a subfolder and reads its topology and token', () => {
    const t = resolveTarget({}, {}, join(tmp.path, 'docs', 'deep'));
    expect(t.paths.dataDir).to.equal(nokvDir);
    expect(t.dataDirFrom).to.equal('found');
    expect(t.topologyFrom).to.equal('data-dir');
    expect(t.endpoints('coordinator')).to.deep.equal(['127.0.0.1:12009', '127.0.0.1:12011', '127.0.0.1:12013']);
    expect(t.token).to.equal('tok-from-data-dir');
    expect(t.selector).to.equal(''); // run from the same folder, a printed command finds it again
  });

  it('takes flags over environment over the data dir, and says --data-dir when a printed command needs it', () => {
    const other = join(tmp.path, 'other.json');
    writeFileSync(other, JSON.stringify(topologyOnPorts(ports(13000))));
    const env = { NOKV_DATA_DIR: nokvDir, NOKV_CONFIG: other, NOKV_ENDPOINTS: '127.0.0.1:1,127.0.0.1:2' };
    const fromEnv = resolveTarget({}, env, '/');
    expect(fromEnv.dataDirFrom).to.equal('env');
    expect(fromEnv.topologyFrom).to.equal('env');
    expect(fromEnv.topology.coordinators[0]!.addr).to.equal('127.0.0.1:13009');
    expect(fromEnv.endpoints('meta-root')).to.deep.equal(['127.0.0.1:1', '127.0.0.1:2']);
    expect(fromEnv.selector).to.equal(''); // the environment keeps pointing there

    const fromFlags = resolveTarget({ 'data-dir': nokvDir, config: join(nokvDir, 'topology.json'), endpoints: ['127.0.0.1:9'] }, env, '/');
    expect(fromFlags.dataDirFrom).to.equal('flag');
    expect(fromFlags.topology.coordinators[0]!.addr).to.equal('127.0.0.1:12009');
    expect(fromFlags.endpoints('coordinator')).to.deep.equal(['127.0.0.1:9']);
    expect(fromFlags.selector).to.equal(` --data-dir ${nokvDir}`); // from / nothing would find it
  });

  it('falls back to ./.nokv and the standard topology, and refuses bad endpoints and unreadable files in one line', () => {
    const t = resolveTarget({}, {}, '/');
    expect(t.paths.dataDir).to.equal('/.nokv');
    expect(t.topologyFrom).to.equal('default');
    expect(t.endpoints('coordinator')).to.deep.equal(['127.0.0.1:2390', '127.0.0.1:2391', '127.0.0.1:2392']);
    expect(() => resolveTarget({ endpoints: ['nonsense'] }, {}, '/')).to.throw(UsageError, /--endpoints: "nonsense" is not host:port/);
    expect(() => resolveTarget({}, { NOKV_ENDPOINTS: 'a:1,b' }, '/')).to.throw(UsageError, /NOKV_ENDPOINTS: "b"/);
    expect(() => resolveTarget({ config: '/no/such.json' }, {}, '/')).to.throw(UsageError, /cannot read topology file/);
    expect(() => resolveTarget({ 'token-file': '/no/such' }, {}, '/')).to.throw(UsageError, /cannot read --token-file/);
  });

  it('names the endpoints asked when a call fails for want of an answer, and leaves the cluster\'s own answers alone', () => {
    const t = resolveTarget({ 'data-dir': nokvDir }, {}, '/');
    const late = withWhere(new TimeoutError('deadline exceeded'), t, 'coordinator', ['127.0.0.1:1', '127.0.0.1:2']) as Error;
    expect(late.message).to.match(/^deadline exceeded \(asked coordinator 127\.0\.0\.1:1, 127\.0\.0\.1:2; see `.* cluster status --data-dir .*\.nokv`\)$/);
    const refused = new FailedPreconditionError('not holder');
    expect(withWhere(refused, t, 'coordinator', ['127.0.0.1:1'])).to.equal(refused);
  });

  it('turns grpc-js texts into one readable line', () => {
    const raw = new UnavailableError('14 UNAVAILABLE: No connection established. Last error: connect ECONNREFUSED 127.0.0.1:2390 (2026-01-01T00:00:00.000Z)\nResolution note: some\nnoise');
    expect(oneLine(raw)).to.equal('No connection established. Last error: connect ECONNREFUSED 127.0.0.1:2390 (2026-01-01T00:00:00.000Z)');
    expect(oneLine('x'.repeat(1000)).length).to.be.below(420);
  });
});
