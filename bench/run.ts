// Runs every benchmark (dist/bench/*.bench.js) one after another in its own process, or only those whose
// name contains one of the given words: `npm run bench -- raft storage`. Benchmarks print their own tables;
// a benchmark that fails or overruns is reported but never fails the run: speed never breaks a build.
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const PER_BENCH_LIMIT_MS = 180_000;
const here = dirname(fileURLToPath(import.meta.url));
const filters = process.argv.slice(2);
const files = readdirSync(here)
  .filter((f) => f.endsWith('.bench.js'))
  .filter((f) => filters.length === 0 || filters.some((w) => f.includes(w)))
  .sort();

function runOne(file: string): Promise<string> {
  return new Promise((resolve) => {
    const started = Date.now();
    const child = spawn(process.execPath, [join(here, file)], { stdio: 'inherit' });
    const timer = setTimeout(() => child.kill('SIGKILL'), PER_BENCH_LIMIT_MS);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      const secs = ((Date.now() - started) / 1000).toFixed(1);
      resolve(code === 0 ? `ok   ${file} (${secs} s)` : `FAIL ${file} (${signal ?? `exit ${code}`}, ${secs} s)`);
    });
  });
}

const summary: string[] = [];
for (const file of files) {
  process.stdout.write(`\n=== ${file}\n`);
  summary.push(await runOne(file));
}
process.stdout.write(`\n=== summary (${new Date().toISOString()}, node ${process.version})\n${summary.join('\n')}\n`);
