// Model-based tests of the fsmeta executor on the in-memory KV: hundreds of seeded random scripts, each step run
// on the executor and on the reference model; results and errors must be equal, the stored state must equal the
// model's, and the namespace invariants must hold after every step.
import { expect } from 'chai';
import { SeededPrng } from '../../src/common/prng.js';
import { makeHarness, compareState, fencesFor } from '../fixtures/fsmeta-harness.js';
import { describe as describeStep, nextStep, runOnExecutor, runOnModel } from '../fixtures/fsmeta-script.js';

const SCRIPTS = Number(process.env.FSMETA_MODEL_SCRIPTS ?? 300);
const STEPS = 60;
const FIRST_SEED = Number(process.env.FSMETA_SEED ?? 1);

async function runScript(seed: number): Promise<{ errors: Set<string> }> {
  const prng = new SeededPrng(seed);
  const h = makeHarness(fencesFor(prng));
  const errors = new Set<string>();
  for (let i = 0; i < STEPS; i++) {
    const step = nextStep(prng, h.model);
    const replacing = step.op === 'rename' && h.model.dentries.has(`${step.toParent}/${step.toName}`);
    const got = await runOnExecutor(h.exec, step, h.ctx);
    const want = runOnModel(h.model, step, h.ctx, got);
    const where = `seed ${seed} step ${i} ${describeStep(step)} (reproduce with FSMETA_SEED=${seed} FSMETA_MODEL_SCRIPTS=1)`;
    expect(got, where).to.deep.equal(want);
    if (!got.ok) errors.add(`${step.op}:${got.code}`);
    else if (replacing) errors.add('rename:replaced');
    expect(h.model.check(), `model invariants, ${where}`).to.deep.equal([]);
    expect(await compareState(h), `stored state, ${where}`).to.deep.equal([]);
  }
  return { errors };
}

describe('fsmeta executor against the reference model', function () {
  this.timeout(60_000);

  it(`agrees with the model on every result and error over ${SCRIPTS} seeded scripts of ${STEPS} steps`, async () => {
    const seen = new Set<string>();
    for (let seed = FIRST_SEED; seed < FIRST_SEED + SCRIPTS; seed++) {
      for (const e of (await runScript(seed)).errors) seen.add(e);
    }
    if (SCRIPTS >= 100) {
      // The scripts must actually reach the stricter rules and the common error paths.
      for (const must of [
        'create:ALREADY_EXISTS', 'create:NOT_FOUND', 'create:FAILED_PRECONDITION', 'rename:FAILED_PRECONDITION', 'rename:ALREADY_EXISTS', 'rename:replaced',
        'rmdir:FAILED_PRECONDITION', 'unlink:FAILED_PRECONDITION', 'link:INVALID_ARGUMENT', 'open:ALREADY_EXISTS', 'heartbeat:NOT_FOUND',
        'readdir:NOT_FOUND', 'readdir:FAILED_PRECONDITION',
      ]) {
        expect([...seen], must).to.include(must);
      }
    }
  });
});
