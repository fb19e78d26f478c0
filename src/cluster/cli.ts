// Owns `nokv cluster up|status|stop|kill|start|down`: the whole topology on this machine as supervised
// processes, and the failure drills (`stop NAME` is `docker stop`, `kill NAME` is `docker kill`).
import { spawn } from 'node:child_process';
import { chmodSync, closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import type { Command } from '../cli/command.js';
import type { FlagSpecs } from '../cli/flags.js';
import { UsageError } from '../cli/flags.js';
import { FailedPreconditionError, UnavailableError } from '../common/errors.js';
import { createLogger } from '../common/log.js';
import { loadTopology, resolveTopology, type Topology } from '../config/topology.js';
import { clusterLayout, clusterPaths, nokvBin, ROLE_ORDER, type ClusterPaths, type RoleKind } from './layout.js';
import { controlRequest } from './control.js';
import { ClusterManager, ROLE_SHUTDOWN_MS, type ProcessStatus } from './manager.js';
import { liveRoles, lockedManagerPid, pidAlive, type LiveProcess } from './liveness.js';
import { ORPHAN_STOP_MS } from '../roles/runtime.js';

export const DEFAULT_DATA_DIR = '.nokv';

/** The roles `cluster up` runs (all of them: the fsmeta gateway starts last, after mount-init). */
export const CLUSTER_ROLES: RoleKind[] = [...ROLE_ORDER];

const dataDirFlag: FlagSpecs = {
  'data-dir': { type: 'string', help: 'cluster data folder (topology, token, logs, role data)', default: DEFAULT_DATA_DIR },
};

function pathsOf(flags: Record<string, unknown>): ClusterPaths {
  return clusterPaths(resolve(String(flags['data-dir'])));
}

/** Creates the cluster token (mode 0600) once; roles and the CLI read it for mutating meta-root calls. */
export function ensureToken(paths: ClusterPaths): string {
  if (existsSync(paths.tokenFile)) return readFileSync(paths.tokenFile, 'utf8').trim();
  const token = randomBytes(24).toString('hex');
  writeFileSync(paths.tokenFile, `${token}\n`, { mode: 0o600 });
  chmodSync(paths.tokenFile, 0o600);
  return token;
}

/** Writes the topology the roles will read; refuses a different one over an existing cluster's data. */
function prepareDataDir(paths: ClusterPaths, configFile: string | undefined): Topology {
  mkdirSync(paths.dataDir, { recursive: true });
  let topo: Topology;
  if (configFile) topo = loadTopology(configFile);
  else if (existsSync(paths.topologyFile)) topo = resolveTopology(JSON.parse(readFileSync(paths.topologyFile, 'utf8')));
  else topo = loadTopology(undefined);
  writeFileSync(paths.topologyFile, JSON.stringify(topo, null, 2) + '\n');
  ensureToken(paths);
  return topo;
}

async function runningManager(paths: ClusterPaths): Promise<{ pid: number; mount_init?: string; processes: ProcessStatus[] } | undefined> {
  try {
    return await controlRequest(paths.controlSocket, 'GET', '/status', 5000);
  } catch (e) {
    if (e instanceof UnavailableError) return undefined;
    throw e;
  }
}

function printTable(processes: ProcessStatus[], extra?: Map<string, string>): void {
  const rows = [['NAME', 'STATUS', 'PID', 'RESTARTS', 'ADDR', 'METRICS', 'ROLE STATE']];
  for (const p of processes) {
    rows.push([p.name, p.status, p.pid ? String(p.pid) : '-', String(p.restarts), p.addr, `http://${p.metrics_addr}/debug/vars`, extra?.get(p.name) ?? '']);
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  for (const r of rows) process.stdout.write(r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd() + '\n');
}

/** A one-line summary of what a role says about itself on /debug/vars (leader, era, ...). */
async function roleState(p: ProcessStatus): Promise<string> {
  if (p.status !== 'running') return '';
  try {
    const res = await fetch(`http://${p.metrics_addr}/debug/vars`, { signal: AbortSignal.timeout(1500) });
    const vars = (await res.json()) as Record<string, any>;
    const m = vars.nokv_meta_root;
    if (m) return `${m.is_leader ? 'leader' : 'follower'} term=${m.term} leader=${m.leader_id} commit=${m.commit_index}`;
    const c = vars.nokv_coordinator;
    if (c?.lease) return `${c.lease.held_by_self ? 'ACTIVE' : 'standby'} holder=${c.lease.holder_id || '-'} era=${c.lease.era}`;
    const s = vars.nokv_store;
    if (s?.regions) {
      const leading = s.regions.filter((r: any) => r.role === 'leader').map((r: any) => r.id);
      return `regions=${s.regions.length} leading=[${leading.join(',')}]`;
    }
    const f = vars.nokv_fsmeta_executor;
    if (f?.backend) {
      const calls = Object.values((f.ops ?? {}) as Record<string, { calls: number }>).reduce((n, o) => n + o.calls, 0);
      return `backend=${f.backend} ops=${calls} commits=${f.commits} conflicts=${f.conflicts} watches=${vars.nokv_fsmeta_watch?.subscriptions ?? 0}`;
    }
    return '';
  } catch {
    return 'unreachable';
  }
}

const up: Command = {
  name: 'up',
  summary: 'start the whole topology as supervised processes (foreground unless --detach)',
  flags: {
    ...dataDirFlag,
    config: { type: 'string', help: 'topology JSON file (default: the 333 port table on 127.0.0.1)' },
    detach: { type: 'bool', help: 'start in the background and return once every process serves' },
  },
  run: async ({ flags }) => {
    const paths = pathsOf(flags);
    const existing = await runningManager(paths);
    if (existing) throw new UsageError(`a cluster is already running from ${paths.dataDir} (manager pid ${existing.pid})`);
    const locked = lockedManagerPid(paths);
    if (locked) throw new UsageError(`a cluster manager (pid ${locked}) is already running from ${paths.dataDir}`);
    const topo = prepareDataDir(paths, flags.config as string | undefined);
    await awaitLeftovers(paths, topo);
    if (flags.detach) return detach(paths);
    const logger = createLogger({ role: 'cluster', pretty: process.stdout.isTTY || process.env.NOKV_LOG_PRETTY === '1' });
    const manager = new ClusterManager({ topology: topo, paths, roles: CLUSTER_ROLES, logger, token: ensureToken(paths) });
    const onSignal = () => void manager.shutdown();
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    try {
      await manager.start();
      printTable(manager.status());
      process.stdout.write(`cluster is up (data dir ${paths.dataDir}); Ctrl-C or \`nokv cluster down\` stops it\n`);
      await manager.done();
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
    return 0;
  },
};

/** The role processes of this data dir still alive without a manager (one that was killed left them). */
function leftovers(paths: ClusterPaths): Promise<LiveProcess[]> {
  if (!existsSync(paths.topologyFile)) return Promise.resolve([]);
  const topo = resolveTopology(JSON.parse(readFileSync(paths.topologyFile, 'utf8')));
  return liveRoles(paths, clusterLayout(topo, paths, CLUSTER_ROLES));
}

const describeLive = (live: LiveProcess[]) => live.map((p) => `${p.name} (pid ${p.pid}${p.serving ? `, serving ${p.metricsAddr}` : ''})`).join(', ');

/**
 * Never start duplicates: roles left by a manager that died stop on their own once they notice (within
 * ORPHAN_STOP_MS); wait that long for them, and refuse to start, naming them, if any is still alive.
 */
async function awaitLeftovers(paths: ClusterPaths, topo: Topology): Promise<void> {
  const layout = clusterLayout(topo, paths, CLUSTER_ROLES);
  let live = await liveRoles(paths, layout);
  if (live.length === 0) return;
  process.stderr.write(`waiting for ${live.length} role process(es) left by a cluster manager that is gone: ${describeLive(live)}\n`);
  const deadline = Date.now() + ORPHAN_STOP_MS + 2_000;
  while (live.length > 0 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 200));
    live = await liveRoles(paths, layout);
  }
  if (live.length > 0) {
    throw new FailedPreconditionError(
      `not starting: role processes of ${paths.dataDir} are still running without a manager: ${describeLive(live)}; stop them with \`nokv cluster down --data-dir ${paths.dataDir}\``,
    );
  }
}

/** Stops leftover role processes: SIGTERM, then SIGKILL after the roles' shutdown grace. */
async function stopLeftovers(live: LiveProcess[]): Promise<void> {
  const signal = (sig: NodeJS.Signals) => live.forEach((p) => pidAlive(p.pid) && process.kill(p.pid, sig));
  signal('SIGTERM');
  const deadline = Date.now() + ROLE_SHUTDOWN_MS;
  while (Date.now() < deadline && live.some((p) => pidAlive(p.pid))) await new Promise((r) => setTimeout(r, 100));
  signal('SIGKILL');
  while (live.some((p) => pidAlive(p.pid))) await new Promise((r) => setTimeout(r, 50));
}

async function detach(paths: ClusterPaths): Promise<number> {
  mkdirSync(paths.logDir, { recursive: true });
  const logFile = `${paths.logDir}/cluster.log`;
  const fd = openSync(logFile, 'a');
  const child = spawn(process.execPath, [nokvBin(), 'cluster', 'up', '--data-dir', paths.dataDir], {
    detached: true,
    stdio: ['ignore', fd, fd],
    env: { ...process.env, NOKV_LOG_PRETTY: '1' },
  });
  closeSync(fd);
  child.unref();
  let exited: number | null = null;
  child.once('exit', (code) => (exited = code ?? 1));
  for (;;) {
    if (exited !== null) throw new UnavailableError(`cluster manager exited during start (code ${exited}); see ${logFile}`);
    const st = await runningManager(paths);
    // Ready once every process serves and mount `default` is registered (the mount-init step).
    if (st && st.processes.every((p) => p.status === 'running') && st.mount_init !== 'pending') {
      printTable(st.processes);
      process.stdout.write(`cluster is up in the background (manager pid ${st.pid}, log ${logFile})\n`);
      return 0;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

const status: Command = {
  name: 'status',
  summary: 'show every process of the cluster and what its /debug/vars says',
  flags: { ...dataDirFlag, json: { type: 'bool', help: 'print JSON' } },
  run: async ({ flags }) => {
    const paths = pathsOf(flags);
    const st = await runningManager(paths);
    if (!st) {
      const live = await leftovers(paths);
      if (live.length === 0) throw new UnavailableError(`no cluster is running from ${paths.dataDir}`);
      if (flags.json) process.stdout.write(JSON.stringify({ manager: null, data_dir: paths.dataDir, leftovers: live }, null, 2) + '\n');
      throw new UnavailableError(`no cluster manager runs from ${paths.dataDir}, but role processes it started are still alive: ${describeLive(live)}`);
    }
    const states = new Map(await Promise.all(st.processes.map(async (p) => [p.name, await roleState(p)] as [string, string])));
    if (flags.json) {
      process.stdout.write(JSON.stringify({ ...st, processes: st.processes.map((p) => ({ ...p, role_state: states.get(p.name) })) }, null, 2) + '\n');
    } else {
      printTable(st.processes, states);
    }
    return 0;
  },
};

function nameCommand(verb: 'stop' | 'kill' | 'start', summary: string): Command {
  return {
    name: verb,
    summary,
    usage: 'NAME [flags]',
    flags: dataDirFlag,
    run: async ({ flags, positionals }) => {
      if (positionals.length !== 1) throw new UsageError(`${verb} takes exactly one process name (e.g. coordinator-1)`);
      await controlRequest(pathsOf(flags).controlSocket, 'POST', `/${verb}/${encodeURIComponent(positionals[0]!)}`);
      process.stdout.write(`${positionals[0]}: ${verb === 'start' ? 'started' : verb === 'stop' ? 'stopped' : 'killed'}\n`);
      return 0;
    },
  };
}

const down: Command = {
  name: 'down',
  summary: 'stop every process (reverse order); -v also wipes the data dir',
  flags: { ...dataDirFlag, volumes: { type: 'bool', short: 'v', help: 'remove the data dir too' } },
  run: async ({ flags }) => {
    const paths = pathsOf(flags);
    const st = await runningManager(paths);
    if (st) {
      await controlRequest(paths.controlSocket, 'POST', '/down').catch((e: unknown) => {
        if (!(e instanceof UnavailableError)) throw e; // already on its way down
      });
      const deadline = Date.now() + 60_000;
      while (Date.now() < deadline && (await runningManager(paths))) await new Promise((r) => setTimeout(r, 100));
      while (Date.now() < deadline && pidAlive(st.pid)) await new Promise((r) => setTimeout(r, 100));
      process.stdout.write('cluster stopped\n');
    } else {
      const live = await leftovers(paths);
      if (live.length > 0) {
        await stopLeftovers(live);
        process.stdout.write(`stopped ${live.length} role process(es) left without a manager: ${describeLive(live)}\n`);
      } else {
        process.stdout.write('no cluster was running\n');
      }
    }
    if (flags.volumes) {
      rmSync(paths.dataDir, { recursive: true, force: true });
      process.stdout.write(`removed ${paths.dataDir}\n`);
    }
    return 0;
  },
};

export const clusterCommand: Command = {
  name: 'cluster',
  summary: 'run the 333 topology on this machine and drill failures',
  subcommands: [
    up,
    status,
    nameCommand('stop', 'stop one process gracefully (SIGTERM); it stays down until started'),
    nameCommand('kill', 'kill one process with SIGKILL; it stays down until started'),
    nameCommand('start', 'start a stopped or killed process again'),
    down,
  ],
};
