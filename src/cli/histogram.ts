/**
 * A latency histogram with fixed memory: values (whole microseconds) go into
 * log-linear buckets, exact below 128 µs and within 1/64 (1.6 %) above, so
 * percentiles stay cheap at any message rate and histograms from several
 * worker threads merge by adding counts.
 */

/** Sub-buckets per power of two above the exact range. */
const SUB_BUCKETS = 64;
/** Values below this are counted exactly. */
const EXACT_LIMIT = 2 * SUB_BUCKETS;
/** Values are clamped to 2^32 - 1 µs (71 minutes). */
const MAX_VALUE = 0xffff_ffff;
const BUCKET_COUNT = EXACT_LIMIT + (32 - 7) * SUB_BUCKETS;

/** What a histogram holds, as plain data (structured-clone friendly, for worker threads). */
export interface HistogramData {
  counts: Float64Array;
  count: number;
  sum: number;
  max: number;
}

function bucketOf(value: number): number {
  if (value < EXACT_LIMIT) return value;
  const bits = 32 - Math.clz32(value);
  const shift = bits - 7;
  return EXACT_LIMIT + (shift - 1) * SUB_BUCKETS + ((value >>> shift) - SUB_BUCKETS);
}

/** The largest value that falls into `bucket`. */
function bucketTop(bucket: number): number {
  if (bucket < EXACT_LIMIT) return bucket;
  const shift = Math.floor((bucket - EXACT_LIMIT) / SUB_BUCKETS) + 1;
  const mantissa = ((bucket - EXACT_LIMIT) % SUB_BUCKETS) + SUB_BUCKETS;
  return (mantissa + 1) * 2 ** shift - 1;
}

/** Counts latencies in microseconds. */
export class Histogram {
  readonly counts = new Float64Array(BUCKET_COUNT);
  count = 0;
  sum = 0;
  max = 0;

  /** Counts one value in microseconds (rounded, clamped to 0 … 2^32 - 1). */
  record(micros: number): void {
    const value = Math.min(MAX_VALUE, Math.max(0, Math.round(micros)));
    this.counts[bucketOf(value)]! += 1;
    this.count += 1;
    this.sum += value;
    if (value > this.max) this.max = value;
  }

  /** Adds the counts of another histogram (e.g. from a worker thread). */
  merge(other: HistogramData): void {
    for (let i = 0; i < BUCKET_COUNT; i++) this.counts[i]! += other.counts[i] ?? 0;
    this.count += other.count;
    this.sum += other.sum;
    this.max = Math.max(this.max, other.max);
  }

  /**
   * The value at or below which `fraction` (0-1) of the values lie, as the top
   * of its bucket (never above the maximum seen); 0 when empty.
   */
  percentile(fraction: number): number {
    if (this.count === 0) return 0;
    const rank = Math.max(1, Math.ceil(fraction * this.count));
    let seen = 0;
    for (let i = 0; i < BUCKET_COUNT; i++) {
      seen += this.counts[i]!;
      if (seen >= rank) return Math.min(bucketTop(i), this.max);
    }
    return this.max;
  }

  /** The mean in microseconds; 0 when empty. */
  mean(): number {
    return this.count === 0 ? 0 : this.sum / this.count;
  }

  /** The histogram as plain data. */
  toData(): HistogramData {
    return { counts: this.counts.slice(), count: this.count, sum: this.sum, max: this.max };
  }
}
