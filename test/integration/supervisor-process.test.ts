// Supervising real OS processes (small `node -e` scripts): crash restarts, administrative stop/start,
// SIGTERM-to-SIGKILL escalation on the injected clock, and that nothing is left running afterwards.
import { expect } from 'chai';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ManualClock, SystemClock } from '../../src/common/clock.js';
import { Supervisor } from '../../src/supervisor/supervisor.js';
import { ProcessInstance, processChildSpec, processExitReason } from '../../src/supervisor/process-child.js';
import { isRestartIntensityExit } from '../../src/supervisor/errors.js';
import type { ExitReason } from '../../src/supervisor/types.js';
import { makeTempDir, sleep, waitFor } from '../support/env.js';

// Each script appends its pid to $MARK once it is set up, so a test knows when signals will be handled.
const FOREVER = `require('fs').appendFileSync(process.env.MARK, process.pid + '\\n'); setInterval(() => {}, 1000);`;
const IGNORES_SIGTERM = `process.on('SIGTERM', () => {}); ${FOREVER}`;
// Crashes (exit 1) on its first run only: the flag file remembers that it already did.
const CRASHES_ONCE = `const fs = require('fs');
if (!fs.existsSync(process.env.FLAG)) { fs.writeFileSync(process.env.FLAG, 'x'); process.exit(1); }
${FOREVER}`;

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('Supervisor with OS process children', function () {
  this.timeout(30_000);
  let dir: { path: string; remove: () => void };
  const sups: Supervisor[] = [];
  const pids = new Set<number>();

  beforeEach(() => {
    dir = makeTempDir('nokv-sup-proc-');
  });
  afterEach(async () => {
    for (const s of sups.splice(0)) await s.kill();
    for (const pid of pids) {
      if (isAlive(pid)) {
        process.kill(pid, 'SIGKILL');
        throw new Error(`process ${pid} was still running after the test`);
      }
    }
    pids.clear();
    dir.remove();
  });

  function markedPids(file: string): number[] {
    if (!existsSync(file)) return [];
    const found = readFileSync(file, 'utf8').split('\n').filter(Boolean).map(Number);
    for (const p of found) pids.add(p);
    return found;
  }

  function node(id: string, script: string, extra: Partial<Parameters<typeof processChildSpec>[0]> = {}) {
    const mark = join(dir.path, `${id}.pids`);
    return {
      mark,
      spec: processChildSpec({
        id,
        command: process.execPath,
        args: ['-e', script],
        env: { MARK: mark, FLAG: join(dir.path, `${id}.flag`) },
        shutdownMs: 2000,
        ...extra,
      }),
    };
  }

  function supervise(children: ReturnType<typeof node>['spec'][], clock = new SystemClock()): Supervisor {
    const sup = new Supervisor({ id: 'procs', strategy: 'one_for_one', intensity: 5, periodMs: 10_000, clock, children });
    sups.push(sup);
    return sup;
  }

  const pidOf = (sup: Supervisor, id: string) => sup.whichChildren().find((c) => c.id === id)?.pid;

  it('restarts a process that exits 1 and one killed with SIGKILL from outside', async () => {
    const a = node('a', CRASHES_ONCE);
    const sup = supervise([a.spec]);
    await sup.start();
    // First run exits 1 after writing the flag; the restart runs forever.
    const second = (await waitFor('restart after exit 1', () => {
      const info = sup.whichChildren()[0];
      return info.status === 'running' && info.restarts === 1 ? info.pid : undefined;
    }))!;
    await waitFor('restarted process ready', () => markedPids(a.mark).includes(second));
    expect(isAlive(second)).to.equal(true);

    process.kill(second, 'SIGKILL');
    const third = (await waitFor('restart after SIGKILL', () => {
      const info = sup.whichChildren()[0];
      return info.restarts === 2 && info.pid !== second ? info.pid : undefined;
    }))!;
    expect(isAlive(second)).to.equal(false);
    await waitFor('third process ready', () => markedPids(a.mark).includes(third));

    await sup.stop();
    expect(isAlive(third)).to.equal(false);
  });

  it('terminateChild keeps a process down until restartChild brings it back', async () => {
    const a = node('a', FOREVER);
    const b = node('b', FOREVER);
    const sup = supervise([a.spec, b.spec]);
    await sup.start();
    const firstB = pidOf(sup, 'b')!;
    await waitFor('b ready', () => markedPids(b.mark).includes(firstB));

    await sup.terminateChild('b');
    expect(isAlive(firstB)).to.equal(false);
    await sleep(300); // a crash would have been restarted by now
    expect(sup.whichChildren().map((c) => [c.id, c.status, c.pid === undefined])).to.deep.equal([
      ['a', 'running', false],
      ['b', 'stopped', true],
    ]);
    expect(markedPids(b.mark)).to.deep.equal([firstB]);

    const pidA = pidOf(sup, 'a')!;
    await sup.restartChild('b');
    const secondB = pidOf(sup, 'b')!;
    expect(secondB).to.not.equal(firstB);
    await waitFor('b ready again', () => markedPids(b.mark).includes(secondB));
    expect(isAlive(secondB)).to.equal(true);
    await sup.stop();
    expect(isAlive(secondB)).to.equal(false);
    expect(isAlive(pidA)).to.equal(false);
  });

  it('stop() of a process that ignores SIGTERM sends SIGKILL once shutdownMs pass on the clock', async () => {
    const clock = new ManualClock();
    const s = node('s', IGNORES_SIGTERM, { shutdownMs: 3000, clock });
    const sup = supervise([s.spec], clock);
    const exits: ExitReason[] = [];
    await sup.start();
    const pid = pidOf(sup, 's')!;
    await waitFor('s ready', () => markedPids(s.mark).includes(pid));
    sup.onExit((r) => exits.push(r));

    let stopped = false;
    const stopping = sup.stop().then(() => (stopped = true));
    await sleep(400); // SIGTERM has been delivered and ignored
    expect(isAlive(pid)).to.equal(true);
    expect(stopped).to.equal(false);
    clock.advance(2999);
    await sleep(100);
    expect(isAlive(pid)).to.equal(true);
    clock.advance(1);
    await stopping;
    expect(isAlive(pid)).to.equal(false);
    expect(exits).to.deep.equal(['shutdown']);
  });

  it('reports exit 0 as normal (a transient process stays down) and SIGTERM on stop as shutdown', async () => {
    const done = node('done', `process.exit(0)`, { restart: 'transient' });
    const a = node('a', FOREVER);
    const sup = supervise([done.spec, a.spec]);
    await sup.start();
    await waitFor('done exited', () => sup.whichChildren()[0].status === 'stopped');
    await sleep(200);
    expect(sup.whichChildren()[0]).to.include({ status: 'stopped', restarts: 0 });

    const pid = pidOf(sup, 'a')!;
    const reasons: ExitReason[] = [];
    // A standalone instance, to see its own reason for our SIGTERM.
    const solo = await ProcessInstance.spawn({ id: 'solo', command: process.execPath, args: ['-e', FOREVER], env: { MARK: join(dir.path, 'solo.pids') } });
    pids.add(solo.pid);
    solo.onExit((r) => reasons.push(r));
    await waitFor('solo ready', () => markedPids(join(dir.path, 'solo.pids')).includes(solo.pid));
    await solo.stop();
    solo.onExit((r) => reasons.push(r)); // a late listener hears the same reason at once
    expect(reasons).to.deep.equal(['shutdown', 'shutdown']);
    await sup.stop();
    expect(isAlive(pid)).to.equal(false);
  });

  it('ready gates the start: start waits for it, and a process that dies or never gets ready fails the start', async () => {
    const a = node('a', FOREVER, {
      ready: async (proc) => {
        await waitFor('a marked', () => markedPids(join(dir.path, 'a.pids')).includes(proc.pid), 10_000, 20);
      },
    });
    const sup = supervise([a.spec]);
    await sup.start();
    const pid = pidOf(sup, 'a')!;
    expect(markedPids(a.mark)).to.deep.equal([pid]); // ready had seen the mark before start resolved
    await sup.stop();

    const dies = node('dies', 'process.exit(2)', { ready: () => new Promise<void>(() => {}) });
    const sup2 = supervise([dies.spec]);
    const err2 = await sup2.start().then(() => undefined, (e: Error) => e);
    expect(err2?.message).to.match(/dies.*exited before it was ready/);

    let readyPid = 0;
    const never = node('never', FOREVER, {
      ready: async (proc) => {
        readyPid = proc.pid;
        throw new Error('not listening');
      },
    });
    const sup3 = supervise([never.spec]);
    const err3 = await sup3.start().then(() => undefined, (e: Error) => e);
    expect(err3?.message).to.match(/never.*not listening/);
    expect(readyPid).to.be.greaterThan(0);
    expect(isAlive(readyPid)).to.equal(false);
  });

  it('a command that cannot be spawned fails the start and leaves nothing behind', async () => {
    const sup = supervise([processChildSpec({ id: 'ghost', command: join(dir.path, 'no-such-binary') })]);
    const err = await sup.start().then(() => undefined, (e: Error) => e);
    expect(err?.message).to.match(/ghost.*failed to start.*ENOENT/);
    expect(sup.state).to.equal('idle');
  });

  it('a process that keeps crashing makes the supervisor give up with reached_max_restart_intensity', async () => {
    const sup = new Supervisor({
      id: 'flappy',
      strategy: 'one_for_one',
      intensity: 2,
      periodMs: 60_000,
      clock: new SystemClock(),
      children: [processChildSpec({ id: 'f', command: process.execPath, args: ['-e', 'process.exit(3)'] })],
    });
    sups.push(sup);
    const exits: ExitReason[] = [];
    sup.onExit((r) => exits.push(r));
    await sup.start();
    await waitFor('escalation', () => exits.length > 0);
    expect(isRestartIntensityExit(exits[0])).to.equal(true);
  });

  it('processExitReason maps codes and signals', () => {
    const none = { term: false, kill: false };
    const both = { term: true, kill: true };
    expect(processExitReason('x', 1, 0, null, none)).to.equal('normal');
    expect(processExitReason('x', 1, null, 'SIGTERM', both)).to.equal('shutdown');
    expect(processExitReason('x', 1, null, 'SIGKILL', both)).to.equal('killed');
    const crash = processExitReason('x', 7, 1, null, both) as { error: { name: string; message: string } };
    expect(crash.error.name).to.equal('ProcessExitError');
    expect(crash.error.message).to.equal('process x (pid 7) exited with code 1');
    const outside = processExitReason('x', 7, null, 'SIGKILL', none) as { error: { message: string } };
    expect(outside.error.message).to.equal('process x (pid 7) was killed by SIGKILL');
    expect(processExitReason('x', 7, null, 'SIGTERM', none)).to.have.property('error');
  });
});
