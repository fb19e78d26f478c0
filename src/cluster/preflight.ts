// Owns `cluster up`'s pre-flight: before anything is spawned, every port of the topology is bound once and
// released, all at once, so a busy port is reported in well under a second, named with what it is for and —
// read from /proc the way `ss -p` does — which process holds it.
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';
import net from 'node:net';
import { dirname } from 'node:path';
import type { Topology } from '../config/topology.js';
import { cmdlineOf } from './liveness.js';

export interface PortUse {
  addr: string;
  /** What the topology uses it for, e.g. "coordinator-1 gRPC". */
  what: string;
}

export interface Holder {
  pid: number;
  command: string;
  /** When the holder is a role of a `nokv cluster`: that cluster's data dir. */
  clusterDir?: string;
}

export interface BusyPort extends PortUse {
  code: string;
  holder?: Holder;
}

/** Every port of the topology with its purpose (port 0 = picked by the kernel, never busy). */
export function topologyPorts(t: Topology): PortUse[] {
  const out: PortUse[] = [];
  for (const p of t.meta_root.peers) {
    const n = `meta-root-${p.node_id}`;
    out.push({ addr: p.addr, what: `${n} gRPC` }, { addr: p.raft_addr, what: `${n} raft` }, { addr: p.metrics_addr, what: `${n} metrics` });
  }
  t.coordinators.forEach((c, i) => out.push({ addr: c.addr, what: `coordinator-${i + 1} gRPC` }, { addr: c.metrics_addr, what: `coordinator-${i + 1} metrics` }));
  for (const s of t.stores) out.push({ addr: s.addr, what: `store-${s.store_id} gRPC` }, { addr: s.metrics_addr, what: `store-${s.store_id} metrics` });
  t.fsmeta.forEach((f, i) => out.push({ addr: f.addr, what: `fsmeta-${i + 1} gRPC` }, { addr: f.metrics_addr, what: `fsmeta-${i + 1} metrics` }));
  return out.filter((u) => !u.addr.endsWith(':0'));
}

function split(addr: string): { host: string; port: number } {
  const i = addr.lastIndexOf(':');
  return { host: addr.slice(0, i).replace(/^\[|\]$/g, ''), port: Number(addr.slice(i + 1)) };
}

/** Binds and releases addr; resolves with the error code if it cannot be bound. */
function tryBind(addr: string): Promise<string | undefined> {
  const { host, port } = split(addr);
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
    server.listen({ host, port, exclusive: true }, () => server.close(() => resolve(undefined)));
  });
}

/** Socket inodes listening on a TCP port (any local address), from /proc/net/tcp and tcp6. */
function listeningInodes(port: number): Set<string> {
  const inodes = new Set<string>();
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text = '';
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 10 || f[3] !== '0A') continue; // 0A = LISTEN
      if (parseInt(f[1]!.split(':')[1]!, 16) === port) inodes.add(f[9]!);
    }
  }
  return inodes;
}

/** For each wanted socket inode, the pid holding it (one pass over /proc; readable for our own processes, or any as root). */
function holdersOf(wanted: Set<string>): Map<string, number> {
  const found = new Map<string, number>();
  if (wanted.size === 0) return found;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${entry}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      let link = '';
      try {
        link = readlinkSync(`/proc/${entry}/fd/${fd}`);
      } catch {
        continue;
      }
      const m = /^socket:\[(\d+)\]$/.exec(link);
      if (m && wanted.has(m[1]!)) found.set(m[1]!, Number(entry));
    }
    if (found.size === wanted.size) break;
  }
  return found;
}

/** A role of a `nokv cluster` runs with `--config <data dir>/topology.json`; say which cluster it belongs to. */
function holderInfo(pid: number): Holder {
  const argv = cmdlineOf(pid) ?? ['?'];
  const h: Holder = { pid, command: argv.join(' ').slice(0, 160) };
  const at = argv.indexOf('--config');
  const topo = at >= 0 ? argv[at + 1] : undefined;
  if (topo?.endsWith('/topology.json') && argv.some((a) => a.endsWith('nokv.mjs'))) h.clusterDir = dirname(topo);
  return h;
}

/** Every port of the topology that cannot be bound now, with its holder where /proc tells. */
export async function busyPorts(t: Topology): Promise<BusyPort[]> {
  const uses = topologyPorts(t);
  const codes = await Promise.all(uses.map((u) => tryBind(u.addr)));
  const inUse = uses.map((u, i) => ({ u, code: codes[i] })).filter((x): x is { u: PortUse; code: string } => x.code !== undefined);
  const inodesOf = new Map(inUse.map(({ u, code }) => [u.addr, code === 'EADDRINUSE' ? listeningInodes(split(u.addr).port) : new Set<string>()]));
  const pids = holdersOf(new Set([...inodesOf.values()].flatMap((s) => [...s])));
  return inUse.map(({ u, code }) => {
    const pid = [...inodesOf.get(u.addr)!].map((i) => pids.get(i)).find((p) => p !== undefined);
    return { ...u, code, ...(pid !== undefined ? { holder: holderInfo(pid) } : {}) };
  });
}

/** One line per holder: `pid 123 (a role of the nokv cluster in /x) holds 127.0.0.1:2390 (coordinator-1 gRPC), …`. */
export function describeBusy(busy: BusyPort[]): string[] {
  const groups = new Map<string, BusyPort[]>();
  for (const b of busy) {
    const key = b.holder ? `pid ${b.holder.pid}` : b.code === 'EADDRINUSE' ? 'a process this user cannot see' : `nothing (${b.code})`;
    groups.set(key, [...(groups.get(key) ?? []), b]);
  }
  return [...groups].map(([key, list]) => {
    const h = list[0]!.holder;
    const who = h ? (h.clusterDir ? `${key} (a role of the nokv cluster in ${h.clusterDir})` : `${key} (${h.command})`) : key;
    return `${who} holds ${list.map((b) => `${b.addr} (${b.what})`).join(', ')}`;
  });
}
