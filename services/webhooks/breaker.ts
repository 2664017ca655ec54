// A circuit breaker per merchant endpoint. Deliveries share the consumer's
// slots, so one merchant whose endpoint hangs would hold every slot for its
// timeout and delay every other merchant's webhooks. After a run of failures
// the breaker opens: that merchant's deliveries fail at once (and are retried
// on the webhook schedule like any failure) until one probe, after openMs,
// succeeds. Pure: the caller passes the clock.

export interface BreakerOptions {
  /** Consecutive failures that open the breaker. */
  readonly failuresToOpen: number;
  /** How long it stays open before one delivery may probe the endpoint. */
  readonly openMs: number;
  /** Merchants tracked at once; past this the quietest entry is dropped (it starts closed again). */
  readonly endpointsMax: number;
}

interface State {
  failures: number;
  openUntilMs: number;
  probing: boolean;
}

export type Admission = 'try' | 'probe' | 'open';

export class EndpointBreakers {
  readonly #o: BreakerOptions;
  readonly #states = new Map<string, State>();

  constructor(options: BreakerOptions) {
    if (options.failuresToOpen < 1 || options.openMs < 0 || options.endpointsMax < 1) {
      throw new RangeError('breaker limits must be positive');
    }
    this.#o = options;
  }

  /** Whether a delivery to this merchant may go out now: 'try' (closed), 'probe' (the one test after openMs), or 'open' (fail at once). */
  admit(merchantId: string, nowMs: number): Admission {
    const s = this.#states.get(merchantId);
    if (!s || s.failures < this.#o.failuresToOpen) return 'try';
    if (nowMs < s.openUntilMs || s.probing) return 'open';
    s.probing = true;
    return 'probe';
  }

  succeeded(merchantId: string): void {
    this.#states.delete(merchantId);
  }

  failed(merchantId: string, nowMs: number): void {
    let s = this.#states.get(merchantId);
    if (!s) {
      if (this.#states.size >= this.#o.endpointsMax) this.#states.delete(this.#states.keys().next().value as string);
      s = { failures: 0, openUntilMs: 0, probing: false };
    }
    this.#states.delete(merchantId); // re-insert: the map's order is oldest activity first
    s.failures++;
    s.probing = false;
    if (s.failures >= this.#o.failuresToOpen) s.openUntilMs = nowMs + this.#o.openMs;
    this.#states.set(merchantId, s);
  }

  isOpen(merchantId: string, nowMs: number): boolean {
    const s = this.#states.get(merchantId);
    return !!s && s.failures >= this.#o.failuresToOpen && (nowMs < s.openUntilMs || s.probing);
  }
}
