// Owns the summary statistics the benchmarks print (medians, percentiles, means), so every table in
// docs/benchmarks.md reads its numbers by one rule.
//
// Index rule: on the ascending sort of n values, the percentile p (a fraction, 0 <= p <= 1) is the value at
// index min(n - 1, floor(p * n)). The median is percentile 0.5: the middle value for odd n, the upper of the
// two middle values for even n (no interpolation, so a printed number is always one that was measured).
// p = 1 gives the maximum. Empty input gives NaN, which prints as "NaN" rather than a plausible 0.

/** Percentile `p` (a fraction) of values already sorted ascending; for loops that sort once and read several. */
export function percentileOfSorted(sorted: readonly number[], p: number): number {
  // A percent (99) where a fraction (0.99) belongs would silently read the maximum.
  if (!(p >= 0 && p <= 1)) throw new RangeError(`percentile must be a fraction in [0, 1], got ${p}`);
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
}

/** A sorted copy; the caller's array is left as it was. */
export function sortedCopy(xs: readonly number[]): number[] {
  return [...xs].sort((a, b) => a - b);
}

/** Percentile `p` (a fraction) of `xs`, which it does not reorder. */
export function percentile(xs: readonly number[], p: number): number {
  return percentileOfSorted(sortedCopy(xs), p);
}

export function median(xs: readonly number[]): number {
  return percentile(xs, 0.5);
}

/** Arithmetic mean; NaN for no values. */
export function mean(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  let sum = 0;
  for (const x of xs) sum += x;
  return sum / xs.length;
}

export interface Summary {
  count: number;
  avg: number;
  p50: number;
  p95: number;
  p99: number;
}

/** Count, mean and the percentiles a latency row prints, from one sort. */
export function summarize(xs: readonly number[]): Summary {
  const s = sortedCopy(xs);
  return { count: s.length, avg: mean(s), p50: percentileOfSorted(s, 0.5), p95: percentileOfSorted(s, 0.95), p99: percentileOfSorted(s, 0.99) };
}

/**
 * Calls `fn` once to warm up (JIT, connections, caches; its result is dropped), then `runs` times one after
 * another, and returns the median of what those calls returned (typically a rate).
 */
export async function medianOfRuns(runs: number, fn: () => number | Promise<number>): Promise<number> {
  await fn();
  const xs: number[] = [];
  for (let i = 0; i < runs; i++) xs.push(await fn());
  return median(xs);
}
