// Failed authentication, limited per source address: after `failuresMax`
// failures within `windowMs`, a source is refused without its credentials
// being checked until the window that saw the last failure has passed. Pure
// apart from the clock it is given; bounded in how many sources it remembers,
// so a flood from many addresses cannot grow it.

export interface AuthFailureLimits {
  readonly failuresMax: number;
  readonly windowMs: number;
  /** Sources remembered at once; the oldest is forgotten past this. */
  readonly sourcesMax: number;
}

interface Window {
  startMs: number;
  failures: number;
}

export class AuthFailureLimiter {
  readonly #limits: AuthFailureLimits;
  readonly #windows = new Map<string, Window>();

  constructor(limits: AuthFailureLimits) {
    if (!(limits.failuresMax >= 1 && limits.windowMs >= 1 && limits.sourcesMax >= 1)) throw new Error('AuthFailureLimiter: limits must be positive');
    this.#limits = limits;
  }

  /** 0 when `source` may try to authenticate, else the milliseconds until it may (for Retry-After). */
  blockedForMs(source: string, nowMs: number): number {
    const window = this.#current(source, nowMs);
    if (!window || window.failures < this.#limits.failuresMax) return 0;
    return Math.max(1, window.startMs + this.#limits.windowMs - nowMs);
  }

  /** Counts one failed attempt from `source`; returns the failures in its current window. */
  recordFailure(source: string, nowMs: number): number {
    let window = this.#current(source, nowMs);
    if (!window) {
      if (this.#windows.size >= this.#limits.sourcesMax) this.#windows.delete(this.#windows.keys().next().value as string);
      window = { startMs: nowMs, failures: 0 };
      this.#windows.set(source, window);
    }
    window.failures += 1;
    return window.failures;
  }

  /** Sources tracked now (for tests and a gauge). */
  get size(): number {
    return this.#windows.size;
  }

  #current(source: string, nowMs: number): Window | undefined {
    const window = this.#windows.get(source);
    if (window && nowMs - window.startMs >= this.#limits.windowMs) {
      this.#windows.delete(source);
      return undefined;
    }
    return window;
  }
}
