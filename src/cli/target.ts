// Owns how every `nokv` command finds its cluster, in one place (like etcdctl's --endpoints and ETCDCTL_*):
//   data dir   --data-dir, else NOKV_DATA_DIR, else the nearest `.nokv/` from the current folder upwards
//              (as git finds `.git`), else `./.nokv`
//   topology   --config, else NOKV_CONFIG, else the data dir's topology.json (written by `cluster up`), else the
//              standard 333 port table
//   endpoints  --endpoints, else NOKV_ENDPOINTS, else the topology's addresses of the service the command talks to
//   token      --token-file, else NOKV_TOKEN_FILE, else the data dir's cluster.token
//   TLS        NOKV_TLS_DIR, else the data dir's tls/ when the cluster runs mutual TLS (`cluster up --tls`):
//              the process then calls with the `client` certificate (docs/security.md)
// A client learns addresses (and, later, credentials) only from here, so a new way to reach a cluster is added
// once for every command.
import { existsSync, readFileSync, realpathSync } from 'node:fs';
import net from 'node:net';
import { delimiter, dirname, join, relative, resolve } from 'node:path';
import { NokvError, UnavailableError } from '../common/errors.js';
import { loadTopology, type Topology } from '../config/topology.js';
import { clusterPaths, nokvBin, tlsEnabled, type ClusterPaths } from '../cluster/layout.js';
import { CLIENT_TLS_NAME, loadTlsMaterial, useTls } from '../transport/index.js';
import { UsageError, type FlagSpecs, type FlagValues } from './flags.js';

export const DEFAULT_DATA_DIR = '.nokv';

/** Flags every command accepts (a role command's own flag of the same name wins: a role's --data-dir is its folder). */
export const GLOBAL_FLAGS: FlagSpecs = {
  'data-dir': { type: 'string', help: `cluster data dir (env NOKV_DATA_DIR; default: the nearest ${DEFAULT_DATA_DIR}/ here or above, else ./${DEFAULT_DATA_DIR})` },
  config: { type: 'string', help: "topology JSON file (env NOKV_CONFIG; default: the data dir's topology.json)" },
  endpoints: { type: 'list', help: 'addresses of the service the command talks to, comma separated (env NOKV_ENDPOINTS; default: from the topology)' },
  'token-file': { type: 'string', help: "cluster token file (env NOKV_TOKEN_FILE; default: the data dir's cluster.token)" },
  json: { type: 'bool', help: 'print JSON for scripts' },
};

export type Service = 'meta-root' | 'coordinator' | 'store' | 'fsmeta';
export type Source = 'flag' | 'env' | 'found' | 'data-dir' | 'default';

export interface Target {
  paths: ClusterPaths;
  dataDirFrom: Source;
  topology: Topology;
  topologyFrom: Source;
  token?: string;
  /** Client addresses of a service: --endpoints / NOKV_ENDPOINTS when given, else the topology's. */
  endpoints(service: Service): string[];
  /** What to add to a printed command so it reaches this cluster from anywhere (empty if it already does). */
  selector: string;
}

export type Env = Record<string, string | undefined>;

/** The nearest `.nokv/` at or above cwd that holds a cluster (a topology file or a control socket). */
export function findDataDir(cwd: string): string | undefined {
  for (let dir = resolve(cwd); ; dir = dirname(dir)) {
    const candidate = join(dir, DEFAULT_DATA_DIR);
    if (existsSync(join(candidate, 'topology.json')) || existsSync(join(candidate, 'cluster.sock'))) return candidate;
    if (dirname(dir) === dir) return undefined;
  }
}

function pick<T>(flag: T | undefined, env: T | undefined): [T, Source] | undefined {
  if (flag !== undefined) return [flag, 'flag'];
  if (env !== undefined && env !== '') return [env, 'env'];
  return undefined;
}

function checkAddrs(list: string[], from: string): string[] {
  if (list.length === 0) throw new UsageError(`${from} is empty`);
  for (const a of list) {
    const m = /^(\[[^\]]+\]|[^:\s]+):(\d{1,5})$/.exec(a);
    if (!m || Number(m[2]) > 65535 || Number(m[2]) === 0) throw new UsageError(`${from}: "${a}" is not host:port`);
  }
  return list;
}

