// `nokv fs` as a person runs it: the real CLI process against a gateway on the in-memory KV behind the real gRPC
// server, with a cluster token. Checks what each verb prints (text and --json), what it changes (read back
// through the typed client), coreutils' wording and exit codes for failures, and that `watch` follows changes.
import { expect } from 'chai';
import { execFile, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { nokvBin } from '../../src/cluster/layout.js';
import { FsMetaClient } from '../../src/client/fsmeta.js';
import { startTestGateway, type TestGateway } from '../fixtures/fsmeta-gateway.js';
import { makeTempDir, waitFor } from '../support/env.js';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

describe('nokv fs (CLI over the fsmeta API)', function () {
  this.timeout(60_000);
  const TOKEN = 'fs-cli-test-token';
  let t: TestGateway;
  let tmp: ReturnType<typeof makeTempDir>;
  let client: FsMetaClient;
  let common: string[];

  before(async () => {
    tmp = makeTempDir('nokv-fs-cli-');
    t = await startTestGateway({ token: TOKEN });
    t.duties.registerMount('default', 1);
    t.duties.registerMount('other', 1);
    writeFileSync(join(tmp.path, 'token'), `${TOKEN}\n`, { mode: 0o600 });
    common = ['--endpoints', t.gw.addr, '--token-file', join(tmp.path, 'token'), '--data-dir', join(tmp.path, 'data')];
    client = new FsMetaClient({ endpoints: [t.gw.addr], token: TOKEN });
  });
  after(async () => {
    client?.close();
    await t?.stop();
    tmp?.remove();
  });

  function fs(...args: string[]): Promise<Run> {
    return new Promise((resolve) => {
      execFile(process.execPath, [nokvBin(), 'fs', ...args, ...common], { cwd: tmp.path, timeout: 30_000, killSignal: 'SIGKILL' }, (err, stdout, stderr) => {
        resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
      });
    });
  }
  const ok = async (...args: string[]) => {
    const r = await fs(...args);
    expect(r.code, `nokv fs ${args.join(' ')}: ${r.stderr}`).to.equal(0);
    expect(r.stderr).to.equal('');
    return r.stdout;
  };

  it('mkdir -p, touch, ls, ls -l and stat show what was made', async () => {
    await ok('mkdir', '-p', '/a/b/c');
    await ok('touch', '/a/f1', '/a/b/f2');
    expect(await ok('ls', '/a')).to.equal('b\nf1\n');
    const long = (await ok('ls', '-l', '/a')).trim().split('\n');
    expect(long[0]).to.match(/^drwxr-xr-x +\d+ +\d+ \d{4}-\d\d-\d\d \d\d:\d\d b$/);
    expect(long[1]).to.match(/^-rw-r--r-- +1 +0 \d{4}-\d\d-\d\d \d\d:\d\d f1$/);
    const st = JSON.parse(await ok('stat', '/a/f1', '--json'));
    expect(st).to.include({ name: 'f1', path: '/a/f1', type: 'file', size: 0, mode: '0644', link_count: 1 });
    expect(await ok('stat', '/a/f1')).to.match(/File: \/a\/f1\n\s+Size: 0 .*Links: 1\n\s+Type: regular file\nAccess: \(0644\/-rw-r--r--\)/);
    // Read back through the API: the directory chain and the file exist with the CLI's attributes.
    const a = await client.lookup('default', 1, 'a');
    const b = await client.lookup('default', a.inode, 'b');
    expect((await client.lookup('default', b.inode, 'c')).type).to.equal('directory');
    expect((await client.getAttr('default', (await client.lookup('default', a.inode, 'f1')).inode)).mode).to.equal(0o644);
    const listed = JSON.parse(await ok('ls', '/a', '--json')) as { name: string; type: string }[];
    expect(listed.map((e) => [e.name, e.type])).to.deep.equal([['b', 'directory'], ['f1', 'file']]);
  });

  it('touch on an existing file moves its modified time forward and keeps its inode', async () => {
    const before = JSON.parse(await ok('stat', '/a/f1', '--json'));
    await new Promise((r) => setTimeout(r, 5));
    await ok('touch', '/a/f1');
    const after = JSON.parse(await ok('stat', '/a/f1', '--json'));
    expect(after.inode).to.equal(before.inode);
    expect(BigInt(after.updated_unix_ns) > BigInt(before.updated_unix_ns)).to.equal(true);
  });

  it('errors read like coreutils and exit 1; other operands still run', async () => {
    let r = await fs('ls', '/nope');
    expect([r.code, r.stderr]).to.deep.equal([1, "nokv fs ls: cannot access '/nope': No such file or directory\n"]);
    r = await fs('mkdir', '/x/y');
    expect([r.code, r.stderr]).to.deep.equal([1, "nokv fs mkdir: cannot create directory '/x/y': No such file or directory\n"]);
    r = await fs('mkdir', '/a');
    expect(r.stderr).to.equal("nokv fs mkdir: cannot create directory '/a': File exists\n");
    r = await fs('rm', '/a');
    expect(r.stderr).to.equal("nokv fs rm: cannot remove '/a': Is a directory\n");
    r = await fs('ls', '/a/f1/z');
    expect(r.stderr).to.equal("nokv fs ls: cannot access '/a/f1/z': Not a directory\n");
    r = await fs('touch', '/missing/f', '/a/made-anyway');
    expect([r.code, r.stderr]).to.deep.equal([1, "nokv fs touch: cannot touch '/missing/f': No such file or directory\n"]);
    expect((await client.lookup('default', (await client.lookup('default', 1, 'a')).inode, 'made-anyway')).type).to.equal('file');
    r = await fs('ln', '/a', '/a2');
    expect(r.stderr).to.equal("nokv fs ln: failed to create hard link '/a2' => '/a': hard link not allowed for directory\n");
    r = await fs('mv', '/a', '/a/b');
    expect(r.stderr).to.equal("nokv fs mv: cannot move '/a' to '/a/b': Invalid argument\n");
    r = await fs('mkdir', `/${'n'.repeat(300)}`);
    expect(r.stderr).to.match(/cannot create directory '\/n+': File name too long\n$/);
    r = await fs('ls', '--mount', 'unknown');
    expect(r.code).to.equal(1);
    expect(r.stderr).to.match(/^nokv fs ls: .*mount is not registered/);
    r = await fs('mv', '/a');
    expect([r.code, r.stderr]).to.deep.equal([2, 'nokv fs mv: missing operand (usage: nokv fs mv SOURCE DEST)\n']);
    r = await fs('ls', '--bogus');
    expect(r.code).to.equal(2);
  });

  it('mv renames and moves into a directory; ln makes a hard link; du counts it once', async () => {
    await ok('mkdir', '/m');
    await ok('touch', '/m/one');
    await client.updateInode('default', (await client.lookup('default', 1, 'm')).inode, 'one', (await client.lookup('default', (await client.lookup('default', 1, 'm')).inode, 'one')).inode, { size: 100 });
    await ok('mv', '/m/one', '/m/two');
    await ok('mkdir', '/m/sub');
    await ok('mv', '/m/two', '/m/sub');
    expect(await ok('ls', '/m/sub')).to.equal('two\n');
    await ok('ln', '/m/sub/two', '/m/hard');
    expect(JSON.parse(await ok('stat', '/m/hard', '--json')).link_count).to.equal(2);
    expect(await ok('du', '-s', '/m')).to.equal('100\t/m\n');
    // As du does: the inode counts where it is met first ("hard" sorts before "sub"), nowhere else.
    expect(JSON.parse(await ok('du', '/m', '--json'))).to.deep.equal([{ path: '/m/sub', bytes: 0 }, { path: '/m', bytes: 100 }]);
    expect(await ok('du', '-s', '/m/sub')).to.equal('100\t/m/sub\n');
    const r = await fs('mv', '-n', '/m/hard', '/m/sub/two');
    expect(r.stderr).to.equal("nokv fs mv: cannot move '/m/hard' to '/m/sub/two': File exists\n");
  });

  it('tree draws the subtree and counts it; rm -r removes it all', async () => {
    await ok('mkdir', '-p', '/t/d1/d2');
    await ok('touch', '/t/d1/x', '/t/y');
    expect(await ok('tree', '/t')).to.equal('/t\n├── d1\n│   ├── d2\n│   └── x\n└── y\n\n2 directories, 2 files\n');
    const j = JSON.parse(await ok('tree', '/t', '--json'));
    expect([j.directories, j.files, j.children.length]).to.deep.equal([2, 2, 2]);
    expect(JSON.parse(await ok('rm', '-r', '/t', '--json')).removed).to.include.members(['/t/d1/d2', '/t/d1/x', '/t/d1', '/t/y', '/t']);
    const r = await fs('stat', '/t');
    expect(r.stderr).to.equal("nokv fs stat: cannot stat '/t': No such file or directory\n");
    await ok('rm', '-f', '/t');
    expect((await fs('rm', '/')).stderr).to.equal("nokv fs rm: cannot remove '/': refusing to remove the mount root\n");
  });

  it('quota shows the usage charged under a fence', async () => {
    t.duties.setQuotaFence('other', 0, { limitBytes: 0, limitInodes: 100 });
    await ok('mkdir', '/q', '--mount', 'other');
    await ok('touch', '/q/a', '/q/b', '--mount', 'other');
    expect(JSON.parse(await ok('quota', '/', '--mount', 'other', '--json'))).to.deep.equal({ path: '/', scope: 0, bytes: 0, inodes: 3 });
    expect(await ok('quota', '/', '--mount', 'other')).to.equal('/\tscope=mount\tbytes=0\tinodes=3\n');
  });

  it('watch -r prints changes below the directory by path as they are applied', async () => {
    await ok('mkdir', '/w');
    const child = spawn(process.execPath, [nokvBin(), 'fs', 'watch', '/w', '-r', '--count', '3', '--json', ...common], { cwd: tmp.path });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    try {
      await waitFor('the watch to be ready', () => err.includes('watching /w'), 20_000);
      const w = (await client.lookup('default', 1, 'w')).inode;
      const sub = await client.create('default', w, 'sub', { type: 'directory', mode: 0o755 });
      // Wait until the watcher has learned the new directory before writing into it.
      await waitFor('the created event', () => out.includes('"/w/sub"'), 20_000);
      await client.create('default', sub.inode.inode, 'deep', { type: 'file', mode: 0o644 });
      await client.unlink('default', sub.inode.inode, 'deep');
      expect(await exited).to.equal(0);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
      await exited;
    }
    const events = out.trim().split('\n').map((l) => JSON.parse(l) as { kind: string; path: string });
    expect(events.map((e) => [e.kind, e.path])).to.deep.equal([['created', '/w/sub'], ['created', '/w/sub/deep'], ['deleted', '/w/sub/deep']]);
  });
});
