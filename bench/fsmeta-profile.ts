// The load of the fsmeta CPU profile: a real cluster (all ten processes) whose every Node process runs the CPU
// profiler (scripts/fsmeta-profile.sh preloads bench/cpu-profile-preload.ts), a phase of single-key one-phase puts
// through the transactional store client (the KV path alone, FSMETA_PROFILE_PUT_CLIENTS clients, default 1), and phases of one operation each — Create,
// Lookup, GetAttr, ReadDirPlus of 512 entries — with CLIENTS gRPC clients for PHASE_MS each, then ReadDirPlus with one client. The phases' windows on the
// monotonic clock (the one V8 stamps profile samples with) go to phases.json beside the profiles, so
// bench/profile-summary.ts can say where each operation spent its CPU, process by process.
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fsmetaClusterUp } from '../test/fixtures/fsmeta-cluster.js';
import { FsClient } from '../test/fixtures/fsmeta-gateway.js';
import { mountPrefix } from '../src/gateway/keys.js';
import { connectStoreClient } from '../src/store/client/connect.js';
import { percentileOfSorted } from './stats.js';

const CLIENTS = Number(process.env.FSMETA_PROFILE_CLIENTS ?? 8);
const PHASE_MS = Number(process.env.FSMETA_PROFILE_PHASE_MS ?? 15_000);
const DIR_ENTRIES = 512;
const out = process.env.FSMETA_PROFILE_DIR;
if (!out) throw new Error('FSMETA_PROFILE_DIR must name the directory the profiles are written to');

export interface PhaseWindow {
  name: string;
  /** Monotonic microseconds, as V8 profiles count them. */
  startUs: number;
  endUs: number;
  ops: number;
}

const nowUs = () => Number(process.hrtime.bigint() / 1000n);

/** pid → role name (store-2, fsmeta-1, ...) of the cluster's processes, from their command lines. */
function rolesByPid(dataDir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of execFileSync('ps', ['-eo', 'pid=,args='], { encoding: 'utf8' }).split('\n')) {
    const m = /^\s*(\d+)\s+(.*)$/.exec(line);
    if (!m || !m[2]!.includes(dataDir)) continue;
    const args = m[2]!.split(/\s+/);
    const at = args.findIndex((a) => a.endsWith('nokv.mjs'));
    const role = args[at + 1];
    const id = (flag: string) => args[args.indexOf(flag) + 1];
    if (role === 'store') out[m[1]!] = `store-${id('--store-id')}`;
    else if (role === 'coordinator') out[m[1]!] = id('--coordinator-id')!;
    else if (role === 'meta-root') out[m[1]!] = `meta-root-${id('--node-id')}`;
    else if (role === 'fsmeta') out[m[1]!] = `fsmeta-${id('--index')}`;
    else if (role === 'cluster') out[m[1]!] = 'manager';
  }
  out[String(process.pid)] = 'bench clients';
  return out;
}
const file = () => ({ type: 'INODE_TYPE_FILE', mode: 0o644, size: 0, created_unix_ns: '1', updated_unix_ns: '1' });

async function phase<C>(name: string, clients: C[], op: (c: C, n: number) => Promise<unknown>): Promise<PhaseWindow> {
  let n = 0;
  let errors = 0;
  const lat: number[] = [];
  const startUs = nowUs();
  const deadline = performance.now() + PHASE_MS;
  await Promise.all(clients.map(async (c) => {
    while (performance.now() < deadline) {
      const t0 = performance.now();
      await op(c, n++).catch(() => errors++);
      lat.push(performance.now() - t0);
    }
  }));
  lat.sort((a, b) => a - b);
  const at = (p: number) => percentileOfSorted(lat, p).toFixed(1);
  process.stdout.write(`${name}: ${n} ops (${errors} errors), p50 ${at(0.5)} ms, p99 ${at(0.99)} ms, max ${at(1)} ms\n`);
  return { name, startUs, endUs: nowUs(), ops: n };
}

const c = await fsmetaClusterUp();
const addr = c.cluster.topo.fsmeta[0]!.addr;
const clients = Array.from({ length: CLIENTS }, () => new FsClient(addr, c.token));
try {
  const M = 'default';
  const mk = async (name: string) => (await c.fs.call('Create', { mount: M, parent: '1', name, attrs: { type: 'INODE_TYPE_DIRECTORY', mode: 0o755 } })).inode.inode as string;
  const createDir = await mk('profile-create');
  const listDir = await mk('profile-list');
  for (let i = 0; i < DIR_ENTRIES; i++) await c.fs.call('Create', { mount: M, parent: listDir, name: `e-${i}`, attrs: file() });
  // Profile from here on: every process of the cluster and this one (see cpu-profile-preload.ts).
  const roles = rolesByPid(c.cluster.dataDir);
  const profiling = process.env.NODE_OPTIONS?.includes('cpu-profile-preload') ?? false;
  if (profiling) for (const pid of Object.keys(roles)) process.kill(Number(pid), 'SIGUSR2');
  await new Promise((r) => setTimeout(r, 500));
  const windows: PhaseWindow[] = [];
  // The KV path alone: single-key one-phase puts through the transactional store client, as kv.bench.ts runs them.
  const kv = connectStoreClient({ coordinatorAddrs: c.cluster.coordAddrs, token: c.token });
  try {
    const value = Buffer.alloc(256, 7);
    const putters = Array.from({ length: Number(process.env.FSMETA_PROFILE_PUT_CLIENTS ?? 1) }, (_, i) => i);
    windows.push(await phase('kv put', putters, async (w, n) => {
      const t = await kv.begin();
      t.put(Buffer.from(`n/${w}/${n % 1024}`), value);
      await t.commit();
    }));
  } finally {
    kv.close();
  }
  windows.push(await phase('create', clients, (cl, n) => cl.call('Create', { mount: M, parent: createDir, name: `c-${n}`, attrs: file() })));
  windows.push(await phase('lookup', clients, (cl, n) => cl.call('Lookup', { mount: M, parent: listDir, name: `e-${n % DIR_ENTRIES}` })));
  const listed = (await c.fs.call('Lookup', { mount: M, parent: listDir, name: 'e-0' })).dentry.inode as string;
  windows.push(await phase('getattr', clients, (cl) => cl.call('GetAttr', { mount: M, inode: listed })));
  windows.push(await phase('readdirplus', clients, (cl) => cl.call('ReadDirPlus', { mount: M, parent: listDir, limit: DIR_ENTRIES })));
  windows.push(await phase('readdirplus 1 client', clients.slice(0, 1), (cl) => cl.call('ReadDirPlus', { mount: M, parent: listDir, limit: DIR_ENTRIES })));
  const leader = Number((await c.coord.getRegionByKey(mountPrefix(M))).region.leader_store_id);
  writeFileSync(join(out, 'phases.json'), JSON.stringify({ phases: windows, roles, region1Leader: `store-${leader}` }, null, 2));
  for (const w of windows) process.stdout.write(`${w.name}: ${w.ops} ops in ${((w.endUs - w.startUs) / 1e6).toFixed(1)} s\n`);
} finally {
  for (const cl of clients) cl.close();
  await c.close();
}
