// The MetadataRoot API of a running three-process meta-root: bad input and invalid transitions are refused
// with INVALID_ARGUMENT / FAILED_PRECONDITION and change nothing; writes need the cluster token; a follower
// names the leader and the client follows it; tails (long-poll and stream) deliver committed events; the
// `nokv config` tool and /debug/vars report the cluster.
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import type * as grpc from '@grpc/grpc-js';
import { NotLeaderError, type NokvError } from '../../src/common/errors.js';
import { MetaRootClient } from '../../src/metaroot/client.js';
import { METADATA_ROOT_SERVICE, metadataRootProto } from '../../src/metaroot/wire.js';
import { MAX_APPEND_EVENTS } from '../../src/metaroot/limits.js';
import { events, regionInput, type RootEvent, type RootState } from '../../src/metaroot/state/index.js';
import { eventToMsg } from '../../src/metaroot/event-wire.js';
import { UnauthenticatedError, createClient, unaryCall } from '../../src/transport/index.js';
import { metaRootPlacements, MetaRootTestCluster } from '../fixtures/metaroot-cluster.js';

const run = promisify(execFile);
const NOKV_BIN = fileURLToPath(new URL('../../../bin/nokv.mjs', import.meta.url));

for (const workers of metaRootPlacements([0])) describe(`meta-root: the MetadataRoot API on a running cluster (--workers ${workers})`, function () {
  this.timeout(60_000);
  let cluster: MetaRootTestCluster;
  let client: MetaRootClient;
  let leaderId: number;
  const raw = new Map<number, grpc.Client>();

  function rawClient(id: number): grpc.Client {
    let c = raw.get(id);
    if (!c) {
      c = createClient(metadataRootProto().clientConstructor(METADATA_ROOT_SERVICE), cluster.peer(id).addr);
      raw.set(id, c);
    }
    return c;
  }

  /** One raw call; resolves with the typed error it failed with (or throws if it succeeded). */
  async function rawError(id: number, method: string, req: unknown, token: string | null = cluster.token): Promise<NokvError | UnauthenticatedError> {
    try {
      await unaryCall(rawClient(id), method, req, { deadlineMs: 10_000, ...(token ? { token } : {}) });
    } catch (err) {
      return err as NokvError;
    }
    throw new Error(`${method} unexpectedly succeeded`);
  }

  async function stateNow(): Promise<RootState> {
    return (await client.snapshot({ linearizable: true })).state;
  }

  before(async () => {
    cluster = await MetaRootTestCluster.start({ extraArgs: ['--workers', String(workers)] });
    client = new MetaRootClient({ endpoints: cluster.endpoints, token: cluster.token, deadlineMs: 15_000 });
    leaderId = await cluster.leaderId();
    const seed = await client.append([
      events.storeJoined(1, '127.0.0.1:1'),
      events.regionBootstrap(regionInput(1, '', '6d', { version: 1, conf_version: 1 }, [{ store_id: 1, peer_id: 11 }])),
      events.mountRegistered('gone', 1, 1),
      events.mountRetired('gone'),
      events.mountRegistered('vol', 1, 1),
      events.subtreeDeclared('vol', 1, 'fsmeta-1', 3, '100'),
      events.quotaFenceUpdated('vol', 1000, 10, 5),
    ]);
    expect(seed.accepted, String(seed.error)).to.equal(true);
  });

  after(async () => {
    for (const c of raw.values()) c.close();
    client?.close();
    await cluster?.destroy();
  });

  it('refuses unknown kinds, malformed payloads and oversized batches with INVALID_ARGUMENT and changes nothing', async () => {
    const before = await stateNow();
    const joined = (store_id: unknown, address: string) => ({ v: 1, store_joined: { store_id, address } });
    const cases: Array<[string, unknown[]]> = [
      ['no event set', [{ v: 1 }]],
      ['empty batch', []],
      ['zero store id', [joined(0, 'x:1')]],
      ['unknown version', [{ ...joined(9, 'x:1'), v: 99 }]],
      ['unsafe integer', [joined('18446744073709551615', 'x:1')]],
      ['oversized batch', Array.from({ length: MAX_APPEND_EVENTS + 1 }, (_, i) => eventToMsg(events.storeJoined(1000 + i, 'x:1')))],
      // One event over MAX_EVENT_BYTES (64 KiB) but under the service's 2 MiB request limit, so the service decides.
      ['oversized event', [joined(9, 'x'.repeat(1024 * 1024))]],
      ['authority kind through Append', [{ v: 1, id_fence_advanced: { minimum: '5' } }]],
    ];
    for (const [what, batch] of cases) {
      const err = await rawError(leaderId, 'Append', { events: batch });
      expect(err.code, what).to.equal('INVALID_ARGUMENT');
    }
    // The client returns the refusal as an outcome instead of throwing.
    const out = await client.append([{ ...events.storeJoined(9, 'x:1'), v: 99 } as never]);
    expect(out.accepted).to.equal(false);
    expect(out.error?.code).to.equal('INVALID_ARGUMENT');
    expect(out.cursor).to.deep.equal(before.last_applied);
    expect(await stateNow()).to.deep.equal(before);
  });

  it('refuses invalid transitions with FAILED_PRECONDITION and changes nothing', async () => {
    const before = await stateNow();
    const transitions: Array<[string, unknown[]]> = [
      ['retired mount registered again', [events.mountRegistered('gone', 1, 1)]],
      ['region overlap', [events.regionBootstrap(regionInput(2, '61', '', { version: 1, conf_version: 1 }, [{ store_id: 1, peer_id: 12 }]))]],
      ['subtree era regression', [events.subtreeDeclared('vol', 1, 'fsmeta-1', 2, '100')]],
      ['quota fence era regression', [events.quotaFenceUpdated('vol', 1, 1, 4)]],
      // A batch is atomic: the good first event is not kept when the second is refused.
      ['half-good batch', [events.storeJoined(7, '127.0.0.1:7'), events.mountRegistered('gone', 1, 1)]],
    ];
    for (const [what, evs] of transitions) {
      const err = await rawError(leaderId, 'Append', { events: (evs as RootEvent[]).map(eventToMsg) });
      expect(err.code, what).to.equal('FAILED_PRECONDITION');
      expect(err).to.not.be.instanceOf(NotLeaderError);
    }
    expect(await stateNow()).to.deep.equal(before);
  });

  it('refuses an Eunomia takeover of a live tenure with the holder, era and reason', async () => {
    const now = Date.now();
    const issued = await client.applyTenure({ op: 'issue', holder_id: 'coord-1', expires_unix_ms: now + 60_000, now_ms: now });
    expect(issued.accepted, String(issued.error)).to.equal(true);
    const era = issued.tenure!.era;
    const taken = await client.applyTenure({ op: 'issue', holder_id: 'coord-2', expires_unix_ms: now + 60_000, now_ms: now });
    expect(taken.accepted).to.equal(false);
    expect(taken.error?.code).to.equal('FAILED_PRECONDITION');
    expect(taken.error?.details).to.include({ reason: 'primacy', holder_id: 'coord-1', era });
    const stale = await client.fenceAllocator({ kind: 'id', minimum: '500', holder_id: 'coord-2', era, now_ms: now });
    expect(stale.accepted).to.equal(false);
    expect(stale.error?.details.reason).to.equal('silence');
    const fenced = await client.fenceAllocator({ kind: 'id', minimum: '500', holder_id: 'coord-1', era, now_ms: now });
    expect(fenced.accepted).to.equal(true);
    expect(fenced.id_fence).to.equal('500');
    const err = await rawError(leaderId, 'ApplyTenure', { op: 'TENURE_OP_RENEW', holder_id: 'coord-1', era: era + 5, expires_unix_ms: now + 1000, now_ms: now });
    expect(err.code).to.equal('FAILED_PRECONDITION');
    expect(err.details).to.include({ reason: 'silence' });
  });

  it('requires the cluster token for writes but not for reads', async () => {
    const noToken = await rawError(leaderId, 'Append', { events: [eventToMsg(events.storeJoined(50, 'x:1'))] }, null);
    expect(noToken).to.be.instanceOf(UnauthenticatedError);
    const wrong = await rawError(leaderId, 'FenceAllocator', { kind: 'FENCE_KIND_ID', minimum: 1, holder_id: 'x', era: 1, now_ms: 1 }, 'not-the-token');
    expect(wrong).to.be.instanceOf(UnauthenticatedError);
    const anonymous = new MetaRootClient({ endpoints: cluster.endpoints });
    try {
      const snap = await anonymous.snapshot();
      expect(snap.state.stores['50']).to.equal(undefined);
      let thrown: unknown;
      await anonymous.applyTenure({ op: 'issue', holder_id: 'x', expires_unix_ms: Date.now() + 1000, now_ms: Date.now() }).catch((e) => (thrown = e));
      expect(thrown).to.be.instanceOf(UnauthenticatedError);
    } finally {
      anonymous.close();
    }
  });

  it('a follower refuses writes naming the leader, and the client follows it transparently', async () => {
    const follower = cluster.peers.find((p) => p.node_id !== leaderId)!;
    const err = await rawError(follower.node_id, 'Append', { events: [eventToMsg(events.storeJoined(60, 'x:1'))] });
    expect(err).to.be.instanceOf(NotLeaderError);
    expect(err.code).to.equal('FAILED_PRECONDITION');
    expect(err.details).to.include({ leaderId, leaderAddr: cluster.peer(leaderId).addr });
    // Followers first: the client must end up at the leader and remember it.
    const order = [...cluster.peers].sort((a, b) => Number(a.node_id === leaderId) - Number(b.node_id === leaderId)).map((p) => p.addr);
    const follows = new MetaRootClient({ endpoints: order, token: cluster.token });
    try {
      const out = await follows.append([events.storeJoined(61, '127.0.0.1:61')]);
      expect(out.accepted).to.equal(true);
      expect(follows.leader).to.equal(cluster.peer(leaderId).addr);
      // A follower serves reads from its applied state and says so.
      const snap = await follows.snapshot({ linearizable: true }, { endpoint: follower.addr });
      expect(snap.follower_view).to.equal(true);
      expect(snap.view).to.include({ node_id: follower.node_id, leader_id: leaderId });
      expect(snap.state.stores['61']).to.include({ state: 'joined' });
    } finally {
      follows.close();
    }
  });

  it('WaitTail answers at once with what is retained, waits for new events, and answers before a short deadline', async () => {
    const start = await client.waitTail({ after: { term: 0, index: 0 }, timeoutMs: 0 });
    expect(start.snapshot_required).to.equal(false);
    expect(start.entries.length).to.be.greaterThan(0);
    const waiting = client.waitTail({ after: start.cursor, timeoutMs: 5_000 });
    setTimeout(() => void client.append([events.storeJoined(70, '127.0.0.1:70')]), 200);
    const page = await waiting;
    expect(page.entries.map((e) => e.events[0]!.kind)).to.deep.equal(['store_joined']);
    expect(page.entries[0]!.cursor.index).to.be.greaterThan(start.cursor.index);
    // Asking to wait a minute under a 3 s deadline still gets an (empty) answer, not DEADLINE_EXCEEDED.
    const t0 = Date.now();
    const empty = await client.waitTail({ after: page.cursor, timeoutMs: 60_000 }, { deadlineMs: 3_000, attemptTimeoutMs: 3_000 });
    expect(empty.entries).to.deep.equal([]);
    expect(Date.now() - t0).to.be.below(3_000);
  });

  it('the Tail stream delivers events as they commit', async () => {
    const from = (await client.waitTail({ after: { term: 0, index: 0 }, timeoutMs: 0 })).cursor;
    const follower = cluster.peers.find((p) => p.node_id !== leaderId)!;
    const call = (rawClient(follower.node_id) as unknown as { Tail(req: unknown): grpc.ClientReadableStream<any> }).Tail({ after: from });
    const got = new Promise<any>((resolve, reject) => {
      call.on('data', (msg) => resolve(msg));
      call.on('error', (e) => { if ((e as grpc.ServiceError).code !== 1) reject(e); });
    });
    await client.append([events.storeJoined(80, '127.0.0.1:80')]);
    const msg = await got;
    call.cancel();
    // A reader in any language sees a typed event: the oneof member names the kind.
    expect(msg.entries[0].events[0].event).to.equal('store_joined');
    expect(msg.entries[0].events[0].store_joined).to.include({ store_id: '80', address: '127.0.0.1:80' });
  });

  it('nokv config status, snapshot and tail report the cluster as JSON', async () => {
    const cli = (args: string[]) => run(process.execPath, [NOKV_BIN, 'config', ...args, '--config', cluster.topologyFile, '--json'], { timeout: 20_000 });
    const status = JSON.parse((await cli(['status'])).stdout);
    expect(status.peers).to.have.length(3);
    expect(status.peers.filter((p: any) => p.is_leader).map((p: any) => p.node_id)).to.deep.equal([leaderId]);
    for (const p of status.peers) expect(p).to.include({ reachable: true, leader_id: leaderId });
    const snap = JSON.parse((await cli(['snapshot'])).stdout);
    expect(snap.tenure.holder_id).to.equal('coord-1');
    expect(snap.id_fence).to.equal('500');
    expect(snap.mounts.map((m: any) => m.mount_id)).to.include.members(['gone', 'vol']);
    expect(snap.regions.map((r: any) => r.region_id)).to.deep.equal([1]);
    expect(snap.quota_fences[0]).to.include({ subject: 'vol', era: 5 });
    const tail = (await cli(['tail'])).stdout.trim().split('\n').map((l) => JSON.parse(l));
    const kinds = tail.flatMap((e: any) => e.events.map((ev: any) => ev.kind));
    expect(kinds).to.include.members(['store_joined', 'region_bootstrap', 'mount_retired', 'tenure', 'id_fence_advanced']);
    const bad = await run(process.execPath, [NOKV_BIN, 'config', 'status', '--endpoints', 'nonsense'], { timeout: 20_000 }).catch((e) => e);
    expect(bad.code).to.equal(2);
    expect(bad.stderr.trim().split('\n')).to.have.length(1);
  });

  it('publishes nokv_meta_root on /debug/vars', async () => {
    const v = (await cluster.vars(leaderId))!;
    expect(v).to.include({ node_id: leaderId, is_leader: true, leader_id: leaderId, id_fence: '500' });
    for (const k of ['term', 'commit_index', 'applied_index', 'cluster_epoch', 'membership_epoch', 'tso_fence', 'tenure', 'transport']) {
      expect(v, k).to.have.property(k);
    }
    expect(v.tenure).to.include({ holder_id: 'coord-1' });
  });
});
