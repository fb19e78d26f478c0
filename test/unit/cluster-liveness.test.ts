// The data dir's manager lock and role records: a stale lock is taken over, a recorded pid only counts
// while that process names this data dir's topology, so a reused pid is never taken for a role.
import { expect } from 'chai';
import { readFileSync, writeFileSync } from 'node:fs';
import { clusterPaths } from '../../src/cluster/layout.js';
import { acquireManagerLock, liveRoles, lockedManagerPid, recordRolePid } from '../../src/cluster/liveness.js';
import { makeTempDir } from '../support/env.js';

describe('cluster liveness: lock file and recorded role pids', () => {
  it('takes over a lock left by a dead or unrelated process, and releases only its own', () => {
    const tmp = makeTempDir();
    try {
      const paths = clusterPaths(tmp.path);
      writeFileSync(paths.pidFile, '999999999\n'); // no such process
      const release = acquireManagerLock(paths);
      expect(readFileSync(paths.pidFile, 'utf8').trim()).to.equal(String(process.pid));
      // This test process is alive but is no `nokv cluster up`: its lock does not count as a manager's.
      expect(lockedManagerPid(paths)).to.equal(undefined);
      release();
      writeFileSync(paths.pidFile, '1\n'); // alive (init) but not a manager: stale, taken over
      acquireManagerLock(paths)();
    } finally {
      tmp.remove();
    }
  });

  it('ignores recorded pids of processes that are not roles of this data dir', async () => {
    const tmp = makeTempDir();
    try {
      const paths = clusterPaths(tmp.path);
      recordRolePid(paths, 'store-1', process.pid); // alive, but its command line names no topology here
      recordRolePid(paths, 'store-2', 999999999);
      const layout = [
        { name: 'store-1', role: 'store' as const, addr: '127.0.0.1:1', metricsAddr: '127.0.0.1:1', args: [], logFile: '' },
        { name: 'store-2', role: 'store' as const, addr: '127.0.0.1:1', metricsAddr: '127.0.0.1:1', args: [], logFile: '' },
      ];
      expect(await liveRoles(paths, layout)).to.deep.equal([]);
    } finally {
      tmp.remove();
    }
  });
});
