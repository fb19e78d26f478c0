// Hostile input against a real cluster (`nokv cluster up`: 3 meta-roots, 3 coordinators, 3 stores, fsmeta):
// random and adversarial raft batches (huge terms, forged senders, unknown groups, truncated and random
// payloads, strangers), 60 MB messages to every port, every mutating method called without a token and with a
// wrong one, and bytes that do not decode. A transaction load runs throughout. Afterwards no process restarted
// (same pids, no in-process raft restart), no leader or term changed, every acknowledged write reads back, and
// the guards counted what they dropped. The seed of the random batches is printed (NOKV_HOSTILE_SEED replays).
import { expect } from 'chai';
import { createHash } from 'node:crypto';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { SeededPrng, type Prng } from '../../src/common/prng.js';
import { connectStoreClient, type CoordinatedStoreClient } from '../../src/store/client/connect.js';
import { METHOD_ACCESS } from '../../src/transport/grpc/auth.js';
import { ensureClusterCerts } from '../../src/security/certs.js';
import { channelCredentials, CLIENT_TLS_NAME, loadTlsMaterial, setToken, type TlsMaterial } from '../../src/transport/index.js';
import { encodeItems } from '../../src/transport/raft/codec.js';
import { raftTransportServiceDefinition } from '../../src/transport/raft/wire.js';
import { clusterDown, clusterUp, debugVars, nokv, type DrillCluster } from '../fixtures/coordinator-drills.js';
import { makeTempDir, sleep, waitFor } from '../support/env.js';

const SIXTY_MB = 60 * 1024 * 1024;

/** What must not change: processes, in-process raft restarts, leaders and terms. */
interface Fingerprint {
  pids: Record<string, number>;
  processRestarts: Record<string, number>;
  raftRestarts: Record<string, number>;
  metaRoot: { leader: number; term: number };
  regions: Record<string, { leader: number; term: number }>;
}

async function fingerprint(c: DrillCluster): Promise<Fingerprint> {
  const st = JSON.parse(await nokv(['cluster', 'status', '--json', '--data-dir', c.dataDir])) as { processes: Array<{ name: string; pid: number; restarts: number; status: string }> };
  const fp: Fingerprint = { pids: {}, processRestarts: {}, raftRestarts: {}, metaRoot: { leader: 0, term: 0 }, regions: {} };
  for (const p of st.processes) {
    expect(p.status, p.name).to.equal('running');
    fp.pids[p.name] = p.pid;
    fp.processRestarts[p.name] = p.restarts;
  }
  for (const p of c.topo.meta_root.peers) {
    const m = (await debugVars(p.metrics_addr))!.nokv_meta_root;
    fp.raftRestarts[`meta-root-${p.node_id}`] = m.raft_restarts;
    expect(m.raft_group, `meta-root-${p.node_id} raft group`).to.equal('running');
    if (m.is_leader) fp.metaRoot = { leader: p.node_id, term: m.term };
  }
  for (const s of c.topo.stores) {
    const v = (await debugVars(s.metrics_addr))!.nokv_store;
    fp.raftRestarts[`store-${s.store_id}`] = v.data_plane_restarts;
    for (const r of v.regions) {
      fp.raftRestarts[`store-${s.store_id} region ${r.id}`] = r.restarts;
      expect(r.state, `store-${s.store_id} region ${r.id}`).to.equal('running');
      if (r.role === 'leader') fp.regions[r.id] = { leader: s.store_id, term: r.term };
    }
  }
  return fp;
}

/** Entries under `dir` whose mode is not 0700 (folders) or 0600 (files): the data dir is its owner's alone. */
function looseModes(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, e.name);
    const mode = statSync(path).mode & 0o777;
    if (e.isDirectory()) {
      if (mode !== 0o700) out.push(`${path} ${mode.toString(8)}`);
      out.push(...looseModes(path));
    } else if (e.isFile() && mode !== 0o600) out.push(`${path} ${mode.toString(8)}`);
  }
  return out;
}

