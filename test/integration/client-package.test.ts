// The client package as another project uses it: `npm pack` this package, install the tarball into a fresh
// temp project (dependencies from npm's cache when it has them), then (1) run a script there that imports
// 'nokv-ts/client' and talks to a real gateway over gRPC with the cluster token, (2) check the package's
// internals are not importable, and (3) type-check the project's TypeScript against the shipped declarations,
// including a file that misuses the API and must be refused.
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startTestGateway, type TestGateway } from '../fixtures/fsmeta-gateway.js';
import { makeTempDir } from '../support/env.js';

const repo = fileURLToPath(new URL('../../../', import.meta.url));

function run(file: string, args: string[], cwd: string, timeout = 240_000): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(file, args, { cwd, timeout, killSignal: 'SIGKILL', maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}
const npm = (args: string[], cwd: string) => run('npm', [...args, '--no-audit', '--no-fund', '--loglevel=error'], cwd);

const CONSUMER = `
import { FsMetaClient, NokvError } from 'nokv-ts/client';
const [addr, token] = process.argv.slice(2);
const fs = new FsMetaClient({ endpoints: [addr], token });
try {
  const made = await fs.create('default', 1, 'from-package', { type: 'directory', mode: 0o755 });
  await fs.create('default', made.inode.inode, 'note', { type: 'file', mode: 0o644, size: 12n });
  const names = [];
  for await (const e of fs.list('default', made.inode.inode)) names.push([e.dentry.name.toString(), Number(e.inode.size)]);
  const missing = await fs.lookup('default', 1, 'nope').catch((e) => e);
  let internal = 'importable';
  try { await import('nokv-ts/dist/src/store/role.js'); } catch (e) { internal = e.code; }
  console.log(JSON.stringify({ names, missing: missing instanceof NokvError ? missing.code : String(missing), internal }));
} finally {
  fs.close();
}
`;

const TYPED = `
import { FsMetaClient, type Inode } from 'nokv-ts/client';
export async function size(c: FsMetaClient): Promise<bigint> {
  const d = await c.lookup('default', 1n, 'x');
  const i: Inode = await c.getAttr('default', d.inode);
  return i.size;
}
`;
const MISTYPED = `
import { FsMetaClient } from 'nokv-ts/client';
export async function wrong(c: FsMetaClient): Promise<string> {
  return (await c.getAttr('default', 1)).size;
}
`;

describe('client package (npm pack, installed into another project)', function () {
  this.timeout(300_000);
  let tmp: ReturnType<typeof makeTempDir>;
  let gw: TestGateway;
  const TOKEN = 'client-package-token';

  before(async () => {
    tmp = makeTempDir('nokv-client-pkg-');
    gw = await startTestGateway({ token: TOKEN });
    gw.duties.registerMount('default', 1);
  });
  after(async () => {
    await gw?.stop();
    tmp?.remove();
  });

  it('packs, installs, serves a script and type-checks a TypeScript project', async () => {
    const packed = await npm(['pack', '--pack-destination', tmp.path], repo);
    expect(packed.code, packed.stderr).to.equal(0);
    const tarball = readdirSync(tmp.path).find((f) => f.endsWith('.tgz'))!;
    const project = join(tmp.path, 'consumer');
    const listing = await run('tar', ['-tzf', join(tmp.path, tarball)], tmp.path);
    const files = listing.stdout.split('\n');
    expect(files).to.include('package/dist/src/client/index.d.ts');
    expect(files.some((f) => f.startsWith('package/test/') || f.startsWith('package/dist/test/') || f.startsWith('package/bench/'))).to.equal(false);

    await run('mkdir', ['-p', project], tmp.path);
    writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true, type: 'module' }));
    const installed = await npm(['install', '--prefer-offline', join(tmp.path, tarball)], project);
    expect(installed.code, installed.stderr).to.equal(0);

    writeFileSync(join(project, 'consumer.mjs'), CONSUMER);
    const used = await run(process.execPath, ['consumer.mjs', gw.gw.addr, TOKEN], project, 60_000);
    expect(used.code, used.stderr).to.equal(0);
    expect(JSON.parse(used.stdout)).to.deep.equal({ names: [['note', 12]], missing: 'NOT_FOUND', internal: 'ERR_PACKAGE_PATH_NOT_EXPORTED' });

    const tsc = join(repo, 'node_modules/typescript/bin/tsc');
    const tsconfig = (file: string) => JSON.stringify({
      compilerOptions: { module: 'nodenext', moduleResolution: 'nodenext', target: 'ES2022', strict: true, noEmit: true, skipLibCheck: true, typeRoots: [join(repo, 'node_modules/@types')], types: ['node'] },
      files: [file],
    });
    writeFileSync(join(project, 'typed.ts'), TYPED);
    writeFileSync(join(project, 'mistyped.ts'), MISTYPED);
    writeFileSync(join(project, 'tsconfig.json'), tsconfig('typed.ts'));
    const good = await run(process.execPath, [tsc, '-p', 'tsconfig.json'], project, 120_000);
    expect(good.code, good.stdout + good.stderr).to.equal(0);
    writeFileSync(join(project, 'tsconfig.json'), tsconfig('mistyped.ts'));
    const bad = await run(process.execPath, [tsc, '-p', 'tsconfig.json'], project, 120_000);
    expect(bad.code).to.not.equal(0);
    expect(bad.stdout).to.match(/mistyped\.ts.*Type 'bigint' is not assignable to type 'string'/s);
  });
});
