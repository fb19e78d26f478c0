// Three raft nodes in three OS processes over real gRPC on loopback with LMDB logs: leader loss, partition of
// the old leader, restart and catch-up by snapshot.
import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { freePorts, makeTempDir, sleep, waitFor } from '../support/env.js';

const FIXTURE = fileURLToPath(new URL('../fixtures/raft-kv-node.js', import.meta.url));

interface Node {
  id: number;
  http: number;
  proc?: ChildProcess;
}

async function call(node: Node, path: string): Promise<{ status: number; body: any }> {
  const res = await fetch(`http://127.0.0.1:${node.http}${path}`, { method: 'POST', signal: AbortSignal.timeout(8000) });
  return { status: res.status, body: await res.json() };
}

describe('raft: three processes over gRPC with LMDB logs', function () {
  this.timeout(120_000);
  let dir: ReturnType<typeof makeTempDir>;
  let nodes: Node[];
  let peers: string;

  function start(n: Node, extra: string[] = []): Promise<void> {
    const proc = spawn(process.execPath, [FIXTURE, '--id', String(n.id), '--dir', join(dir.path, `n${n.id}`), '--peers', peers, '--http', String(n.http), ...extra], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    n.proc = proc;
    return new Promise((resolve, reject) => {
      proc.stdout!.on('data', (d) => { if (String(d).includes('READY')) resolve(); });
      proc.once('exit', (code) => reject(new Error(`node ${n.id} exited with ${code}`)));
    });
  }

  async function stop(n: Node, signal: NodeJS.Signals): Promise<void> {
    const p = n.proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const exited = new Promise((r) => p.once('exit', r));
    p.kill(signal);
    await exited;
    n.proc = undefined;
  }

  async function leader(among: Node[]): Promise<Node> {
    return waitFor<Node | undefined>('a single leader', async () => {
      const sts = await Promise.all(among.map((n) => call(n, '/status').then((r) => r.body).catch(() => undefined)));
      const leaders = among.filter((_, i) => sts[i]?.role === 'leader');
      return leaders.length === 1 ? leaders[0] : undefined;
    }, 20_000, 100) as Promise<Node>;
  }

  beforeEach(async () => {
    dir = makeTempDir('nokv-raft-cluster-');
    const ports = await freePorts(6);
    nodes = [1, 2, 3].map((id, i) => ({ id, http: ports[3 + i]! }));
    peers = [1, 2, 3].map((id, i) => `${id}=127.0.0.1:${ports[i]}`).join(',');
  });

  afterEach(async () => {
    await Promise.all(nodes.map((n) => stop(n, 'SIGKILL')));
    dir.remove();
  });

  it('elects a new leader after SIGKILL of the leader and keeps every acknowledged write', async () => {
    await Promise.all(nodes.map((n) => start(n)));
    const first = await leader(nodes);
    const acked: string[] = [];
    for (let i = 0; i < 20; i++) {
      const r = await call(first, `/put/k${i}/v${i}`);
      expect(r.status, JSON.stringify(r.body)).to.equal(200);
      acked.push(`k${i}`);
    }
    await stop(first, 'SIGKILL');
    const survivors = nodes.filter((n) => n !== first);
    const second = await leader(survivors);
    expect(second.id).to.not.equal(first.id);
    const r = await call(second, '/put/after/kill');
    expect(r.status).to.equal(200);
    for (const k of acked) expect((await call(second, `/get/${k}`)).body.value).to.equal(`v${k.slice(1)}`);
    // The old leader comes back, catches up, and agrees on the applied history.
    await start(first);
    await waitFor('old leader caught up', async () => (await call(first, '/get/after')).body.value === 'kill', 20_000, 100);
    const dumps = await Promise.all(nodes.map((n) => call(n, '/dump')));
    const histories = dumps.map((d) => JSON.stringify(d.body.history.filter(([i]: [number]) => i <= r.body.index)));
    expect(histories[0]).to.equal(histories[1]);
    expect(histories[1]).to.equal(histories[2]);
  });

  it('an isolated old leader cannot commit, and its write never appears', async () => {
    await Promise.all(nodes.map((n) => start(n)));
    const old = await leader(nodes);
    expect((await call(old, '/put/x/before')).status).to.equal(200);
    await call(old, '/isolate');
    const lost = call(old, '/put/x/partitioned');
    const rest = nodes.filter((n) => n !== old);
    const next = await leader(rest);
    expect((await call(next, '/put/x/majority')).status).to.equal(200);
    const lostResult = await lost;
    expect(lostResult.status, 'a write on the isolated leader must not be acknowledged').to.equal(503);
    await call(old, '/heal');
    await waitFor('old leader follows the new term', async () => (await call(old, '/get/x')).body.value === 'majority', 20_000, 100);
    for (const n of nodes) expect((await call(n, '/get/x')).body.value).to.equal('majority');
  });

  it('a follower that missed more than the retained log catches up from a snapshot', async () => {
    await Promise.all(nodes.map((n) => start(n, ['--snapshot-every', '20', '--compaction-slack', '5'])));
    const lead = await leader(nodes);
    const lagger = nodes.find((n) => n !== lead)!;
    await stop(lagger, 'SIGKILL');
    for (let i = 0; i < 60; i++) expect((await call(lead, `/put/s${i}/${i}`)).status).to.equal(200);
    await sleep(200);
    await start(lagger, ['--snapshot-every', '20', '--compaction-slack', '5']);
    await waitFor('lagging follower has the last write', async () => (await call(lagger, '/get/s59')).body.value === '59', 20_000, 100);
    expect((await call(lagger, '/get/s0')).body.value).to.equal('0');
  });
});