/** Sequential two-region transactions; every acknowledged one is read back at the end. */
class WriteLoad {
  readonly acked: Array<{ key: Buffer; value: Buffer }> = [];
  errors = 0;
  private running = true;
  private readonly loop: Promise<void>;
  constructor(private readonly client: CoordinatedStoreClient) {
    this.loop = this.run();
  }
  private async run(): Promise<void> {
    for (let n = 0; this.running; n++) {
      const a = Buffer.from(`a/hostile/${n}`);
      const z = Buffer.from(`z/hostile/${n}`);
      const value = Buffer.from(`v${n}`);
      try {
        const txn = await this.client.begin();
        txn.put(a, value);
        txn.put(z, value);
        await txn.commit();
        this.acked.push({ key: a, value }, { key: z, value });
      } catch {
        this.errors++;
      }
      await sleep(50);
    }
  }
  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }
  async missing(): Promise<string[]> {
    const out: string[] = [];
    for (let i = 0; i < this.acked.length; i += 200) {
      const chunk = this.acked.slice(i, i + 200);
      const got = await this.client.batchGet(chunk.map((w) => w.key));
      for (const { key, value } of chunk) {
        const v = got.get(key.toString('hex'));
        if (!v?.equals(value)) out.push(`${key.toString()}: ${v?.toString() ?? 'absent'}`);
      }
    }
    return out;
  }
}

const identity = (b: Buffer) => b;
const deadline = () => ({ deadline: new Date(Date.now() + 30_000) });

/** Raw clients per address and identity, closed after each suite; nothing limits what they send. */
const clients = new Map<string, grpc.Client>();
function clientFor(addr: string, tls?: TlsMaterial): grpc.Client {
  const key = `${addr} ${tls ? `${tls.name}@${createHash('sha256').update(tls.ca).digest('hex')}` : 'plaintext'}`;
  let c = clients.get(key);
  if (!c) clients.set(key, (c = new grpc.Client(addr, tls ? channelCredentials(tls) : grpc.credentials.createInsecure(), { 'grpc.max_send_message_length': -1 })));
  return c;
}

/** One raw unary call; resolves with the status code. */
function rawUnary(addr: string, path: string, bytes: Buffer, md: grpc.Metadata, tls?: TlsMaterial): Promise<grpc.status> {
  return new Promise<grpc.status>((resolve) => {
    clientFor(addr, tls).makeUnaryRequest(path, identity, identity, bytes, md, deadline(), (err) => resolve(err ? err.code : grpc.status.OK));
  });
}

/** One raft stream carrying `batches` (already serialized RaftBatch messages); resolves with its status code. */
function rawRaftStream(addr: string, batches: Buffer[], md: grpc.Metadata, tls?: TlsMaterial): Promise<grpc.status> {
  return new Promise<grpc.status>((resolve) => {
    const call = clientFor(addr, tls).makeClientStreamRequest('/nokv.raft.v1.RaftTransport/Send', identity, identity, md, deadline(), (err) => resolve(err ? err.code : grpc.status.OK));
    call.on('error', () => {});
    for (const b of batches) call.write(b);
    call.end();
  });
}

const batch = (from: number | string, payload: Uint8Array) => raftTransportServiceDefinition().Send!.requestSerialize({ from_node: from, payload }) as Buffer;
const withToken = (token: string) => setToken(new grpc.Metadata(), token);

/** A raft message that breaks at least one rule of the inbound guard, chosen by `prng`. */
function poisoned(prng: Prng, from: number, to: number): unknown {
  const types = ['app', 'appResp', 'vote', 'voteResp', 'preVote', 'preVoteResp', 'heartbeat', 'heartbeatResp', 'snap', 'timeoutNow', 'readIndex', 'readIndexResp'];
  const bad = [-1, 1.5, 2 ** 53, 2 ** 64, Number.NaN, 'x', null, 2n ** 64n - 1n, 1_000_000_001n];
  const m: Record<string, unknown> = {
    type: types[prng.int(types.length)], from, to, term: prng.int(1_000_000_002), logTerm: prng.int(10), index: prng.int(100),
    commit: prng.int(100), entries: [], reject: false, rejectHint: 0,
  };
  if (prng.chance(0.5)) m.transfer = true;
  switch (prng.int(7)) {
    case 0: m[['term', 'logTerm', 'index', 'commit', 'rejectHint'][prng.int(5)]!] = bad[prng.int(bad.length)]; break;
    case 1: m.type = `bogus-${prng.int(100)}`; break;
    case 2: m.from = from + 1 + prng.int(5); break; // not the stream's sender
    case 3: m.to = to + 1 + prng.int(5); break;
    case 4: m.type = 'app'; m.entries = [{ index: (m.index as number) + 2, term: 1, type: 0, data: new Uint8Array(4) }]; break; // a gap
    case 5: m.type = 'heartbeat'; m.snapshot = { meta: { index: 1, term: 1, conf: { voters: [1], learners: [] } }, data: new Uint8Array(0) }; break;
    default: m.context = 'not bytes'; break;
  }
  return m;
}

