// Owns `nokv cluster up|status|stop|kill|start|down|logs`: the whole topology on this machine as supervised
// processes, and the failure drills (`stop NAME` is `docker stop`, `kill NAME` is `docker kill`). Every
// command finds its cluster through src/cli/target.ts (--data-dir, NOKV_DATA_DIR, or the nearest .nokv/).
import { rmSync } from 'node:fs';
import type { Command } from '../cli/command.js';
import { UsageError, type Parsed } from '../cli/flags.js';
import { invocation, resolveTarget, type Target } from '../cli/target.js';
import { UnavailableError } from '../common/errors.js';
import { clusterLayout, type ClusterPaths } from './layout.js';
import { controlRequest } from './control.js';
import { describeLive, liveRoles, pidAlive, stopLeftovers, type LiveProcess } from './liveness.js';
import { logsCommand } from './logs.js';
import { processTable, summaryLine } from './report.js';
import { CLUSTER_ROLES, prepareTls, runningManager, runUp } from './up.js';

const print = (flags: Parsed['flags'], value: unknown, text: string) => process.stdout.write(flags.json ? JSON.stringify(value) + '\n' : text);

/** The role processes of this data dir still alive without a manager (one that was killed left them). */
function leftovers(t: Target): Promise<LiveProcess[]> {
  return liveRoles(t.paths, clusterLayout(t.topology, t.paths, CLUSTER_ROLES));
}

const noCluster = (t: Target) => `no cluster is running from ${t.paths.dataDir} (found through ${t.dataDirFrom === 'flag' ? '--data-dir' : t.dataDirFrom === 'env' ? 'NOKV_DATA_DIR' : t.dataDirFrom === 'found' ? 'the nearest .nokv/ above this folder' : 'the default ./.nokv'})`;

const up: Command = {
  name: 'up',
  summary: 'start the whole topology as supervised processes (foreground unless --detach)',
  flags: {
    detach: { type: 'bool', help: 'start in the background and return once every process serves' },
    'in-background': { type: 'bool', help: 'run as the detached manager (used by --detach)' },
    tls: { type: 'bool', help: 'mutual TLS between every process and for clients (CA and certificates in DATA_DIR/tls; stays on)' },
  },
  run: runUp,
};

const status: Command = {
  name: 'status',
  summary: 'show every process of the cluster, what it says about itself, leaders, lease and regions',
  run: async ({ flags }) => {
    const t = resolveTarget(flags);
    const st = await runningManager(t.paths);
    if (!st) {
      const live = await leftovers(t);
      if (live.length === 0) throw new UnavailableError(noCluster(t));
      if (flags.json) process.stdout.write(JSON.stringify({ manager: null, data_dir: t.paths.dataDir, leftovers: live }) + '\n');
      throw new UnavailableError(`no cluster manager runs from ${t.paths.dataDir}, but role processes it started are still alive: ${describeLive(live)}; \`${invocation()} cluster down${t.selector}\` stops them`);
    }
    if (flags.json) print(flags, st, '');
    else {
      process.stdout.write(processTable(st.processes, st.view) + summaryLine(st.view));
      if (st.dashboard_url) process.stdout.write(`dashboard ${st.dashboard_url}\n`);
    }
    return 0;
  },
};

function nameCommand(verb: 'stop' | 'kill' | 'start', summary: string): Command {
  const done = verb === 'start' ? 'started' : verb === 'stop' ? 'stopped' : 'killed';
  return {
    name: verb,
    summary,
    usage: 'NAME [flags]',
    run: async ({ flags, positionals }) => {
      if (positionals.length !== 1) throw new UsageError(`${verb} takes exactly one process name (e.g. coordinator-1)`);
      const t = resolveTarget(flags);
      await controlRequest(t.paths.controlSocket, 'POST', `/${verb}/${encodeURIComponent(positionals[0]!)}`).catch((e: unknown) => {
        throw e instanceof UnavailableError ? new UnavailableError(noCluster(t)) : e;
      });
      print(flags, { name: positionals[0], result: done }, `${positionals[0]}: ${done}\n`);
      return 0;
    },
  };
}

