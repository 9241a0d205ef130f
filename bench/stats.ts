/** Small numeric helpers of the benchmark: pipelining, percentiles, histogram quantiles. */

/**
 * Runs `fn(0..n-1)` with at most `window` calls in flight (pipelined publishing: the next
 * publish starts as soon as one of the window is acknowledged). Rejects on the first failure.
 */
export async function pipelined(n: number, window: number, fn: (i: number) => Promise<unknown>, onProgress?: (done: number) => void): Promise<void> {
  let next = 0;
  let done = 0;
  const lane = async () => {
    while (next < n) {
      const i = next++;
      await fn(i);
      done++;
      if (onProgress && done % 1000 === 0) onProgress(done);
    }
  };
  await Promise.all(Array.from({ length: Math.min(window, n) }, lane));
}

/** Nearest-rank percentile (p in 0..100) of unsorted samples; NaN when empty. */
export function percentile(samples: number[], p: number): number {
  if (!samples.length) return NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank];
}

/** Cumulative bucket counts of a Prometheus histogram (upper bound → count ≤ bound). */
export type Buckets = Map<number, number>;

/** Bucket-wise difference `after - before` (the observations made in between). */
export function bucketDelta(after: Buckets, before: Buckets): Buckets {
  const out: Buckets = new Map();
  for (const [le, count] of after) out.set(le, count - (before.get(le) ?? 0));
  return out;
}

/**
 * Quantile q (0..1) of a cumulative histogram, linearly interpolated inside the bucket, as
 * Prometheus' `histogram_quantile` does. Returns the last finite bound if it falls in +Inf.
 */
export function histogramQuantile(buckets: Buckets, q: number): number {
  const bounds = [...buckets.keys()].sort((a, b) => a - b);
  const total = buckets.get(Infinity) ?? buckets.get(bounds[bounds.length - 1]) ?? 0;
  if (!total) return NaN;
  const rank = q * total;
  let prevBound = 0;
  let prevCount = 0;
  for (const le of bounds) {
    const count = buckets.get(le)!;
    if (count >= rank) {
      if (le === Infinity) return prevBound;
      return prevBound + ((le - prevBound) * (rank - prevCount)) / Math.max(1, count - prevCount);
    }
    prevBound = le;
    prevCount = count;
  }
  return prevBound;
}

export const round = (x: number, digits = 1): number => (Number.isFinite(x) ? Number(x.toFixed(digits)) : x);
