// Owns `nokv fs`: a person's view of a mount over the fsmeta API, path based, coreutils' verbs and wording
// (ls [-l], stat, mkdir [-p], touch, mv [-n], rm [-r] [-f], ln here; tree, du, quota, watch in walk-commands.ts).
// Every command takes --mount (default "default", the mount `cluster up` registers) and --json.
import type { Command } from '../../cli/command.js';
import { UsageError, type FlagSpecs, type Parsed } from '../../cli/flags.js';
import { fsTreeCommands } from './walk-commands.js';
import { EEXIST, EISDIR, ENOTDIR, FsPathError, showName, showPath, splitPath, type Resolved } from './paths.js';
import { fsFlags, withFs, type FsSession } from './session.js';
import { entryJson, longRows, statText } from './format.js';

const q = (path: string) => `'${path}'`;
const nowNs = () => BigInt(Date.now()) * 1_000_000n;

function operands(args: Parsed, min: number, usage: string): string[] {
  if (args.positionals.length < min) throw new UsageError(`missing operand (usage: ${usage})`);
  return args.positionals;
}

const boolFlag = (short: string, help: string): FlagSpecs[string] => ({ type: 'bool', help, short });

const ls: Command = {
  name: 'ls',
  summary: 'list a directory (-l: mode, links, size, modified)',
  usage: '[-l] [PATH...]',
  flags: { ...fsFlags, long: boolFlag('l', 'long listing') },
  run: (args) => withFs('ls', args, async (s) => {
    const paths = args.positionals.length > 0 ? args.positionals : ['/'];
    const all: Record<string, unknown[]> = {};
    for (const path of paths) {
      await s.each((r) => `cannot access ${q(path)}: ${r}`, async () => {
        const at = await s.walk.resolve(splitPath(path));
        const rows = at.type === 'directory' ? await listDir(s, at) : [{ name: at.parts[at.parts.length - 1]!, inode: await s.client.getAttr(s.mount, at.inode) }];
        if (s.json) all[path] = rows.map((r) => entryJson(r.name, showPath([...(at.type === 'directory' ? at.parts : at.parts.slice(0, -1)), r.name]), r.inode));
        else {
          if (paths.length > 1) s.out(`${path}:`);
          for (const line of args.flags.long ? longRows(rows) : rows.map((r) => r.name)) s.out(line);
        }
      });
    }
    if (s.json) s.out(JSON.stringify(paths.length === 1 ? (all[paths[0]!] ?? []) : all));
  }),
};

async function listDir(s: FsSession, dir: Resolved) {
  const rows = [];
  for await (const e of s.client.list(s.mount, dir.inode)) rows.push({ name: showName(e.dentry.name), inode: e.inode });
  return rows;
}

const stat: Command = {
  name: 'stat',
  summary: 'show an entry: inode, type, size, mode, links, times',
  usage: 'PATH...',
  flags: fsFlags,
  run: (args) => withFs('stat', args, async (s) => {
    const out: unknown[] = [];
    for (const path of operands(args, 1, 'nokv fs stat PATH...')) {
      await s.each((r) => `cannot stat ${q(path)}: ${r}`, async () => {
        const at = await s.walk.resolve(splitPath(path));
        const inode = await s.client.getAttr(s.mount, at.inode);
        if (s.json) out.push(entryJson(at.parts[at.parts.length - 1] ?? '/', showPath(at.parts), inode));
        else s.out(statText(showPath(at.parts), inode));
      });
    }
    if (s.json) s.out(JSON.stringify(args.positionals.length === 1 ? out[0] ?? null : out));
  }),
};

