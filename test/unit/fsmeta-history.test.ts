// Linearizability of the fsmeta API on the executor: concurrent batches of seeded operations must be explained
// by a serial order consistent with real time whose results equal the reference model's.
import { expect } from 'chai';
import { checkHistory } from '../fixtures/fsmeta-history.js';

const SEEDS = Number(process.env.FSMETA_HISTORY_SEEDS ?? 60);
const FIRST_SEED = Number(process.env.FSMETA_SEED ?? 1);
const STEPS = 80;
const BATCH = 4;

describe('fsmeta concurrent history checker', function () {
  this.timeout(60_000);

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
});