const add: Command = {
  name: 'add',
  summary: 'add a store to the running cluster (`add store`): a new id and ports in the topology, its process started; it joins and the coordinators move replicas onto it',
  usage: 'store [flags]',
  flags: {
    addr: { type: 'string', help: 'KV and raft address of the new store (default: a free port on the stores\' host)' },
    'metrics-addr': { type: 'string', help: '/debug/vars address of the new store (default: a free port)' },
  },
  run: async ({ flags, positionals }) => {
    if (positionals.length !== 1 || positionals[0] !== 'store') throw new UsageError('add takes one kind: `add store`');
    const t = resolveTarget(flags);
    const q = new URLSearchParams();
    if (flags.addr) q.set('addr', String(flags.addr));
    if (flags['metrics-addr']) q.set('metrics_addr', String(flags['metrics-addr']));
    const res = await controlRequest<{ added: string; store_id: number; addr: string; metrics_addr: string }>(
      t.paths.controlSocket,
      'POST',
      `/add/store${q.size > 0 ? `?${q}` : ''}`,
      120_000,
    ).catch((e: unknown) => {
      throw e instanceof UnavailableError ? new UnavailableError(noCluster(t)) : e;
    });
    print(flags, res, `${res.added}: added (store id ${res.store_id}, ${res.addr}, metrics ${res.metrics_addr}); replicas move onto it once it has joined\n`);
    return 0;
  },
};

const remove: Command = {
  name: 'remove',
  summary: 'drain a store (its replicas move to other stores), retire it, stop it and take it out of the topology',
  usage: 'store-N [flags]',
  flags: { 'drain-timeout': { type: 'duration', help: 'give up waiting for the drain after this long (default 10m; the store stays draining)', min: 1_000 } },
  run: async ({ flags, positionals }) => {
    if (positionals.length !== 1 || !/^(nokv-)?store-\d+$/.test(positionals[0]!)) throw new UsageError('remove takes one store name (e.g. store-4)');
    const t = resolveTarget(flags);
    const timeoutMs = (flags['drain-timeout'] as number | undefined) ?? 10 * 60_000;
    const res = await controlRequest<{ removed: string; store_id: number; drained_ms: number }>(
      t.paths.controlSocket,
      'POST',
      `/remove/${encodeURIComponent(positionals[0]!)}?timeout_ms=${timeoutMs}`,
      timeoutMs + 60_000,
    ).catch((e: unknown) => {
      throw e instanceof UnavailableError ? new UnavailableError(noCluster(t)) : e;
    });
    print(flags, res, `${res.removed}: drained in ${(res.drained_ms / 1000).toFixed(1)} s, retired and stopped\n`);
    return 0;
  },
};

async function stopManager(paths: ClusterPaths, pid: number): Promise<void> {
  await controlRequest(paths.controlSocket, 'POST', '/down').catch((e: unknown) => {
    if (!(e instanceof UnavailableError)) throw e; // already on its way down
  });
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline && (await runningManager(paths))) await new Promise((r) => setTimeout(r, 100));
  while (Date.now() < deadline && pidAlive(pid)) await new Promise((r) => setTimeout(r, 100));
}

const down: Command = {
  name: 'down',
  summary: 'stop every process (reverse order); -v also wipes the data dir',
  flags: { volumes: { type: 'bool', short: 'v', help: 'remove the data dir too' } },
  run: async ({ flags }) => {
    const t = resolveTarget(flags);
    const st = await runningManager(t.paths);
    const result: { data_dir: string; stopped: string; removed: boolean } = { data_dir: t.paths.dataDir, stopped: 'nothing', removed: false };
    let text: string;
    if (st) {
      await stopManager(t.paths, st.pid);
      result.stopped = 'cluster';
      text = `cluster stopped (data dir ${t.paths.dataDir})\n`;
    } else {
      const live = await leftovers(t);
      if (live.length > 0) {
        await stopLeftovers(live);
        result.stopped = 'leftovers';
        text = `stopped ${live.length} role process(es) left without a manager: ${describeLive(live)}\n`;
      } else {
        text = `${noCluster(t)}; nothing to stop\n`;
      }
    }
    if (flags.volumes) {
      rmSync(t.paths.dataDir, { recursive: true, force: true });
      result.removed = true;
      text += `removed ${t.paths.dataDir}\n`;
    }
    print(flags, result, text);
    return 0;
  },
};

const certs: Command = {
  name: 'certs',
  summary: 'make the cluster CA and a certificate per process in DATA_DIR/tls (what `up --tls` does), e.g. for containers',
  run: async ({ flags, positionals }) => {
    if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);
    const t = resolveTarget(flags);
    await prepareTls(t.paths, t.topology, true);
    process.stdout.write(`TLS material in ${t.paths.tlsDir}
`);
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
    add,
    remove,
    down,
    logsCommand,
    certs,
  ],
};
