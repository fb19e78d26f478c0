// gRPC helpers over real loopback calls: typed errors survive the wire, deadlines and tokens produce the
// right statuses, trace context reaches the handler, and reflection lists what a server serves.
import { expect } from 'chai';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import {
  DataLossError,
  FailedPreconditionError,
  InvalidArgumentError,
  NokvError,
  NotLeaderError,
  ResourceExhaustedError,
  TimeoutError,
  UnavailableError,
} from '../../src/common/errors.js';
import { silentLogger } from '../../src/common/log.js';
import {
  createClient,
  fromGrpcError,
  loadProto,
  protoRoot,
  requireToken,
  startGrpcServer,
  toGrpcError,
  traceOf,
  unaryCall,
  unaryHandler,
  UnauthenticatedError,
  RAFT_TRANSPORT_PROTO,
  RAFT_TRANSPORT_SERVICE,
  type RunningGrpcServer,
  type TraceContext,
} from '../../src/transport/index.js';

/** Every typed error a handler may throw, keyed by the name a test sends in metadata. */
const ERRORS: Record<string, () => Error> = {
  InvalidArgumentError: () => new InvalidArgumentError('bad key', { key: 'k' }),
  FailedPreconditionError: () => new FailedPreconditionError('not holder', { holder: 'c2', era: 4 }),
  UnavailableError: () => new UnavailableError('store down'),
  TimeoutError: () => new TimeoutError('apply timed out'),
  ResourceExhaustedError: () => new ResourceExhaustedError('quota', { used: 10 }),
  DataLossError: () => new DataLossError('checksum mismatch'),
  NotLeaderError: () => new NotLeaderError('not leader', { leaderId: 2, leaderAddr: '127.0.0.1:3381' }),
  NokvError_NOT_FOUND: () => new NokvError('NOT_FOUND', 'no such inode', { inode: 7 }),
  NokvError_ALREADY_EXISTS: () => new NokvError('ALREADY_EXISTS', 'exists'),
  NokvError_ABORTED: () => new NokvError('ABORTED', 'write conflict'),
  UnauthenticatedError: () => new UnauthenticatedError('who are you'),
};

const TOKEN = 's3cret-token';

