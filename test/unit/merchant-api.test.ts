// The merchant API's pure parts: keys, the body hash behind Idempotency-Key,
// the per-key token bucket and list cursors.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { apiKeyId, newApiKey, verifyApiKey } from '../../runtime/api-keys.js';
import { bodyHash } from '../../gateway/merchant-api/body-hash.js';
import { RateLimiter } from '../../gateway/merchant-api/rate-limit.js';
import { decodeCursor, encodeCursor, statesOf } from '../../services/payments/merchant-view.js';
import { invalidTextPointer, isStorableText } from '../../gateway/merchant-api/text.js';
import { isDataException, sqlState } from '../../runtime/pg/index.js';

describe('API keys', () => {
  it('a key verifies against its own stored hash only', () => {
    const a = newApiKey();
    const b = newApiKey();
    expect(verifyApiKey(a.key, a.stored)).toBe(true);
    expect(verifyApiKey(b.key, a.stored)).toBe(false);
    expect(verifyApiKey(`${a.key.slice(0, -1)}${a.key.endsWith('A') ? 'B' : 'A'}`, a.stored)).toBe(false);
    expect(apiKeyId(a.key)).toBe(a.stored.id);
    expect(apiKeyId('Bearer nonsense')).toBeNull();
    // Only the hash is stored: the secret part never appears in it.
    // (The secret is everything after the id: base64url may itself contain "_", so split('_') would cut it short.)
    expect(JSON.stringify(a.stored)).not.toContain(a.key.slice(`dpk_${a.stored.id}_`.length));
  });
});

describe('body hash', () => {
  it('ignores key order and spacing, and sees every value', () => {
    expect(bodyHash({ a: 1, b: { c: [1, 2], d: 'x' } }).equals(bodyHash(JSON.parse('{ "b": {"d":"x", "c":[1,2]}, "a":1 }')))).toBe(true);
    fc.assert(fc.property(fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 2 })), (object) => {
      const reordered = Object.fromEntries(Object.entries(object).reverse());
      expect(bodyHash(reordered).equals(bodyHash(object))).toBe(true);
    }));
    expect(bodyHash({ amountMinor: 100 }).equals(bodyHash({ amountMinor: 101 }))).toBe(false);
  });
});

describe('rate limiter', () => {
  it('allows the burst, then the steady rate, and says how long to wait', () => {
    const limiter = new RateLimiter({ requestsPerSecondMax: 10, requestsBurstMax: 5 });
    const t0 = 1_000_000;
    for (let i = 0; i < 5; i++) expect(limiter.take('k', t0)).toBe(0);
    expect(limiter.take('k', t0)).toBe(100);
    expect(limiter.take('other', t0)).toBe(0); // keys do not share a bucket
    expect(limiter.take('k', t0 + 100)).toBe(0);
    expect(limiter.take('k', t0 + 100)).toBeGreaterThan(0);
    expect(limiter.take('k', t0 + 10_000)).toBe(0); // refilled, but never past the burst
    for (let i = 0; i < 4; i++) expect(limiter.take('k', t0 + 10_000)).toBe(0);
    expect(limiter.take('k', t0 + 10_000)).toBeGreaterThan(0);
    // A merchant's own plan overrides the defaults for its keys.
    for (let i = 0; i < 2; i++) expect(limiter.take('plan', t0, { perSecond: 1, burst: 2 })).toBe(0);
    expect(limiter.take('plan', t0, { perSecond: 1, burst: 2 })).toBe(1_000);
  });

  it('with replicas sharing the limit, each admits its share of the burst and the rate, never less than one request', () => {
    const limiter = new RateLimiter({ requestsPerSecondMax: 10, requestsBurstMax: 8 });
    const t0 = 1_000_000;
    for (let i = 0; i < 2; i++) expect(limiter.take('k', t0, undefined, 4)).toBe(0);
    expect(limiter.take('k', t0, undefined, 4)).toBe(400); // 10/s shared by 4: one token every 400 ms
    expect(limiter.take('k', t0 + 400, undefined, 4)).toBe(0);
    // More replicas than the burst: each still admits one.
    expect(limiter.take('tiny', t0, { perSecond: 1, burst: 2 }, 5)).toBe(0);
    expect(limiter.take('tiny', t0, { perSecond: 1, burst: 2 }, 5)).toBe(5_000);
  });
});

describe('list cursors and statuses', () => {
  it('round-trips a cursor and refuses anything else', () => {
    const cursor = { createdAtIso: '2026-11-21T10:00:00.123456Z', paymentId: 'b8f1c2d0-0000-4000-8000-000000000001' };
    expect(decodeCursor(encodeCursor(cursor))).toEqual(cursor);
    expect(decodeCursor('not a cursor')).toBeNull();
    expect(decodeCursor(Buffer.from('["yesterday","x"]').toString('base64url'))).toBeNull();
    expect(statesOf('awaiting_confirmation')).toEqual(['challenged']);
    expect(statesOf('refunded')).toBeNull();
  });
});

describe('text PostgreSQL cannot store', () => {
  it('finds a NUL or an unpaired surrogate in any value or key, and names where', () => {
    expect(isStorableText('Duka ya Mama, 10% off ✓ 😀')).toBe(true); // a surrogate pair is fine
    for (const bad of ['a\u0000b', '\u0000', 'x\ud800', '\ud800x', '\udc00', 'a\udc00\ud800b']) expect(isStorableText(bad)).toBe(false);
    expect(invalidTextPointer({ msisdn: '+254711000001', amountMinor: 5, description: 'a\u0000b' })).toBe('/description');
    expect(invalidTextPointer({ list: [{ ok: 'x' }, { 'a/b': ['fine', 'bad\ud800'] }] })).toBe('/list/1/a~1b/1');
    expect(invalidTextPointer({ ['k\u0000']: 1 })).toBe('/k\ufffd');
    expect(invalidTextPointer('\u0000')).toBe('/');
    expect(invalidTextPointer({ id: 'abc' })).toBeNull();
    expect(invalidTextPointer(undefined)).toBeNull();
    expect(invalidTextPointer({ a: 1, b: true, c: null, d: ['😀'] })).toBeNull();
    // Deep nesting does not overflow the stack.
    let deep: unknown = 'a\u0000';
    for (let i = 0; i < 50_000; i++) deep = [deep];
    expect(invalidTextPointer(deep)?.startsWith('/0/0/0')).toBe(true);
  });

  it('a PostgreSQL data exception (SQLSTATE class 22) is told apart from a retryable failure', () => {
    const pgError = (code: string) => Object.assign(new Error('x'), { code });
    expect(isDataException(pgError('22021'))).toBe(true); // invalid byte sequence (a NUL)
    expect(isDataException(pgError('22P05'))).toBe(true); // untranslatable character
    expect(isDataException(new Error('wrapped', { cause: pgError('22021') }))).toBe(true);
    expect(isDataException(pgError('40001'))).toBe(false); // serialization failure: worth a retry
    expect(isDataException(pgError('ECONNREFUSED'))).toBe(false);
    expect(isDataException(new Error('timeout'))).toBe(false);
    expect(sqlState(pgError('23505'))).toBe('23505');
    expect(sqlState('22021')).toBeNull();
  });
});
