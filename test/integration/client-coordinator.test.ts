// The public CoordinatorClient over gRPC stubs of the coordinator service: replies become typed records
// (bigint for 64-bit values, undefined for not_found), and the holder is followed (a standby's "not holder"
// reply sends the call to the holder it names).
import { expect } from 'chai';
import { FailedPreconditionError } from '../../src/common/errors.js';
import { CoordinatorClient } from '../../src/client/index.js';
import { COORDINATOR_SERVICE, coordinatorProto } from '../../src/coordinator/service.js';
import { startGrpcServer, unaryHandler, type RunningGrpcServer } from '../../src/transport/index.js';
import { freePorts } from '../support/env.js';

describe('CoordinatorClient (public client, typed records)', function () {
  this.timeout(30_000);
  const servers: RunningGrpcServer[] = [];
  let client: CoordinatorClient;
  let holderCalls = 0;

  before(async () => {
    const [p1, p2] = await freePorts(2);
    const standby = `127.0.0.1:${p1}`, holder = `127.0.0.1:${p2}`;
    const notHolder = () => {
      throw new FailedPreconditionError('not holder: standby', { reason: 'not_holder', holder_id: 'coord-2', era: 7, holder_addr: holder });
    };
    const mount = { mount_id: 'team', root_inode: '1', schema_version: '1', state: 'registered' };
    const big = '9007199254740993'; // 2^53 + 1: must survive as a bigint
    const holderImpl = {
      Tso: unaryHandler((req: { count: number }) => (holderCalls++, { timestamp: big, count: req.count, era: 7, served_by: holder })),
      RegisterMount: unaryHandler(() => ({ mount, created: true })),
      GetMount: unaryHandler((req: { mount_id: string }) => (req.mount_id === 'team' ? { mount, not_found: false } : { not_found: true })),
      ListMounts: unaryHandler(() => ({ mounts: [mount, { ...mount, mount_id: 'old', state: 'retired' }] })),
      GetQuotaFence: unaryHandler(() => ({ fence: { subject: 'team', limit_bytes: big, limit_inodes: '10', era: '3' }, not_found: false })),
    };
    const standbyImpl = Object.fromEntries(Object.keys(holderImpl).map((k) => [k, unaryHandler(notHolder)]));
    const service = coordinatorProto().service(COORDINATOR_SERVICE);
    servers.push(await startGrpcServer({ addr: standby, services: [{ service, impl: standbyImpl }] }));
    servers.push(await startGrpcServer({ addr: holder, services: [{ service, impl: holderImpl }] }));
    client = new CoordinatorClient({ endpoints: [standby, holder] });
  });
  after(async () => {
    client?.close();
    for (const s of servers) await s.close(0);
  });

  it('maps replies to typed records and follows the holder', async () => {
    expect(await client.tso(3)).to.deep.equal({ timestamp: 9007199254740993n, count: 3, era: 7n });
    expect(holderCalls).to.equal(1);
    expect(await client.registerMount('team')).to.deep.equal({ mount: { mountId: 'team', rootInode: 1n, schemaVersion: 1n, state: 'registered' }, created: true });
    expect(await client.getMount('nope')).to.equal(undefined);
    expect((await client.listMounts({ includeRetired: true })).map((m) => [m.mountId, m.state])).to.deep.equal([['team', 'registered'], ['old', 'retired']]);
    expect(await client.getQuota('team')).to.deep.equal({ subject: 'team', limitBytes: 9007199254740993n, limitInodes: 10n, era: 3n });
  });
});
