// Who may call what, proven over the wire. The test walks every method of every service in every .proto of
// the repository (and the reflection services) and fails on a method without an access rule — so a new RPC
// cannot ship without one — then serves them all from one real server behind the guard and asserts that every
// method needing the token refuses a call without it and with a wrong one before its handler runs, while open
// methods reach theirs. It also checks the size limit (before decoding), malformed bytes (INVALID_ARGUMENT),
// that a server refuses to start with a method that has no rule, and that docs/security.md lists the table.
import { expect } from 'chai';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { ReflectionService } from '@grpc/reflection';
import { METHOD_ACCESS, accessOf } from '../../src/transport/grpc/auth.js';
import { maxRequestBytesOf } from '../../src/transport/grpc/options.js';
import { loadProto, protoRoot, setToken, startGrpcServer, type RunningGrpcServer } from '../../src/transport/index.js';

const TOKEN = 'the-cluster-token';

/** Every service definition of every .proto under proto/, plus the reflection services a server adds. */
function allServices(): Map<string, grpc.ServiceDefinition> {
  const out = new Map<string, grpc.ServiceDefinition>();
  const walk = (dir: string): string[] =>
    readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(dir, e.name)) : e.name.endsWith('.proto') ? [join(dir, e.name)] : []));
  for (const file of walk(protoRoot())) {
    const proto = loadProto(relative(protoRoot(), file));
    const collect = (node: unknown, name: string) => {
      if (typeof node === 'function' && 'service' in node) out.set(name, (node as grpc.ServiceClientConstructor).service);
      else if (node && typeof node === 'object' && !('format' in node)) for (const [k, v] of Object.entries(node)) collect(v, name ? `${name}.${k}` : k);
    };
    collect(proto.grpcObject, '');
  }
  new ReflectionService({}).addToServer({ addService: (svc) => void out.set(Object.values(svc)[0]!.path.split('/')[1]!, svc) });
  return out;
}

interface Probe {
  path: string;
  def: grpc.MethodDefinition<unknown, unknown>;
}

/** Calls `def` with an empty request; resolves with the status code it ended with. */
function call(client: grpc.Client, { def }: Probe, md: grpc.Metadata, request: unknown = {}): Promise<grpc.status> {
  const serialize = def.requestSerialize as (v: unknown) => Buffer;
  const deserialize = def.responseDeserialize as (b: Buffer) => unknown;
  const deadline = new Date(Date.now() + 3_000);
  return new Promise((resolve) => {
    const done = (err: grpc.ServiceError | null) => resolve(err ? err.code : grpc.status.OK);
    if (!def.requestStream && !def.responseStream) {
      client.makeUnaryRequest(def.path, serialize, deserialize, request, md, { deadline }, done);
    } else if (def.requestStream && !def.responseStream) {
      const c = client.makeClientStreamRequest(def.path, serialize, deserialize, md, { deadline }, done);
      c.on('error', () => {});
      c.write(request);
      c.end();
    } else {
      const c: grpc.ClientReadableStream<unknown> = def.requestStream
        ? client.makeBidiStreamRequest(def.path, serialize, deserialize, md, { deadline })
        : client.makeServerStreamRequest(def.path, serialize, deserialize, request, md, { deadline });
      c.on('data', () => {});
      c.on('error', (err: grpc.ServiceError) => resolve(err.code));
      c.on('status', (s: grpc.StatusObject) => resolve(s.code));
      if (def.requestStream) {
        const duplex = c as grpc.ClientDuplexStream<unknown, unknown>;
        duplex.write(request);
        duplex.end();
      }
    }
  });
}

