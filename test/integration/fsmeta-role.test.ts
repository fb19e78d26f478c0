// The `nokv fsmeta` role process on --dev-memory-kv: expvar first with the fsmeta variables, the gRPC API
// serving the `default` mount, and a clean exit 0 on SIGTERM.
import { spawn, type ChildProcess } from 'node:child_process';
import { expect } from 'chai';
import { freePorts, waitFor } from '../support/env.js';
import { FsClient, file } from '../fixtures/fsmeta-gateway.js';

describe('nokv fsmeta role process', function () {
  this.timeout(30_000);
  let proc: ChildProcess | undefined;
  let client: FsClient | undefined;

  afterEach(async () => {
    client?.close();
    if (proc && proc.exitCode === null) {
      proc.kill('SIGKILL');
      await new Promise((r) => proc!.once('exit', r));
    }
  });

  it('serves /debug/vars and the API on --dev-memory-kv, then exits 0 on SIGTERM', async () => {
    const [port, metrics] = await freePorts(2);
    proc = spawn(process.execPath, ['bin/nokv.mjs', 'fsmeta', '--dev-memory-kv', '--addr', `127.0.0.1:${port}`, '--metrics-addr', `127.0.0.1:${metrics}`], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, NOKV_LOG_LEVEL: 'warn' } });
    const vars: Record<string, any> = await waitFor('expvar with fsmeta variables', async () => {
      const r = await fetch(`http://127.0.0.1:${metrics}/debug/vars`).catch(() => undefined);
      const j = r?.ok ? ((await r.json()) as Record<string, any>) : undefined;
      return j?.nokv_fsmeta_executor?.backend ? j : undefined;
    }, 15_000) as Record<string, any>;
    expect(vars).to.include.keys('nokv_fsmeta_executor', 'nokv_fsmeta_watch', 'nokv_fsmeta_sessions');
    expect(vars.nokv_fsmeta_executor.backend).to.equal('dev-memory-kv');
    client = new FsClient(`127.0.0.1:${port}`);
    const r = await client.call('Create', { mount: 'default', parent: '1', name: 'hello', attrs: file(3) });
    expect(r.dentry.name).to.equal('hello');
    const page = await client.call('ReadDirPlus', { mount: 'default', parent: '1' });
    expect(page.entries.map((e: any) => e.dentry.name)).to.deep.equal(['hello']);
    const code = new Promise<number | null>((res) => proc!.once('exit', (c) => res(c)));
    proc.kill('SIGTERM');
    expect(await code).to.equal(0);
  });
});
