// Owns the cluster manager: one process whose root supervisor runs every role process of the topology
// (one_for_one; a crashed role is restarted, a role stopped through the CLI stays down until started) and
// answers the CLI over the control socket.
import { mkdirSync } from 'node:fs';
import { SystemClock } from '../common/clock.js';
import { FailedPreconditionError, InvalidArgumentError } from '../common/errors.js';
import type { Logger } from '../common/log.js';
import { Supervisor } from '../supervisor/supervisor.js';
import { processChildSpec } from '../supervisor/process-child.js';
import type { Topology } from '../config/topology.js';
import { clusterLayout, nokvBin, normaliseName, tlsEnabled, type ClusterPaths, type RoleKind, type RoleProcess } from './layout.js';
import { nextStore, writeTopology, type AddStoreRequest } from './add-store.js';
import { drainStore } from './drain-store.js';

/** How long `cluster remove store-N` waits for the store to drain by default. */
export const DEFAULT_DRAIN_TIMEOUT_MS = 10 * 60_000;
import { startControlServer, type ControlServer } from './control.js';
import { mountInitChildSpec } from './mount-init.js';
import { acquireManagerLock, clearRolePids, recordRolePid } from './liveness.js';
import { OBSERVE_INTERVAL_MS, sampleCluster, stateChanges, type ClusterView } from './observe.js';
import { startDashboard, type DashboardServer } from './dashboard.js';

/** State-change lines the manager keeps for the dashboard and `status`. */
export const MAX_RECENT_CHANGES = 50;

export interface StateChange {
  atMs: number;
  line: string;
}

/** What the manager answers on GET /status (and the dashboard on /api/cluster). */
export interface ManagerStatus {
  pid: number;
  data_dir: string;
  mount_init: string;
  dashboard_url?: string;
  processes: ProcessStatus[];
  view?: ClusterView;
  /** Calls per second each role served over the last sample interval. */
  rates: Record<string, number>;
  changes: StateChange[];
}

/** A role gets this long to serve /debug/vars after it is spawned before its start counts as failed. */
export const ROLE_READY_TIMEOUT_MS = 30_000;
/** Graceful stop (SIGTERM) before SIGKILL; a coordinator releases its lease in this time. */
export const ROLE_SHUTDOWN_MS = 5_000;
/** More restarts than this within the window and the manager gives up (the cluster is crash-looping). */
export const RESTART_INTENSITY = 30;
export const RESTART_PERIOD_MS = 60_000;

export interface ProcessStatus {
  name: string;
  role: RoleKind;
  status: string;
  pid?: number;
  restarts: number;
  addr: string;
  metrics_addr: string;
}

export interface ClusterManagerOptions {
  topology: Topology;
  paths: ClusterPaths;
  roles: readonly RoleKind[];
  logger: Logger;
  /** Extra environment for every role (tests use it for faster settings). */
  env?: Record<string, string>;
  /** Cluster token the mount-init step presents to the coordinators. */
  token?: string;
}

/**
 * Ready once /debug/vars on metricsAddr answers with the pid we spawned: any other process answering that
 * port (a leftover of an earlier manager) must not make a start look successful.
 */
