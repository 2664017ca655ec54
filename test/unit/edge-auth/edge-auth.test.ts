import { describe, expect, it } from 'vitest';
import { allowList, AuthFailureLimiter, clientAddress, isAllowed, normalizeRemote, secretMatches, sourceKey } from '../../../gateway/edge-auth/index.js';

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

  it('when full, forgets a source that is not blocked, so many addresses cannot flush a blocked one', () => {
    const limiter = new AuthFailureLimiter({ failuresMax: 2, windowMs: 1_000, sourcesMax: 3 });
    limiter.recordFailure('10.0.0.1', 0);
    limiter.recordFailure('10.0.0.1', 0);
    expect(limiter.blockedForMs('10.0.0.1', 10)).toBe(990);
    for (let i = 0; i < 1_000; i++) limiter.recordFailure(`198.51.${i >> 8}.${i & 255}`, 10);
    expect(limiter.size).toBe(3);
    expect(limiter.blockedForMs('10.0.0.1', 10)).toBe(990);
  });

  it('only when every source is blocked, forgets the oldest blocked one', () => {
    const limiter = new AuthFailureLimiter({ failuresMax: 1, windowMs: 1_000, sourcesMax: 2 });
    for (const source of ['a', 'b', 'c']) limiter.recordFailure(source, 0);
    expect(['a', 'b', 'c'].map((s) => limiter.blockedForMs(s, 0) > 0)).toEqual([false, true, true]);
  });

  it('counts an IPv6 source by its /64', () => {
    expect(sourceKey('2001:db8:1:2:aaaa::1')).toBe('2001:db8:1:2::/64');
    expect(sourceKey('2001:db8:1:2::ffff:1.2.3.4')).toBe('2001:db8:1:2::/64');
    expect(sourceKey('::1')).toBe('0:0:0:0::/64');
    expect(sourceKey('fe80::1%eth0')).toBe('fe80:0:0:0::/64');
    expect(sourceKey('192.0.2.7')).toBe('192.0.2.7');
    const limiter = new AuthFailureLimiter({ failuresMax: 2, windowMs: 1_000, sourcesMax: 10 });
    limiter.recordFailure('2001:db8:1:2::1', 0);
    limiter.recordFailure('2001:db8:1:2:ffff:ffff:ffff:ffff', 0);
    expect(limiter.blockedForMs('2001:db8:1:2::77', 0)).toBe(1_000);
    expect(limiter.blockedForMs('2001:db8:1:3::1', 0)).toBe(0);
    expect(limiter.size).toBe(1);
  });

  it('refuses nonsense limits', () => {
    expect(() => new AuthFailureLimiter({ failuresMax: 0, windowMs: 1, sourcesMax: 1 })).toThrow();
  });
});

describe('clientAddress', () => {
  const proxies = allowList(['10.244.0.0/16', 'fd00::/8']);

  it('is the socket peer when no proxy is trusted, or the peer is not one: X-Forwarded-For is then anyone\'s', () => {
    expect(clientAddress('::ffff:192.0.2.7', '198.51.100.1', null)).toBe('192.0.2.7');
    expect(clientAddress('192.0.2.7', '198.51.100.1', proxies)).toBe('192.0.2.7');
    expect(clientAddress(undefined, '198.51.100.1', proxies)).toBe('');
  });

  it('behind a trusted proxy, is the right-most forwarded address that is not a trusted proxy', () => {
    expect(clientAddress('10.244.1.5', '198.51.100.9', proxies)).toBe('198.51.100.9');
    // The caller wrote the left entries itself: they are not believed.
    expect(clientAddress('10.244.1.5', '1.1.1.1, 203.0.113.4, 198.51.100.9', proxies)).toBe('198.51.100.9');
    expect(clientAddress('10.244.1.5', ['1.1.1.1', '198.51.100.9, 10.244.3.3'], proxies)).toBe('198.51.100.9');
    expect(clientAddress('::ffff:10.244.1.5', '[2001:db8::5]:4431, fd00::3', proxies)).toBe('2001:db8::5');
    expect(clientAddress('10.244.1.5', '198.51.100.9:55000', proxies)).toBe('198.51.100.9');
  });

  it('is the proxy itself when it forwarded nothing usable, and the left-most when every hop is a proxy', () => {
    expect(clientAddress('10.244.1.5', undefined, proxies)).toBe('10.244.1.5');
    expect(clientAddress('10.244.1.5', 'not-an-ip', proxies)).toBe('10.244.1.5');
    expect(clientAddress('10.244.1.5', '10.244.9.9, 10.244.8.8', proxies)).toBe('10.244.9.9');
  });
});
