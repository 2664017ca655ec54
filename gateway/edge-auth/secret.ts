// Shared-secret comparison in constant time, whatever the lengths: both sides
// are hashed first, so neither the secret's length nor its prefix leaks
// through timing.
import { createHash, timingSafeEqual } from 'node:crypto';

const digest = (value: string): Buffer => createHash('sha256').update(value, 'utf8').digest();

/** True when `presented` equals one of `expected` (checked against every one, so timing shows no position). */
export function secretMatches(presented: string | null | undefined, expected: readonly string[]): boolean {
  const actual = digest(presented ?? '');
  let matched = false;
  for (const secret of expected) {
    if (timingSafeEqual(actual, digest(secret)) && presented != null && secret.length > 0) matched = true;
  }
  return matched;
}
