// Token bucket for a bind's throughput cap, plus the slow-down after the SMSC
// answers ESME_RTHROTTLED. Pure: the clock is passed in.

export class TokenBucket {
  #ratePerSecond: number;
  readonly #burst: number;
  #tokens: number;
  #lastMs: number;
  #slowUntilMs = 0;

  constructor(ratePerSecond: number, burst: number, nowMs: number) {
    if (ratePerSecond <= 0 || burst < 1) throw new RangeError('rate and burst must be positive');
    this.#ratePerSecond = ratePerSecond;
    this.#burst = burst;
    this.#tokens = burst;
    this.#lastMs = nowMs;
  }

  /** Milliseconds to wait before one message may go; 0 takes a token now. */
  take(nowMs: number): number {
    const rate = nowMs < this.#slowUntilMs ? this.#ratePerSecond / 4 : this.#ratePerSecond;
    this.#tokens = Math.min(this.#burst, this.#tokens + ((nowMs - this.#lastMs) / 1000) * rate);
    this.#lastMs = nowMs;
    if (this.#tokens >= 1) {
      this.#tokens -= 1;
      return 0;
    }
    return Math.ceil(((1 - this.#tokens) / rate) * 1000);
  }

  /** The SMSC said we are too fast: send at a quarter of the rate for a while, starting empty. */
  slowDown(nowMs: number, forMs: number): void {
    this.#slowUntilMs = Math.max(this.#slowUntilMs, nowMs + forMs);
    this.#tokens = 0;
    this.#lastMs = nowMs;
  }
}
