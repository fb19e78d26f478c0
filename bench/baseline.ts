// Owns the "before" side of the before/after benchmarks: a commit of this repository extracted with
// `git archive` into a temp dir and compiled there, so its `nokv` runs beside this tree's in one run (the same
// machine load for both). Dependencies: the baseline shares this tree's node_modules through a symlink when its
// package-lock.json is byte-identical (the usual case, and seconds instead of a minute), otherwise it gets its
// own `npm ci`, so a commit that changed a dependency is measured with that dependency.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

/** This repository's root, from dist/bench/baseline.js. */
const REPO = resolve(new URL('../..', import.meta.url).pathname);

export interface Baseline {
  /** The abbreviated commit the ref named when it was built (what the tables print). */
  ref: string;
  /** The extracted, compiled tree. */
  root: string;
  /** Its CLI launcher (bin/nokv.mjs), to run as `node <nokvBin> ...`. */
  nokvBin: string;
  /** Deletes the temp dir (the shared node_modules is only a symlink there). */
  remove(): void;
}

/**
 * Runs a command to completion and returns its stdout; stderr goes to this process's stderr so a benchmark's
 * stdout stays its table. A failure carries the captured stdout (tsc reports type errors there).
 */
function run(cmd: string, args: string[], opts: { cwd?: string; input?: NodeJS.ReadableStream } = {}): Promise<string> {
  return new Promise((done, fail) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, stdio: [opts.input ? 'pipe' : 'ignore', 'pipe', 2] });
    let out = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
    if (opts.input) opts.input.pipe(child.stdin!);
    child.once('error', fail);
    child.once('close', (code, signal) => (code === 0 ? done(out) : fail(new Error(`${cmd} ${args.join(' ')} exited with ${code ?? signal}\n${out.slice(-4000)}`))));
  });
}

/** Extracts `ref` of this repository into a temp dir and builds it there; remove() when done. */
export async function buildBaseline(ref: string): Promise<Baseline> {
  const commit = (await run('git', ['-C', REPO, 'rev-parse', '--short', '--verify', `${ref}^{commit}`])).trim();
  const root = mkdtempSync(join(tmpdir(), 'nokv-baseline-'));
  const remove = () => rmSync(root, { recursive: true, force: true });
  try {
    const archive = spawn('git', ['-C', REPO, 'archive', commit], { stdio: ['ignore', 'pipe', 2] });
    const archived = new Promise<void>((done, fail) => archive.once('close', (code) => (code === 0 ? done() : fail(new Error(`git archive ${commit} exited with ${code}`)))));
    await Promise.all([run('tar', ['-x', '-C', root], { input: archive.stdout! }), archived]);
    if (sameLockfile(root)) symlinkSync(join(REPO, 'node_modules'), join(root, 'node_modules'));
    else {
      process.stderr.write(`baseline ${commit}: package-lock.json differs from this tree's, running npm ci there\n`);
      await run('npm', ['ci', '--no-audit', '--no-fund'], { cwd: root });
    }
    // The baseline's own compiler (from its node_modules), as its own build would use.
    await run(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(root, 'tsconfig.json')], { cwd: root });
    return { ref: commit, root, nokvBin: join(root, 'bin/nokv.mjs'), remove };
  } catch (err) {
    remove();
    throw err;
  }
}

function sameLockfile(root: string): boolean {
  const read = (dir: string) => {
    try {
      return readFileSync(join(dir, 'package-lock.json'));
    } catch {
      return undefined;
    }
  };
  const mine = read(REPO);
  const theirs = read(root);
  return mine !== undefined && theirs !== undefined && mine.equals(theirs);
}
