// Owns finding (and stopping) the live processes of one data dir without asking its manager: the manager's lock file
// (`cluster.pid`), the role pids the manager records as it spawns them (`processes.json`), and the identity
// checks that make a pid count — the pid is alive, its command line names this data dir's topology file, and
// its metrics port answers `/debug/vars` with that same pid. A pid that was reused by an unrelated process
// fails the command-line check, so nothing here ever signals a stranger.
import { closeSync, existsSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { FailedPreconditionError } from '../common/errors.js';
import type { ClusterPaths, RoleProcess } from './layout.js';

/** A role that finds its manager gone stops within this (src/roles/runtime.ts ORPHAN_STOP_MS) plus slack. */
export const LEFTOVER_WAIT_MS = 10_000;
/** Leftovers that `down` stops get this long after SIGTERM before SIGKILL. */
export const LEFTOVER_STOP_GRACE_MS = 5_000;

export interface LiveProcess {
  name: string;
  pid: number;
  metricsAddr: string;
  /** Its metrics port answered /debug/vars with this pid. */
  serving: boolean;
}

export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The command line of a live process (Linux /proc), or undefined. */
export function cmdlineOf(pid: number): string[] | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter((a) => a.length > 0);
  } catch {
    return undefined;
  }
}

/** A manager's command line is `node …/nokv.mjs cluster up …`; a role's names the data dir's topology file. */
const isManager = (cmd: string[] | undefined) => !!cmd && cmd.includes('cluster') && cmd.includes('up');
const isRoleOf = (cmd: string[] | undefined, paths: ClusterPaths) => !!cmd && cmd.includes(paths.topologyFile);

/**
 * Takes the data dir's manager lock: creates `cluster.pid` exclusively. A lock left by a manager that is gone
 * (killed) is taken over; a live manager's lock is a FailedPreconditionError naming its pid.
 */
export function acquireManagerLock(paths: ClusterPaths): () => void {
  for (let attempt = 0; ; attempt++) {
    try {
      const fd = openSync(paths.pidFile, 'wx', 0o644);
      writeSync(fd, `${process.pid}\n`);
      closeSync(fd);
      return () => {
        if (readPid(paths.pidFile) === process.pid) rmSync(paths.pidFile, { force: true });
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 0) throw e;
      const holder = readPid(paths.pidFile);
      if (holder !== undefined && holder !== process.pid && pidAlive(holder) && isManager(cmdlineOf(holder))) {
        throw new FailedPreconditionError(`a cluster manager (pid ${holder}) already runs from ${paths.dataDir}`);
      }
      rmSync(paths.pidFile, { force: true }); // stale: its manager is gone
    }
  }
}

function readPid(file: string): number | undefined {
  try {
    const n = Number(readFileSync(file, 'utf8').trim());
    return Number.isSafeInteger(n) && n > 0 ? n : undefined;
  } catch {
    return undefined;
  }
}

/** The live manager of this data dir by its lock file (it may not answer on its socket yet, or any more). */
export function lockedManagerPid(paths: ClusterPaths): number | undefined {
  const pid = readPid(paths.pidFile);
  return pid !== undefined && pidAlive(pid) && isManager(cmdlineOf(pid)) ? pid : undefined;
}

/** Records a role's pid as soon as it is spawned, so a later manager can find it if this one dies. */
export function recordRolePid(paths: ClusterPaths, name: string, pid: number): void {
  const pids = recordedPids(paths);
  pids[name] = pid;
  writeFileSync(paths.processesFile, JSON.stringify(pids) + '\n');
}

function recordedPids(paths: ClusterPaths): Record<string, number> {
  try {
    const doc = JSON.parse(readFileSync(paths.processesFile, 'utf8')) as unknown;
    if (doc && typeof doc === 'object' && !Array.isArray(doc)) {
      return Object.fromEntries(Object.entries(doc).filter(([, v]) => Number.isSafeInteger(v) && (v as number) > 0)) as Record<string, number>;
    }
  } catch {
    // absent or unreadable: nothing recorded
  }
  return {};
}

