// The public MetaRootClient's watch() on a running three-process meta-root: it delivers committed entries in
// order from a snapshot's cursor, keeps going when the raft leader is killed (the client follows the new
// leader), and delivers every entry once; a cursor the log no longer reaches is not needed here (the log is
// short), so that case is left to the tail tests of the server.
import { expect } from 'chai';
import { MetaRootClient, type RootLogEntry } from '../../src/client/index.js';
import { events } from '../../src/metaroot/state/index.js';
import { MetaRootTestCluster } from '../fixtures/metaroot-cluster.js';

describe('MetaRootClient.watch (public client) through a leader kill', function () {
  this.timeout(90_000);
  let cluster: MetaRootTestCluster;
  let client: MetaRootClient;

  before(async () => {
    cluster = await MetaRootTestCluster.start();
    client = new MetaRootClient({ endpoints: cluster.endpoints, token: cluster.token, deadlineMs: 20_000 });
    await cluster.leaderId();
  });
  after(async () => {
    client?.close();
    await cluster?.destroy();
  });

  it('delivers each committed entry once and in order, across a new leader', async () => {
    const { cursor } = await client.snapshot({ linearizable: true });
    const stop = new AbortController();
    const seen: RootLogEntry[] = [];
    const mounts = () => seen.flatMap((e) => e.events).filter((ev) => ev.kind === 'mount_registered').map((ev) => (ev as { mount_id: string }).mount_id);
    const watching = (async () => {
      for await (const entry of client.watch({ after: cursor, pollMs: 500, signal: stop.signal })) {
        seen.push(entry);
        if (mounts().length === 4) stop.abort();
      }
    })();
    const append = async (name: string) => expect((await client.append([events.mountRegistered(name, 1, 1)])).accepted).to.equal(true);
    await append('w1');
    await append('w2');
    await cluster.stopNode(await cluster.leaderId(), 'SIGKILL');
    await append('w3');
    await append('w4');
    await watching;
    expect(mounts()).to.deep.equal(['w1', 'w2', 'w3', 'w4']);
    const idx = seen.map((e) => e.cursor.index);
    expect(idx).to.deep.equal([...idx].sort((a, b) => a - b));
    expect(new Set(idx).size).to.equal(idx.length);
    expect(idx[0]!).to.be.greaterThan(cursor.index);
  });
});