const mkdir: Command = {
  name: 'mkdir',
  summary: 'make directories (-p: parents too, no error if they exist)',
  usage: '[-p] PATH...',
  flags: { ...fsFlags, parents: boolFlag('p', 'make parents as needed; an existing directory is fine'), mode: { type: 'string', help: 'octal mode', default: '755' } },
  run: (args) => withFs('mkdir', args, async (s) => {
    const mode = octal(args.flags.mode as string);
    const made: string[] = [];
    for (const path of operands(args, 1, 'nokv fs mkdir [-p] PATH...')) {
      await s.each((r) => `cannot create directory ${q(path)}: ${r}`, async () => {
        const parts = splitPath(path);
        if (parts.length === 0) throw new FsPathError(EEXIST);
        if (!args.flags.parents) {
          await s.client.create(s.mount, await s.walk.parentDir(parts), parts[parts.length - 1]!, { type: 'directory', mode, createdUnixNs: nowNs(), updatedUnixNs: nowNs() });
          made.push(showPath(parts));
          return;
        }
        let dir = s.walk.root;
        for (let i = 0; i < parts.length; i++) dir = await ensureDir(s, dir, parts.slice(0, i + 1), i === parts.length - 1, mode, made);
      });
    }
    if (s.json) s.out(JSON.stringify({ created: made }));
  }),
};

/** The directory at parts (whose parent is `parent`), made if missing; a file there is "File exists" (or, on the way, "Not a directory"). */
async function ensureDir(s: FsSession, parent: bigint, parts: string[], last: boolean, mode: number, made: string[]): Promise<bigint> {
  const name = parts[parts.length - 1]!;
  for (let attempt = 0; ; attempt++) {
    const have = await s.walk.tryResolve(parts);
    if (have) {
      if (have.type !== 'directory') throw new FsPathError(last ? EEXIST : ENOTDIR);
      return have.inode;
    }
    try {
      const r = await s.client.create(s.mount, parent, name, { type: 'directory', mode, createdUnixNs: nowNs(), updatedUnixNs: nowNs() });
      made.push(showPath(parts));
      return r.inode.inode;
    } catch (err) {
      // Made meanwhile by someone else: look again (once).
      if (attempt > 0 || !(err instanceof Error && (err as { code?: string }).code === 'ALREADY_EXISTS')) throw err;
    }
  }
}

function octal(text: string): number {
  if (!/^[0-7]{1,4}$/.test(text)) throw new UsageError(`--mode takes an octal mode such as 755, not "${text}"`);
  return parseInt(text, 8);
}

const touch: Command = {
  name: 'touch',
  summary: 'create empty files, or set the modified time of existing entries to now',
  usage: 'PATH...',
  flags: { ...fsFlags, mode: { type: 'string', help: 'octal mode of a new file', default: '644' } },
  run: (args) => withFs('touch', args, async (s) => {
    const mode = octal(args.flags.mode as string);
    const done: { path: string; created: boolean }[] = [];
    for (const path of operands(args, 1, 'nokv fs touch PATH...')) {
      await s.each((r) => `cannot touch ${q(path)}: ${r}`, async () => {
        const parts = splitPath(path);
        const have = await s.walk.tryResolve(parts);
        if (have?.parent === undefined && have) {
          await s.client.getAttr(s.mount, have.inode); // the root: nothing to update, but it must answer
        } else if (have) {
          await s.client.updateInode(s.mount, have.parent!, have.name!, have.inode, { updatedUnixNs: nowNs() });
        } else {
          await s.client.create(s.mount, await s.walk.parentDir(parts), parts[parts.length - 1]!, { type: 'file', mode, createdUnixNs: nowNs(), updatedUnixNs: nowNs() });
        }
        done.push({ path: showPath(parts), created: !have });
      });
    }
    if (s.json) s.out(JSON.stringify(done));
  }),
};

/** Where `dest` puts `src`: inside dest when it is a directory (as mv and ln do), else at dest itself. */
async function destination(s: FsSession, src: Resolved, dest: string): Promise<{ parent: bigint; name: Uint8Array; parts: string[] }> {
  const parts = splitPath(dest);
  const have = await s.walk.tryResolve(parts);
  if (have?.type === 'directory') return { parent: have.inode, name: src.name!, parts: [...parts, src.parts[src.parts.length - 1]!] };
  if (parts.length === 0) throw new FsPathError(EEXIST);
  return { parent: await s.walk.parentDir(parts), name: Buffer.from(parts[parts.length - 1]!, 'utf8'), parts };
}

