// Which variants a test run covers. `npm test` runs the quick profile: each placement-parameterised suite runs in
// one placement, chosen per suite so that one run still covers every placement (regions on the main thread in one
// suite, on worker shards in another), and the chaos phases run at their default length. `npm run test:long`
// (NOKV_TEST_PROFILE=long) runs every placement of every suite. An explicit list in a suite's own variable
// (NOKV_STORE_WORKERS=0,2, ...) wins over both.

export const LONG_PROFILE = process.env.NOKV_TEST_PROFILE === 'long';

/**
 * The placements (worker-thread counts) a suite runs in: `env` if set (a comma list), else `all` under the long
 * profile, else `quick`.
 */
export function placements(env: string, all: number[], quick: number[]): number[] {
  const set = process.env[env];
  if (set !== undefined && set.trim() !== '') {
    const list = set.split(',').map((s) => Number(s.trim()));
    if (list.some((n) => !Number.isInteger(n) || n < 0)) throw new Error(`${env} must be a comma list of worker counts, got "${set}"`);
    return list;
  }
  return LONG_PROFILE ? all : quick;
}
