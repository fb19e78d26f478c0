// Runs the deterministic raft simulator on a fixed range of seeds (the CLI runs hundreds), and checks that
// its checkers are not vacuous: a host that sends before persisting must be caught.
import { expect } from 'chai';
import { runSeed } from './raft-sim.js';

const SEEDS = 200;

describe('raft deterministic simulation', function () {
  // CPU-bound: about 30 s idle for the 200 seeds, several times that on a saturated two-core machine.
  this.timeout(300_000);

  it(`keeps every safety property and converges after healing, seeds 1..${SEEDS} (3 and 5 nodes)`, () => {
    const failures: string[] = [];
    let acked = 0;
    let reads = 0;
    let snapshots = 0;
    const sizes = new Set<number>();
    for (let seed = 1; seed <= SEEDS; seed++) {
      const r = runSeed({ seed });
      if (!r.ok) failures.push(`seed ${seed}: ${r.error}\n  reproduce with --seed=${seed}`);
      acked += r.stats.writesAcked;
      reads += r.stats.readsServed;
      snapshots += r.stats.snapshotsInstalled;
      sizes.add(r.stats.nodes);
    }
    expect(failures, failures.join('\n')).to.deep.equal([]);
    // The workload really exercised what the checkers check.
    expect(sizes).to.deep.equal(new Set([3, 5]));
    expect(acked).to.be.greaterThan(SEEDS * 20);
    expect(reads).to.be.greaterThan(SEEDS * 5);
    expect(snapshots).to.be.greaterThan(SEEDS);
  });

  it('replays a seed identically', () => {
    const a = runSeed({ seed: 7 });
    const b = runSeed({ seed: 7 });
    expect(b).to.deep.equal(a);
  });

  it('catches a host that sends messages before persisting them', () => {
    let caught = 0;
    for (let seed = 1; seed <= 60; seed++) if (!runSeed({ seed, brokenHostSendsBeforePersist: true }).ok) caught++;
    expect(caught).to.be.greaterThan(0);
  });
});
