// Owns `nokv cluster up`: checks before anything starts (no manager or leftover roles of this data dir, every
// port of the topology free — reported in under a second, naming the port and its holder), then either runs
// the manager in this process (foreground: its log in this terminal, Ctrl-C stops the cluster) or starts it
// detached and reports progress until every process serves; both end with the filled-in table and what to try.
import { spawn } from 'node:child_process';
import { chmodSync, closeSync, existsSync, mkdirSync, openSync, readFileSync, writeFileSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { pino, type DestinationStream } from 'pino';
import type { Parsed } from '../cli/flags.js';
import { UsageError } from '../cli/flags.js';
import { invocation, resolveTarget, type Target } from '../cli/target.js';
import { FailedPreconditionError, UnavailableError } from '../common/errors.js';
import { createLogger, prettyStream } from '../common/log.js';
import type { Topology } from '../config/topology.js';
import { clusterLayout, nokvBin, ROLE_ORDER, tlsEnabled, type ClusterPaths, type RoleKind } from './layout.js';
import { ensureClusterCerts } from '../security/certs.js';
import { CLIENT_TLS_NAME, loadTlsMaterial, parseAddr, useTls } from '../transport/index.js';
import { controlRequest } from './control.js';
import { ClusterManager, type ManagerStatus } from './manager.js';
import { awaitLeftovers, lockedManagerPid } from './liveness.js';
import { busyPorts, describeBusy } from './preflight.js';
import { nextSteps, processTable, summaryLine } from './report.js';

/** The roles `cluster up` runs (all of them: the fsmeta gateway starts last, after mount-init). */
export const CLUSTER_ROLES: RoleKind[] = [...ROLE_ORDER];
/**
 * With `--tls` (or a data dir that already has its CA: TLS stays on), makes the cluster CA and a certificate
 * per process plus `client` for tools, and gives this process (the manager, which registers the default mount)
 * the client identity. Plaintext otherwise, whatever the environment says.
 */
export async function prepareTls(paths: ClusterPaths, topo: Topology, wanted: boolean): Promise<void> {
  if (wanted || tlsEnabled(paths)) {
    // Every certificate names every host of the topology: identity is the common name, checked by the raft
    // transport; the host names only have to satisfy the client's hostname check.
    const layout = clusterLayout(topo, paths, CLUSTER_ROLES);
    const addrs = [...layout.flatMap((p) => [p.addr, p.metricsAddr]), ...topo.meta_root.peers.map((p) => p.raft_addr)];
    const hosts = [...new Set(addrs.map((a) => parseAddr(a).host))];
    await ensureClusterCerts(paths.tlsDir, [...layout.map((p) => p.name), CLIENT_TLS_NAME].map((name) => ({ name, hosts })));
  }
  useTls(tlsEnabled(paths) ? loadTlsMaterial(paths.tlsDir, CLIENT_TLS_NAME) : undefined);
}

/** The manager's own log, beside the roles' logs (`cluster logs` reads it as "cluster"). */
export const MANAGER_LOG = 'cluster.log';

/** Creates the cluster token (mode 0600) once; roles and the CLI read it for mutating calls. */
export function ensureToken(paths: ClusterPaths): string {
  if (existsSync(paths.tokenFile)) return readFileSync(paths.tokenFile, 'utf8').trim();
  const token = randomBytes(24).toString('hex');
  writeFileSync(paths.tokenFile, `${token}\n`, { mode: 0o600 });
  chmodSync(paths.tokenFile, 0o600);
  return token;
}

/** The manager answering on the control socket, or undefined. */
export async function runningManager(paths: ClusterPaths, timeoutMs = 5000): Promise<ManagerStatus | undefined> {
  try {
    return await controlRequest<ManagerStatus>(paths.controlSocket, 'GET', '/status', timeoutMs);
  } catch (e) {
    if (e instanceof UnavailableError) return undefined;
    throw e;
  }
}

/** Everything that must hold before a process is spawned; fails fast with what is in the way. */
async function preflight(t: Target, nokv: string): Promise<void> {
  const { paths } = t;
  const existing = await runningManager(paths);
  if (existing) throw new UsageError(`a cluster is already running from ${paths.dataDir} (manager pid ${existing.pid}); see \`${nokv} cluster status${t.selector}\``);
  const locked = lockedManagerPid(paths);
  if (locked) throw new UsageError(`a cluster manager (pid ${locked}) is already running from ${paths.dataDir}`);
  const say = (line: string) => process.stderr.write(`${line}\n`);
  await awaitLeftovers(paths, clusterLayout(t.topology, paths, CLUSTER_ROLES), say, `${nokv} cluster down${t.selector}`);
  const busy = await busyPorts(t.topology);
  if (busy.length > 0) {
    for (const line of describeBusy(busy)) say(`  ${line}`);
    const other = busy.find((b) => b.holder?.clusterDir)?.holder?.clusterDir;
    const hint = other ? `\`${nokv} cluster down --data-dir ${other}\` stops that cluster, or` : 'stop what holds them, or';
    const first = busy[0]!;
    throw new FailedPreconditionError(`cannot start: ${busy.length} port(s) of the topology are in use (first ${first.addr}, ${first.what}); ${hint} pass a topology with other ports (--config)`);
  }
}

/** Writes the topology the roles will read (the one resolved from --config, NOKV_CONFIG or the data dir). */
function prepareDataDir(paths: ClusterPaths, topo: Topology): void {
  mkdirSync(paths.logDir, { recursive: true });
  writeFileSync(paths.topologyFile, JSON.stringify(topo, null, 2) + '\n');
  ensureToken(paths);
}

/** The manager's logger: JSON lines to logs/cluster.log always; in the foreground also to this terminal. */
function managerLogger(paths: ClusterPaths, toStdout: boolean, pretty: boolean) {
  const file = pino.destination({ dest: `${paths.logDir}/${MANAGER_LOG}`, sync: true, append: true, mkdir: true });
  const out: DestinationStream | undefined = toStdout ? (pretty ? prettyStream(pino.destination({ fd: 1, sync: true })) : pino.destination({ fd: 1, sync: true })) : undefined;
  return createLogger({ role: 'cluster', pretty: false, destination: { write: (line: string) => (file.write(line), out?.write(line)) } });
}

export async function runUp({ flags }: Parsed): Promise<number> {
  const t = resolveTarget(flags);
  const nokv = invocation();
  await preflight(t, nokv);
  prepareDataDir(t.paths, t.topology);
  await prepareTls(t.paths, t.topology, flags.tls === true);
  const json = Boolean(flags.json);
  if (flags.detach) return detach(t, nokv, json);
  const background = Boolean(flags['in-background']); // the detached manager itself: no terminal
  const pretty = !json && (process.stdout.isTTY || process.env.NOKV_LOG_PRETTY === '1');
  const logger = managerLogger(t.paths, !background, pretty);
  const manager = new ClusterManager({ topology: t.topology, paths: t.paths, roles: CLUSTER_ROLES, logger, token: ensureToken(t.paths) });
  const onSignal = () => void manager.shutdown();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    await manager.start();
    if (!background) printReady(await settled(async () => manager.statusDoc()), t, nokv, json, 'Ctrl-C or');
    await manager.done();
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  return 0;
}

function printReady(st: ManagerStatus, t: Target, nokv: string, json: boolean, how: string): void {
  if (json) {
    process.stdout.write(JSON.stringify(st) + '\n');
    return;
  }
  process.stdout.write(processTable(st.processes, st.view) + summaryLine(st.view));
  process.stdout.write(`cluster is up (data dir ${t.paths.dataDir}, manager pid ${st.pid}); ${how ? `${how} ` : ''}\`${nokv} cluster down${t.selector}\` stops it\n`);
  process.stdout.write(nextSteps(st, nokv, t.selector));
}

/** How long `up` waits, once every process serves, for a sampled view with every role answering and a lease holder. */
const SETTLE_MS = 5_000;

const isSettled = (st: ManagerStatus) => !!st.view && st.view.roles.every((r) => r.up) && !!st.view.lease?.holder && st.view.regions.every((g) => g.leader);

/** The manager's status once the table it prints would be filled in (or SETTLE_MS passed). */
async function settled(get: () => Promise<ManagerStatus>): Promise<ManagerStatus> {
  const deadline = Date.now() + SETTLE_MS;
  for (;;) {
    const st = await get();
    if (isSettled(st) || Date.now() > deadline) return st;
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** The last error the manager logged (or wrote to stderr), for a failed start's one-line message. */
function lastError(logFile: string): string | undefined {
  let text = '';
  try {
    text = readFileSync(logFile, 'utf8').slice(-64 * 1024);
  } catch {
    return undefined;
  }
  for (const line of text.split('\n').reverse()) {
    if (!line.trim()) continue;
    try {
      const e = JSON.parse(line) as { level?: string; msg?: string; err?: { message?: string }; reason?: { error?: { message?: string } } };
      if (e.level === 'error' || e.level === 'fatal') return [e.msg, e.err?.message ?? e.reason?.error?.message].filter(Boolean).join(': ');
    } catch {
      if (!line.startsWith(' ')) return line.trim(); // stderr text, not a stack frame
    }
  }
  return undefined;
}

async function detach(t: Target, nokv: string, json: boolean): Promise<number> {
  const { paths } = t;
  const logFile = `${paths.logDir}/${MANAGER_LOG}`;
  const fd = openSync(logFile, 'a');
  // stdout is the manager's own concern (it writes its log file); stderr catches anything it cannot log.
  const child = spawn(process.execPath, [nokvBin(), 'cluster', 'up', '--in-background', '--data-dir', paths.dataDir, '--config', paths.topologyFile], {
    detached: true,
    stdio: ['ignore', 'ignore', fd],
  });
  closeSync(fd);
  child.unref();
  let exited: number | null = null;
  child.once('exit', (code) => (exited = code ?? 1));
  const seen = new Set<string>();
  const progress = (line: string) => (json ? undefined : writeSync(2, `${line}\n`));
  let allUpAt: number | undefined;
  for (;;) {
    if (exited !== null) {
      const why = lastError(logFile);
      throw new UnavailableError(`the cluster manager exited during start (code ${exited})${why ? `: ${why}` : ''}; \`${nokv} cluster logs${t.selector}\` shows more`);
    }
    const st = await runningManager(paths, 2000);
    for (const p of st?.processes ?? []) {
      if (p.status === 'running' && !seen.has(p.name)) {
        seen.add(p.name);
        progress(`  ${p.name.padEnd(14)} serving (pid ${p.pid})  [${seen.size}/${st!.processes.length}]`);
      }
    }
    // Ready once every process serves and mount `default` is registered (the mount-init step).
    if (st && st.processes.every((p) => p.status === 'running') && st.mount_init !== 'pending') {
      allUpAt ??= Date.now();
      if (isSettled(st) || Date.now() - allUpAt > SETTLE_MS) {
        printReady(st, t, nokv, json, '');
        return 0;
      }
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}
