// Token bucket for an operator's throughput cap (one per operator in each gateway
// process, shared by its binds; replica-share.ts sets its rate), plus the
// slow-down after the SMSC answers ESME_RTHROTTLED. Pure: the clock is passed in.

export class TokenBucket {
  #ratePerSecond: number;
  #burst: number;
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
    const rate = this.#refill(nowMs);
    if (this.#tokens >= 1) {
      this.#tokens -= 1;
      return 0;
    }
    return Math.ceil(((1 - this.#tokens) / rate) * 1000);
  }

  /** A new rate from now on (this replica's share changed); the burst follows it, a tenth of a second's worth. */
  setRate(ratePerSecond: number, nowMs: number): void {
    if (ratePerSecond <= 0) throw new RangeError('rate must be positive');
    this.#refill(nowMs); // the tokens earned so far at the old rate
    this.#ratePerSecond = ratePerSecond;
    this.#burst = burstFor(ratePerSecond);
    this.#tokens = Math.min(this.#tokens, this.#burst);
  }

  /** Adds the tokens earned since the last look; returns the rate in force now. */
  #refill(nowMs: number): number {
    const rate = nowMs < this.#slowUntilMs ? this.#ratePerSecond / 4 : this.#ratePerSecond;
    this.#tokens = Math.min(this.#burst, this.#tokens + ((nowMs - this.#lastMs) / 1000) * rate);
    this.#lastMs = nowMs;
    return rate;
  }

  get ratePerSecond(): number {
    return this.#ratePerSecond;
  }

  /** The SMSC said we are too fast: send at a quarter of the rate for a while, starting empty. */
  slowDown(nowMs: number, forMs: number): void {
    this.#slowUntilMs = Math.max(this.#slowUntilMs, nowMs + forMs);
    this.#tokens = 0;
    this.#lastMs = nowMs;
  }
}

/** A bucket's burst for a rate: a tenth of a second's worth, at least one message. */
export function burstFor(ratePerSecond: number): number {
  return Math.max(1, Math.ceil(ratePerSecond / 10));
}
