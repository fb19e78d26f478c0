// Supervision of the meta-root raft peer actor on three real `nokv meta-root` processes: a failure injected
// into the leader's peer (the drill route a process started with NOKV_FAULTS offers) stops it; while its
// restart is held the replica reports its raft group `failed` on /debug/vars and in `nokv cluster status`'s
// terms, and the other two keep committing; after the restart it recovers from its log, catches up, and holds
// every acknowledged event; /debug/vars lists the restarted actor with its restart count. With --workers 1 the
// peer runs on worker thread 1, and terminating that thread (as a crash of the thread would) brings the peer
// back on a new thread, caught up, with nothing acknowledged lost. Each runs with --workers 0 and 1.
import { expect } from 'chai';
import { summarise } from '../../src/cluster/observe.js';
import { MetaRootClient } from '../../src/metaroot/client.js';
import { events, type RootState } from '../../src/metaroot/state/index.js';
import { metaRootPlacements, MetaRootTestCluster } from '../fixtures/metaroot-cluster.js';
import { sleep, waitFor } from '../support/env.js';

const DOWN_MS = 3_000;

/** Appends one storeJoined event per call, recording what was acknowledged. */
function writerOf(client: () => MetaRootClient) {
  const w = { acked: [] as number[], lastIndex: 0, next: 1 };
  const appendOne = async () => {
    const id = w.next++;
    const out = await client().append([events.storeJoined(id, `127.0.0.1:${20000 + id}`)]);
    expect(out.accepted, String(out.error)).to.equal(true);
    w.acked.push(id);
    w.lastIndex = Math.max(w.lastIndex, out.cursor.index);
  };
  return { w, appendOne };
}

function actorNamed(doc: any, name: string): any {
  return doc.nokv_actors.threads
    .flatMap((t: { thread: number; actors: Array<{ name: string }> }) => t.actors.map((a) => ({ ...a, thread: t.thread })))
    .find((a: { name: string }) => a.name === name);
}

