// Supervisor restart costs: how long from a child's exit until its replacement runs, for in-thread children
// (one_for_one vs one_for_all over ten children) and for OS processes (kill -9 until the replacement process
// has been spawned, against spawning the same process directly). Prints medians and ratios; never fails.
import { spawn } from 'node:child_process';
import { SystemClock } from '../src/common/clock.js';
import { Supervisor } from '../src/supervisor/supervisor.js';
import { processChildSpec } from '../src/supervisor/process-child.js';
import type { ChildInstance, ChildSpec, ExitReason, Strategy } from '../src/supervisor/types.js';
import { median } from './stats.js';

const IN_THREAD_ROUNDS = 2000;
const PROCESS_ROUNDS = 8;
const TIME_BUDGET_MS = 45_000;
const benchStart = Date.now();

/** A child that exits when told and reports each start to `onStart`. */
function inThreadSpec(id: string, onStart: (id: string, crash: () => void) => void): ChildSpec {
  return {
    id,
    restart: 'permanent',
    shutdown: 1000,
    type: 'worker',
    start: async () => {
      const listeners: Array<(r: ExitReason) => void> = [];
      let reason: ExitReason | undefined;
      const exit = (r: ExitReason) => {
        if (reason !== undefined) return;
        reason = r;
        for (const l of listeners) l(r);
      };
      const inst: ChildInstance = {
        stop: async () => exit('shutdown'),
        kill: async () => exit('killed'),
        onExit: (l) => (reason !== undefined ? l(reason) : listeners.push(l)),
      };
      onStart(id, () => exit({ error: { name: 'Error', message: 'bench crash' } }));
      return inst;
    },
  };
}

async function inThreadRestartMs(strategy: Strategy, childCount: number): Promise<number[]> {
  const crashers = new Map<string, () => void>();
  let restarted: (() => void) | undefined;
  const onStart = (id: string, crash: () => void) => {
    crashers.set(id, crash);
    if (id === 'c0') restarted?.();
  };
  const children = Array.from({ length: childCount }, (_, i) => inThreadSpec(`c${i}`, onStart));
  const sup = new Supervisor({ id: 'bench', strategy, intensity: 1_000_000, periodMs: 1, clock: new SystemClock(), children });
  await sup.start();
  const samples: number[] = [];
  for (let i = 0; i < IN_THREAD_ROUNDS; i++) {
    const back = new Promise<void>((r) => (restarted = r));
    const t0 = performance.now();
    crashers.get('c0')!();
    await back;
    await sup.whenIdle();
    samples.push(performance.now() - t0);
  }
  await sup.stop();
  return samples;
}

const FOREVER_SCRIPT = `setInterval(() => {}, 1000);`;

/** Baseline: spawn node directly and wait until the OS reports it spawned. */
async function directSpawnMs(): Promise<number[]> {
  const samples: number[] = [];
  for (let i = 0; i < PROCESS_ROUNDS && Date.now() - benchStart < TIME_BUDGET_MS; i++) {
    const t0 = performance.now();
    const child = spawn(process.execPath, ['-e', FOREVER_SCRIPT], { stdio: 'ignore' });
    await new Promise<void>((r) => child.once('spawn', () => r()));
    samples.push(performance.now() - t0);
    const gone = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await gone;
  }
  return samples;
}

/** Supervised: SIGKILL the child and wait until the supervisor has spawned its replacement. */
async function supervisedRestartMs(): Promise<number[]> {
  let upSignal: (() => void) | undefined;
  const spec = processChildSpec({ id: 'p', command: process.execPath, args: ['-e', FOREVER_SCRIPT], shutdownMs: 2000 });
  const watched: ChildSpec = {
    ...spec,
    start: async () => {
      const inst = await spec.start();
      upSignal?.();
      return inst;
    },
  };
  const sup = new Supervisor({ id: 'bench-proc', strategy: 'one_for_one', intensity: 1000, periodMs: 1, clock: new SystemClock(), children: [watched] });
  await sup.start();
  const samples: number[] = [];
  for (let i = 0; i < PROCESS_ROUNDS && Date.now() - benchStart < TIME_BUDGET_MS; i++) {
    const pid = sup.whichChildren()[0].pid!;
    const back = new Promise<void>((r) => (upSignal = r));
    const t0 = performance.now();
    process.kill(pid, 'SIGKILL');
    await back;
    samples.push(performance.now() - t0);
    await sup.whenIdle(); // the supervisor records the new instance after start() returns
  }
  await sup.stop();
  return samples;
}

function row(name: string, samples: number[], baseline?: number): string {
  const m = median(samples);
  const ratio = baseline === undefined ? '' : `${(m / baseline).toFixed(2)}x`;
  return `${name.padEnd(46)} ${String(samples.length).padStart(6)} ${m.toFixed(3).padStart(10)} ${ratio.padStart(8)}`;
}

const oneForOne = await inThreadRestartMs('one_for_one', 10);
const oneForAll = await inThreadRestartMs('one_for_all', 10);
const direct = await directSpawnMs();
const supervised = await supervisedRestartMs();

const base = median(oneForOne);
const procBase = median(direct);
console.log(`${'case'.padEnd(46)} ${'n'.padStart(6)} ${'median ms'.padStart(10)} ${'ratio'.padStart(8)}`);
console.log(row('in-thread crash->restart, one_for_one (10 kids)', oneForOne, base));
console.log(row('in-thread crash->restart, one_for_all (10 kids)', oneForAll, base));
console.log(row('process: direct spawn (baseline)', direct, procBase));
console.log(row('process: kill -9 until respawned (supervised)', supervised, procBase));
