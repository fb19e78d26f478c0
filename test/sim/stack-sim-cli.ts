// Command line of the whole-stack simulator (`npm run sim -- ...`): `--seeds N` runs seeds 1..N (`--from A`
// starts at A) with progress and a summary, exiting 1 on any failure; `--seed S` replays one seed verbosely.
// `--bug NAME` injects a known bug (host-sends-before-persist, disk-acks-before-sync, root-fence-not-kept,
// region-snapshot-omits-locks) to see it caught; `--only kv|meta|txn` runs one scenario.
import { runStackSeed, type StackResult } from './stack-sim.js';
import type { InjectedBug } from './host-cluster.js';

function arg(name: string): string | undefined {
  const argv = process.argv.slice(2);
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === `--${name}`) return argv[i + 1];
    if (argv[i]!.startsWith(`--${name}=`)) return argv[i]!.slice(name.length + 3);
  }
  return undefined;
}

async function main(): Promise<number> {
  const bug = arg('bug') as InjectedBug | undefined;
  const safetyMs = arg('safety-ms') === undefined ? undefined : Number(arg('safety-ms'));
  const only = arg('only') as 'kv' | 'meta' | 'txn' | undefined;
  const one = arg('seed');
  if (one !== undefined) {
    console.log(`seed ${one}${bug ? ` with injected bug ${bug}` : ''}`);
    const r = await runStackSeed({ seed: Number(one), verbose: !process.argv.includes('--quiet'), bug, safetyMs, only });
    console.log(JSON.stringify({ kv: r.kv, meta: r.meta, txn: r.txn }));
    console.log(r.ok ? `seed ${r.seed} ok` : `FAIL seed ${r.seed}: ${r.error}`);
    return r.ok ? 0 : 1;
  }
  const count = Number(arg('seeds') ?? 100);
  const from = Number(arg('from') ?? 1);
  const started = Date.now();
  const failures: StackResult[] = [];
  const totals: Record<string, number> = {};
  for (let seed = from; seed < from + count; seed++) {
    const r = await runStackSeed({ seed, bug, safetyMs, only });
    for (const [k, v] of Object.entries(r.kv ?? {})) totals[`kv.${k}`] = (totals[`kv.${k}`] ?? 0) + v;
    for (const [k, v] of Object.entries(r.meta ?? {})) if (typeof v === 'number') totals[`meta.${k}`] = (totals[`meta.${k}`] ?? 0) + v;
    for (const [k, v] of Object.entries(r.txn ?? {})) totals[`txn.${k}`] = (totals[`txn.${k}`] ?? 0) + v;
    if (!r.ok) {
      failures.push(r);
      console.log(`FAIL seed ${seed}: ${r.error}\n  replay with: npm run sim -- --seed ${seed}${bug ? ` --bug ${bug}` : ''}`);
    }
    const done = seed - from + 1;
    if (done % 25 === 0 || done === count) {
      const s = (Date.now() - started) / 1000;
      console.log(`${done}/${count} seeds, ${failures.length} failed, ${s.toFixed(1)} s (${((done / s) * 60).toFixed(0)} seeds/min)`);
    }
  }
  console.log(`totals: ${JSON.stringify(totals)}`);
  console.log(`${count - failures.length} passed, ${failures.length} failed in ${((Date.now() - started) / 1000).toFixed(1)} s (seeds ${from}..${from + count - 1})`);
  if (failures.length > 0) console.log(`failing seeds: ${failures.map((f) => f.seed).join(' ')}`);
  return failures.length > 0 ? 1 : 0;
}

main().then((code) => (process.exitCode = code), (err) => {
  console.error(err);
  process.exitCode = 2;
});
