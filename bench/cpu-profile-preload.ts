// Loaded into every Node process of a profiled run through NODE_OPTIONS=--import (which refuses --cpu-prof):
// on SIGUSR2 starts the V8 CPU profiler on the main thread, and writes the profile to
// $FSMETA_PROFILE_DIR/<pid>.cpuprofile when the process exits. Started by a signal, not at load, because
// profiling ten processes while they compile their modules slows a cluster's start past its deadlines.
// Benchmarks only (scripts/fsmeta-profile.sh); nothing in the roles knows of it.
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { join } from 'node:path';
import { isMainThread } from 'node:worker_threads';

/** Sampling interval: fine enough for sub-millisecond operations, coarse enough to stay cheap. */
const SAMPLING_INTERVAL_US = 500;

const dir = process.env.FSMETA_PROFILE_DIR;
if (dir && isMainThread) {
  let session: Session | undefined;
  process.on('SIGUSR2', () => {
    if (session) return;
    session = new Session();
    session.connect();
    session.post('Profiler.enable');
    session.post('Profiler.setSamplingInterval', { interval: SAMPLING_INTERVAL_US });
    session.post('Profiler.start');
  });
  // The in-thread session answers synchronously, so the profile can be written from the exit handler.
  process.on('exit', () => {
    session?.post('Profiler.stop', (err, res) => {
      if (!err) writeFileSync(join(dir, `${process.pid}.cpuprofile`), JSON.stringify(res.profile));
    });
  });
}
