// The benchmarks' summary statistics (bench/stats.ts): the index rule on small known arrays, NaN for no
// values, inputs left unsorted, a percent passed where a fraction belongs refused, and the warm-up call of
// medianOfRuns kept out of the median.
import { expect } from 'chai';
import { mean, median, medianOfRuns, percentile, percentileOfSorted, summarize } from '../../bench/stats.js';

describe('bench statistics', () => {
  it('takes the value at index min(n-1, floor(p*n)) of the ascending sort', () => {
    const xs = [50, 10, 40, 20, 30]; // sorted: 10 20 30 40 50
    expect(percentile(xs, 0)).to.equal(10);
    expect(percentile(xs, 0.2)).to.equal(20); // floor(1.0) = 1
    expect(percentile(xs, 0.5)).to.equal(30); // floor(2.5) = 2
    expect(percentile(xs, 0.79)).to.equal(40); // floor(3.95) = 3
    expect(percentile(xs, 0.99)).to.equal(50); // floor(4.95) = 4
    expect(percentile(xs, 1)).to.equal(50); // clamped to n-1
    const hundred = Array.from({ length: 100 }, (_, i) => 100 - i); // 1..100 reversed
    expect(percentile(hundred, 0.5)).to.equal(51);
    expect(percentile(hundred, 0.95)).to.equal(96);
    expect(percentile(hundred, 0.99)).to.equal(100);
  });

  it('gives the odd median the middle value and the even median the upper middle one', () => {
    expect(median([3, 1, 2])).to.equal(2);
    expect(median([4, 1, 3, 2])).to.equal(3);
    expect(median([7])).to.equal(7);
    expect(median([2, 1])).to.equal(2);
  });

  it('gives NaN for no values', () => {
    expect(median([])).to.be.NaN;
    expect(percentile([], 0.99)).to.be.NaN;
    expect(percentileOfSorted([], 0.5)).to.be.NaN;
    expect(mean([])).to.be.NaN;
    const s = summarize([]);
    expect(s.count).to.equal(0);
    for (const v of [s.avg, s.p50, s.p95, s.p99]) expect(v).to.be.NaN;
  });

  it('does not reorder its input', () => {
    const xs = [5, 3, 9, 1, 7];
    median(xs);
    percentile(xs, 0.9);
    summarize(xs);
    expect(xs).to.deep.equal([5, 3, 9, 1, 7]);
  });

  it('reads sorted input as given (no sort in the hot-loop variant)', () => {
    expect(percentileOfSorted([1, 2, 3, 4], 0.5)).to.equal(3);
    // Unsorted input to the sorted variant is read by index, which shows it does not sort.
    expect(percentileOfSorted([4, 3, 2, 1], 0.5)).to.equal(2);
  });

  it('refuses a percent where a fraction belongs', () => {
    expect(() => percentile([1, 2, 3], 99)).to.throw(RangeError);
    expect(() => percentileOfSorted([1, 2, 3], -0.1)).to.throw(RangeError);
    expect(() => percentile([1, 2, 3], NaN)).to.throw(RangeError);
  });

  it('sorts numerically, not as strings', () => {
    expect(median([10, 9, 100])).to.equal(10);
    expect(percentile([2, 10, 1], 1)).to.equal(10);
  });

  it('summarizes count, mean and percentiles from one sort', () => {
    const xs = Array.from({ length: 200 }, (_, i) => 200 - i); // 1..200
    expect(summarize(xs)).to.deep.equal({ count: 200, avg: 100.5, p50: 101, p95: 191, p99: 199 });
    expect(mean([1, 2, 6])).to.equal(3);
  });

  it('medianOfRuns drops the warm-up call and takes the median of the rest', async () => {
    const returns = [1000, 5, 3, 4]; // 1000 is the warm-up
    let calls = 0;
    const m = await medianOfRuns(3, async () => returns[calls++]!);
    expect(calls).to.equal(4);
    expect(m).to.equal(4);
    let syncCalls = 0;
    expect(await medianOfRuns(2, () => ++syncCalls)).to.equal(3); // runs return 2, 3; the upper middle
  });
});
