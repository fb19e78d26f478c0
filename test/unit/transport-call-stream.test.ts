// CallStream over the wire (src/transport/grpc/call-stream.ts and call-stream-client.ts): unary calls carried as
// messages on one stream answer exactly what the unary calls answer — values, typed errors with their details,
// deadlines, traces — share messages when they are made together, and fail or fall back the way a unary call
// would when the stream breaks or the server does not offer it. A hostile frame (garbage request bytes, an
// unknown or streaming method, no token) costs only its own calls.
import { expect } from 'chai';
import * as grpc from '@grpc/grpc-js';
import { NotLeaderError, TimeoutError, UnavailableError } from '../../src/common/errors.js';
import { freshTrace, withTrace } from '../../src/common/trace-context.js';
import {
  callStreamStats,
  createClient,
  loadProto,
  setToken,
  startGrpcServer,
  traceOf,
  unaryCall,
  unaryHandler,
  UnauthenticatedError,
  type RunningGrpcServer,
} from '../../src/transport/index.js';
import { STORE_KV_PROTO, STORE_KV_SERVICE } from '../../src/store/server/service.js';

const TOKEN = 'call-stream-token';

interface Served {
  server: RunningGrpcServer;
  traces: string[];
  hung: number;
}

/** A StoreKV server whose Get echoes the key, Commit refuses as not leader, BatchGet never answers. */
async function serve(opts: { addr?: string; withoutCallStream?: boolean } = {}): Promise<Served> {
  const full = loadProto(STORE_KV_PROTO).service(STORE_KV_SERVICE);
  const service = opts.withoutCallStream ? Object.fromEntries(Object.entries(full).filter(([name]) => name !== 'CallStream')) : full;
  const out: Served = { server: undefined as unknown as RunningGrpcServer, traces: [], hung: 0 };
  const impl: grpc.UntypedServiceImplementation = {
    Get: unaryHandler(async (req: any, call) => {
      const t = traceOf(call as unknown as { metadata: grpc.Metadata });
      if (t) out.traces.push(t.traceId);
      return { value: Buffer.concat([Buffer.from('v:'), req.key]), not_found: false };
    }),
    Commit: unaryHandler(async () => {
      throw new NotLeaderError('not the leader of region 7', { leaderId: 2, leaderAddr: '127.0.0.1:2' });
    }),
    BatchGet: () => {
      out.hung++;
    },
  };
  out.server = await startGrpcServer({ ...(opts.addr ? { addr: opts.addr } : {}), services: [{ service: service as grpc.ServiceDefinition, impl }], token: TOKEN, reflection: false });
  return out;
}

function client(addr: string, callStream = true): grpc.Client {
  return createClient(loadProto(STORE_KV_PROTO).clientConstructor(STORE_KV_SERVICE), addr, {}, { callStream });
}

const get = (c: grpc.Client, key: string, token = TOKEN, deadlineMs = 3_000) =>
  unaryCall<unknown, any>(c, 'Get', { context: { region_id: 1 }, key: Buffer.from(key) }, { deadlineMs, token });

/** One raw CallStream message, answered frame by frame; resolves with every reply once `count` arrived. */
function rawFrame(addr: string, calls: unknown[], count: number, md: grpc.Metadata): Promise<any[]> {
  const def = loadProto(STORE_KV_PROTO).service(STORE_KV_SERVICE)['CallStream']!;
  const c = new grpc.Client(addr, grpc.credentials.createInsecure());
  const s = c.makeBidiStreamRequest(def.path, def.requestSerialize as any, def.responseDeserialize as any, md, {});
  const replies: any[] = [];
  return new Promise<any[]>((resolve, reject) => {
    s.on('data', (f: any) => {
      replies.push(...f.replies);
      if (replies.length >= count) {
        s.cancel();
        c.close();
        resolve(replies);
      }
    });
    s.on('error', (err: grpc.ServiceError) => {
      c.close();
      if (err.code === grpc.status.CANCELLED && replies.length >= count) return;
      reject(err);
    });
    s.write({ calls });
  });
}

