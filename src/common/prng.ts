// Owns seeded randomness. Every source of jitter in pure code comes from a Prng so that one seed replays a run.

export interface Prng {
  /** Uniform float in [0, 1). */
  next(): number;
  /** Uniform integer in [0, n). */
  int(n: number): number;
  /** True with probability p. */
  chance(p: number): boolean;
  /** A child generator whose stream is independent of, but determined by, this one. */
  fork(): Prng;
}

/** sfc32: small, fast and good enough for simulation; state is four 32-bit words derived from the seed. */
export class SeededPrng implements Prng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(readonly seed: number) {
    this.a = 0x9e3779b9;
    this.b = 0x243f6a88;
    this.c = 0xb7e15162;
    this.d = seed >>> 0;
    for (let i = 0; i < 15; i++) this.next();
  }

  next(): number {
    this.a >>>= 0; this.b >>>= 0; this.c >>>= 0; this.d >>>= 0;
    let t = (this.a + this.b) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.d = (this.d + 1) | 0;
    t = (t + this.d) | 0;
    this.c = (this.c + t) | 0;
    return (t >>> 0) / 4294967296;
  }

  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  fork(): Prng {
    return new SeededPrng(this.int(0xffffffff));
  }
}

/** A process-level generator for production code paths: seeded from the environment so runs can be replayed. */
export function defaultPrng(): Prng {
  const fromEnv = Number(process.env.NOKV_SEED);
  const seed = Number.isFinite(fromEnv) && process.env.NOKV_SEED ? fromEnv : (Date.now() ^ (process.pid << 16)) >>> 0;
  return new SeededPrng(seed);
}
