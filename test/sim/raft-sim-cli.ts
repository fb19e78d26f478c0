// Command line for the raft simulator: `--seeds N` runs seeds 1..N (or `--from A --seeds N` runs A..A+N-1)
// and prints progress and a summary, exiting 1 on any failure; `--seed S` replays one seed verbosely.
import { runSeed, type SimResult } from './raft-sim.js';

function arg(name: string): string | undefined {
  const argv = process.argv.slice(2);
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === `--${name}`) return argv[i + 1];
    if (argv[i].startsWith(`--${name}=`)) return argv[i].slice(name.length + 3);
  }
  return undefined;
}

function main(): number {
  // --broken-host runs a host that sends before persisting: the checkers must catch it on some seeds.
  const broken = process.argv.includes('--broken-host');
  const one = arg('seed');
  if (one !== undefined) {
    const r = runSeed({ seed: Number(one), verbose: !process.argv.includes('--quiet'), brokenHostSendsBeforePersist: broken });
    console.log(JSON.stringify(r.stats));
    if (!r.ok) {
      console.log(`FAIL seed ${r.seed}: ${r.error}`);
      return 1;
    }
    console.log(`seed ${r.seed} ok`);
    return 0;
  }
  const count = Number(arg('seeds') ?? 100);
  const from = Number(arg('from') ?? 1);
  const started = Date.now();
  const failures: SimResult[] = [];
  const totals = { ticks: 0, delivered: 0, crashes: 0, leaders: 0, writesAcked: 0, readsServed: 0, snapshotsInstalled: 0, confChanges: 0, transfers: 0 };
  for (let seed = from; seed < from + count; seed++) {
    const r = runSeed({ seed, brokenHostSendsBeforePersist: broken });
    for (const k of Object.keys(totals) as (keyof typeof totals)[]) totals[k] += r.stats[k];
    if (!r.ok) {
      failures.push(r);
      console.log(`FAIL seed ${seed}: ${r.error}\n  reproduce with --seed=${seed}`);
    }
    const done = seed - from + 1;
    if (done % 50 === 0 || done === count) {
      console.log(`${done}/${count} seeds, ${failures.length} failed, ${((Date.now() - started) / 1000).toFixed(1)} s`);
    }
  }
  console.log(`totals: ${JSON.stringify(totals)}`);
  console.log(`${count - failures.length} passed, ${failures.length} failed in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  if (failures.length > 0) console.log(`failing seeds: ${failures.map((f) => f.seed).join(' ')}`);
  return failures.length > 0 ? 1 : 0;
}

process.exitCode = main();
