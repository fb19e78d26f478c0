// Mutual TLS with certificates made by the system openssl (src/security/certs.ts): a server accepts only
// clients with a certificate from the cluster CA (plaintext and a foreign CA are refused at the handshake),
// and the raft transport accepts a stream only from the peer its certificate names.
import { expect } from 'chai';
import { statSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import { SystemClock } from '../../src/common/clock.js';
import { silentLogger } from '../../src/common/log.js';
import { SeededPrng } from '../../src/common/prng.js';
import { ensureClusterCerts } from '../../src/security/certs.js';
import {
  channelCredentials,
  loadTlsMaterial,
  RaftTransport,
  RAFT_TRANSPORT_PROTO,
  RAFT_TRANSPORT_SERVICE,
  loadProto,
  startGrpcServer,
  type RaftItem,
  type TlsMaterial,
} from '../../src/transport/index.js';
import { freePorts, makeTempDir, waitFor } from '../support/env.js';

describe('transport: mutual TLS', function () {
  this.timeout(60_000);
  const dir = makeTempDir('nokv-tls-');
  const foreign = makeTempDir('nokv-tls-foreign-');
  let tls: (name: string) => TlsMaterial;

  before(async () => {
    const made = await ensureClusterCerts(dir.path, ['store-1', 'store-2', 'client'].map((name) => ({ name, hosts: ['127.0.0.1'] })));
    expect(made).to.deep.equal(['store-1', 'store-2', 'client']);
    expect(await ensureClusterCerts(dir.path, [{ name: 'client', hosts: [] }]), 'kept, not remade').to.deep.equal([]);
    await ensureClusterCerts(foreign.path, [{ name: 'client', hosts: ['127.0.0.1'] }]);
    tls = (name) => loadTlsMaterial(dir.path, name);
  });

  after(() => {
    dir.remove();
    foreign.remove();
  });

  it('keeps keys to their owner', () => {
    expect(statSync(dir.path).mode & 0o777).to.equal(0o700);
    for (const f of ['ca.key', 'store-1.key', 'client.key']) expect(statSync(`${dir.path}/${f}`).mode & 0o777, f).to.equal(0o600);
  });

  it('a server answers a client with a cluster certificate and refuses plaintext and a foreign CA', async () => {
    const proto = loadProto(RAFT_TRANSPORT_PROTO);
    const server = await startGrpcServer({ services: [{ service: proto.service(RAFT_TRANSPORT_SERVICE), impl: { Ping: (_c: unknown, cb: (e: null, r: object) => void) => cb(null, {}), Send: () => {} } }], tls: tls('store-1') });
    const ping = (creds: grpc.ChannelCredentials) => {
      const Ctor = proto.clientConstructor(RAFT_TRANSPORT_SERVICE);
      const client = new Ctor(server.addr, creds) as unknown as grpc.Client & { Ping: (r: object, o: grpc.CallOptions, cb: (e: grpc.ServiceError | null) => void) => void };
      return new Promise<grpc.status>((resolve) => client.Ping({}, { deadline: new Date(Date.now() + 3_000) }, (e) => resolve(e ? e.code : grpc.status.OK))).finally(() => client.close());
    };
    try {
      expect(await ping(channelCredentials(tls('client')))).to.equal(grpc.status.OK);
      expect(await ping(grpc.credentials.createInsecure()), 'plaintext').to.equal(grpc.status.UNAVAILABLE);
      expect(await ping(channelCredentials(loadTlsMaterial(foreign.path, 'client'))), 'a foreign CA').to.equal(grpc.status.UNAVAILABLE);
      const noClientCert = grpc.credentials.createSsl(tls('client').ca);
      expect(await ping(noClientCert), 'no client certificate').to.equal(grpc.status.UNAVAILABLE);
    } finally {
      await server.close(0);
    }
  });

  it('the raft transport takes a stream only from the node its certificate names', async () => {
    const [p1, p2] = await freePorts(2);
    const got: Array<{ from: number; items: RaftItem[] }> = [];
    const make = (id: number, port: number, peers: Array<[number, number]>, material: TlsMaterial) =>
      new RaftTransport({
        nodeId: id,
        listenAddr: `127.0.0.1:${port}`,
        peers: new Map(peers.map(([n, p]) => [n, `127.0.0.1:${p}`])),
        onMessages: (from, items) => got.push({ from, items }),
        clock: new SystemClock(),
        prng: new SeededPrng(id),
        logger: silentLogger(),
        token: 't',
        tls: material,
        peerName: (n) => `store-${n}`,
      });
    const n2 = make(2, p2!, [[1, p1!]], tls('store-2'));
    const honest = make(1, p1!, [[2, p2!]], tls('store-1'));
    await n2.start();
    try {
      honest.send(2, 7, { hello: 1 });
      await waitFor('delivery over TLS', () => got.length === 1);
      expect(got[0]!.from).to.equal(1);
      await honest.close();
      // The tools' certificate, speaking as node 1: the CA signed it, but it does not name store-1.
      const impostor = make(1, p1!, [[2, p2!]], tls('client'));
      try {
        impostor.send(2, 7, { forged: 1 });
        await waitFor('refusal', () => n2.stats().inboundDrops.byReason['certificate-mismatch'] === 1);
        expect(got).to.have.length(1);
      } finally {
        await impostor.close();
      }
    } finally {
      await honest.close();
      await n2.close();
    }
  });
});
