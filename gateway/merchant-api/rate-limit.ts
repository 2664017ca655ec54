// A token bucket per API key: a steady rate and a burst above it. Pure apart
// from the clock it is given; bounded in how many keys it remembers. With N
// gateway replicas serving (replicas.ts) each admits 1/N of the rate and of the
// burst (at least one request), so together they admit no more than the limit.

const BUCKETS_MAX = 100_000;

export class RateLimiter {
  readonly #perSecond: number;
  readonly #burst: number;
  readonly #buckets = new Map<string, { tokens: number; atMs: number }>();

  constructor(options: { requestsPerSecondMax: number; requestsBurstMax: number }) {
    this.#perSecond = options.requestsPerSecondMax;
    this.#burst = Math.max(options.requestsBurstMax, 1);
  }

  /**
   * Takes one token for `key`: 0 when allowed, else the milliseconds until one is free. `limits` overrides the
   * defaults for this key; `replicas` is how many replicas share the limit (this one takes its 1/replicas).
   */
  take(key: string, nowMs: number, limits?: { perSecond?: number | undefined; burst?: number | undefined }, replicas = 1): number {
    const share = Math.max(1, Math.floor(replicas));
    const perSecond = (limits?.perSecond ?? this.#perSecond) / share;
    const burst = Math.max((limits?.burst ?? this.#burst) / share, 1);
    const bucket = this.#buckets.get(key) ?? { tokens: burst, atMs: nowMs };
    bucket.tokens = Math.min(burst, bucket.tokens + ((nowMs - bucket.atMs) / 1000) * perSecond);
    bucket.atMs = nowMs;
    if (!this.#buckets.has(key)) {
      if (this.#buckets.size >= BUCKETS_MAX) this.#buckets.delete(this.#buckets.keys().next().value as string);
      this.#buckets.set(key, bucket);
    }
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return 0;
    }
    return Math.ceil(((1 - bucket.tokens) / perSecond) * 1000);
  }
}
