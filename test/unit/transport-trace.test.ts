// Trace context across gRPC and actors over real loopback calls: W3C traceparent parsing and formatting; a
// server runs each handler inside the caller's trace (x-nokv-trace, else traceparent, else a new one); a
// gRPC call made while handling carries it on as both headers with a new span; an actor asked from a
// handler continues it, and a call the actor makes carries it further; pino lines logged on the way name it.
import { expect } from 'chai';
import * as grpc from '@grpc/grpc-js';
import { ActorSystem, type Behaviour } from '../../src/actors/index.js';
import { createLogger } from '../../src/common/log.js';
import { currentTrace, parseTraceparent, toTraceparent, w3cTraceId, withTrace } from '../../src/common/trace-context.js';
import {
  createClient,
  loadProto,
  startGrpcServer,
  traceOf,
  unaryCall,
  unaryHandler,
  RAFT_TRANSPORT_PROTO,
  RAFT_TRANSPORT_SERVICE,
  type RunningGrpcServer,
  type TraceContext,
} from '../../src/transport/index.js';
import { setRpcLogger } from '../../src/transport/grpc/observe.js';

interface Seen {
  trace?: TraceContext;
  ambient?: TraceContext;
  nokv?: string;
  traceparent?: string;
}

describe('transport: trace context across gRPC and actors', function () {
  this.timeout(20_000);
  const proto = loadProto(RAFT_TRANSPORT_PROTO);
  const lines: Record<string, unknown>[] = [];
  const raw: string[] = [];
  const logger = createLogger({
    role: 'test',
    level: 'debug',
    destination: {
      write: (l: string) => {
        raw.push(l);
        lines.push(JSON.parse(l));
      },
    },
  });
  let front: RunningGrpcServer;
  let back: RunningGrpcServer;
  let toFront: grpc.Client;
  let toBack: grpc.Client;
  let actors: ActorSystem;
  let seen: Seen[] = [];
  let viaActor = false;

  before(async () => {
    setRpcLogger(logger);
    actors = await ActorSystem.start({ role: 'test', node: 't', workers: 0, logger });
    const relay: Behaviour = {
      // The actor logs under its message's trace and calls the back server from inside its handler.
      receive: async (_msg, ctx) => {
        ctx.log.info('relaying');
        await unaryCall(toBack, 'Ping', {}, { deadlineMs: 5_000 });
        ctx.reply('relayed');
      },
    };
    const relayRef = await actors.spawn({ name: 'relay', behaviour: relay });
    back = await startGrpcServer({
      services: [
        {
          service: proto.service(RAFT_TRANSPORT_SERVICE),
          impl: {
            Ping: unaryHandler<object, object>((_req, call) => {
              seen.push({
                trace: traceOf(call),
                ambient: currentTrace(),
                nokv: call.metadata.get('x-nokv-trace')[0] as string | undefined,
                traceparent: call.metadata.get('traceparent')[0] as string | undefined,
              });
              logger.info('back handled');
              return {};
            }),
            Send: () => {},
          },
        },
      ],
    });
    toBack = createClient(proto.clientConstructor(RAFT_TRANSPORT_SERVICE), back.addr);
    front = await startGrpcServer({
      services: [
        {
          service: proto.service(RAFT_TRANSPORT_SERVICE),
          impl: {
            Ping: unaryHandler<object, object>(async () => {
              logger.info('front handling');
              if (viaActor) await relayRef.ask('go', { timeoutMs: 5_000 });
              else await unaryCall(toBack, 'Ping', {}, { deadlineMs: 5_000 });
              return {};
            }),
            Send: () => {},
          },
        },
      ],
    });
    toFront = createClient(proto.clientConstructor(RAFT_TRANSPORT_SERVICE), front.addr);
  });

  after(async () => {
    setRpcLogger(undefined);
    toFront?.close();
    toBack?.close();
    await front?.close(0);
    await back?.close(0);
    await actors?.shutdown();
  });

  beforeEach(() => {
    seen = [];
    lines.length = 0;
    raw.length = 0;
    viaActor = false;
  });

  it('formats and parses W3C traceparent', () => {
    const id = '4bf92f3577b34da6a3ce929d0e0e4736';
    const span = '00f067aa0ba902b7';
    expect(toTraceparent({ traceId: id, spanId: span })).to.equal(`00-${id}-${span}-01`);
    expect(parseTraceparent(`00-${id}-${span}-01`)).to.deep.equal({ traceId: id, spanId: span });
    // A later version is read by its version-00 prefix; version ff, zero ids, bad shapes are not traces.
    expect(parseTraceparent(`01-${id}-${span}-01-extra`)).to.deep.equal({ traceId: id, spanId: span });
    expect(parseTraceparent(`00-${id}-${span}-01-extra`)).to.equal(undefined);
    expect(parseTraceparent(`ff-${id}-${span}-01`)).to.equal(undefined);
    expect(parseTraceparent(`00-${'0'.repeat(32)}-${span}-01`)).to.equal(undefined);
    expect(parseTraceparent(`00-${id}-${'0'.repeat(16)}-01`)).to.equal(undefined);
    expect(parseTraceparent(`00-${id.toUpperCase()}-${span}-01`)).to.equal(undefined);
    expect(parseTraceparent('garbage')).to.equal(undefined);
    // A NoKV trace id that is not a W3C id maps to a stable one.
    const mapped = w3cTraceId('trace-7f3a');
    expect(mapped).to.match(/^[0-9a-f]{32}$/).and.equal(w3cTraceId('trace-7f3a'));
    expect(toTraceparent({ traceId: 'trace-7f3a', spanId: 's1' })).to.match(new RegExp(`^00-${mapped}-[0-9a-f]{16}-01$`));
  });

  it('starts a trace for a call without one and carries it to the next server as both headers', async () => {
    await unaryCall(toFront, 'Ping', {}, { deadlineMs: 5_000 });
    expect(seen).to.have.length(1);
    const { trace, ambient, nokv, traceparent } = seen[0]!;
    expect(trace?.traceId).to.match(/^[0-9a-f]{32}$/);
    expect(ambient?.traceId, 'the handler runs inside the trace').to.equal(trace!.traceId);
    expect(nokv).to.be.a('string');
    const w3c = parseTraceparent(traceparent);
    expect(w3c?.traceId).to.equal(trace!.traceId);
    const frontLine = lines.find((l) => l.msg === 'front handling');
    const backLine = lines.find((l) => l.msg === 'back handled');
    expect(frontLine?.trace).to.equal(trace!.traceId);
    expect(backLine?.trace).to.equal(trace!.traceId);
    expect(backLine?.span, 'the outgoing call is a new span').to.be.a('string').and.not.equal(frontLine?.span);
    // At debug level each server logs the call it served and each client the call it made, under the trace.
    const served = lines.filter((l) => l.msg === 'rpc served' && l.trace === trace!.traceId).map((l) => l.rpc);
    expect(served).to.have.length(2);
    expect(served[0]).to.equal('/nokv.raft.v1.RaftTransport/Ping');
    const answered = lines.filter((l) => l.msg === 'rpc answered' && l.trace === trace!.traceId);
    expect(answered, 'the front called the back once').to.have.length(1);
    expect(answered[0]).to.include({ rpc: '/nokv.raft.v1.RaftTransport/Ping', code: 'OK' });
  });

  it('joins a caller that sends only traceparent', async () => {
    const id = '0af7651916cd43dd8448eb211c80319c';
    const md = new grpc.Metadata();
    md.set('traceparent', `00-${id}-b7ad6b7169203331-01`);
    await unaryCall(toFront, 'Ping', {}, { deadlineMs: 5_000, metadata: md });
    expect(seen[0]?.trace?.traceId).to.equal(id);
    expect(lines.find((l) => l.msg === 'front handling')?.trace).to.equal(id);
  });

  it("keeps the caller's x-nokv-trace over its traceparent and over the current trace", async () => {
    const md = new grpc.Metadata();
    md.set('traceparent', '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01');
    await withTrace({ traceId: 'ambient-1' }, () =>
      unaryCall(toFront, 'Ping', {}, { deadlineMs: 5_000, metadata: md, trace: { traceId: 'own-1', spanId: 's1', sender: 'test' } }),
    );
    expect(seen[0]?.trace?.traceId).to.equal('own-1');
    expect(seen[0]?.traceparent).to.match(new RegExp(`^00-${w3cTraceId('own-1')}-`));
  });

  it('continues the trace into an actor asked from a handler and out of its gRPC calls', async () => {
    viaActor = true;
    const id = '11112222333344445555666677778888';
    const md = new grpc.Metadata();
    md.set('traceparent', `00-${id}-1111222233334444-01`);
    await unaryCall(toFront, 'Ping', {}, { deadlineMs: 5_000, metadata: md });
    expect(seen).to.have.length(1);
    expect(seen[0]!.trace?.traceId).to.equal(id);
    const inActor = lines.filter((l) => l.msg === 'relaying');
    expect(inActor).to.have.length(1);
    expect(inActor[0]).to.include({ trace: id, actor: 'relay' });
    // The actor's own binding names the trace once: no duplicate key from the current-trace mixin.
    const rawLine = raw.find((l) => l.includes('"relaying"'));
    expect(rawLine?.match(/"trace":/g)).to.have.length(1);
    expect(lines.find((l) => l.msg === 'back handled')?.trace).to.equal(id);
  });
});