const mv: Command = {
  name: 'mv',
  summary: 'rename or move an entry (into DEST when DEST is a directory); -n: never replace',
  usage: '[-n] SOURCE DEST',
  flags: { ...fsFlags, 'no-clobber': boolFlag('n', 'refuse to replace an existing destination') },
  run: (args) => withFs('mv', args, async (s) => {
    const [src, dest, extra] = operands(args, 2, 'nokv fs mv SOURCE DEST');
    if (extra !== undefined) throw new UsageError(`extra operand ${q(extra)}`);
    await s.each((r) => `cannot move ${q(src!)} to ${q(dest!)}: ${r}`, async () => {
      const from = await s.walk.resolve(splitPath(src!));
      if (from.parent === undefined) throw new FsPathError('Device or resource busy');
      const to = await destination(s, from, dest!);
      await s.client.rename(s.mount, { parent: from.parent, name: from.name! }, { parent: to.parent, name: to.name }, { noReplace: Boolean(args.flags['no-clobber']) });
      if (s.json) s.out(JSON.stringify({ from: showPath(from.parts), to: showPath(to.parts) }));
    });
  }),
};

const ln: Command = {
  name: 'ln',
  summary: 'make a hard link LINK to the file TARGET (inside LINK when it is a directory)',
  usage: 'TARGET LINK',
  flags: fsFlags,
  run: (args) => withFs('ln', args, async (s) => {
    const [target, link, extra] = operands(args, 2, 'nokv fs ln TARGET LINK');
    if (extra !== undefined) throw new UsageError(`extra operand ${q(extra)}`);
    await s.each((r) => `failed to create hard link ${q(link!)} => ${q(target!)}: ${r}`, async () => {
      const from = await s.walk.resolve(splitPath(target!));
      if (from.type === 'directory') throw new FsPathError('hard link not allowed for directory');
      const to = await destination(s, from, link!);
      await s.client.link(s.mount, { parent: from.parent!, name: from.name! }, { parent: to.parent, name: to.name });
      if (s.json) s.out(JSON.stringify({ target: showPath(from.parts), link: showPath(to.parts) }));
    });
  }),
};

const rm: Command = {
  name: 'rm',
  summary: 'remove entries (-r: directories and their contents; -f: a missing one is fine)',
  usage: '[-r] [-f] PATH...',
  flags: { ...fsFlags, recursive: boolFlag('r', 'remove directories and their contents'), force: boolFlag('f', 'ignore missing entries') },
  run: (args) => withFs('rm', args, async (s) => {
    const removed: string[] = [];
    for (const path of operands(args, 1, 'nokv fs rm [-r] PATH...')) {
      await s.each((r) => `cannot remove ${q(path)}: ${r}`, async () => {
        const parts = splitPath(path);
        if (parts.length === 0) throw new FsPathError('refusing to remove the mount root');
        const at = args.flags.force ? await s.walk.tryResolve(parts).catch(() => undefined) : await s.walk.resolve(parts);
        if (!at) return;
        if (at.type === 'directory' && !args.flags.recursive) throw new FsPathError(EISDIR);
        await removeTree(s, at, removed);
      });
    }
    if (s.json) s.out(JSON.stringify({ removed }));
  }),
};

/** Removes an entry; a directory's contents first, depth first, page by page. */
async function removeTree(s: FsSession, at: Resolved, removed: string[]): Promise<void> {
  if (at.type === 'directory') {
    for (;;) {
      const page = await s.client.readDir(s.mount, at.inode, { limit: 256 });
      if (page.entries.length === 0) break;
      for (const d of page.entries) {
        await removeTree(s, { parts: [...at.parts, showName(d.name)], parent: at.inode, name: d.name, inode: d.inode, type: d.type }, removed);
      }
    }
    await s.client.removeDirectory(s.mount, at.parent!, at.name!);
  } else {
    await s.client.unlink(s.mount, at.parent!, at.name!);
  }
  removed.push(showPath(at.parts));
}

export const fsCommand: Command = {
  name: 'fs',
  summary: 'use a mount as a filesystem: ls, stat, mkdir, touch, mv, rm, ln, tree, du, quota, watch',
  subcommands: [ls, stat, mkdir, touch, mv, rm, ln, ...fsTreeCommands],
};
