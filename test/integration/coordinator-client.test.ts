// The coordinator client against real gRPC servers on loopback: it follows the "not holder" hint straight to
// the holder, fails over from a dead endpoint, keeps the last good endpoint sticky, refuses a reply from an era
// below one it has seen (Silence), and two in-process coordinators over one root hand the lease over on stop.
import { expect } from 'chai';
import { ActorSystem } from '../../src/actors/index.js';
import { FailedPreconditionError } from '../../src/common/errors.js';
import { SystemClock } from '../../src/common/clock.js';
import { SeededPrng } from '../../src/common/prng.js';
import { silentLogger } from '../../src/common/log.js';
import { startGrpcServer, unaryHandler, type RunningGrpcServer } from '../../src/transport/index.js';
import { CoordinatorClient } from '../../src/coordinator/client.js';
import { StaleEraError } from '../../src/coordinator/errors.js';
import { COORDINATOR_SERVICE, coordinatorHandlers, coordinatorProto } from '../../src/coordinator/service.js';
import { LeaseHolder } from '../../src/coordinator/holder.js';
import { leaseTiming } from '../../src/coordinator/lease.js';
import { startViewParts } from '../fixtures/coordinator-view.js';
import { FakeRoot } from '../fixtures/coordinator-fake-root.js';
import { freePorts, waitFor } from '../support/env.js';

interface Stub {
  server: RunningGrpcServer;
  era: number;
  holderAddr?: string;
  calls: number;
}

async function stub(addr: string, init: Partial<Stub>): Promise<Stub> {
  const s: Stub = { era: 1, calls: 0, ...init } as Stub;
  const tso = unaryHandler(() => {
    s.calls++;
    if (s.holderAddr) throw new FailedPreconditionError('not holder: standby', { reason: 'not_holder', holder_id: 'x', era: s.era, holder_addr: s.holderAddr });
    return { timestamp: String(1000 + s.calls), count: 1, era: s.era, served_by: addr };
  });
  s.server = await startGrpcServer({ addr, services: [{ service: coordinatorProto().service(COORDINATOR_SERVICE), impl: { Tso: tso } }] });
  return s;
}

describe('coordinator client (gRPC on loopback)', function () {
  this.timeout(30_000);
  const servers: RunningGrpcServer[] = [];
  const clients: CoordinatorClient[] = [];
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const c of clients.splice(0)) c.close();
    for (const s of servers.splice(0)) await s.close(0);
    for (const f of cleanups.splice(0).reverse()) await f();
  });

  it('follows the not-holder hint to the holder and stays there', async () => {
    const [p1, p2, p3] = await freePorts(3);
    const a = `127.0.0.1:${p1}`, b = `127.0.0.1:${p2}`, c = `127.0.0.1:${p3}`;
    const sa = await stub(a, { holderAddr: c });
    const sb = await stub(b, { holderAddr: c });
    const sc = await stub(c, { era: 3 });
    servers.push(sa.server, sb.server, sc.server);
    const client = new CoordinatorClient({ endpoints: [a, b, c] });
    clients.push(client);
    for (let i = 0; i < 5; i++) expect((await client.tso()).served_by).to.equal(c);
    expect(sa.calls).to.equal(1);
    expect(sb.calls).to.equal(0);
    expect(client.era).to.equal(3);
  });

  it('fails over from an unreachable endpoint', async () => {
    const [dead, p2] = await freePorts(2);
    const live = `127.0.0.1:${p2}`;
    const s = await stub(live, {});
    servers.push(s.server);
    const client = new CoordinatorClient({ endpoints: [`127.0.0.1:${dead}`, live], attemptDeadlineMs: 500 });
    clients.push(client);
    expect((await client.tso()).served_by).to.equal(live);
  });

  it('refuses a reply from an era below the highest one seen (era floor)', async () => {
    const [p1, p2] = await freePorts(2);
    const newer = await stub(`127.0.0.1:${p1}`, { era: 5 });
    const older = await stub(`127.0.0.1:${p2}`, { era: 4 });
    servers.push(newer.server, older.server);
    const client = new CoordinatorClient({ endpoints: [`127.0.0.1:${p1}`, `127.0.0.1:${p2}`], attemptDeadlineMs: 300, callBudgetMs: 1500 });
    clients.push(client);
    expect((await client.tso()).era).to.equal(5);
    await newer.server.close(0);
    try {
      await client.tso();
      expect.fail('a stale era was accepted');
    } catch (err) {
      expect(err).to.be.instanceOf(StaleEraError);
    }
    expect(client.stats.stale_replies).to.be.greaterThan(0);
  });

  it('two coordinators over one root: stopping the holder moves the lease and the client follows', async () => {
    const clock = new SystemClock();
    const root = new FakeRoot(clock);
    const ports = await freePorts(2);
    const addrs = ports.map((p) => `127.0.0.1:${p}`);
    const ids = ['coord-a', 'coord-b'];
    const holders: LeaseHolder[] = [];
    const actors = await ActorSystem.start({ role: 'coordinator', clock, logger: silentLogger() });
    cleanups.unshift(() => actors.shutdown());
    for (const [i, id] of ids.entries()) {
      const { view, catalog, stop: stopView } = await startViewParts(actors, root);
      const holder = new LeaseHolder({
        selfId: id,
        timing: leaseTiming(2000, 700),
        root,
        view,
        actors,
        prng: new SeededPrng(i + 1),
        addrOf: (x) => addrs[ids.indexOf(x)],
      });
      const server = await startGrpcServer({
        addr: addrs[i],
        services: [
          {
            service: coordinatorProto().service(COORDINATOR_SERVICE),
            impl: coordinatorHandlers({ selfId: id, holder, view, root, catalog, clock, logger: silentLogger() }),
          },
        ],
      });
      await holder.start();
      holders.push(holder);
      cleanups.push(async () => {
        await holder.stop();
        await server.close(0);
        await stopView();
      });
    }
    cleanups.unshift(async () => root.close());
    const client = new CoordinatorClient({ endpoints: addrs });
    clients.push(client);
    await waitFor('a holder', async () => (await Promise.all(holders.map((h) => h.status()))).some((st) => st.serving));
    const first = await client.allocId(10);
    const holderIdx = (await Promise.all(holders.map((h) => h.status()))).findIndex((st) => st.serving);
    await holders[holderIdx]!.stop();
    const second = await client.allocId(10);
    expect(second.era).to.be.greaterThan(first.era);
    expect(second.served_by).to.equal(ids[1 - holderIdx]);
    expect(second.first > first.first + 9n).to.equal(true);
    const m = await client.registerMount('vol1');
    expect(m.created).to.equal(true);
    expect((await client.registerMount('vol1')).created).to.equal(false);
    // The documented defaults: root_inode 0 and schema_version 0 mean 1 (64-bit fields arrive as "0").
    const zero = await client.registerMount('vol0', 0, 0);
    expect(zero.mount).to.deep.include({ root_inode: '1', schema_version: '1' });
    expect((await client.registerMount('vol0', 1, 1)).created, 'the same registration').to.equal(false);
    expect((await client.listMounts()).mounts.map((x: { mount_id: string }) => x.mount_id)).to.deep.equal(['vol0', 'vol1']);
  });
});
