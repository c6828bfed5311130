/**
 * bpftrace's log2 histogram buckets as Prometheus histogram buckets.
 *
 * The kernel's hist() puts an integer value v (ns) in the bucket whose lower bound is 0 (v = 0),
 * 1 (v = 1), or the power of two lo with lo <= v <= 2*lo - 1. The stream carries [lo, count].
 * A Prometheus bucket `le` counts the observations <= le, cumulatively; so the exact `le` of the
 * bucket with lower bound lo is its largest value, 2*lo - 1 ns (0 for lo = 0, 1 ns for lo = 1):
 * the cumulative count at that `le` is exact, as no observation lies between 2*lo - 1 and 2*lo.
 * (src/report/histogram.ts's bucketHigh is the same bound: "p99 <= X".)
 *
 * The sum of the observations is NOT known from log2 buckets: `_sum` is the sum of each bucket's
 * lower bound times its count, a guaranteed lower bound (said in HELP and docs/metrics.md).
 */

/** Indexes 0..64: 0 is lo = 0, 1 is lo = 1, k + 1 is lo = 2^k (a u64 value's buckets). */
export const BUCKET_SLOTS = 65;

/** The slot of a bucket's lower bound; a bound that is not a power of two goes where its values do. */
export function slotOf(lo: number): number {
  if (lo <= 0) return 0;
  if (lo < 2) return 1;
  // below 2^31 the bit length of lo's integer part is floor(log2(lo)) + 1 (ingest does this ~50,000
  // times a second at 1,000 VMs; clz32 is an instruction, log2 a call)
  if (lo < 2 ** 31) return 32 - Math.clz32(lo);
  // Math.log2 is exact for powers of two; the floor puts any other bound in the bucket holding it
  return Math.min(BUCKET_SLOTS - 1, Math.floor(Math.log2(lo)) + 1);
}

/** Each slot's lower bound, computed once (`2 **` per bucket was a visible share of ingest). */
const LOWER_BOUNDS = Float64Array.from({ length: BUCKET_SLOTS }, (_, slot) => (slot === 0 ? 0 : 2 ** (slot - 1)));

/** The lower bound (ns) of a slot. */
export function lowerOf(slot: number): number {
  return LOWER_BOUNDS[slot] as number;
}

/** The largest value (ns) a slot holds: the exact `le` of its cumulative bucket. */
export function upperOf(slot: number): number {
  return slot <= 1 ? slot : 2 ** slot - 1;
}

/** `le` as Prometheus reads it: seconds, the shortest text that parses back to the same double. */
export function leSeconds(slot: number): string {
  return String(upperOf(slot) / 1e9);
}

/** One histogram's counts by slot, its total and the lower-bound sum (ns). */
export class Log2Histogram {
  readonly counts = new Float64Array(BUCKET_SLOTS);
  count = 0;
  lowerBoundSumNs = 0;

  add(lo: number, n: number): number {
    const slot = slotOf(lo);
    (this.counts[slot] as number) += n;
    this.count += n;
    this.lowerBoundSumNs += (LOWER_BOUNDS[slot] as number) * n;
    return slot;
  }

  /** Adds another histogram's counts (folding a series into another, exactly). */
  addAll(h: Log2Histogram): void {
    for (let i = 0; i < BUCKET_SLOTS; i++) this.counts[i] = (this.counts[i] ?? 0) + (h.counts[i] ?? 0);
    this.count += h.count;
    this.lowerBoundSumNs += h.lowerBoundSumNs;
  }
}

/**
 * The slots a family has ever held, lowest to highest: every series of the family shows the
 * same `le` ladder (as Prometheus' histogram_quantile expects), and only as wide as the data
 * (a fixed 1 ns..18 s ladder would be 35 lines per series). It only grows: an `le` once shown
 * stays, so a series never loses a bucket between scrapes.
 */
export class SlotRange {
  min = BUCKET_SLOTS;
  max = -1;

  see(slot: number): void {
    if (slot < this.min) this.min = slot;
    if (slot > this.max) this.max = slot;
  }

  get empty(): boolean {
    return this.max < 0;
  }

  /** One number per ladder (0 when empty): what a histogram series' text depends on besides its counts. */
  get shape(): number {
    return this.empty ? 0 : this.min * 128 + this.max + 1;
  }
}