describe('transport: access rules for every RPC (auth.ts)', function () {
  this.timeout(30_000);
  const services = allServices();
  const probes: Probe[] = [...services.values()].flatMap((svc) => Object.values(svc).map((def) => ({ path: def.path, def: def as grpc.MethodDefinition<unknown, unknown> })));

  it('every method of every service in proto/ (and reflection) has an access rule, and every rule a method', () => {
    expect(services.size, 'services found').to.be.at.least(6);
    const missing = probes.filter((p) => accessOf(p.path) === undefined).map((p) => p.path);
    expect(missing, 'methods with no entry in src/transport/grpc/auth.ts').to.deep.equal([]);
    const served = new Set(probes.map((p) => p.path));
    expect([...METHOD_ACCESS.keys()].filter((path) => !served.has(path)), 'rules for methods no proto defines').to.deep.equal([]);
  });

  it('docs/security.md lists every method with the access the code enforces', () => {
    const doc = readFileSync(join(protoRoot(), '..', 'docs', 'security.md'), 'utf8');
    const listed = new Map<string, string>();
    for (const m of doc.matchAll(/^\| `(\/[\w.]+\/\w+)` \| (open|token|peer) \|/gm)) listed.set(m[1]!, m[2]!);
    expect(Object.fromEntries(listed)).to.deep.equal(Object.fromEntries(METHOD_ACCESS));
  });

  describe('served behind the guard', () => {
    // The raft service gets a server of its own, as in the roles: a port that carries raft has no open method.
    let server: RunningGrpcServer;
    let raftServer: RunningGrpcServer;
    let client: grpc.Client;
    let raftClient: grpc.Client;
    const reached = new Set<string>();
    const isRaft = (path: string) => path.startsWith('/nokv.raft.');
    const clientOf = (path: string) => (isRaft(path) ? raftClient : client);

    before(async () => {
      const bindings = [...services.entries()]
        // Health and reflection are added by every server itself.
        .filter(([name]) => !name.startsWith('grpc.'))
        .map(([, service]) => {
          const impl: grpc.UntypedServiceImplementation = {};
          for (const [name, def] of Object.entries(service)) {
            impl[name] = ((c: any, callback?: (err: null, res: object) => void) => {
              reached.add(def.path);
              if (def.requestStream) {
                c.on('data', () => {});
                c.on('end', () => (callback ? callback(null, {}) : c.end()));
              } else if (callback) callback(null, {});
              else c.end();
            }) as grpc.UntypedHandleCall;
          }
          return { service, impl };
        });
      const raft = (b: { service: grpc.ServiceDefinition }) => isRaft(Object.values(b.service)[0]!.path);
      server = await startGrpcServer({ services: bindings.filter((b) => !raft(b)), token: TOKEN });
      raftServer = await startGrpcServer({ services: bindings.filter(raft), token: TOKEN });
      client = new grpc.Client(server.addr, grpc.credentials.createInsecure());
      raftClient = new grpc.Client(raftServer.addr, grpc.credentials.createInsecure());
    });

    after(async () => {
      client?.close();
      raftClient?.close();
      await server?.close(0);
      await raftServer?.close(0);
    });

    it('every method needing the token refuses none and a wrong one (UNAUTHENTICATED) before its handler; open methods answer', async () => {
      const wrong = setToken(new grpc.Metadata(), 'not-the-token');
      const refusedWrongly: string[] = [];
      for (const p of probes.filter((p) => accessOf(p.path) !== 'open')) {
        const none = await call(clientOf(p.path), p, new grpc.Metadata());
        const bad = await call(clientOf(p.path), p, wrong);
        if (none !== grpc.status.UNAUTHENTICATED || bad !== grpc.status.UNAUTHENTICATED) refusedWrongly.push(`${p.path}: ${grpc.status[none]}/${grpc.status[bad]}`);
      }
      expect(refusedWrongly).to.deep.equal([]);
      expect([...reached].filter((path) => accessOf(path) !== 'open'), 'handlers reached without the token').to.deep.equal([]);
      for (const p of probes.filter((p) => accessOf(p.path) !== 'open')) {
        expect(await call(clientOf(p.path), p, setToken(new grpc.Metadata(), TOKEN)), `${p.path} with the token`).to.equal(grpc.status.OK);
      }
      for (const p of probes.filter((p) => accessOf(p.path) === 'open' && !p.path.startsWith('/grpc.'))) {
        expect(await call(client, p, new grpc.Metadata()), `${p.path} without a token`).to.equal(grpc.status.OK);
      }
    });

    it('a port that carries raft has no open method: its health check needs the token, elsewhere it is open', async () => {
      const check = { path: '/grpc.health.v1.Health/Check', def: services.get('grpc.health.v1.Health')!.Check! as grpc.MethodDefinition<unknown, unknown> };
      expect(await call(client, check, new grpc.Metadata()), 'health on a client port').to.equal(grpc.status.OK);
      expect(await call(raftClient, check, new grpc.Metadata()), 'health on a raft port, no token').to.equal(grpc.status.UNAUTHENTICATED);
      expect(await call(raftClient, check, setToken(new grpc.Metadata(), TOKEN)), 'with the token').to.equal(grpc.status.OK);
    });

    it('a request over its service limit is refused before decoding; undecodable bytes are INVALID_ARGUMENT', async () => {
      const raw = (path: string, bytes: Buffer, token = TOKEN) =>
        new Promise<grpc.ServiceError | null>((resolve) =>
          clientOf(path).makeUnaryRequest(path, (b: Buffer) => b, (b: Buffer) => b, bytes, setToken(new grpc.Metadata(), token), { deadline: new Date(Date.now() + 5_000) }, (err) => resolve(err)),
        );
      const append = '/nokv.meta.v1.MetadataRoot/Append';
      reached.clear();
      const big = await raw(append, Buffer.alloc(maxRequestBytesOf(append) + 1, 0x0a));
      expect(big?.code).to.equal(grpc.status.RESOURCE_EXHAUSTED);
      expect(big?.details).to.match(/limit/);
      // A field tag with wire type 7, which protobuf does not have.
      const garbage = await raw(append, Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]));
      expect(garbage?.code).to.equal(grpc.status.INVALID_ARGUMENT);
      expect(reached.size, 'no handler saw either request').to.equal(0);
      // Bigger than every service on the port: grpc-js refuses it from the length prefix, before reading it.
      const huge = await raw('/nokv.raft.v1.RaftTransport/Ping', Buffer.alloc(65 * 1024 * 1024));
      expect(huge?.code).to.equal(grpc.status.RESOURCE_EXHAUSTED);
    });
  });

  it('a server refuses to start with a method that has no access rule', async () => {
    const svc = loadProto('nokv/raft/v1/transport.proto').service('nokv.raft.v1.RaftTransport');
    const renamed = { Frobnicate: { ...svc.Ping!, path: '/nokv.raft.v1.RaftTransport/Frobnicate' } } as grpc.ServiceDefinition;
    const err = await startGrpcServer({ services: [{ service: renamed, impl: {} }] }).then(() => undefined, (e: unknown) => e as Error);
    expect(err?.message).to.match(/no access rule .*Frobnicate/);
  });
});