async function waitForMetrics(metricsAddr: string, pid: number): Promise<void> {
  const deadline = Date.now() + ROLE_READY_TIMEOUT_MS;
  let other: unknown;
  while (Date.now() < deadline) {
    try {
      const res = await fetch(`http://${metricsAddr}/debug/vars`, { signal: AbortSignal.timeout(1000) });
      const vars = (await res.json()) as { pid?: unknown };
      if (res.ok && vars.pid === pid) return;
      other = vars.pid;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  const who = other !== undefined ? ` (pid ${String(other)} answers there instead)` : '';
  throw new FailedPreconditionError(`pid ${pid} did not serve ${metricsAddr}/debug/vars within ${ROLE_READY_TIMEOUT_MS} ms${who}`);
}

export class ClusterManager {
  private readonly layout: RoleProcess[];
  private readonly supervisor: Supervisor;
  private control?: ControlServer;
  private dashboard?: DashboardServer;
  private releaseLock?: () => void;
  private view?: ClusterView;
  private rates: Record<string, number> = {};
  private readonly changes: StateChange[] = [];
  private observer?: ReturnType<typeof setTimeout>;
  private stopping?: Promise<void>;
  private readonly doneWaiters: Array<() => void> = [];
  /** Mount bootstrap: 'skipped' when this cluster runs no coordinators. */
  private mountInit: 'pending' | 'done' | 'skipped' = 'skipped';
  private adding = false;

  constructor(private readonly opts: ClusterManagerOptions) {
    this.layout = clusterLayout(opts.topology, opts.paths, opts.roles);
    mkdirSync(opts.paths.logDir, { recursive: true });
    const processes = this.layout.map((p) => this.processSpec(p));
    if (opts.roles.includes('coordinator')) {
      // After the stores, before any gateway (ordered start): a gateway always finds mount `default`.
      this.mountInit = 'pending';
      const at = this.layout.findIndex((p) => p.role === 'fsmeta');
      const init = mountInitChildSpec({
        coordinatorAddrs: opts.topology.coordinators.map((c) => c.addr),
        ...(opts.token ? { token: opts.token } : {}),
        logger: opts.logger,
        onState: (s) => (this.mountInit = s),
      });
      processes.splice(at < 0 ? processes.length : at, 0, init);
    }
    this.supervisor = new Supervisor({
      id: 'cluster',
      strategy: 'one_for_one',
      intensity: RESTART_INTENSITY,
      periodMs: RESTART_PERIOD_MS,
      clock: new SystemClock(),
      logger: opts.logger,
      children: processes,
    });
    this.supervisor.onExit((reason) => {
      if (this.stopping) return;
      opts.logger.error({ reason }, 'cluster supervisor gave up; shutting down');
      void this.shutdown();
    });
  }

  private processSpec(p: RoleProcess) {
    const opts = this.opts;
    return processChildSpec({
      id: p.name,
      command: process.execPath,
      args: [nokvBin(), ...p.args],
      env: { NOKV_LOG_PRETTY: undefined, ...opts.env },
      restart: 'permanent',
      shutdownMs: ROLE_SHUTDOWN_MS,
      logFile: p.logFile,
      detached: true,
      parentChannel: true,
      logger: opts.logger,
      ready: (proc) => {
        recordRolePid(opts.paths, p.name, proc.pid);
        return waitForMetrics(p.metricsAddr, proc.pid);
      },
    });
  }

  /**
   * `nokv cluster add store`: the next store id with its ports goes into the topology file, then its process is
   * started under the cluster supervisor and awaited until it serves (it joins the cluster by itself). Refused on
   * a TLS cluster (its certificate would have to be made first) and while another addition is under way.
   */
  private async addStore(req: AddStoreRequest): Promise<{ added: string; store_id: number; addr: string; metrics_addr: string }> {
    if (!this.opts.roles.includes('store')) throw new FailedPreconditionError('this cluster runs no stores');
    if (tlsEnabled(this.opts.paths)) throw new FailedPreconditionError('adding a store to a TLS cluster is not supported yet (it needs its certificate)');
    if (this.adding) throw new FailedPreconditionError('a store is being added or removed already');
    this.adding = true;
    try {
      const { store, topology } = await nextStore(this.opts.topology, req);
      writeTopology(this.opts.paths.topologyFile, topology);
      this.opts.topology.stores.push(store);
      const [p] = clusterLayout({ ...topology, stores: [store] }, this.opts.paths, ['store']);
      const lastStore = this.layout.map((x) => x.role).lastIndexOf('store');
      this.layout.splice(lastStore + 1, 0, p!);
      this.opts.logger.info({ store: store.store_id, addr: store.addr, metrics: store.metrics_addr }, 'adding a store to the cluster');
      await this.supervisor.startChild(this.processSpec(p!));
      return { added: p!.name, store_id: store.store_id, addr: store.addr, metrics_addr: store.metrics_addr };
    } finally {
      this.adding = false;
    }
  }

  /**
   * `nokv cluster remove store-N`: drains the store (its peers move to other stores, drain-store.ts), roots its
   * retirement, then stops its process and takes it out of the topology file. The store serves until the last of
   * its peers is replaced; a drain that times out leaves it draining and running.
   */
  private async removeStore(name: string, timeoutMs: number): Promise<{ removed: string; store_id: number; drained_ms: number }> {
    const p = this.find(name);
    if (p.role !== 'store') throw new InvalidArgumentError(`${p.name} is not a store`);
    if (this.adding) throw new FailedPreconditionError('a store is being added or removed already');
    const storeId = Number(p.name.slice('store-'.length));
    const t = this.opts.topology;
    this.adding = true;
    try {
      const { drainedMs } = await drainStore({
        storeId,
        coordinatorAddrs: t.coordinators.map((c) => c.addr),
        rootAddrs: t.meta_root.peers.map((m) => m.addr),
        ...(this.opts.token ? { token: this.opts.token } : {}),
        timeoutMs,
        logger: this.opts.logger,
      });
      await this.supervisor.terminateChild(p.name);
      await this.supervisor.deleteChild(p.name);
      this.layout.splice(this.layout.indexOf(p), 1);
      t.stores.splice(t.stores.findIndex((s) => s.store_id === storeId), 1);
      writeTopology(this.opts.paths.topologyFile, t);
      return { removed: p.name, store_id: storeId, drained_ms: drainedMs };
    } finally {
      this.adding = false;
    }
  }

  /** Takes the data dir's lock, opens the control socket, then starts every role in order. */
  async start(): Promise<void> {
    this.releaseLock = acquireManagerLock(this.opts.paths);
    try {
      this.control = await startControlServer(this.opts.paths.controlSocket, (m, p) => this.handle(m, p));
      this.dashboard = await startDashboard(this.opts.topology.dashboard_addr, () => this.statusDoc());
    } catch (err) {
      await this.control?.close();
      this.releaseLock();
      throw err;
    }
    this.opts.logger.info(`dashboard: ${this.dashboard.url}`);
    this.observe();
    try {
      await this.supervisor.start();
    } catch (err) {
      await this.shutdown();
      throw err;
    }
  }

  status(): ProcessStatus[] {
    const byName = new Map(this.supervisor.whichChildren().map((c) => [c.id, c]));
    return this.layout.map((p) => {
      const c = byName.get(p.name);
      const s: ProcessStatus = {
        name: p.name,
        role: p.role,
        status: c ? (c.status === 'running' ? 'running' : c.status) : this.supervisor.state,
        restarts: c?.restarts ?? 0,
        addr: p.addr,
        metrics_addr: p.metricsAddr,
      };
      if (c?.pid !== undefined) s.pid = c.pid;
      return s;
    });
  }

  /** Samples every role now and then every OBSERVE_INTERVAL_MS, logging one line per state change. */
  private observe(): void {
    const tick = async () => {
      const next = await sampleCluster(this.layout, Date.now());
      if (this.stopping) return;
      const prev = this.view;
      if (prev) {
        const dt = (next.atMs - prev.atMs) / 1000;
        const before = new Map(prev.roles.map((r) => [r.name, r.calls]));
        this.rates = Object.fromEntries(next.roles.filter((r) => r.up && before.has(r.name)).map((r) => [r.name, Math.max(0, r.calls - before.get(r.name)!) / dt]));
        for (const line of stateChanges(prev, next)) {
          this.opts.logger.info(line);
          this.changes.push({ atMs: next.atMs, line });
        }
        this.changes.splice(0, Math.max(0, this.changes.length - MAX_RECENT_CHANGES));
      }
      this.view = next;
      this.observer = setTimeout(() => void tick(), OBSERVE_INTERVAL_MS);
    };
    void tick();
  }

  /** The latest sampled view of the cluster (undefined before the first sample). */
  latestView(): ClusterView | undefined {
    return this.view;
  }

  statusDoc(): ManagerStatus {
    const doc: ManagerStatus = {
      pid: process.pid,
      data_dir: this.opts.paths.dataDir,
      mount_init: this.mountInit,
      processes: this.status(),
      rates: this.rates,
      changes: this.changes,
    };
    if (this.dashboard) doc.dashboard_url = this.dashboard.url;
    if (this.view) doc.view = this.view;
    return doc;
  }

  private find(name: string): RoleProcess {
    const n = normaliseName(decodeURIComponent(name));
    const p = this.layout.find((x) => x.name === n);
    if (!p) throw new InvalidArgumentError(`no process named "${n}" (one of ${this.layout.map((x) => x.name).join(', ')})`);
    return p;
  }

  private async handle(method: string, path: string): Promise<unknown> {
    const url = new URL(path, 'http://manager');
    const [, verb, name] = url.pathname.split('/');
    if (method === 'GET' && verb === 'status') return this.statusDoc();
    if (method !== 'POST') throw new InvalidArgumentError(`unsupported request ${method} ${path}`);
    switch (verb) {
      case 'stop': {
        const { name: child } = this.find(name ?? '');
        await this.supervisor.terminateChild(child);
        return { stopped: child };
      }
      case 'kill':
        return { killed: await this.kill(this.find(name ?? '').name) };
      case 'start': {
        const { name: child } = this.find(name ?? '');
        await this.supervisor.restartChild(child);
        return { started: child };
      }
      case 'add': {
        if (name !== 'store') throw new InvalidArgumentError(`only a store can be added, not "${name ?? ''}"`);
        const addr = url.searchParams.get('addr') ?? undefined;
        const metricsAddr = url.searchParams.get('metrics_addr') ?? undefined;
        return this.addStore({ ...(addr ? { addr } : {}), ...(metricsAddr ? { metricsAddr } : {}) });
      }
      case 'remove':
        return this.removeStore(name ?? '', Number(url.searchParams.get('timeout_ms') ?? DEFAULT_DRAIN_TIMEOUT_MS));
      case 'down':
        setImmediate(() => void this.shutdown());
        return { stopping: true };
      default:
        throw new InvalidArgumentError(`unknown request ${path}`);
    }
  }

  /** SIGKILL, like `docker kill`: the process stays down until started again. */
  private async kill(name: string): Promise<string> {
    const child = this.supervisor.whichChildren().find((c) => c.id === name);
    if (!child?.pid) throw new FailedPreconditionError(`${name} is not running`);
    await this.supervisor.killChild(name);
    return name;
  }

  /** Stops every role in reverse order, closes the control socket and releases the lock. Idempotent. */
  shutdown(): Promise<void> {
    this.stopping ??= (async () => {
      try {
        await this.supervisor.stop();
      } catch (err) {
        this.opts.logger.error({ err }, 'error while stopping the cluster');
      }
      clearTimeout(this.observer);
      await this.control?.close();
      await this.dashboard?.close();
      clearRolePids(this.opts.paths);
      this.releaseLock?.();
      for (const w of this.doneWaiters) w();
    })();
    return this.stopping;
  }

  /** Resolves when the manager has shut down (by `down`, a signal, or escalation). */
  done(): Promise<void> {
    if (this.stopping) return this.stopping;
    return new Promise((resolve) => this.doneWaiters.push(resolve));
  }
}
