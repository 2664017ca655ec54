// Failed authentication, limited per source: after `failuresMax` failures
// within `windowMs`, a source's failing attempts get 429 until the window that
// saw the last failure has passed (a caller whose credentials check out is
// never refused for its source: the check is cheap). Pure apart from the clock
// it is given; bounded in how many sources it remembers, so a flood from many
// addresses cannot grow it, and cannot flush a blocked source out either: when
// full, a source that is not blocked is forgotten first. IPv6 sources count by
// their /64, the block one subscriber line or host is usually given.
import { isIPv6 } from 'node:net';

export interface AuthFailureLimits {
  readonly failuresMax: number;
  readonly windowMs: number;
  /** Sources remembered at once; past this an unblocked one is forgotten (the oldest blocked only if all are blocked). */
  readonly sourcesMax: number;
}

interface Window {
  startMs: number;
  failures: number;
}

/** The limiter's key for an address: IPv6 by its /64 ("2001:db8:1:2::/64"), anything else as given. Pure. */
export function sourceKey(address: string): string {
  if (!isIPv6(address)) return address;
  const groups = ipv6Groups(address);
  return groups ? `${groups.slice(0, 4).map((g) => g.toString(16)).join(':')}::/64` : address;
}

/** The eight 16-bit groups of an IPv6 address (zone id dropped, "::" and a dotted IPv4 tail expanded); null if malformed. */
function ipv6Groups(address: string): number[] | null {
  const bare = address.split('%')[0] ?? '';
  const halves = bare.split('::');
  if (halves.length > 2) return null;
  const parse = (part: string): number[] => {
    if (part === '') return [];
    return part.split(':').flatMap((g) => {
      if (g.includes('.')) {
        const [a = 0, b = 0, c = 0, d = 0] = g.split('.').map(Number);
        return [(a << 8) | b, (c << 8) | d];
      }
      return [parseInt(g, 16)];
    });
  };
  const head = parse(halves[0] ?? '');
  const tail = halves.length === 2 ? parse(halves[1] ?? '') : [];
  const groups = halves.length === 2 ? [...head, ...Array<number>(8 - head.length - tail.length).fill(0), ...tail] : head;
  return groups.length === 8 && groups.every((g) => Number.isInteger(g) && g >= 0 && g <= 0xffff) ? groups : null;
}

export class AuthFailureLimiter {
  readonly #limits: AuthFailureLimits;
  /** Sources under their limit, oldest first: the ones forgotten first when full. */
  readonly #open = new Map<string, Window>();
  /** Sources at their limit, in the order they got there. */
  readonly #blocked = new Map<string, Window>();

  constructor(limits: AuthFailureLimits) {
    if (!(limits.failuresMax >= 1 && limits.windowMs >= 1 && limits.sourcesMax >= 1)) {
      throw new Error('AuthFailureLimiter: limits must be positive');
    }
    this.#limits = limits;
  }

  /** 0 when `source`'s failures are under the limit, else the milliseconds until they are (for Retry-After). */
  blockedForMs(source: string, nowMs: number): number {
    const key = sourceKey(source);
    const window = this.#current(key, nowMs);
    if (!window || window.failures < this.#limits.failuresMax) return 0;
    return Math.max(1, window.startMs + this.#limits.windowMs - nowMs);
  }

  /** Counts one failed attempt from `source`; returns the failures in its current window. */
  recordFailure(source: string, nowMs: number): number {
    const key = sourceKey(source);
    let window = this.#current(key, nowMs);
    if (!window) {
      if (this.size >= this.#limits.sourcesMax) this.#evictOne(nowMs);
      window = { startMs: nowMs, failures: 0 };
      this.#open.set(key, window);
    }
    window.failures += 1;
    if (window.failures === this.#limits.failuresMax && this.#open.delete(key)) this.#blocked.set(key, window);
    return window.failures;
  }

  /** Sources tracked now (for tests and a gauge). */
  get size(): number {
    return this.#open.size + this.#blocked.size;
  }

  /** Makes room for one: the oldest unblocked source; only when every one is blocked, the oldest blocked. */
  #evictOne(nowMs: number): void {
    const oldestOpen = this.#open.keys().next();
    if (!oldestOpen.done) {
      this.#open.delete(oldestOpen.value);
      return;
    }
    const oldestBlocked = this.#blocked.keys().next();
    // #current drops it if its window has passed anyway; otherwise it goes now.
    if (!oldestBlocked.done && this.#current(oldestBlocked.value, nowMs)) this.#blocked.delete(oldestBlocked.value);
  }

  #current(key: string, nowMs: number): Window | undefined {
    const window = this.#open.get(key) ?? this.#blocked.get(key);
    if (window && nowMs - window.startMs >= this.#limits.windowMs) {
      this.#open.delete(key);
      this.#blocked.delete(key);
      return undefined;
    }
    return window;
  }
}
