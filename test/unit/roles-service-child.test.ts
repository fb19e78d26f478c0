// A service child that fails is restarted only after its failed incarnation released what it holds: the
// restart of a store or meta-root data plane reopens the same LMDB environment, which one thread may hold
// only once ("storage ... already open in this thread" was the restart's failure).
import { expect } from 'chai';
import { SystemClock } from '../../src/common/clock.js';
import { silentLogger } from '../../src/common/log.js';
import { serviceChildSpec } from '../../src/roles/service-child.js';
import { openStorage } from '../../src/storage/index.js';
import { Supervisor } from '../../src/supervisor/supervisor.js';
import { makeTempDir, sleep, waitFor } from '../support/env.js';

describe('roles: service child restart after a failure', () => {
  it('reopens the same LMDB environment: the exit is reported after the failed incarnation stopped', async () => {
    const dir = makeTempDir();
    const starts: number[] = [];
    let failNow: ((err: unknown) => void) | undefined;
    const child = serviceChildSpec({
      id: 'data-plane',
      start: async (fail) => {
        const storage = openStorage({ path: dir.path });
        starts.push(starts.length + 1);
        failNow = fail;
        return {
          stop: async () => {
            await sleep(50); // a stop that takes a while, like closing a gRPC server and raft groups
            await storage.close();
          },
        };
      },
    });
    const sup = new Supervisor({ id: 'test', strategy: 'one_for_one', intensity: 3, periodMs: 10_000, clock: new SystemClock(), logger: silentLogger(), children: [child] });
    try {
      await sup.start();
      failNow!(new Error('raft group failed'));
      failNow!(new Error('a second report of the same failure is ignored'));
      await waitFor('restart', () => starts.length === 2 && sup.whichChildren()[0]!.status === 'running');
      await sup.whenIdle();
      expect(sup.whichChildren()[0]!.restarts).to.equal(1);
      expect(sup.state).to.equal('running');
    } finally {
      await sup.stop();
      dir.remove();
    }
  });
});
