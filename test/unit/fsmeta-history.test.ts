// Linearizability of the fsmeta API on the executor: concurrent batches of seeded operations must be explained
// by a serial order consistent with real time whose results equal the reference model's, and the stored state
// must be the model's (which includes the audit: no entry under a removed directory). Two scripts: the general
// one, and a hot directory that concurrent creates, renames and links pour into while it is emptied and removed.
import { expect } from 'chai';
import { checkHistory } from '../fixtures/fsmeta-history.js';
import { hotSteps } from '../fixtures/fsmeta-script.js';

const SEEDS = Number(process.env.FSMETA_HISTORY_SEEDS ?? 60);
const FIRST_SEED = Number(process.env.FSMETA_SEED ?? 1);
const STEPS = 80;
const BATCH = 4;
const HOT_SEEDS = Number(process.env.FSMETA_HOT_SEEDS ?? 40);
const HOT_STEPS = 60;
const HOT_BATCH = 5;

describe('fsmeta concurrent history checker', function () {
  this.timeout(120_000);

  it(`finds a real-time-consistent serial order matching the model for ${SEEDS} seeds of concurrent batches`, async () => {
    let ops = 0;
    let aborted = 0;
    let overlapped = 0;
    let conflicts = 0;
    for (let seed = FIRST_SEED; seed < FIRST_SEED + SEEDS; seed++) {
      const r = await checkHistory(seed, STEPS, BATCH);
      expect(r.ok, `${r.failure} (seed ${seed}; reproduce with FSMETA_SEED=${seed} FSMETA_HISTORY_SEEDS=1)`).to.equal(true);
      ops += r.ops;
      aborted += r.aborted;
      overlapped += r.overlapped;
      conflicts += r.conflicts;
    }
    expect(ops).to.be.greaterThan(SEEDS * STEPS * 0.9);
    // Sanity: ops really overlapped, and transactions really collided and were retried.
    expect(overlapped, 'batches with overlapping ops').to.be.greaterThan(SEEDS);
    if (SEEDS >= 20) expect(conflicts, 'write conflicts retried').to.be.greaterThan(0);
    expect(aborted).to.be.lessThan(ops / 10);
  });

  it(`one hot directory: concurrent inserts never conflict with each other and a concurrent RemoveDirectory never leaves an orphan (${HOT_SEEDS} seeds)`, async () => {
    let inserts = 0;
    let conflicts = 0;
    for (let seed = FIRST_SEED; seed < FIRST_SEED + HOT_SEEDS; seed++) {
      const r = await checkHistory(seed, HOT_STEPS, HOT_BATCH, { steps: hotSteps(), noFences: true });
      expect(r.ok, `${r.failure} (seed ${seed}; reproduce with FSMETA_SEED=${seed} FSMETA_HOT_SEEDS=1)`).to.equal(true);
      expect(r.insertOnlyConflicts, `seed ${seed}: conflicts in batches of inserts only`).to.equal(0);
      expect(r.aborted, `seed ${seed}: aborted ops`).to.equal(0);
      inserts += r.ops;
      conflicts += r.conflicts;
    }
    // Sanity: removals really raced inserts (those do conflict, and the retry decides).
    if (HOT_SEEDS >= 20) expect(conflicts, 'removal-vs-insert conflicts retried').to.be.greaterThan(0);
    expect(inserts).to.be.greaterThan(HOT_SEEDS * HOT_STEPS * 0.9);
  });
});