describe('transport: unary calls on one CallStream', function () {
  this.timeout(30_000);
  let served: Served;
  const clients: grpc.Client[] = [];
  const mk = (addr: string, callStream = true) => {
    const c = client(addr, callStream);
    clients.push(c);
    return c;
  };

  beforeEach(async () => {
    served = await serve();
  });
  afterEach(async () => {
    for (const c of clients.splice(0)) c.close();
    await served.server.close(0);
  });

  it('answers what the unary call answers, many calls per message', async () => {
    const streamed = mk(served.server.addr);
    const plain = mk(served.server.addr, false);
    const keys = Array.from({ length: 50 }, (_, i) => `k${i}`);
    const viaStream = await Promise.all(keys.map((k) => get(streamed, k)));
    const viaUnary = await Promise.all(keys.map((k) => get(plain, k)));
    expect(viaStream.map((r) => r.value.toString())).to.deep.equal(keys.map((k) => `v:${k}`));
    expect(viaStream).to.deep.equal(viaUnary);
    const stats = callStreamStats(streamed)!;
    expect(stats.carried).to.equal(50);
    expect(stats.unary).to.equal(0);
    expect(stats.opened).to.equal(1);
    expect(stats.frames, 'calls made in one turn share a message').to.be.below(50);
    expect(callStreamStats(plain)).to.equal(undefined);
  });

  it('revives typed errors with their details, as the unary call does', async () => {
    const streamed = mk(served.server.addr);
    const plain = mk(served.server.addr, false);
    const commit = (c: grpc.Client) =>
      unaryCall(c, 'Commit', { context: { region_id: 7 }, keys: [Buffer.from('a')], start_version: '5', commit_version: '6' }, { deadlineMs: 3_000, token: TOKEN }).then(
        () => expect.fail('Commit answered OK'),
        (err) => err,
      );
    const [a, b] = await Promise.all([commit(streamed), commit(plain)]);
    expect(a).to.be.instanceOf(NotLeaderError);
    expect(a.details).to.deep.equal({ leaderId: 2, leaderAddr: '127.0.0.1:2' });
    expect(a.message).to.equal(b.message);
    expect(a.code).to.equal(b.code);
  });

  it('keeps each call’s deadline; the stream serves the next call after one timed out', async () => {
    const streamed = mk(served.server.addr);
    const t0 = Date.now();
    const err = await unaryCall(streamed, 'BatchGet', { context: { region_id: 1 }, keys: [Buffer.from('a')], version: '1' }, { deadlineMs: 300, token: TOKEN }).catch((e) => e);
    expect(err).to.be.instanceOf(TimeoutError);
    expect(Date.now() - t0).to.be.at.least(250);
    expect(served.hung).to.equal(1);
    expect((await get(streamed, 'after')).value.toString()).to.equal('v:after');
    expect(callStreamStats(streamed)!.opened).to.equal(1);
  });

  it('carries the caller’s trace to the handler', async () => {
    const streamed = mk(served.server.addr);
    const trace = freshTrace('test');
    await withTrace(trace, () => get(streamed, 'traced'));
    expect(served.traces).to.include(trace.traceId);
  });

  it('a caller without a token makes unary calls (open methods stay open)', async () => {
    const streamed = mk(served.server.addr);
    const err = await unaryCall(streamed, 'Get', { context: { region_id: 1 }, key: Buffer.from('k') }, { deadlineMs: 3_000 }).catch((e) => e);
    expect(err, 'Get needs the token: refused as a unary call').to.be.instanceOf(UnauthenticatedError);
    expect(callStreamStats(streamed)).to.include({ unary: 1, opened: 0 });
  });

  it('a call with a wrong token fails UNAUTHENTICATED, like the unary call', async () => {
    const streamed = mk(served.server.addr);
    const err = await get(streamed, 'x', 'wrong-token').catch((e) => e);
    expect(err).to.be.instanceOf(UnauthenticatedError);
    expect((await get(streamed, 'y', TOKEN).catch((e) => e)).value?.toString(), 'then a call with the right token is answered').to.equal('v:y');
  });

  it('a broken stream fails its waiting calls UNAVAILABLE and the next call opens a new one', async () => {
    const addr = served.server.addr;
    const streamed = mk(addr);
    expect((await get(streamed, 'a')).value.toString()).to.equal('v:a');
    const waiting = unaryCall(streamed, 'BatchGet', { context: { region_id: 1 }, keys: [Buffer.from('a')], version: '1' }, { deadlineMs: 10_000, token: TOKEN }).catch((e) => e);
    await new Promise((r) => setTimeout(r, 100));
    await served.server.close(0);
    expect(await waiting).to.be.instanceOf(UnavailableError);
    served = await serve({ addr });
    let answer: any;
    for (let i = 0; i < 50 && !answer; i++) answer = await get(streamed, 'b').catch(() => new Promise((r) => setTimeout(r, 100)));
    expect(answer.value.toString()).to.equal('v:b');
    expect(callStreamStats(streamed)!.opened).to.be.at.least(2);
  });

  it('falls back to unary calls against a server without CallStream', async () => {
    const old = await serve({ withoutCallStream: true });
    try {
      const streamed = mk(old.server.addr);
      const answers = await Promise.all(['a', 'b', 'c'].map((k) => get(streamed, k)));
      expect(answers.map((r) => r.value.toString())).to.deep.equal(['v:a', 'v:b', 'v:c']);
      expect((await get(streamed, 'd')).value.toString()).to.equal('v:d');
      expect(callStreamStats(streamed)!.unary).to.be.at.least(4);
    } finally {
      await old.server.close(0);
    }
  });

  it('refuses a hostile frame call by call: garbage bytes, unknown and streaming methods, the stream itself', async () => {
    const md = setToken(new grpc.Metadata(), TOKEN);
    const getDef = loadProto(STORE_KV_PROTO).service(STORE_KV_SERVICE)['Get']!;
    const good = (getDef.requestSerialize as (v: unknown) => Buffer)({ context: { region_id: 1 }, key: Buffer.from('ok') });
    const replies = await rawFrame(
      served.server.addr,
      [
        { id: 1, method: 'Get', request: Buffer.from([0xff, 0xff, 0xff, 0xff]) },
        { id: 2, method: 'NoSuchMethod', request: good },
        { id: 3, method: 'WatchApplied', request: Buffer.alloc(0) },
        { id: 4, method: 'CallStream', request: Buffer.alloc(0) },
        { id: 5, method: 'Get', request: good },
      ],
      5,
      md,
    );
    const byId = new Map(replies.map((r) => [r.id, r]));
    expect(byId.get(1).code).to.equal(grpc.status.INVALID_ARGUMENT);
    expect(byId.get(2).code).to.equal(grpc.status.UNIMPLEMENTED);
    expect(byId.get(3).code).to.equal(grpc.status.UNIMPLEMENTED);
    expect(byId.get(4).code).to.equal(grpc.status.UNIMPLEMENTED);
    expect(byId.get(5).code).to.equal(grpc.status.OK);
    // The server is still serving.
    expect((await get(mk(served.server.addr), 'still')).value.toString()).to.equal('v:still');
    // Without the token the stream itself is refused before any call runs.
    const refused = await rawFrame(served.server.addr, [{ id: 1, method: 'Get', request: good }], 1, new grpc.Metadata()).catch((e) => e);
    expect(refused.code).to.equal(grpc.status.UNAUTHENTICATED);
  });
});
