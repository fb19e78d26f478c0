// Mocha reporter: the usual spec output, then one closing line `N passed, N failed, N skipped` alone on a
// line, which CI reads. Failed hooks (including the leak check) count as failures. Before it, the slowest test
// files with their wall time (hooks included), so a run that grows past its budget shows where.
import Mocha = require('mocha');

const { Spec } = Mocha.reporters;
const { EVENT_RUN_END, EVENT_TEST_PASS, EVENT_TEST_FAIL, EVENT_TEST_PENDING, EVENT_SUITE_BEGIN, EVENT_SUITE_END } = Mocha.Runner.constants;
const SLOWEST_FILES = 15;
const shortName = (file: string) => file.replace(/^.*?dist\//, '');

class SummaryReporter extends Spec {
  constructor(runner: Mocha.Runner, options?: Mocha.MochaOptions) {
    super(runner, options);
    let passed = 0;
    let failed = 0;
    let skipped = 0;
    // Per file: the suite's wall time when events arrive live (serial runs), or the sum of its tests' durations
    // when a parallel run replays a finished file's events at once (then its hooks are not counted).
    const testMs = new Map<string, number>();
    const addTest = (test: Mocha.Test) => {
      if (test.file && test.duration) testMs.set(shortName(test.file), (testMs.get(shortName(test.file)) ?? 0) + test.duration);
    };
    runner.on(EVENT_TEST_PASS, (test: Mocha.Test) => {
      passed++;
      addTest(test);
    });
    runner.on(EVENT_TEST_FAIL, (test: Mocha.Test) => {
      failed++;
      addTest(test);
    });
    runner.on(EVENT_TEST_PENDING, () => skipped++);
    const fileMs = new Map<string, number>();
    const began = new Map<Mocha.Suite, number>();
    runner.on(EVENT_SUITE_BEGIN, (suite: Mocha.Suite) => {
      if (suite.parent?.root && suite.file) began.set(suite, Date.now());
    });
    runner.on(EVENT_SUITE_END, (suite: Mocha.Suite) => {
      const t0 = began.get(suite);
      if (t0 === undefined || !suite.file) return;
      const file = shortName(suite.file);
      fileMs.set(file, (fileMs.get(file) ?? 0) + Date.now() - t0);
    });
    runner.once(EVENT_RUN_END, () => {
      for (const [file, ms] of testMs) if ((fileMs.get(file) ?? 0) < ms) fileMs.set(file, ms);
      if (fileMs.size > 1) {
        const total = [...fileMs.values()].reduce((a, b) => a + b, 0);
        process.stdout.write(`\nslowest files (of ${fileMs.size}, ${Math.round(total / 1000)} s in suites):\n`);
        for (const [file, ms] of [...fileMs].sort((a, b) => b[1] - a[1]).slice(0, SLOWEST_FILES)) {
          process.stdout.write(`  ${(ms / 1000).toFixed(1).padStart(6)} s  ${file}\n`);
        }
      }
      process.stdout.write(`\n${passed} passed, ${failed} failed, ${skipped} skipped\n`);
    });
  }
}

export = SummaryReporter;