describe('transport: gRPC helpers', function () {
  let server: RunningGrpcServer;
  let client: grpc.Client;
  let lastTrace: TraceContext | undefined;
  const proto = loadProto(RAFT_TRANSPORT_PROTO);

  before(async () => {
    // The raft transport's Ping RPC doubles as a test endpoint whose behaviour metadata selects.
    const Ping = unaryHandler<object, object>(async (_req, call) => {
      lastTrace = traceOf(call);
      const mode = String(call.metadata.get('x-test-mode')[0] ?? '');
      if (mode === 'auth') requireToken(call, TOKEN);
      if (mode === 'slow') await new Promise((r) => setTimeout(r, 1_000));
      if (mode === 'bug') throw new TypeError('cannot read x of undefined\n    at secret (/srv/app.js:1:1)');
      if (mode.startsWith('throw:')) throw ERRORS[mode.slice(6)]();
      return {};
    }, { logger: silentLogger() });
    server = await startGrpcServer({ services: [{ service: proto.service(RAFT_TRANSPORT_SERVICE), impl: { Ping, Send: () => {} } }] });
    client = createClient(proto.clientConstructor(RAFT_TRANSPORT_SERVICE), server.addr);
  });

  after(async () => {
    client?.close();
    await server?.close(0);
  });

  const ping = (mode: string, extra: { deadlineMs?: number; token?: string; trace?: TraceContext } = {}) => {
    const metadata = new grpc.Metadata();
    metadata.set('x-test-mode', mode);
    return unaryCall<object, object>(client, 'Ping', {}, { deadlineMs: extra.deadlineMs ?? 5_000, token: extra.token, trace: extra.trace, metadata });
  };

  it('finds the proto root from the compiled file location', () => {
    expect(existsSync(join(protoRoot(), 'nokv', 'raft', 'v1', 'transport.proto'))).to.equal(true);
  });

  it('binds to 127.0.0.1 by default', () => {
    expect(server.addr).to.equal(`127.0.0.1:${server.port}`);
  });

  for (const name of Object.keys(ERRORS)) {
    it(`revives ${name} with its class, code, message and details after a round trip`, async () => {
      const original = ERRORS[name]() as NokvError;
      const err = await ping(`throw:${name}`).then(() => undefined, (e: unknown) => e as NokvError);
      expect(err, 'call should fail').to.be.instanceOf(Error);
      expect(err!.constructor).to.equal(original.constructor);
      expect(err!.name).to.equal(original.name);
      expect(err!.code).to.equal(original.code);
      expect(err!.message).to.equal(original.message);
      expect(err!.details).to.deep.equal(original.details);
    });
  }

  it('maps each error code to the gRPC status of the same name', () => {
    expect(toGrpcError(new NotLeaderError('x')).code).to.equal(grpc.status.FAILED_PRECONDITION);
    expect(toGrpcError(new TimeoutError('x')).code).to.equal(grpc.status.DEADLINE_EXCEEDED);
    expect(toGrpcError(new UnavailableError('x')).code).to.equal(grpc.status.UNAVAILABLE);
    expect(toGrpcError(new DataLossError('x')).code).to.equal(grpc.status.DATA_LOSS);
    expect(toGrpcError(new UnauthenticatedError('x')).code).to.equal(grpc.status.UNAUTHENTICATED);
  });

  it('turns an unexpected error into INTERNAL with one line and no stack', async () => {
    const err = await ping('bug').then(() => undefined, (e: unknown) => e as NokvError);
    expect(err).to.be.instanceOf(NokvError);
    expect(err!.code).to.equal('INTERNAL');
    expect(err!.message).to.equal('internal error: TypeError: cannot read x of undefined');
    expect(err!.message).to.not.include('/srv/app.js');
  });

  it('maps a status without the error trailer by its code', () => {
    const bare = Object.assign(new Error('x'), { code: grpc.status.UNAVAILABLE, details: 'conn refused', metadata: new grpc.Metadata() });
    const err = fromGrpcError(bare);
    expect(err).to.be.instanceOf(UnavailableError);
    expect(err.message).to.equal('conn refused');
    const unimplemented = fromGrpcError(Object.assign(new Error('x'), { code: grpc.status.UNIMPLEMENTED, details: 'no', metadata: new grpc.Metadata() }));
    expect((unimplemented as NokvError).code).to.equal('INTERNAL');
    expect((unimplemented as NokvError).details).to.deep.equal({ grpcCode: 'UNIMPLEMENTED' });
  });

  it('fails a call that outlives its deadline with TimeoutError (DEADLINE_EXCEEDED)', async () => {
    const started = Date.now();
    const err = await ping('slow', { deadlineMs: 150 }).then(() => undefined, (e: unknown) => e);
    expect(err).to.be.instanceOf(TimeoutError);
    expect(Date.now() - started).to.be.lessThan(900);
  });

  it('rejects a mutating call without the right bearer token as UNAUTHENTICATED', async () => {
    const missing = await ping('auth').then(() => undefined, (e: unknown) => e);
    expect(missing).to.be.instanceOf(UnauthenticatedError);
    const wrong = await ping('auth', { token: 'nope' }).then(() => undefined, (e: unknown) => e);
    expect(wrong).to.be.instanceOf(UnauthenticatedError);
    expect(await ping('auth', { token: TOKEN })).to.deep.equal({});
  });

  it('carries the trace context to the handler in metadata', async () => {
    await ping('ok', { trace: { traceId: 'abc123', spanId: 's1', sender: 'region/7;x' } });
    expect(lastTrace).to.deep.equal({ traceId: 'abc123', spanId: 's1', sender: 'region/7;x' });
    await ping('ok');
    // A call without a trace runs under one its server starts (a W3C trace id).
    expect(lastTrace?.traceId).to.match(/^[0-9a-f]{32}$/);
  });

  it('lists the served services through grpc.reflection.v1alpha', async () => {
    const names = await listServices(server.addr);
    expect(names).to.include(RAFT_TRANSPORT_SERVICE);
  });
});

/** Asks a server's reflection service for its service names. */
async function listServices(addr: string): Promise<string[]> {
  const require = createRequire(import.meta.url);
  const root = join(dirname(require.resolve('@grpc/reflection/package.json')), 'build', 'proto');
  const def = protoLoader.loadSync('grpc/reflection/v1alpha/reflection.proto', { keepCase: true, includeDirs: [root] });
  const pkg = grpc.loadPackageDefinition(def) as unknown as {
    grpc: { reflection: { v1alpha: { ServerReflection: grpc.ServiceClientConstructor } } };
  };
  const Ctor = pkg.grpc.reflection.v1alpha.ServerReflection;
  const client = new Ctor(addr, grpc.credentials.createInsecure()) as unknown as grpc.Client & {
    ServerReflectionInfo(opts: grpc.CallOptions): grpc.ClientDuplexStream<unknown, { list_services_response?: { service: { name: string }[] } }>;
  };
  try {
    return await new Promise<string[]>((resolve, reject) => {
      const call = client.ServerReflectionInfo({ deadline: Date.now() + 5_000 });
      call.on('data', (res) => {
        resolve((res.list_services_response?.service ?? []).map((s: { name: string }) => s.name));
        call.end();
      });
      call.on('error', reject);
      call.write({ list_services: '*' });
    });
  } finally {
    client.close();
  }
}
