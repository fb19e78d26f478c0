// Owns the `nokv fs` commands that look at a whole subtree or follow it: tree, du, quota and watch.
import type { Command } from '../../cli/command.js';
import { UsageError } from '../../cli/flags.js';
import type { WatchEvent } from '../fsmeta.js';
import { fsFlags, withFs, type FsSession } from './session.js';
import { countTree, plural, treeLines, type TreeNode } from './format.js';
import { FsPathError, showName, showPath, splitPath, type Resolved } from './paths.js';

/** Entries a tree or du walk reads before it stops, so one command cannot read a huge mount by accident. */
const DEFAULT_MAX_ENTRIES = 100_000;
const maxEntriesFlag = { 'max-entries': { type: 'int' as const, help: 'stop after reading this many entries', default: DEFAULT_MAX_ENTRIES, min: 1 } };

class Budget {
  constructor(private left: number) {}
  take(): void {
    if (--this.left < 0) throw new FsPathError('too many entries (raise --max-entries)');
  }
}

async function buildTree(s: FsSession, dir: bigint, depth: number, budget: Budget): Promise<TreeNode[]> {
  const out: TreeNode[] = [];
  for await (const e of s.client.list(s.mount, dir)) {
    budget.take();
    const node: TreeNode = { name: showName(e.dentry.name), type: e.dentry.type };
    if (e.dentry.type === 'directory' && depth > 1) node.children = await buildTree(s, e.dentry.inode, depth - 1, budget);
    else if (e.dentry.type === 'directory') node.children = [];
    out.push(node);
  }
  return out;
}

const tree: Command = {
  name: 'tree',
  summary: 'draw a directory and everything below it',
  usage: '[PATH] [--depth N]',
  flags: { ...fsFlags, ...maxEntriesFlag, depth: { type: 'int', help: 'levels to descend', default: 64, min: 1, max: 64 } },
  run: (args) => withFs('tree', args, async (s) => {
    const path = onePath(args.positionals, 'tree');
    await s.each((r) => `cannot access '${path}': ${r}`, async () => {
      const at = await s.walk.resolve(splitPath(path));
      const children = at.type === 'directory' ? await buildTree(s, at.inode, args.flags.depth as number, new Budget(args.flags['max-entries'] as number)) : [];
      const n = countTree(children);
      if (s.json) return s.out(JSON.stringify({ path: showPath(at.parts), type: at.type, children, ...n }));
      s.out(showPath(at.parts));
      for (const line of treeLines(children)) s.out(line);
      s.out(`\n${plural(n.directories, 'directory', 'directories')}, ${plural(n.files, 'file', 'files')}`);
    });
  }),
};

function onePath(positionals: string[], verb: string): string {
  if (positionals.length > 1) throw new UsageError(`${verb} takes one PATH`);
  return positionals[0] ?? '/';
}

/** Apparent bytes under a directory; a file with several links counts once. Reports each directory after its contents. */
async function du(s: FsSession, at: Resolved, seen: Set<bigint>, budget: Budget, report: (path: string, bytes: bigint) => void): Promise<bigint> {
  if (at.type !== 'directory') {
    if (seen.has(at.inode)) return 0n;
    seen.add(at.inode);
    return (await s.client.getAttr(s.mount, at.inode)).size;
  }
  let total = 0n;
  for await (const e of s.client.list(s.mount, at.inode)) {
    budget.take();
    const parts = [...at.parts, showName(e.dentry.name)];
    if (e.dentry.type === 'directory') total += await du(s, { parts, parent: at.inode, name: e.dentry.name, inode: e.dentry.inode, type: 'directory' }, seen, budget, report);
    else if (!seen.has(e.inode.inode)) {
      seen.add(e.inode.inode);
      total += e.inode.size;
    }
  }
  report(showPath(at.parts), total);
  return total;
}

const duCommand: Command = {
  name: 'du',
  summary: 'apparent bytes under each directory (-s: only the total of each PATH)',
  usage: '[-s] [PATH...]',
  flags: { ...fsFlags, ...maxEntriesFlag, summarize: { type: 'bool', help: 'print only the total of each PATH', short: 's' } },
  run: (args) => withFs('du', args, async (s) => {
    const rows: { path: string; bytes: number }[] = [];
    const budget = new Budget(args.flags['max-entries'] as number);
    for (const path of args.positionals.length > 0 ? args.positionals : ['/']) {
      await s.each((r) => `cannot access '${path}': ${r}`, async () => {
        const at = await s.walk.resolve(splitPath(path));
        const mine: { path: string; bytes: number }[] = [];
        const total = await du(s, at, new Set(), budget, (p, b) => mine.push({ path: p, bytes: Number(b) }));
        rows.push(...(args.flags.summarize || at.type !== 'directory' ? [{ path: showPath(at.parts), bytes: Number(total) }] : mine));
      });
    }
    if (s.json) s.out(JSON.stringify(rows));
    else for (const r of rows) s.out(`${r.bytes}\t${r.path}`);
  }),
};

