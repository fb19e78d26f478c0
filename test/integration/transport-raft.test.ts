// Raft transports on loopback in one process: batching across many groups, isolation from a dead peer,
// reconnection after it returns, peer management, a shared server port, faults, and clean shutdown.
import { expect } from 'chai';
import * as grpc from '@grpc/grpc-js';
import net from 'node:net';
import { SystemClock } from '../../src/common/clock.js';
import { silentLogger } from '../../src/common/log.js';
import { SeededPrng } from '../../src/common/prng.js';
import {
  FaultInjector,
  RaftTransport,
  createClient,
  encodeItems,
  startGrpcServer,
  type RaftItem,
  type RaftTransportOptions,
  type RunningGrpcServer,
} from '../../src/transport/index.js';
import { raftTransportClientConstructor, raftTransportServiceDefinition } from '../../src/transport/raft/wire.js';
import { freePorts, sleep, waitFor } from '../support/env.js';

interface TestNode {
  id: number;
  transport: RaftTransport;
  /** Items received, per source node, in arrival order. */
  got: Map<number, RaftItem[]>;
  batchesFrom: Map<number, number>;
}

interface Msg {
  seq: number;
  data?: Uint8Array;
}

const FAST_RECONNECT = { backoffInitialMs: 20, backoffMaxMs: 200, closeGraceMs: 50 };