/** Store placement of the plain run: 0 by default; NOKV_HOSTILE_STORE_WORKERS=2 puts the regions on two worker shards. */
const STORE_WORKERS = Number(process.env.NOKV_HOSTILE_STORE_WORKERS ?? 0);

describe(`hostile input against a real cluster (no restart, no leader change, nothing acknowledged lost; stores at --workers ${STORE_WORKERS})`, function () {
  this.timeout(90_000);
  const seed = Number(process.env.NOKV_HOSTILE_SEED ?? Math.floor(Math.random() * 1_000_000));
  let c: DrillCluster | undefined;
  let token = '';
  let client: CoordinatedStoreClient | undefined;
  let load: WriteLoad | undefined;
  let baseline: Fingerprint;

  before(async function () {
    this.timeout(150_000);
    console.log(`      hostile seed ${seed} (reproduce with NOKV_HOSTILE_SEED=${seed})`);
    c = await clusterUp(undefined, STORE_WORKERS > 0 ? { workers: { store: STORE_WORKERS } } : {});
    token = c.token;
    client = connectStoreClient({ coordinatorAddrs: c.coordAddrs, token });
    // Settled: a meta-root leader and a leader for both regions, then a baseline of writes.
    await waitFor('leaders everywhere', async () => {
      const fp = await fingerprint(c!);
      return fp.metaRoot.leader > 0 && Object.keys(fp.regions).length >= 2;
    }, 30_000, 200);
    load = new WriteLoad(client);
    await waitFor('some acknowledged writes', () => load!.acked.length >= 10, 30_000);
    baseline = await fingerprint(c);
  });

  after(async function () {
    this.timeout(120_000);
    await load?.stop().catch(() => undefined);
    client?.close();
    for (const raw of clients.values()) raw.close();
    clients.clear();
    if (c) await clusterDown(c);
  });

  it('raft ports drop adversarial batches: no token, strangers, forged and poisoned messages, unknown groups, bad payloads', async () => {
    const prng = new SeededPrng(seed);
    const targets = [
      ...c!.topo.meta_root.peers.map((p) => ({ addr: p.raft_addr, self: p.node_id, peer: (p.node_id % 3) + 1, group: 0 })),
      ...c!.topo.stores.map((s) => ({ addr: s.addr, self: s.store_id, peer: (s.store_id % 3) + 1, group: 1 })),
    ];
    for (const t of targets) {
      const vote = (over: Record<string, unknown>) => ({ type: 'vote', from: t.peer, to: t.self, term: 1_000_000_001, logTerm: 1_000, index: 1_000_000, commit: 0, entries: [], reject: false, rejectHint: 0, transfer: true, ...over });
      const forged = encodeItems([
        { group: t.group, msg: vote({ term: 2n ** 64n - 1n }) },
        { group: t.group, msg: vote({ from: 99 }) },
        { group: 424_242, msg: vote({}) },
        { group: t.group, msg: 'not a message' },
        ...Array.from({ length: 200 }, () => ({ group: t.group, msg: poisoned(prng, t.peer, t.self) })),
      ]);
      expect(await rawRaftStream(t.addr, [batch(t.peer, forged)], new grpc.Metadata()), `${t.addr} without a token`).to.equal(grpc.status.UNAUTHENTICATED);
      expect(await rawRaftStream(t.addr, [batch(t.peer, forged)], withToken('wrong')), `${t.addr} wrong token`).to.equal(grpc.status.UNAUTHENTICATED);
      expect(await rawRaftStream(t.addr, [batch(99, forged)], withToken(token)), `${t.addr} a stranger`).to.equal(grpc.status.PERMISSION_DENIED);
      expect(await rawRaftStream(t.addr, [batch(t.self, forged)], withToken(token)), `${t.addr} itself`).to.equal(grpc.status.PERMISSION_DENIED);
      const random = Buffer.from(Array.from({ length: 512 }, () => prng.int(256)));
      const truncated = forged.subarray(0, Math.floor(forged.length / 2));
      const status = await rawRaftStream(t.addr, [batch(t.peer, forged), batch(t.peer, truncated), batch(t.peer, random), Buffer.from([0xff, 0xff, 0x07])], withToken(token));
      expect([grpc.status.OK, grpc.status.INVALID_ARGUMENT], `${t.addr} authenticated garbage`).to.include(status);
      // Framing that parses but frames that do not decode: a store forwards them to the region's thread
      // undecoded, and only there do they fail (not msgpack, not an array, an array of non-messages); the frame
      // of another group in the same batch still arrives.
      const frame = (group: number, bytes: number[]) => [group, bytes.length, ...bytes];
      const late = Buffer.from([
        ...frame(t.group, [0xc1, 0xc1]),
        ...frame(t.group, [0x07]),
        ...frame(t.group, [0x92, 0x01, 0xa1, 0x78]),
        ...frame(t.group, [0x91, 0xdc, 0xff]),
        ...Array.from(encodeItems([{ group: t.group, msg: vote({ from: 99 }) }])),
      ]);
      expect(await rawRaftStream(t.addr, [batch(t.peer, late)], withToken(token)), `${t.addr} frames that fail to decode`).to.equal(grpc.status.OK);
    }
  });

  it('a 60 MB message to every port is refused before it is read or decoded', async function () {
    this.timeout(120_000);
    const big = Buffer.alloc(SIXTY_MB, 0x0a);
    const none = () => new grpc.Metadata();
    // Per port, the most expensive things an outsider can try there: a method that needs the token (refused from
    // the headers) and an open one (refused from the length prefix). Ports that carry raft have no open method:
    // their health checks need the token too, so nothing there reads an outsider's body.
    const cases: Array<[string, () => Promise<grpc.status>, grpc.status]> = [
      ...c!.topo.meta_root.peers.flatMap((p): Array<[string, () => Promise<grpc.status>, grpc.status]> => [
        [`${p.addr} Status`, () => rawUnary(p.addr, '/nokv.meta.v1.MetadataRoot/Status', big, none()), grpc.status.RESOURCE_EXHAUSTED],
        [`${p.raft_addr} Send`, () => rawRaftStream(p.raft_addr, [big], none()), grpc.status.UNAUTHENTICATED],
        [`${p.raft_addr} Health/Check`, () => rawUnary(p.raft_addr, '/grpc.health.v1.Health/Check', big, none()), grpc.status.UNAUTHENTICATED],
      ]),
      ...c!.topo.coordinators.map((co): [string, () => Promise<grpc.status>, grpc.status] => [`${co.addr} GetRegionByKey`, () => rawUnary(co.addr, '/nokv.coordinator.v1.Coordinator/GetRegionByKey', big, none()), grpc.status.RESOURCE_EXHAUSTED]),
      ...c!.topo.stores.flatMap((s): Array<[string, () => Promise<grpc.status>, grpc.status]> => [
        [`${s.addr} Send`, () => rawRaftStream(s.addr, [big], withToken('wrong')), grpc.status.UNAUTHENTICATED],
        [`${s.addr} Health/Check`, () => rawUnary(s.addr, '/grpc.health.v1.Health/Check', big, none()), grpc.status.UNAUTHENTICATED],
      ]),
      ...c!.topo.fsmeta.map((f): [string, () => Promise<grpc.status>, grpc.status] => [`${f.addr} Lookup`, () => rawUnary(f.addr, '/nokv.fsmeta.v1.FSMetadata/Lookup', big, none()), grpc.status.RESOURCE_EXHAUSTED]),
      // With the token, over the service's limit: still refused from the length prefix.
      [`${c!.topo.meta_root.peers[0]!.addr} Append with the token`, () => rawUnary(c!.topo.meta_root.peers[0]!.addr, '/nokv.meta.v1.MetadataRoot/Append', big, withToken(token)), grpc.status.RESOURCE_EXHAUSTED],
      [`${c!.topo.stores[0]!.addr} Prewrite without the token`, () => rawUnary(c!.topo.stores[0]!.addr, '/nokv.kv.v1.StoreKV/Prewrite', big, none()), grpc.status.UNAUTHENTICATED],
    ];
    for (const [what, run, want] of cases) expect(await run(), what).to.equal(want);
  });

  it('every method needing the token refuses none and a wrong one on every port that serves it', async () => {
    const ports: Record<string, string[]> = {
      'nokv.meta.v1.MetadataRoot': c!.topo.meta_root.peers.map((p) => p.addr),
      'nokv.coordinator.v1.Coordinator': c!.topo.coordinators.map((x) => x.addr),
      'nokv.kv.v1.StoreKV': c!.topo.stores.map((s) => s.addr),
      'nokv.fsmeta.v1.FSMetadata': c!.topo.fsmeta.map((f) => f.addr),
      'nokv.raft.v1.RaftTransport': [...c!.topo.meta_root.peers.map((p) => p.raft_addr), ...c!.topo.stores.map((s) => s.addr)],
    };
    const wrong: string[] = [];
    let checked = 0;
    for (const [path, access] of METHOD_ACCESS) {
      const service = path.split('/')[1]!;
      if (access === 'open' || !ports[service]) continue;
      for (const addr of ports[service]!) {
        for (const md of [new grpc.Metadata(), withToken('wrong')]) {
          // An empty request is a valid message of every type; streams are refused from their headers alike.
          const code = path.endsWith('/Send') ? await rawRaftStream(addr, [], md) : await rawUnary(addr, path, Buffer.alloc(0), md);
          if (code !== grpc.status.UNAUTHENTICATED) wrong.push(`${addr}${path}: ${grpc.status[code]}`);
          checked++;
        }
      }
    }
    expect(wrong).to.deep.equal([]);
    expect(checked).to.be.greaterThan(100);
  });

  it('undecodable request bytes answer INVALID_ARGUMENT', async () => {
    const garbage = Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]);
    const p = c!.topo.meta_root.peers[0]!;
    expect(await rawUnary(p.addr, '/nokv.meta.v1.MetadataRoot/Status', garbage, new grpc.Metadata())).to.equal(grpc.status.INVALID_ARGUMENT);
    expect(await rawUnary(c!.topo.coordinators[0]!.addr, '/nokv.coordinator.v1.Coordinator/GetRegionByKey', garbage, new grpc.Metadata())).to.equal(grpc.status.INVALID_ARGUMENT);
    expect(await rawUnary(c!.topo.stores[0]!.addr, '/nokv.kv.v1.StoreKV/Get', garbage, withToken(token))).to.equal(grpc.status.INVALID_ARGUMENT);
    expect(await rawUnary(c!.topo.fsmeta[0]!.addr, '/nokv.fsmeta.v1.FSMetadata/Lookup', garbage, new grpc.Metadata())).to.equal(grpc.status.INVALID_ARGUMENT);
  });

  it('afterwards: no process or raft group restarted, no leader or term changed, every acknowledged write reads back', async () => {
    await sleep(1_500); // several election timeouts: an election the attacks caused would have happened by now
    await load!.stop();
    const after = await fingerprint(c!);
    expect(after).to.deep.equal(baseline);
    expect(load!.acked.length).to.be.greaterThan(10);
    expect(await load!.missing()).to.deep.equal([]);
    expect(statSync(c!.dataDir).mode & 0o777).to.equal(0o700);
    expect(looseModes(c!.dataDir), 'data dir entries open to others').to.deep.equal([]);
    // The attacks reached the guards and were counted there.
    for (const p of c!.topo.meta_root.peers) {
      const t = (await debugVars(p.metrics_addr))!.nokv_meta_root.transport;
      expect(t.inboundDrops.total, `meta-root-${p.node_id} transport drops`).to.be.greaterThan(0);
    }
    for (const s of c!.topo.stores) {
      const v = (await debugVars(s.metrics_addr))!.nokv_store;
      expect(v.node.multi.inboundDrops.byReason['out-of-range'], `store-${s.store_id} raft drops`).to.be.greaterThan(0);
      expect(v.node.multi.inboundDrops.byReason['unknown-group']).to.be.greaterThan(0);
      expect(v.node.multi.inboundDrops.byReason.undecodable, `store-${s.store_id}: frames that failed only on the region's thread`).to.be.greaterThan(0);
    }
  });
});

