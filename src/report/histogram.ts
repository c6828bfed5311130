/**
 * Summaries of bpftrace log2 histograms. A bucket with lower bound `low`
 * holds values in [low, 2*low - 1] (bpftrace's hist(): 0, 1, [2,3], [4,7], ...),
 * so quantiles are known only to a bucket: we report the bucket's upper bound
 * ("p99 <= X"), never a made-up interpolated value.
 */

export interface LatencySummary {
  count: number;
  /** Lower bound of the lowest non-empty bucket. */
  minNs: number;
  /** Upper bounds of the buckets holding the 50th and 99th percentiles. */
  p50Ns: number;
  p99Ns: number;
  /** Upper bound of the highest non-empty bucket. */
  maxNs: number;
}

export function bucketHigh(low: number): number {
  return low <= 1 ? low : 2 * low - 1;
}

export function summarize(buckets: ReadonlyMap<number, number> | undefined): LatencySummary | undefined {
  if (!buckets) return undefined;
  const sorted = [...buckets].filter(([, n]) => n > 0).sort((a, b) => a[0] - b[0]);
  const count = sorted.reduce((a, [, n]) => a + n, 0);
  if (count === 0) return undefined;
  const quantile = (q: number): number => {
    const target = Math.max(1, Math.ceil(q * count));
    let seen = 0;
    for (const [low, n] of sorted) {
      seen += n;
      if (seen >= target) return bucketHigh(low);
    }
    return bucketHigh((sorted.at(-1) as [number, number])[0]);
  };
  return {
    count,
    minNs: (sorted[0] as [number, number])[0],
    p50Ns: quantile(0.5),
    p99Ns: quantile(0.99),
    maxNs: bucketHigh((sorted.at(-1) as [number, number])[0]),
  };
}

export function mergeBuckets(into: Map<number, number>, from: ReadonlyMap<number, number>): void {
  for (const [low, n] of from) into.set(low, (into.get(low) ?? 0) + n);
}

/** 1234567 ns -> "1.23ms". */
export function formatNs(ns: number): string {
  if (ns < 1_000) return `${ns}ns`;
  if (ns < 1_000_000) return `${(ns / 1_000).toFixed(ns < 10_000 ? 2 : 1)}us`;
  if (ns < 1_000_000_000) return `${(ns / 1_000_000).toFixed(ns < 10_000_000 ? 2 : 1)}ms`;
  return `${(ns / 1_000_000_000).toFixed(2)}s`;
}
