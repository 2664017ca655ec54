// Latency recorded in an HDR histogram (microsecond resolution, 3 significant
// digits), so p99 over millions of samples costs a few KiB, not an array.
import * as hdr from 'hdr-histogram-js';

export interface LatencySummaryMs {
  readonly count: number;
  readonly p50: number;
  readonly p95: number;
  readonly p99: number;
  readonly max: number;
}

/** Highest latency tracked: anything slower is clamped here and still counted. */
const LATENCY_TRACKED_MAX_MS = 600_000;

export class LatencyRecorder {
  readonly #histogram = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: LATENCY_TRACKED_MAX_MS * 1_000,
    numberOfSignificantValueDigits: 3 });

  recordMs(latencyMs: number): void {
    const us = Math.round(latencyMs * 1_000);
    this.#histogram.recordValue(Math.min(LATENCY_TRACKED_MAX_MS * 1_000, Math.max(1, us)));
  }

  get count(): number {
    return this.#histogram.totalCount;
  }

  summary(): LatencySummaryMs {
    const at = (p: number) => Math.round(this.#histogram.getValueAtPercentile(p) / 10) / 100;
    return { count: this.#histogram.totalCount, p50: at(50), p95: at(95), p99: at(99),
      max: Math.round(this.#histogram.maxValue / 10) / 100 };
  }
}