for (const workers of metaRootPlacements([1])) describe(`meta-root: the raft peer actor is restarted by its supervisor and recovers from its log (--workers ${workers})`, function () {
  this.timeout(120_000);
  let cluster: MetaRootTestCluster | undefined;
  let client: MetaRootClient | undefined;

  afterEach(async () => {
    client?.close();
    client = undefined;
    await cluster?.destroy();
    cluster = undefined;
  });

  it('a failed peer is reported down, the others keep committing, and it comes back with every acknowledged event', async () => {
    cluster = await MetaRootTestCluster.start({ extraArgs: ['--workers', String(workers)], env: { NOKV_FAULTS: '{"rules":[]}' } });
    const c = cluster;
    client = new MetaRootClient({ endpoints: c.endpoints, token: c.token, deadlineMs: 15_000 });
    const leader = await c.leaderId();
    const acked: number[] = [];
    let lastIndex = 0;
    let next = 1;
    const appendOne = async () => {
      const id = next++;
      const out = await client!.append([events.storeJoined(id, `127.0.0.1:${20000 + id}`)]);
      expect(out.accepted, String(out.error)).to.equal(true);
      acked.push(id);
      lastIndex = Math.max(lastIndex, out.cursor.index);
    };
    for (let i = 0; i < 10; i++) await appendOne();

    // Writes keep flowing through the failure: each acknowledged one must survive.
    let writing = true;
    const duringDown: number[] = [];
    let downWindow = false;
    const writer = (async () => {
      while (writing) {
        await appendOne();
        if (downWindow) duringDown.push(acked[acked.length - 1]!);
      }
    })();

    const metrics = c.peer(leader).metrics_addr;
    const res = await fetch(`http://${metrics}/debug/raft-peer/crash`, { method: 'POST', body: JSON.stringify({ down_ms: DOWN_MS }) });
    expect(res.status).to.equal(200);
    expect(await res.json()).to.deep.include({ crashed: true });

    // Down: the replica says so, in /debug/vars and in the cluster view built from it.
    const down = await waitFor('the replica reports its raft group failed', async () => {
      const doc = await c.debugVars(leader);
      return doc?.nokv_meta_root?.raft_group === 'failed' ? doc : undefined;
    }, 10_000, 25);
    expect(down!.nokv_meta_root.last_raft_failure).to.match(/injected failure/);
    const sample = summarise({ name: `meta-root-${leader}`, role: 'meta-root' }, down);
    expect(sample.state).to.match(/^raft=failed/);
    downWindow = true;
    // While it is down the other two elect a leader and commit.
    const before = acked.length;
    await waitFor('writes commit while the peer is down', () => acked.length >= before + 5, DOWN_MS + 10_000, 25);
    const other = await c.leaderId();
    expect(other).to.not.equal(leader);

    // Restarted after the hold: running again, one restart, caught up from its log and the leader.
    const back = await waitFor('the replica runs its raft group again', async () => {
      const doc = await c.debugVars(leader);
      return doc?.nokv_meta_root?.raft_group === 'running' && !doc.nokv_meta_root.starting ? doc : undefined;
    }, DOWN_MS + 20_000, 50);
    downWindow = false;
    expect(back!.nokv_meta_root.raft_restarts).to.equal(1);
    const peerActor = back!.nokv_actors.threads
      .flatMap((t: { thread: number; actors: Array<{ name: string }> }) => t.actors.map((a) => ({ ...a, thread: t.thread })))
      .find((a: { name: string }) => a.name === 'raft-peer');
    expect(peerActor, 'nokv_actors lists the raft peer').to.include({ thread: workers > 0 ? 1 : 0, restarts: 1 });
    expect(back!.nokv_meta_root.raft_thread).to.equal(workers > 0 ? 1 : 0);
    expect(peerActor.processed).to.be.a('number');
    expect(peerActor.mailbox).to.be.a('number');

    await sleep(200);
    writing = false;
    await writer;
    expect(duringDown.length, 'writes acknowledged while the peer was down').to.be.greaterThan(0);
    const last = acked[acked.length - 1]!;
    const state = (await waitFor('the restarted replica applied everything acknowledged', async () => {
      const snap = await client!.snapshot({}, { endpoint: c.peer(leader).addr }).catch(() => undefined);
      return snap && snap.state.last_applied.index >= lastIndex ? snap.state : undefined;
    }, 30_000, 100)) as RootState;
    for (const id of acked) expect(state.stores[String(id)], `store ${id} (of ${last})`).to.include({ state: 'joined' });
  });

  if (workers > 0) {
    it('a terminated worker thread comes back with the peer, which catches up and keeps every acknowledged event', async () => {
      cluster = await MetaRootTestCluster.start({ extraArgs: ['--workers', String(workers)], env: { NOKV_FAULTS: '{"rules":[]}' } });
      const c = cluster;
      client = new MetaRootClient({ endpoints: c.endpoints, token: c.token, deadlineMs: 15_000 });
      const { w, appendOne } = writerOf(() => client!);
      for (let i = 0; i < 10; i++) await appendOne();
      const leader = await c.leaderId();
      let writing = true;
      const writer = (async () => {
        while (writing) await appendOne();
      })();
      const res = await fetch(`http://${c.peer(leader).metrics_addr}/debug/raft-peer/kill-thread`, { method: 'POST' });
      expect(res.status).to.equal(200);
      expect(await res.json()).to.deep.include({ killed: true, thread: 1 });
      // The supervisor restarts the peer, then the tail actor and the front after it (rest_for_one).
      const back = await waitFor('the peer and its tail actor run again on a new worker thread', async () => {
        const doc = await c.debugVars(leader);
        const m = doc?.nokv_meta_root;
        return m?.raft_group === 'running' && !m.starting && m.raft_restarts === 1 && actorNamed(doc, 'tail-hub') ? doc : undefined;
      }, 30_000, 50);
      expect(back!.nokv_meta_root.raft_thread).to.equal(1);
      expect(actorNamed(back, 'raft-peer')).to.include({ thread: 1, restarts: 1 });
      expect(actorNamed(back, 'tail-hub')).to.include({ thread: 1 });
      const before = w.acked.length;
      await waitFor('writes keep committing after the thread came back', () => w.acked.length >= before + 5, 20_000, 25);
      writing = false;
      await writer;
      const state = (await waitFor('the restarted replica applied everything acknowledged', async () => {
        const snap = await client!.snapshot({}, { endpoint: c.peer(leader).addr }).catch(() => undefined);
        return snap && snap.state.last_applied.index >= w.lastIndex ? snap.state : undefined;
      }, 30_000, 100)) as RootState;
      for (const id of w.acked) expect(state.stores[String(id)], `store ${id}`).to.include({ state: 'joined' });
    });
  }
});