/** What /debug/vars on addr says its pid and command line are, or undefined if nothing answers. */
export async function metricsIdentity(addr: string, timeoutMs = 500): Promise<{ pid: number; cmdline: string[] } | undefined> {
  try {
    const res = await fetch(`http://${addr}/debug/vars`, { signal: AbortSignal.timeout(timeoutMs) });
    const vars = (await res.json()) as { pid?: unknown; cmdline?: unknown };
    if (typeof vars.pid !== 'number' || !Array.isArray(vars.cmdline)) return undefined;
    return { pid: vars.pid, cmdline: vars.cmdline.map(String) };
  } catch {
    return undefined;
  }
}

/**
 * Every live role process of this data dir: recorded pids that are alive and name the data dir's topology,
 * plus any process whose metrics port answers as a role of this data dir (a record can be lost).
 */
export async function liveRoles(paths: ClusterPaths, layout: RoleProcess[]): Promise<LiveProcess[]> {
  const recorded = recordedPids(paths);
  const found = await Promise.all(
    layout.map(async (p): Promise<LiveProcess | undefined> => {
      const id = await metricsIdentity(p.metricsAddr);
      const answering = id && isRoleOf(id.cmdline, paths) ? id.pid : undefined;
      const pid = recorded[p.name];
      if (pid !== undefined && pidAlive(pid) && isRoleOf(cmdlineOf(pid), paths)) {
        return { name: p.name, pid, metricsAddr: p.metricsAddr, serving: answering === pid };
      }
      if (answering !== undefined) return { name: p.name, pid: answering, metricsAddr: p.metricsAddr, serving: true };
      return undefined;
    }),
  );
  return found.filter((x): x is LiveProcess => x !== undefined);
}

/** Forgets the recorded pids (after a clean shutdown every role is gone). */
export function clearRolePids(paths: ClusterPaths): void {
  if (existsSync(paths.processesFile)) rmSync(paths.processesFile, { force: true });
}

export const describeLive = (live: LiveProcess[]) => live.map((p) => `${p.name} (pid ${p.pid}${p.serving ? `, serving ${p.metricsAddr}` : ''})`).join(', ');

/**
 * Never start duplicates: roles left by a manager that died stop on their own once they notice; wait
 * LEFTOVER_WAIT_MS for them, and refuse to start, naming them, if any is still alive.
 */
export async function awaitLeftovers(paths: ClusterPaths, layout: RoleProcess[], say: (line: string) => void, downHint: string): Promise<void> {
  let live = await liveRoles(paths, layout);
  if (live.length === 0) return;
  say(`waiting for ${live.length} role process(es) left by a cluster manager that is gone: ${describeLive(live)}`);
  const deadline = Date.now() + LEFTOVER_WAIT_MS;
  while (live.length > 0 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 200));
    live = await liveRoles(paths, layout);
  }
  if (live.length > 0) {
    throw new FailedPreconditionError(`not starting: role processes of ${paths.dataDir} are still running without a manager: ${describeLive(live)}; stop them with \`${downHint}\``);
  }
}

/** Stops leftover role processes: SIGTERM, then SIGKILL after LEFTOVER_STOP_GRACE_MS. */
export async function stopLeftovers(live: LiveProcess[]): Promise<void> {
  const signal = (sig: NodeJS.Signals) => live.forEach((p) => pidAlive(p.pid) && process.kill(p.pid, sig));
  signal('SIGTERM');
  const deadline = Date.now() + LEFTOVER_STOP_GRACE_MS;
  while (Date.now() < deadline && live.some((p) => pidAlive(p.pid))) await new Promise((r) => setTimeout(r, 100));
  signal('SIGKILL');
  while (live.some((p) => pidAlive(p.pid))) await new Promise((r) => setTimeout(r, 50));
}
