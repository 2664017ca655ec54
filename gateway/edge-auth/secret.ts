// Shared-secret comparison in constant time, whatever the lengths: both sides
// are hashed first, so neither the secret's length nor its prefix leaks
// through timing. The configured side is hashed once, at start; a request's
// secret once per request, however many sets it is compared with.
import { createHash, timingSafeEqual } from 'node:crypto';

const digest = (value: string): Buffer => createHash('sha256').update(value, 'utf8').digest();

/** What a request presents, hashed once for every comparison; null when it presents nothing. */
export function presentedDigest(presented: string | null | undefined): Buffer | null {
  return presented == null ? null : digest(presented);
}

/** The secrets one caller may present (a current one and the previous, during a rotation). */
export class SharedSecrets {
  readonly #digests: readonly Buffer[];

  constructor(secrets: readonly string[]) {
    // An empty secret would match an empty presentation: it is never configured, and never matches.
    this.#digests = secrets.filter((s) => s.length > 0).map(digest);
  }

  get size(): number {
    return this.#digests.length;
  }

  /** True when the presented digest equals one of these (compared with every one, so timing shows no position). */
  matches(presented: Buffer | null): boolean {
    const actual = presented ?? digest('');
    let matched = false;
    for (const expected of this.#digests) if (timingSafeEqual(actual, expected)) matched = true;
    return matched && presented !== null;
  }
}

/** One-off form of SharedSecrets: true when `presented` equals one of `expected`. */
export function secretMatches(presented: string | null | undefined, expected: readonly string[]): boolean {
  return new SharedSecrets(expected).matches(presentedDigest(presented));
}