function readToken(file: string, from: string): string | undefined {
  try {
    return readFileSync(file, 'utf8').trim() || undefined;
  } catch (err) {
    throw new UsageError(`cannot read ${from} ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

export function resolveTarget(flags: FlagValues, env: Env = process.env, cwd = process.cwd()): Target {
  const dd = pick(flags['data-dir'] as string | undefined, env.NOKV_DATA_DIR);
  const found = dd ? undefined : findDataDir(cwd);
  const dataDir = resolve(cwd, dd ? dd[0] : (found ?? DEFAULT_DATA_DIR));
  const dataDirFrom: Source = dd ? dd[1] : found ? 'found' : 'default';
  const paths = clusterPaths(dataDir);

  const cf = pick(flags.config as string | undefined, env.NOKV_CONFIG);
  const topoFile = cf ? resolve(cwd, cf[0]) : existsSync(paths.topologyFile) ? paths.topologyFile : undefined;
  const topologyFrom: Source = cf ? cf[1] : topoFile ? 'data-dir' : 'default';
  let topology: Topology;
  try {
    topology = loadTopology(topoFile);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }

  const ep = pick(flags.endpoints as string[] | undefined, env.NOKV_ENDPOINTS?.split(',').map((s) => s.trim()).filter(Boolean));
  const explicit = ep ? checkAddrs(ep[0], ep[1] === 'flag' ? '--endpoints' : 'NOKV_ENDPOINTS') : undefined;

  const tf = pick(flags['token-file'] as string | undefined, env.NOKV_TOKEN_FILE);
  const token = tf ? readToken(resolve(cwd, tf[0]), tf[1] === 'flag' ? '--token-file' : 'NOKV_TOKEN_FILE') : existsSync(paths.tokenFile) ? readToken(paths.tokenFile, 'token file') : undefined;

  // A printed command reaches this cluster as is when discovery from the current folder lands on it.
  const reachedAsIs = (findDataDir(cwd) ?? resolve(cwd, DEFAULT_DATA_DIR)) === dataDir && !env.NOKV_DATA_DIR;
  const t: Target = {
    paths,
    dataDirFrom,
    topology,
    topologyFrom,
    endpoints: (service) => explicit ?? topologyAddrs(topology, service),
    selector: reachedAsIs || dataDirFrom === 'env' ? '' : ` --data-dir ${dataDir}`,
  };
  if (token) t.token = token;
  useToolTls(env.NOKV_TLS_DIR, paths);
  return t;
}

/** The TLS identity of a tool: every client it opens presents the cluster's `client` certificate, or none. */
function useToolTls(envDir: string | undefined, paths: ClusterPaths): void {
  const dir = envDir ?? (tlsEnabled(paths) ? paths.tlsDir : undefined);
  try {
    useTls(dir ? loadTlsMaterial(dir, CLIENT_TLS_NAME) : undefined);
  } catch (err) {
    throw new UsageError(`${(err as Error).message} (NOKV_TLS_DIR or the data dir's tls/)`);
  }
}

/** How to run this CLI from cwd as printed: `nokv` if that name on PATH is this launcher, else `node <path>`. */
export function invocation(cwd = process.cwd(), path = process.env.PATH ?? ''): string {
  const bin = nokvBin();
  const real = (f: string) => {
    try {
      return realpathSync(f);
    } catch {
      return undefined;
    }
  };
  const mine = real(bin);
  if (path.split(delimiter).some((d) => d && real(join(d, 'nokv')) === mine)) return 'nokv';
  const rel = relative(cwd, bin);
  return `node ${rel.startsWith('..') ? bin : rel}`;
}

export function topologyAddrs(topo: Topology, service: Service): string[] {
  switch (service) {
    case 'meta-root':
      return topo.meta_root.peers.map((p) => p.addr);
    case 'coordinator':
      return topo.coordinators.map((c) => c.addr);
    case 'store':
      return topo.stores.map((s) => s.addr);
    case 'fsmeta':
      return topo.fsmeta.map((f) => f.addr);
  }
}

/** Resolves once one address accepts a TCP connection; rejects with the reason of each if none does. */
function firstConnect(addrs: string[], timeoutMs: number): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    const reasons: string[] = [];
    let settled = false;
    for (const a of addrs) {
      const i = a.lastIndexOf(':');
      const sock = net.connect({ host: a.slice(0, i).replace(/^\[|\]$/g, ''), port: Number(a.slice(i + 1)) });
      sock.setTimeout(timeoutMs);
      const done = (reason?: string) => {
        sock.destroy();
        if (settled) return;
        if (reason === undefined) {
          settled = true;
          return resolvePromise();
        }
        reasons.push(`${a} ${reason}`);
        if (reasons.length === addrs.length) {
          settled = true;
          reject(new Error(reasons.join(', ')));
        }
      };
      sock.once('connect', () => done());
      sock.once('timeout', () => done('timed out'));
      sock.once('error', (e: NodeJS.ErrnoException) => done(e.code === 'ECONNREFUSED' ? 'refused the connection' : (e.code ?? e.message)));
    }
  });
}

/** How long a client command waits to learn that nothing listens at its endpoints. */
export const PROBE_TIMEOUT_MS = 1_500;

/**
 * Fails fast (within PROBE_TIMEOUT_MS) with one readable line when no endpoint of the service accepts a
 * connection, instead of letting a client retry against a dead cluster for its whole budget.
 */
export async function requireReachable(t: Target, service: Service, addrs = t.endpoints(service)): Promise<void> {
  try {
    await firstConnect(addrs, PROBE_TIMEOUT_MS);
  } catch (err) {
    throw new UnavailableError(`no ${service} answers (${(err as Error).message}); is the cluster running? try \`${invocation()} cluster status${t.selector}\``);
  }
}

/**
 * A client failure that says where it went: UNAVAILABLE and DEADLINE_EXCEEDED (the cluster answered the
 * probe but not the call) name the endpoints asked and what to look at next. Other errors are the cluster's
 * own answer and pass unchanged.
 */
export function withWhere(err: unknown, t: Target, service: Service, endpoints: string[]): unknown {
  if (!(err instanceof NokvError) || (err.code !== 'UNAVAILABLE' && err.code !== 'DEADLINE_EXCEEDED')) return err;
  const hint = `asked ${service} ${endpoints.join(', ')}; see \`${invocation()} cluster status${t.selector}\``;
  return new NokvError(err.code, `${err.message} (${hint})`, err.details);
}