const quota: Command = {
  name: 'quota',
  summary: 'usage charged to a quota subject: the mount (PATH /) or a directory (its direct children)',
  usage: '[PATH]',
  flags: fsFlags,
  run: (args) => withFs('quota', args, async (s) => {
    const path = onePath(args.positionals, 'quota');
    await s.each((r) => `cannot access '${path}': ${r}`, async () => {
      const at = await s.walk.resolve(splitPath(path));
      if (at.type !== 'directory') throw new FsPathError('Not a directory');
      const scope = at.parent === undefined ? 0n : at.inode;
      const u = await s.client.quotaUsage(s.mount, scope);
      const row = { path: showPath(at.parts), scope: Number(scope), bytes: Number(u.bytes), inodes: Number(u.inodes) };
      // Usage is kept only for subjects with a fence (`nokv quota set`); without one both are 0.
      s.out(s.json ? JSON.stringify(row) : `${row.path}\tscope=${row.scope === 0 ? 'mount' : row.scope}\tbytes=${row.bytes}\tinodes=${row.inodes}`);
    });
  }),
};

/** Paths of the directories under a watch root, to print events by path (events name the parent's inode). */
class DirPaths {
  private readonly byInode = new Map<bigint, string[]>();
  constructor(root: Resolved) {
    this.byInode.set(root.inode, root.parts);
  }
  async fill(s: FsSession, dir: bigint, parts: string[], budget: Budget): Promise<void> {
    for await (const e of s.client.list(s.mount, dir)) {
      if (e.dentry.type !== 'directory') continue;
      budget.take();
      const p = [...parts, showName(e.dentry.name)];
      this.byInode.set(e.dentry.inode, p);
      await this.fill(s, e.dentry.inode, p, budget);
    }
  }
  pathOf(ev: WatchEvent): string[] {
    return [...(this.byInode.get(ev.parent) ?? [`#${ev.parent}`]), showName(ev.name)];
  }
  /** After a created event in a recursive watch: learn the new directory's inode. */
  async learn(s: FsSession, ev: WatchEvent): Promise<void> {
    try {
      const d = await s.client.lookup(s.mount, ev.parent, ev.name);
      if (d.type === 'directory') this.byInode.set(d.inode, this.pathOf(ev));
    } catch {
      // Gone again already: a later deleted event follows.
    }
  }
}

const watch: Command = {
  name: 'watch',
  summary: 'print changes under a directory as they happen (-r: the whole subtree) until interrupted',
  usage: 'PATH [-r] [--count N] [--for DURATION]',
  flags: {
    ...fsFlags,
    ...maxEntriesFlag,
    recursive: { type: 'bool', help: 'also changes in every directory below', short: 'r' },
    count: { type: 'int', help: 'stop after this many events', min: 1 },
    for: { type: 'duration', help: 'stop after this long', min: 1 },
  },
  run: (args) => withFs('watch', args, async (s) => {
    if (args.positionals.length !== 1) throw new UsageError('watch takes one PATH');
    const path = args.positionals[0]!;
    await s.each((r) => `cannot watch '${path}': ${r}`, async () => {
      const at = await s.walk.resolve(splitPath(path));
      if (at.type !== 'directory') throw new FsPathError('Not a directory');
      const dirs = new DirPaths(at);
      const recursive = Boolean(args.flags.recursive);
      if (recursive) await dirs.fill(s, at.inode, at.parts, new Budget(args.flags['max-entries'] as number));
      await follow(s, at, recursive, dirs, args.flags.count as number | undefined, args.flags.for as number | undefined);
    });
  }),
};

async function follow(s: FsSession, at: Resolved, recursive: boolean, dirs: DirPaths, count: number | undefined, forMs: number | undefined): Promise<void> {
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const timer = forMs ? setTimeout(onSignal, forMs) : undefined;
  try {
    let seen = 0;
    const onReady = () => process.stderr.write(`watching ${showPath(at.parts)}\n`);
    for await (const ev of s.client.watch({ mount: s.mount, rootInode: at.inode, recursive, onReady, signal: stop.signal })) {
      const p = showPath(dirs.pathOf(ev));
      if (recursive && ev.kind === 'created') await dirs.learn(s, ev);
      const cursor = { region_id: ev.cursor.regionId.toString(), term: ev.cursor.term.toString(), index: ev.cursor.index.toString() };
      s.out(s.json ? JSON.stringify({ kind: ev.kind, path: p, parent: Number(ev.parent), commit_version: ev.commitVersion.toString(), cursor }) : `${ev.kind}\t${p}`);
      if (count !== undefined && ++seen >= count) break;
    }
  } finally {
    if (timer) clearTimeout(timer);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

export const fsTreeCommands: Command[] = [tree, duCommand, quota, watch];
