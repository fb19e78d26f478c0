// What standard tooling sees of every NoKV process: grpc.health.v1 on each gRPC server (SERVING while it runs,
// NOT_SERVING once it closes), call latency by service, method and code on /metrics, and /healthz + /readyz
// on the metrics port.
import { expect } from 'chai';
import * as grpc from '@grpc/grpc-js';
import { registry } from '../../src/common/metrics.js';
import { ExpvarRegistry, startExpvarServer } from '../../src/expvar/server.js';
import { HEALTH_SERVICE } from '../../src/transport/grpc/observe.js';
import { createClient, loadProto, startGrpcServer, unaryCall, unaryHandler, RAFT_TRANSPORT_PROTO, RAFT_TRANSPORT_SERVICE } from '../../src/transport/index.js';
import { FailedPreconditionError } from '../../src/common/errors.js';

describe('observability: health, metrics and readiness', function () {
  it('answers grpc.health.v1 Check for the server and each service, and records calls by method and code', async () => {
    const proto = loadProto(RAFT_TRANSPORT_PROTO);
    const Ping = unaryHandler<object, object>(async (_req, call) => {
      if (call.metadata.get('x-fail')[0]) throw new FailedPreconditionError('no');
      return {};
    });
    const server = await startGrpcServer({ services: [{ service: proto.service(RAFT_TRANSPORT_SERVICE), impl: { Ping, Send: () => {} } }] });
    const health = createClient(loadProto('grpc/health/v1/health.proto').clientConstructor(HEALTH_SERVICE), server.addr);
    const raft = createClient(proto.clientConstructor(RAFT_TRANSPORT_SERVICE), server.addr);
    try {
      const check = (service: string) => unaryCall<object, { status: string }>(health, 'Check', { service }, { deadlineMs: 5_000 });
      expect((await check('')).status).to.equal('SERVING');
      expect((await check(RAFT_TRANSPORT_SERVICE)).status).to.equal('SERVING');
      const unknown = await check('no.such.Service').catch((e: Error) => e);
      expect(unknown).to.be.instanceOf(Error);
      expect(String((unknown as Error).message)).to.match(/unknown service/);

      const fail = new grpc.Metadata();
      fail.set('x-fail', '1');
      await unaryCall(raft, 'Ping', {}, { deadlineMs: 5_000 });
      await unaryCall(raft, 'Ping', {}, { deadlineMs: 5_000, metadata: fail }).catch(() => undefined);
      const text = await registry.metrics();
      expect(text).to.match(/nokv_grpc_server_handling_seconds_count\{[^}]*service="nokv.raft.v1.RaftTransport",method="Ping",code="OK"[^}]*\} [1-9]/);
      expect(text).to.match(/nokv_grpc_server_handling_seconds_count\{[^}]*method="Ping",code="FAILED_PRECONDITION"[^}]*\} [1-9]/);
    } finally {
      health.close();
      raft.close();
      await server.close(0);
    }
  });

  it('reports NOT_SERVING to a watcher when the server closes', async () => {
    const server = await startGrpcServer({ services: [] });
    const health = createClient(loadProto('grpc/health/v1/health.proto').clientConstructor(HEALTH_SERVICE), server.addr);
    try {
      const seen: string[] = [];
      const stream = (health as any).Watch({ service: '' }) as grpc.ClientReadableStream<{ status: string }>;
      const ended = new Promise<void>((resolve) => {
        stream.on('data', (m) => {
          seen.push(m.status);
          if (seen.length === 1) void server.close(200);
        });
        stream.on('error', () => resolve());
        stream.on('end', () => resolve());
      });
      await ended;
      expect(seen).to.deep.equal(['SERVING', 'NOT_SERVING']);
    } finally {
      health.close();
      await server.close(0);
    }
  });

  it('serves /healthz, /readyz with the reason it is not ready, and /metrics in Prometheus text format', async () => {
    const expvar = new ExpvarRegistry();
    let reason: string | undefined = 'starting';
    expvar.setReadiness(() => (reason ? { ready: false, reason } : { ready: true }));
    const server = await startExpvarServer('127.0.0.1:0', expvar);
    const base = `http://127.0.0.1:${server.port}`;
    try {
      const healthz = await fetch(`${base}/healthz`);
      expect(healthz.status).to.equal(200);
      expect(await healthz.text()).to.equal('ok\n');
      const notReady = await fetch(`${base}/readyz`);
      expect(notReady.status).to.equal(503);
      expect(await notReady.text()).to.equal('not ready: starting\n');
      reason = undefined;
      const ready = await fetch(`${base}/readyz`);
      expect(ready.status).to.equal(200);
      await ready.text();
      const metrics = await fetch(`${base}/metrics`);
      expect(metrics.headers.get('content-type')).to.match(/^text\/plain; version=0.0.4/);
      expect(await metrics.text()).to.match(/# TYPE nokv_grpc_server_handling_seconds histogram/);
      expect(() => expvar.route({ method: 'GET', path: '/metrics', handle: () => ({ status: 200, body: {} }) })).to.throw(/reserved/);
    } finally {
      await server.close();
    }
  });
});
