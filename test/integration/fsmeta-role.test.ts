// The `nokv fsmeta` role process on --dev-memory-kv: expvar first with the fsmeta variables, the gRPC API
// serving the `default` mount, and a clean exit 0 on SIGTERM; with `--workers 1`, watch sessions on worker
// thread 1 and the session-thread drill (NOKV_FAULTS): streams end UNAVAILABLE and resume on the same gateway.
import { spawn, type ChildProcess } from 'node:child_process';
import { expect } from 'chai';
import { freePorts, waitFor } from '../support/env.js';
import { FsMetaClient } from '../../src/client/fsmeta.js';
import { FsClient, FSMETA_WORKERS, file } from '../fixtures/fsmeta-gateway.js';

async function vars(metrics: number): Promise<Record<string, any> | undefined> {
  const r = await fetch(`http://127.0.0.1:${metrics}/debug/vars`).catch(() => undefined);
  return r?.ok ? ((await r.json()) as Record<string, any>) : undefined;
}

/** The actors named `name` on /debug/vars, with their thread. */
function actorsNamed(doc: Record<string, any> | undefined, name: string): Array<{ thread: number; restarts: number }> {
  return (doc?.nokv_actors?.threads ?? []).flatMap((t: any) => t.actors.filter((a: any) => a.name === name).map((a: any) => ({ ...a, thread: t.thread })));
}

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

  if (FSMETA_WORKERS.includes(1)) {
    it('--workers 1: watch sessions on thread 1; a killed session thread ends its streams, which resume with nothing lost or repeated', async () => {
      const [port, metrics] = await freePorts(2);
      proc = spawn(process.execPath, ['bin/nokv.mjs', 'fsmeta', '--dev-memory-kv', '--workers', '1', '--addr', `127.0.0.1:${port}`, '--metrics-addr', `127.0.0.1:${metrics}`], {
        stdio: ['ignore', 'ignore', 'pipe'],
        env: { ...process.env, NOKV_LOG_LEVEL: 'error', NOKV_FAULTS: '{"rules":[]}' },
      });
      await waitFor('the gateway serving', async () => (await vars(metrics))?.nokv_fsmeta_executor?.backend === 'dev-memory-kv', 15_000);
      const fs = new FsMetaClient({ endpoints: [`127.0.0.1:${port}`], retry: { backoffBaseMs: 20, backoffMaxMs: 100 } });
      const stop = new AbortController();
      const seen: string[][] = [[], []];
      let readies = 0;
      const loops = seen.map(async (names) => {
        for await (const ev of fs.watch({ mount: 'default', rootInode: 1, signal: stop.signal, onReady: () => readies++ })) names.push(ev.name.toString());
      });
      const created: string[] = [];
      try {
        await waitFor('both watches ready', () => readies === 2);
        const doc = await vars(metrics);
        expect(actorsNamed(doc, 'fsmeta-watch-session').map((a) => a.thread)).to.deep.equal([1, 1]);
        expect(actorsNamed(doc, 'fsmeta-watch-port').map((a) => a.thread)).to.deep.equal([0, 0]);
        let writing = true;
        const writer = (async () => {
          for (let i = 0; writing; i++) {
            await fs.create('default', 1, `f${i}`, { type: 'file', mode: 0o644 });
            created.push(`f${i}`);
          }
        })();
        await waitFor('events flow', () => seen.every((x) => x.length >= 5));
        const res = await fetch(`http://127.0.0.1:${metrics}/debug/fsmeta/kill-session-thread`, { method: 'POST' });
        expect(res.status).to.equal(200);
        expect(await res.json()).to.deep.equal({ killed: true, thread: 1 });
        await waitFor('both watches resumed', () => readies >= 4, 10_000);
        const n = created.length;
        await waitFor('events flow again', () => seen.every((x) => x.length >= n + 5), 10_000);
        writing = false;
        await writer;
        await waitFor('every create seen', () => seen.every((x) => x.length === created.length), 10_000);
        for (const names of seen) expect(names).to.deep.equal(created);
        const after = await waitFor('the session thread back under its supervisor', async () => {
          const d = await vars(metrics);
          return actorsNamed(d, 'fsmeta-session-thread')[0]?.restarts === 1 ? d : undefined;
        }, 10_000);
        expect(after!.nokv_fsmeta_sessions).to.deep.include({ session_threads: 1 });
        expect(after!.nokv_fsmeta_sessions.watch_streams.closedWithError).to.equal(2);
      } finally {
        stop.abort();
        await Promise.allSettled(loops);
        fs.close();
      }
      const code = new Promise<number | null>((res) => proc!.once('exit', (c) => res(c)));
      proc.kill('SIGTERM');
      expect(await code).to.equal(0);
    });
  }
});
