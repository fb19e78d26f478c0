// One request followed through the logs of an in-process coordinator: a Tso call carrying `x-nokv-trace` is
// logged by the gRPC front and by the lease holder actor under the same trace id (the window refill the first
// call needs), with the actor's bindings {role, node, actor}; a call without the header gets a trace of its own.
import { expect } from 'chai';
import { ActorSystem } from '../../src/actors/index.js';
import { SystemClock } from '../../src/common/clock.js';
import { createLogger, silentLogger } from '../../src/common/log.js';
import { SeededPrng } from '../../src/common/prng.js';
import { LEASE_HOLDER_ACTOR, LeaseHolder } from '../../src/coordinator/holder.js';
import { leaseTiming } from '../../src/coordinator/lease.js';
import { COORDINATOR_SERVICE, coordinatorHandlers, coordinatorProto } from '../../src/coordinator/service.js';
import { createClient, startGrpcServer, unaryCall } from '../../src/transport/index.js';
import { FakeRoot } from '../fixtures/coordinator-fake-root.js';
import { startViewParts } from '../fixtures/coordinator-view.js';
import { freePorts, waitFor } from '../support/env.js';

interface LogLine {
  msg?: string;
  role?: string;
  node?: string;
  actor?: string;
  trace?: string;
  span?: string;
  rpc?: string;
}

describe('coordinator: a gRPC trace followed into the lease holder actor', function () {
  this.timeout(20_000);

  it('logs the front and the holder actor lines of one Tso call under the caller\'s trace id', async () => {
    const raw: string[] = [];
    const clock = new SystemClock();
    const root = new FakeRoot(clock);
    const logger = createLogger({ role: 'coordinator', node: 'coord-t', level: 'debug', destination: { write: (l: string) => void raw.push(l) } });
    const actors = await ActorSystem.start({ role: 'coordinator', node: 'coord-t', clock, logger });
    const { view, catalog, stop: stopView } = await startViewParts(actors, root);
    const holder = new LeaseHolder({ selfId: 'coord-t', timing: leaseTiming(2000, 700), root, view, actors, prng: new SeededPrng(7) });
    const [port] = await freePorts(1);
    const addr = `127.0.0.1:${port}`;
    const server = await startGrpcServer({
      addr,
      services: [
        {
          service: coordinatorProto().service(COORDINATOR_SERVICE),
          impl: coordinatorHandlers({ selfId: 'coord-t', holder, view, root, catalog, clock, logger }),
        },
      ],
    });
    const client = createClient(coordinatorProto().clientConstructor(COORDINATOR_SERVICE), addr);
    try {
      await holder.start();
      await waitFor('coord-t holds the lease', async () => (await holder.status()).serving);
      const traceId = 'trace-7f3a';
      // The first call after winning the era needs a window refill, which the actor logs.
      await unaryCall(client, 'Tso', { count: 1 }, { deadlineMs: 2000, trace: { traceId, spanId: 'client-span', sender: 'test' } });
      await unaryCall(client, 'AllocID', { count: 1 }, { deadlineMs: 2000 });

      const lines = raw.flatMap((chunk) => chunk.split('\n')).filter(Boolean).map((l) => JSON.parse(l) as LogLine);
      const traced = lines.filter((l) => l.trace === traceId);
      const front = traced.filter((l) => l.msg === 'duty call');
      expect(front, 'the front logs the call').to.have.length(1);
      expect(front[0]).to.include({ rpc: 'Tso', role: 'coordinator', node: 'coord-t' });
      const inActor = traced.filter((l) => l.actor === LEASE_HOLDER_ACTOR);
      expect(inActor.map((l) => l.msg)).to.include.members(['refilling window', 'window refilled']);
      for (const l of inActor) expect(l).to.include({ role: 'coordinator', node: 'coord-t' });
      // The AllocID call carried no trace: its refill is logged under a different trace of its own.
      const other = lines.filter((l) => l.actor === LEASE_HOLDER_ACTOR && l.msg === 'window refilled' && l.trace !== traceId);
      expect(other).to.have.length(1);
      expect(other[0]!.trace).to.be.a('string').and.not.equal('');
    } finally {
      client.close();
      await holder.stop();
      await server.close(0);
      const stopped = stopView();
      root.close();
      await stopped;
      await actors.shutdown();
    }
  });
});