describe('transport: raft transport over loopback', function () {
  this.timeout(30_000);
  const live = new Set<RaftTransport>();
  const servers = new Set<RunningGrpcServer>();

  afterEach(async () => {
    await Promise.all([...live].map((t) => t.close()));
    live.clear();
    await Promise.all([...servers].map((s) => s.close(0)));
    servers.clear();
  });

  function makeNode(id: number, listenPort: number | undefined, peers: Record<number, number>, extra: Partial<RaftTransportOptions> = {}): TestNode {
    const got = new Map<number, RaftItem[]>();
    const batchesFrom = new Map<number, number>();
    const transport = new RaftTransport({
      nodeId: id,
      listenAddr: listenPort === undefined ? undefined : `127.0.0.1:${listenPort}`,
      peers: new Map(Object.entries(peers).map(([k, p]) => [Number(k), `127.0.0.1:${p}`])),
      onMessages: (from, items) => {
        got.set(from, [...(got.get(from) ?? []), ...items]);
        batchesFrom.set(from, (batchesFrom.get(from) ?? 0) + 1);
      },
      clock: new SystemClock(),
      prng: new SeededPrng(id),
      logger: silentLogger(),
      limits: FAST_RECONNECT,
      ...extra,
    });
    live.add(transport);
    return { id, transport, got, batchesFrom };
  }

  async function cluster(count: number, extra: Partial<RaftTransportOptions> = {}): Promise<{ nodes: TestNode[]; ports: number[] }> {
    const ports = await freePorts(count);
    const nodes: TestNode[] = [];
    for (let i = 0; i < count; i++) {
      const peers: Record<number, number> = {};
      ports.forEach((p, j) => { if (j !== i) peers[j + 1] = p; });
      const node = makeNode(i + 1, ports[i], peers, extra);
      await node.transport.start();
      nodes.push(node);
    }
    return { nodes, ports };
  }

  const count = (n: TestNode, from: number) => n.got.get(from)?.length ?? 0;
  const seqs = (n: TestNode, from: number) => (n.got.get(from) ?? []).map((it) => (it.msg as Msg).seq);

  it('sends every group of one turn to a destination as one batch, in order', async () => {
    const { nodes } = await cluster(3);
    const GROUPS = 100;
    const ROUNDS = 5;
    for (let r = 0; r < ROUNDS; r++) {
      for (const src of nodes) {
        for (const dst of nodes) {
          if (src === dst) continue;
          for (let g = 0; g < GROUPS; g++) src.transport.send(dst.id, g, { seq: r * GROUPS + g, data: new Uint8Array([r, g]) });
        }
      }
      await waitFor(`round ${r}`, () => nodes.every((d) => nodes.every((s) => s === d || count(d, s.id) === (r + 1) * GROUPS)));
    }
    for (const src of nodes) {
      const stats = src.transport.stats();
      for (const dst of nodes) {
        if (src === dst) continue;
        expect(stats.peers[dst.id].sent).to.equal(ROUNDS * GROUPS);
        expect(stats.peers[dst.id].batches, `batches ${src.id}->${dst.id}`).to.equal(ROUNDS);
        expect(dst.batchesFrom.get(src.id)).to.equal(ROUNDS);
        expect(seqs(dst, src.id)).to.deep.equal(Array.from({ length: ROUNDS * GROUPS }, (_, i) => i));
        const last = dst.got.get(src.id)!.at(-1)!;
        expect(last.group).to.equal(GROUPS - 1);
        expect([...(last.msg as Msg).data!]).to.deep.equal([ROUNDS - 1, GROUPS - 1]);
      }
    }
  });

  it('keeps delivering to a live peer while a dead peer queue drops its oldest, then reconnects', async () => {
    const QUEUE = 50;
    const unreachable: number[] = [];
    const { nodes, ports } = await cluster(3, { limits: { ...FAST_RECONNECT, maxQueueItems: QUEUE }, onPeerUnreachable: (id) => unreachable.push(id) });
    const [n1, n2, n3] = nodes;
    n1.transport.send(2, 1, { seq: -1 });
    n1.transport.send(3, 1, { seq: -1 });
    await waitFor('warm-up', () => count(n2, 1) === 1 && count(n3, 1) === 1);

    await n3.transport.close();
    live.delete(n3.transport);
    const TOTAL = 200;
    for (let turn = 0; turn < 20; turn++) {
      for (let i = 0; i < 10; i++) {
        const seq = turn * 10 + i;
        n1.transport.send(2, 7, { seq });
        n1.transport.send(3, 7, { seq });
      }
      await sleep(5);
    }
    await waitFor('live peer receives everything', () => count(n2, 1) === TOTAL + 1, 5_000);
    const down = n1.transport.stats().peers[3];
    expect(down.state).to.not.equal('ready');
    expect(down.queued).to.be.at.most(QUEUE);
    expect(down.dropped).to.be.at.least(TOTAL - QUEUE - 10);
    expect(down.connectFailures + down.streamFailures).to.be.at.least(1);
    // Told once, not once per failed dial or dropped message.
    expect(unreachable.filter((id) => id === 3)).to.have.length(1);
    expect(unreachable).to.not.include(2);

    const back = makeNode(3, ports[2], { 1: ports[0], 2: ports[1] });
    await back.transport.start();
    await waitFor('queued messages reach the restarted peer', () => seqs(back, 1).includes(TOTAL - 1), 5_000);
    const received = seqs(back, 1);
    expect(received.length).to.be.at.most(QUEUE);
    expect(Math.min(...received)).to.be.at.least(TOTAL - QUEUE);
    n1.transport.send(3, 7, { seq: 1000 });
    await waitFor('fresh message after reconnect', () => seqs(back, 1).includes(1000));
    const after = n1.transport.stats().peers[3];
    expect(after.state).to.equal('ready');
    expect(after.reconnects).to.be.at.least(1);
  });

  it('keeps serving other peers while a dial to a black-hole peer hangs', async () => {
    // A TCP listener that accepts and never answers: the dial neither succeeds nor fails until its timeout.
    const sockets = new Set<net.Socket>();
    const hole = net.createServer((sock) => { sockets.add(sock); sock.on('error', () => {}); });
    await new Promise<void>((r) => hole.listen(0, '127.0.0.1', () => r()));
    try {
      const holePort = (hole.address() as net.AddressInfo).port;
      const [p1, p2] = await freePorts(2);
      const limits = { ...FAST_RECONNECT, connectTimeoutMs: 10_000 };
      const n1 = makeNode(1, p1, { 2: p2, 3: holePort }, { limits });
      const n2 = makeNode(2, p2, { 1: p1 });
      await n1.transport.start();
      await n2.transport.start();
      n1.transport.send(3, 1, { seq: 0 });
      await waitFor('dial to the black hole reaches it', () => sockets.size > 0);
      const started = Date.now();
      for (let i = 1; i <= 20; i++) {
        n1.transport.send(3, 1, { seq: i });
        n1.transport.send(2, 1, { seq: i });
        await sleep(2);
      }
      await waitFor('delivery to the live peer', () => count(n2, 1) === 20);
      expect(Date.now() - started).to.be.lessThan(3_000);
      expect(n1.transport.stats().peers[3].state).to.equal('connecting');
      expect(n1.transport.stats().peers[3].queued).to.equal(21);
    } finally {
      await Promise.all([...live].map((t) => t.close()));
      live.clear();
      for (const sock of sockets) sock.destroy();
      await new Promise((r) => hole.close(r));
    }
  });

  it('manages peers: unknown peers are refused, addresses can change, removal drops the queue', async () => {
    const [p1, p2, wrong] = await freePorts(3);
    const n1 = makeNode(1, p1, {});
    const n2 = makeNode(2, p2, { 1: p1 });
    await n1.transport.start();
    await n2.transport.start();
    expect(n1.transport.send(2, 1, { seq: 0 })).to.equal(false);
    expect(n1.transport.stats().unknownPeerDrops).to.equal(1);

    n1.transport.addPeer(2, `127.0.0.1:${wrong}`);
    n1.transport.send(2, 1, { seq: 1 });
    await sleep(50);
    expect(count(n2, 1)).to.equal(0);
    n1.transport.updatePeerAddr(2, `127.0.0.1:${p2}`);
    await waitFor('delivery after the address change', () => count(n2, 1) === 1);
    expect(seqs(n2, 1)).to.deep.equal([1]);

    n1.transport.send(1, 4, { seq: 2 });
    await waitFor('delivery to itself', () => count(n1, 1) === 1);

    await n1.transport.removePeer(2);
    expect(n1.transport.peerIds()).to.deep.equal([]);
    expect(n1.transport.send(2, 1, { seq: 3 })).to.equal(false);
  });

  it('refuses a stream from a node that is not a peer, or one that changes its sender; counts undecodable batches', async () => {
    const [p1] = await freePorts(1);
    const n1 = makeNode(1, p1, { 2: 1, 3: 1 });
    await n1.transport.start();
    const client = createClient(raftTransportClientConstructor(), `127.0.0.1:${p1}`);
    const def = raftTransportServiceDefinition().Send;
    const stream = (batches: Array<{ from_node: number; payload: Uint8Array }>) =>
      new Promise<grpc.ServiceError | null>((resolve) => {
        const call = client.makeClientStreamRequest(def.path, def.requestSerialize, def.responseDeserialize, new grpc.Metadata(), {}, (err) => resolve(err));
        call.on('error', () => {});
        for (const b of batches) call.write(b);
        call.end();
      });
    const payload = encodeItems([{ group: 1, msg: { seq: 1 } }]);
    try {
      expect((await stream([{ from_node: 9, payload }]))?.code, 'a stranger').to.equal(grpc.status.PERMISSION_DENIED);
      expect((await stream([{ from_node: 1, payload }]))?.code, 'itself').to.equal(grpc.status.PERMISSION_DENIED);
      expect((await stream([{ from_node: 2, payload }, { from_node: 3, payload }]))?.code, 'a changed sender').to.equal(grpc.status.PERMISSION_DENIED);
      expect(await stream([{ from_node: 3, payload: new Uint8Array([0xc1, 0xff]) }, { from_node: 3, payload }])).to.equal(null);
      expect(count(n1, 9) + count(n1, 1)).to.equal(0);
      expect(count(n1, 2), 'what came before the sender changed').to.equal(1);
      expect(count(n1, 3)).to.equal(1);
      const drops = n1.transport.stats().inboundDrops;
      expect(drops.byReason).to.deep.equal({ 'unknown-sender': 2, 'sender-changed': 1, undecodable: 1 });
    } finally {
      client.close();
    }
  });

  it('serves through an existing gRPC server when no listen address is given', async () => {
    const [p1] = await freePorts(1);
    const shared = makeNode(2, undefined, { 1: p1 });
    const server = await startGrpcServer({ services: [shared.transport.serviceBinding()] });
    servers.add(server);
    const n1 = makeNode(1, p1, { 2: server.port });
    await n1.transport.start();
    n1.transport.send(2, 3, { seq: 1 });
    shared.transport.send(1, 3, { seq: 2 });
    await waitFor('both directions', () => count(shared, 1) === 1 && count(n1, 2) === 1);
  });

  it('with autoFlush off, sends one batch per flush() however many turns queued it', async () => {
    const { nodes } = await cluster(2, { autoFlush: false });
    const [n1, n2] = nodes;
    n1.transport.send(2, 1, { seq: 0 });
    n1.transport.flush();
    await waitFor('warm-up', () => count(n2, 1) === 1);
    for (let turn = 0; turn < 3; turn++) {
      for (let g = 0; g < 10; g++) n1.transport.send(2, g, { seq: 1 + turn * 10 + g });
      await sleep(10);
    }
    expect(count(n2, 1)).to.equal(1);
    n1.transport.flush();
    await waitFor('flushed', () => count(n2, 1) === 31);
    expect(n2.batchesFrom.get(1)).to.equal(2);
  });

  it('applies a partition from a shared fault injector and delivers again after heal', async () => {
    const faults = new FaultInjector({ seed: 5, clock: new SystemClock() });
    const { nodes } = await cluster(3, { faults });
    const [n1, n2, n3] = nodes;
    const heal = faults.partition([1], [2]);
    n1.transport.send(2, 1, { seq: 0 });
    n1.transport.send(3, 1, { seq: 0 });
    n2.transport.send(1, 1, { seq: 0 });
    await waitFor('unpartitioned link', () => count(n3, 1) === 1);
    await sleep(100);
    expect(count(n2, 1)).to.equal(0);
    expect(count(n1, 2)).to.equal(0);
    heal();
    n1.transport.send(2, 1, { seq: 1 });
    await waitFor('healed link', () => count(n2, 1) === 1);
    expect(seqs(n2, 1)).to.deep.equal([1]);
    expect(n1.transport.stats().faults?.['1->2'].blocked).to.equal(1);
  });

  it('applies faults on the receiving side when asked to', async () => {
    const faults = new FaultInjector({ seed: 5, clock: new SystemClock() });
    faults.addRule({ from: 1, to: 2, drop: 1 });
    const { nodes } = await cluster(2, { faults, faultSide: 'receive' });
    const [n1, n2] = nodes;
    for (let g = 0; g < 5; g++) n1.transport.send(2, g, { seq: g });
    n2.transport.send(1, 0, { seq: 0 });
    // Receive-side faults act on frames (one per group), before anything is decoded.
    await waitFor('batch arrived', () => n2.transport.stats().inbound['1']?.frames === 5);
    await waitFor('other direction', () => count(n1, 2) === 1);
    expect(count(n2, 1)).to.equal(0);
    expect(faults.stats()['1->2'].dropped).to.equal(5);
  });

  it('leaves no listening or connected sockets after close', async () => {
    const { nodes } = await cluster(3);
    for (const s of nodes) for (const d of nodes) if (s !== d) s.transport.send(d.id, 1, { seq: 0 });
    await waitFor('mesh up', () => nodes.every((d) => nodes.every((s) => s === d || count(d, s.id) === 1)));
    await Promise.all(nodes.map((n) => n.transport.close()));
    nodes.forEach((n) => live.delete(n.transport));
    await waitFor('sockets closed', () => !process.getActiveResourcesInfo().some((h) => h === 'TCPSocketWrap' || h === 'TCPServerWrap'), 5_000);
    expect(nodes[0].transport.send(2, 1, { seq: 1 })).to.equal(false);
  });
});
