// Owns CpuPool: a small piscina pool for stateless CPU work (checksums, encoding big snapshots, benchmark
// load) so it never blocks an actor's thread. Actors are for state; this is for pure functions of inputs.
import { Piscina } from 'piscina';
import { InvalidArgumentError } from '../common/errors.js';
import { trackResource } from '../common/resources.js';

export interface CpuPoolOptions {
  /** Upper bound on pool threads; the machine is small and shared, so the default is 1. */
  maxThreads?: number;
  /** An idle thread exits after this long. */
  idleTimeoutMs?: number;
  /** Jobs allowed to wait for a thread before run() rejects. */
  maxQueue?: number;
}

/** Jobs waiting beyond this are refused rather than queued without bound. */
export const DEFAULT_CPU_QUEUE_LIMIT = 1_000;
export const MAX_CPU_THREADS = 8;

const JOBS = new URL('./cpu-jobs.js', import.meta.url).href;

export class CpuPool {
  private readonly pool: Piscina;
  private untrack: (() => void) | undefined;

  constructor(opts: CpuPoolOptions = {}) {
    const maxThreads = opts.maxThreads ?? 1;
    if (!Number.isInteger(maxThreads) || maxThreads < 1 || maxThreads > MAX_CPU_THREADS) {
      throw new InvalidArgumentError(`maxThreads must be in 1..${MAX_CPU_THREADS}, got ${maxThreads}`);
    }
    this.pool = new Piscina({
      filename: JOBS,
      minThreads: 0,
      maxThreads,
      idleTimeout: opts.idleTimeoutMs ?? 10_000,
      maxQueue: opts.maxQueue ?? DEFAULT_CPU_QUEUE_LIMIT,
    });
    this.untrack = trackResource({ kind: 'worker', description: `cpu pool (${maxThreads} threads)` });
  }

  crc32(data: Uint8Array, seed = 0): Promise<number> {
    return this.pool.run({ data, seed }, { name: 'crc32' }) as Promise<number>;
  }

  msgpackEncode(value: unknown): Promise<Uint8Array> {
    return this.pool.run({ value }, { name: 'msgpackEncode' }) as Promise<Uint8Array>;
  }

  /** Threads currently in the pool (for tests and /debug/vars). */
  get threadCount(): number {
    return this.pool.threads.length;
  }

  async destroy(): Promise<void> {
    if (!this.untrack) return;
    await this.pool.destroy();
    this.untrack();
    this.untrack = undefined;
  }
}
