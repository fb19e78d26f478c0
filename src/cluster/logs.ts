// Owns `nokv cluster logs [NAME…] [-f]`: the JSON log lines of the manager ("cluster", with its one line per
// role-state change) and of every role process, merged in time order and rendered for people, like
// `docker compose logs`. --trace keeps only the lines of one request (the trace id a gRPC call carries);
// --json passes the JSON through, one object per line, with the process name added.
import { existsSync, openSync, readSync, closeSync, statSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from '../cli/command.js';
import { UsageError, type Parsed } from '../cli/flags.js';
import { resolveTarget } from '../cli/target.js';
import { UnavailableError } from '../common/errors.js';
import { formatPretty } from '../common/log.js';

/** How often -f looks for new lines. */
const FOLLOW_POLL_MS = 250;
/** Largest slice of one file read at once. */
const READ_CHUNK_BYTES = 1 << 20;

interface Entry {
  name: string;
  time: string;
  line: string;
  json?: Record<string, unknown>;
}

/** Reads a file from `offset`; returns the complete lines and the offset after the last one. */
function readLines(file: string, offset: number): { lines: string[]; offset: number } {
  const size = statSync(file).size;
  if (size < offset) offset = 0; // truncated or replaced: start over
  const fd = openSync(file, 'r');
  try {
    const lines: string[] = [];
    let rest = '';
    while (offset < size) {
      const buf = Buffer.alloc(Math.min(READ_CHUNK_BYTES, size - offset));
      const n = readSync(fd, buf, 0, buf.length, offset);
      if (n <= 0) break;
      const text = rest + buf.subarray(0, n).toString('utf8');
      const parts = text.split('\n');
      rest = parts.pop()!;
      lines.push(...parts.filter((l) => l.length > 0));
      offset += n;
    }
    return { lines, offset: offset - Buffer.byteLength(rest) };
  } finally {
    closeSync(fd);
  }
}

function parse(name: string, line: string): Entry {
  try {
    const json = JSON.parse(line) as Record<string, unknown>;
    if (json && typeof json === 'object') return { name, time: String(json.time ?? ''), line, json };
  } catch {
    // not JSON (a stack trace on stderr): shown as it is
  }
  return { name, time: '', line };
}

function matches(e: Entry, trace: string | undefined): boolean {
  if (trace === undefined) return true;
  const t = e.json?.trace;
  return typeof t === 'string' && t.startsWith(trace);
}

function render(e: Entry, width: number, json: boolean): string {
  if (json) return JSON.stringify(e.json ? { name: e.name, ...e.json } : { name: e.name, text: e.line });
  const text = e.json ? formatPretty(e.json) : e.line;
  return `${e.name.padEnd(width)} | ${text}`;
}

/** The log files to show: NAME… (with or without `nokv-`), else every one in the data dir's logs/. */
function selectFiles(logDir: string, names: string[]): Map<string, string> {
  if (!existsSync(logDir)) throw new UnavailableError(`no logs in ${logDir}: has this cluster ever started?`);
  const all = new Map(readdirSync(logDir).filter((f) => f.endsWith('.log')).map((f) => [f.slice(0, -4), join(logDir, f)]));
  if (names.length === 0) return all;
  const out = new Map<string, string>();
  for (const raw of names) {
    const n = raw.startsWith('nokv-') ? raw.slice(5) : raw;
    const f = all.get(n);
    if (!f) throw new UsageError(`no log for "${raw}" (one of ${[...all.keys()].sort().join(', ')})`);
    out.set(n, f);
  }
  return out;
}

async function runLogs({ flags, positionals }: Parsed): Promise<number> {
  const t = resolveTarget(flags);
  const files = selectFiles(t.paths.logDir, positionals);
  const trace = flags.trace as string | undefined;
  const json = Boolean(flags.json);
  const tail = flags.tail as number;
  const width = Math.max(...[...files.keys()].map((n) => n.length));
  const offsets = new Map<string, number>();
  // Everything so far, merged by time (lines without a time keep their place after the one before them).
  const first: Entry[] = [];
  for (const [name, file] of files) {
    const { lines, offset } = readLines(file, 0);
    offsets.set(name, offset);
    first.push(...lines.map((l) => parse(name, l)).filter((e) => matches(e, trace)));
  }
  first.sort((a, b) => (a.time && b.time ? a.time.localeCompare(b.time) : 0));
  for (const e of tail > 0 ? first.slice(-tail) : first) process.stdout.write(render(e, width, json) + '\n');
  if (!flags.follow) return 0;
  let stopped = false;
  const onSignal = () => (stopped = true);
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    while (!stopped) {
      await new Promise((r) => setTimeout(r, FOLLOW_POLL_MS));
      for (const [name, file] of files) {
        if (!existsSync(file)) continue;
        const { lines, offset } = readLines(file, offsets.get(name) ?? 0);
        offsets.set(name, offset);
        for (const l of lines) {
          const e = parse(name, l);
          if (matches(e, trace)) process.stdout.write(render(e, width, json) + '\n');
        }
      }
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  return 0;
}

export const logsCommand: Command = {
  name: 'logs',
  summary: 'the logs of the manager ("cluster") and of every role, merged and readable; -f follows them',
  usage: '[NAME…] [flags]',
  flags: {
    follow: { type: 'bool', short: 'f', help: 'keep printing new lines until interrupted' },
    trace: { type: 'string', help: 'only lines of this trace id (or a prefix of it)' },
    tail: { type: 'int', help: 'print only the last N lines of the history first (0 = all)', default: 200, min: 0 },
  },
  run: runLogs,
};
