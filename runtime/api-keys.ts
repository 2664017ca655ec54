// Merchant API keys: "dpk_<id>_<secret>". The id finds the merchant; only the
// SHA-256 of the secret is stored. A secret is 256 random bits, so a slow KDF
// (which four-digit PINs need) buys nothing here, and every request can be
// checked without a millisecond of scrypt.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

const KEY_PATTERN = /^dpk_([a-z0-9]{8,16})_([A-Za-z0-9_-]{43})$/;

export interface StoredApiKey {
  readonly id: string;
  readonly sha256: string;
}

export function newApiKey(): { key: string; stored: StoredApiKey } {
  const id = randomBytes(8).toString('hex');
  const secret = randomBytes(32).toString('base64url');
  return { key: `dpk_${id}_${secret}`, stored: { id, sha256: sha256Hex(secret) } };
}

function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/** The key's id, or null when the text cannot be a key at all. */
export function apiKeyId(key: string): string | null {
  return KEY_PATTERN.exec(key)?.[1] ?? null;
}

/** True when `key` is the one `stored` describes; compared in constant time. */
export function verifyApiKey(key: string, stored: StoredApiKey): boolean {
  const match = KEY_PATTERN.exec(key);
  if (!match || match[1] !== stored.id) return false;
  const actual = Buffer.from(sha256Hex(match[2] as string), 'hex');
  const expected = Buffer.from(stored.sha256, 'hex');
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}
