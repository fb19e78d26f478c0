// Owns how `nokv fs` prints records: ls -l rows, stat blocks, tree drawings, and the JSON shape of an entry
// (ids and sizes as numbers, nanosecond times as decimal strings because they pass 2^53).
import type { Inode } from '../fsmeta.js';

/** "drwxr-xr-x" / "-rw-r--r--" from the type and the low 12 mode bits. */
export function modeString(type: Inode['type'], mode: number): string {
  const bits = 'rwxrwxrwx'.split('').map((c, i) => (mode & (0o400 >> i) ? c : '-')).join('');
  return (type === 'directory' ? 'd' : '-') + bits;
}

/** A nanosecond Unix time as "2026-12-04 18:55" (UTC), or "-" when unset. */
export function shortTime(ns: bigint): string {
  if (ns <= 0n) return '-';
  return new Date(Number(ns / 1_000_000n)).toISOString().slice(0, 16).replace('T', ' ');
}

/** A nanosecond Unix time with its nanoseconds, "2026-12-04T18:55:00.123456789Z", or "-". */
export function fullTime(ns: bigint): string {
  if (ns <= 0n) return '-';
  const iso = new Date(Number(ns / 1_000_000_000n) * 1000).toISOString().slice(0, 19);
  return `${iso}.${(ns % 1_000_000_000n).toString().padStart(9, '0')}Z`;
}

export interface EntryJson {
  name: string;
  path: string;
  inode: number;
  type: Inode['type'];
  size: number;
  mode: string;
  link_count: number;
  created_unix_ns: string;
  updated_unix_ns: string;
}

export function entryJson(name: string, path: string, i: Inode): EntryJson {
  return {
    name, path, inode: Number(i.inode), type: i.type, size: Number(i.size), mode: i.mode.toString(8).padStart(4, '0'),
    link_count: i.linkCount, created_unix_ns: i.createdUnixNs.toString(), updated_unix_ns: i.updatedUnixNs.toString(),
  };
}

/** `ls -l` rows with right-aligned link and size columns. */
export function longRows(rows: { name: string; inode: Inode }[]): string[] {
  const links = Math.max(1, ...rows.map((r) => String(r.inode.linkCount).length));
  const sizes = Math.max(1, ...rows.map((r) => String(r.inode.size).length));
  return rows.map(({ name, inode: i }) => {
    const t = i.updatedUnixNs > 0n ? i.updatedUnixNs : i.createdUnixNs;
    return `${modeString(i.type, i.mode)} ${String(i.linkCount).padStart(links)} ${String(i.size).padStart(sizes)} ${shortTime(t)} ${name}`;
  });
}

export function statText(path: string, i: Inode): string {
  const mode = `(${i.mode.toString(8).padStart(4, '0')}/${modeString(i.type, i.mode)})`;
  return [
    `  File: ${path}`,
    `  Size: ${String(i.size).padEnd(12)} Inode: ${String(i.inode).padEnd(12)} Links: ${i.linkCount}`,
    `  Type: ${i.type === 'directory' ? 'directory' : 'regular file'}`,
    `Access: ${mode}`,
    `Modify: ${fullTime(i.updatedUnixNs)}`,
    ` Birth: ${fullTime(i.createdUnixNs)}`,
  ].join('\n');
}

export interface TreeNode {
  name: string;
  type: Inode['type'];
  children?: TreeNode[];
}

/** The lines `tree` prints below a root line: "├── a", "│   └── b", "└── c". */
export function treeLines(children: TreeNode[], prefix = ''): string[] {
  const out: string[] = [];
  children.forEach((c, i) => {
    const last = i === children.length - 1;
    out.push(`${prefix}${last ? '└── ' : '├── '}${c.name}`);
    if (c.children) out.push(...treeLines(c.children, prefix + (last ? '    ' : '│   ')));
  });
  return out;
}

export function countTree(children: TreeNode[]): { directories: number; files: number } {
  let directories = 0;
  let files = 0;
  for (const c of children) {
    if (c.type === 'directory') {
      directories++;
      const sub = countTree(c.children ?? []);
      directories += sub.directories;
      files += sub.files;
    } else files++;
  }
  return { directories, files };
}

export const plural = (n: number, one: string, many: string) => `${n} ${n === 1 ? one : many}`;