describe('hostile input against a real cluster with mutual TLS (cluster up --tls)', function () {
  this.timeout(90_000);
  let c: DrillCluster | undefined;
  let client: CoordinatedStoreClient | undefined;
  let load: WriteLoad | undefined;
  let baseline: Fingerprint;
  const foreign = makeTempDir('nokv-foreign-ca-');

  before(async function () {
    this.timeout(150_000);
    c = await clusterUp(undefined, { tls: true });
    client = connectStoreClient({ coordinatorAddrs: c.coordAddrs, token: c.token });
    await waitFor('leaders everywhere', async () => {
      const fp = await fingerprint(c!);
      return fp.metaRoot.leader > 0 && Object.keys(fp.regions).length >= 2;
    }, 30_000, 200);
    load = new WriteLoad(client);
    await waitFor('some acknowledged writes over TLS', () => load!.acked.length >= 10, 30_000);
    baseline = await fingerprint(c);
  });

  after(async function () {
    this.timeout(120_000);
    await load?.stop().catch(() => undefined);
    client?.close();
    for (const raw of clients.values()) raw.close();
    clients.clear();
    if (c) await clusterDown(c);
    foreign.remove();
  });

  const everyPort = () => [
    ...c!.topo.meta_root.peers.flatMap((p) => [[p.addr, '/nokv.meta.v1.MetadataRoot/Status'], [p.raft_addr, '/nokv.raft.v1.RaftTransport/Ping']]),
    ...c!.topo.coordinators.map((x) => [x.addr, '/nokv.coordinator.v1.Coordinator/GetLease']),
    ...c!.topo.stores.map((s) => [s.addr, '/nokv.kv.v1.StoreKV/ListRegions']),
    ...c!.topo.fsmeta.map((f) => [f.addr, '/nokv.fsmeta.v1.FSMetadata/GetAttr']),
  ] as Array<[string, string]>;

  it('a client without a certificate from the cluster CA is refused on every port, even with the token', async () => {
    await ensureClusterCerts(foreign.path, [{ name: CLIENT_TLS_NAME, hosts: ['127.0.0.1'] }]);
    const stranger = loadTlsMaterial(foreign.path, CLIENT_TLS_NAME);
    const member = loadTlsMaterial(`${c!.dataDir}/tls`, CLIENT_TLS_NAME);
    for (const [addr, path] of everyPort()) {
      expect(await rawUnary(addr, path, Buffer.alloc(0), withToken(c!.token)), `${addr} plaintext`).to.equal(grpc.status.UNAVAILABLE);
      expect(await rawUnary(addr, path, Buffer.alloc(0), withToken(c!.token), stranger), `${addr} foreign CA`).to.equal(grpc.status.UNAVAILABLE);
      const ok = await rawUnary(addr, path, Buffer.alloc(0), withToken(c!.token), member);
      expect(ok, `${addr} with the cluster's client certificate`).to.not.equal(grpc.status.UNAVAILABLE);
    }
  });

  it('a cluster certificate cannot speak raft for another node, even with the token', async () => {
    const dir = `${c!.dataDir}/tls`;
    const payload = encodeItems([{ group: 1, msg: { type: 'heartbeat', from: 2, to: 1, term: 1, logTerm: 0, index: 0, commit: 0, entries: [], reject: false, rejectHint: 0 } }]);
    const s1 = c!.topo.stores[0]!;
    const s3 = c!.topo.stores[2]!;
    const asClient = await rawRaftStream(s1.addr, [batch(2, payload)], withToken(c!.token), loadTlsMaterial(dir, CLIENT_TLS_NAME));
    const storeAsAnother = await rawRaftStream(s1.addr, [batch(2, payload)], withToken(c!.token), loadTlsMaterial(dir, 'store-3'));
    const metaRootAsStore = await rawRaftStream(s3.addr, [batch(1, payload)], withToken(c!.token), loadTlsMaterial(dir, 'meta-root-1'));
    expect([asClient, storeAsAnother, metaRootAsStore]).to.deep.equal([grpc.status.PERMISSION_DENIED, grpc.status.PERMISSION_DENIED, grpc.status.PERMISSION_DENIED]);
    const drops = (await debugVars(s1.metrics_addr))!.nokv_store.transport.inboundDrops.byReason;
    expect(drops['certificate-mismatch']).to.equal(2);
  });

  it('afterwards: no process or raft group restarted, no leader or term changed, every acknowledged write reads back', async () => {
    await sleep(1_000);
    await load!.stop();
    expect(await fingerprint(c!)).to.deep.equal(baseline);
    expect(load!.acked.length).to.be.greaterThan(10);
    expect(await load!.missing()).to.deep.equal([]);
  });
});
