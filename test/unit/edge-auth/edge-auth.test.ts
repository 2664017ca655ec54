import { describe, expect, it } from 'vitest';
import { allowList, AuthFailureLimiter, isAllowed, normalizeRemote, secretMatches } from '../../../gateway/edge-auth/index.js';

describe('allow lists', () => {
  const list = allowList(['127.0.0.1/32', '10.20.0.0/16', '192.0.2.7', '::1/128', '2001:db8::/32']);

  it('matches addresses and blocks, IPv4-mapped IPv6 included', () => {
    expect(isAllowed(list, '127.0.0.1')).toBe(true);
    expect(isAllowed(list, '::ffff:10.20.3.4')).toBe(true);
    expect(isAllowed(list, '192.0.2.7')).toBe(true);
    expect(isAllowed(list, '2001:db8::42')).toBe(true);
    expect(isAllowed(list, '::1')).toBe(true);
  });

  it('refuses everything else, and an unknown source', () => {
    expect(isAllowed(list, '10.21.0.1')).toBe(false);
    expect(isAllowed(list, '192.0.2.8')).toBe(false);
    expect(isAllowed(list, '2001:db9::1')).toBe(false);
    expect(isAllowed(list, undefined)).toBe(false);
    expect(isAllowed(list, '')).toBe(false);
  });

  it('normalises IPv4-mapped addresses only', () => {
    expect(normalizeRemote('::ffff:127.0.0.1')).toBe('127.0.0.1');
    expect(normalizeRemote('::ffff:zz')).toBe('::ffff:zz');
    expect(normalizeRemote(undefined)).toBe('');
  });
});

describe('secretMatches', () => {
  it('accepts any configured secret, exactly', () => {
    expect(secretMatches('s3cret-value-one', ['other-secret-xx', 's3cret-value-one'])).toBe(true);
    expect(secretMatches('s3cret-value-on', ['s3cret-value-one'])).toBe(false);
    expect(secretMatches('s3cret-value-one ', ['s3cret-value-one'])).toBe(false);
  });

  it('refuses a missing secret, and never matches an empty configured one', () => {
    expect(secretMatches(null, ['s3cret'])).toBe(false);
    expect(secretMatches(undefined, ['s3cret'])).toBe(false);
    expect(secretMatches('', [''])).toBe(false);
    expect(secretMatches('anything', [])).toBe(false);
  });
});

describe('AuthFailureLimiter', () => {
  const limits = { failuresMax: 3, windowMs: 1_000, sourcesMax: 2 };

  it('blocks a source after failuresMax failures until its window passes', () => {
    const limiter = new AuthFailureLimiter(limits);
    for (let i = 0; i < 3; i++) {
      expect(limiter.blockedForMs('10.0.0.1', 100)).toBe(0);
      limiter.recordFailure('10.0.0.1', 100);
    }
    expect(limiter.blockedForMs('10.0.0.1', 100)).toBe(1_000);
    expect(limiter.blockedForMs('10.0.0.1', 900)).toBe(200);
    expect(limiter.blockedForMs('10.0.0.2', 900)).toBe(0);
    expect(limiter.blockedForMs('10.0.0.1', 1_100)).toBe(0);
  });

  it('remembers at most sourcesMax sources', () => {
    const limiter = new AuthFailureLimiter(limits);
    for (const source of ['a', 'b', 'c', 'd']) limiter.recordFailure(source, 0);
    expect(limiter.size).toBe(2);
  });

  it('refuses nonsense limits', () => {
    expect(() => new AuthFailureLimiter({ failuresMax: 0, windowMs: 1, sourcesMax: 1 })).toThrow();
  });
});
