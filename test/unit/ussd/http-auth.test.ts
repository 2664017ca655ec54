// The USSD HTTP edge's pure gatekeeping: which path is which edge, where a
// secret is read from, the allow-list / secret / failure-limit decision, the
// number-belongs-to-operator check, and the config rules around them.
import { describe, expect, it } from 'vitest';
import { operatorAllowed, presentedSecret, routeOf, UssdHttpAuth } from '../../../gateway/ussd/http-auth.js';
import { isLoopbackHost, type Config } from '../../../runtime/config/index.js';
import { numberBelongsTo, toE164 } from '../../../runtime/msisdn.js';
import { configErrorOf, loadExampleWith } from '../../support/config.js';

const SECRET = 'a-shared-secret-of-32-characters';

function load(http: Record<string, unknown>, env: NodeJS.ProcessEnv = {}): Config {
  return loadExampleWith((raw) => (raw.ussd.http = { ...raw.ussd.http, ...http }), env);
}

describe('routeOf', () => {
  it('tells the hop edge from the session-end edge, with or without a path token', () => {
    expect(routeOf('/ussd', '/ussd')).toEqual({ kind: 'hop', token: null });
    expect(routeOf('/ussd/events', '/ussd')).toEqual({ kind: 'events', token: null });
    expect(routeOf(`/ussd/${SECRET}`, '/ussd')).toEqual({ kind: 'hop', token: SECRET });
    expect(routeOf(`/ussd/${SECRET}/events`, '/ussd')).toEqual({ kind: 'events', token: SECRET });
    expect(routeOf('/at/callback/tok-1', '/at/callback')).toEqual({ kind: 'hop', token: 'tok-1' });
  });

  it('is null for anything else', () => {
    for (const path of ['/', '/ussdx', '/ussd/', '/ussd//events', `/ussd/${SECRET}/x`, `/ussd/${SECRET}/events/x`, '/ussd/a%20b', `/ussd/${'x'.repeat(257)}`]) {
      expect(routeOf(path, '/ussd'), path).toBeNull();
    }
  });
});

describe('presentedSecret', () => {
  const basic = (value: string) => `Basic ${Buffer.from(value).toString('base64')}`;

  it('reads the header, Bearer, the Basic password (any user, colons allowed in it) and the path token', () => {
    expect(presentedSecret({ 'x-dialpay-ussd-secret': SECRET }, null)).toBe(SECRET);
    expect(presentedSecret({ authorization: `Bearer ${SECRET}` }, null)).toBe(SECRET);
    expect(presentedSecret({ authorization: `bearer  ${SECRET}` }, null)).toBe(SECRET);
    expect(presentedSecret({ authorization: basic(`aggregator:${SECRET}`) }, null)).toBe(SECRET);
    expect(presentedSecret({ authorization: basic('user:pa:ss') }, null)).toBe('pa:ss');
    expect(presentedSecret({}, SECRET)).toBe(SECRET);
  });

  it('prefers the header, then Authorization, then the path', () => {
    expect(presentedSecret({ 'x-dialpay-ussd-secret': 'h', authorization: 'Bearer b' }, 'p')).toBe('h');
    expect(presentedSecret({ authorization: 'Bearer b' }, 'p')).toBe('b');
  });

  it('finds nothing in no credentials, another scheme, or Basic without a colon', () => {
    expect(presentedSecret({}, null)).toBeNull();
    expect(presentedSecret({ authorization: 'Digest abc' }, null)).toBeNull();
    expect(presentedSecret({ authorization: 'Bearer' }, null)).toBeNull();
    expect(presentedSecret({ authorization: basic('no-colon') }, null)).toBeNull();
  });
});

describe('UssdHttpAuth', () => {
  const http = (overrides: Record<string, unknown> = {}) =>
    load({ port: 8384, allowedAddresses: ['127.0.0.1/32', '10.20.0.0/16'], sharedSecret: SECRET, authFailuresMax: 2, authFailuresWindowMs: 1_000, ...overrides }).ussd.http;
  const withSecret = { 'x-dialpay-ussd-secret': SECRET };

  it('lets an allowed source with the secret in, and tells each refusal apart', () => {
    const auth = new UssdHttpAuth(http());
    expect(auth.check('::ffff:10.20.1.2', withSecret, null, 0)).toMatchObject({ ok: true });
    expect(auth.check('10.21.0.1', withSecret, null, 0)).toMatchObject({ ok: false, status: 403, reason: 'address', source: '10.21.0.1' });
    expect(auth.check('127.0.0.1', {}, null, 0)).toMatchObject({ ok: false, status: 401, reason: 'missing_secret' });
    expect(auth.check('10.20.0.9', { 'x-dialpay-ussd-secret': `${SECRET}!` }, null, 0)).toMatchObject({ ok: false, status: 401, reason: 'wrong_secret' });
    expect(auth.check(undefined, withSecret, null, 0)).toMatchObject({ ok: false, status: 403, source: 'unknown' });
  });

  it('answers a failing source over its limit 429 until the window passes, but never refuses the right secret from it', () => {
    const auth = new UssdHttpAuth(http());
    expect(auth.check('127.0.0.1', {}, null, 0)).toMatchObject({ status: 401, failures: 1 });
    expect(auth.check('127.0.0.1', { authorization: 'Bearer nope' }, null, 10)).toMatchObject({ status: 401, failures: 2 });
    expect(auth.check('127.0.0.1', { authorization: 'Bearer nope' }, null, 500)).toMatchObject({ ok: false, status: 429, reason: 'rate_limited', retryAfterMs: 500 });
    expect(auth.check('127.0.0.1', {}, null, 500)).toMatchObject({ status: 429 });
    expect(auth.check('127.0.0.1', withSecret, null, 500)).toMatchObject({ ok: true, source: '127.0.0.1' });
    expect(auth.check('10.20.0.1', { authorization: 'Bearer nope' }, null, 500)).toMatchObject({ status: 401 });
    expect(auth.check('127.0.0.1', { authorization: 'Bearer nope' }, null, 1_000)).toMatchObject({ status: 401, failures: 1 });
  });

  it('behind a trusted proxy, allows, limits and names the forwarded caller', () => {
    const auth = new UssdHttpAuth(http({ allowedAddresses: ['198.51.100.0/24'], trustedProxies: ['10.244.0.0/16'] }));
    const from = (caller: string, headers: Record<string, string> = withSecret) => auth.check('10.244.0.7', { ...headers, 'x-forwarded-for': `203.0.113.9, ${caller}` }, null, 0);
    expect(from('198.51.100.4')).toMatchObject({ ok: true, source: '198.51.100.4' });
    expect(from('192.0.2.1')).toMatchObject({ status: 403, reason: 'address', source: '192.0.2.1' });
    // The proxy itself is not an aggregator, and a peer that is no trusted proxy cannot forward.
    expect(auth.check('10.244.0.7', withSecret, null, 0)).toMatchObject({ status: 403, source: '10.244.0.7' });
    expect(auth.check('192.0.2.50', { ...withSecret, 'x-forwarded-for': '198.51.100.4' }, null, 0)).toMatchObject({ status: 403, source: '192.0.2.50' });
    for (let i = 0; i < 2; i++) expect(from('198.51.100.66', { authorization: 'Bearer nope' })).toMatchObject({ status: 401 });
    expect(from('198.51.100.66', { authorization: 'Bearer nope' })).toMatchObject({ status: 429 });
    expect(from('198.51.100.67', { authorization: 'Bearer nope' })).toMatchObject({ status: 401 });
  });

  it('accepts the previous secret during a rotation', () => {
    const previous = 'the-previous-secret-16';
    const auth = new UssdHttpAuth(http({ sharedSecretPrevious: previous }));
    expect(auth.check('127.0.0.1', { authorization: `Bearer ${previous}` }, null, 0)).toMatchObject({ ok: true });
    expect(auth.check('127.0.0.1', withSecret, null, 0)).toMatchObject({ ok: true });
  });

  it('on a loopback edge without a secret, checks the address alone', () => {
    const auth = new UssdHttpAuth(load({ port: 8384 }).ussd.http);
    expect(auth.requiresSecret).toBe(false);
    expect(auth.check('127.0.0.1', {}, null, 0)).toMatchObject({ ok: true });
    expect(auth.check('::1', {}, null, 0)).toMatchObject({ ok: true });
    expect(auth.check('192.0.2.1', {}, null, 0)).toMatchObject({ status: 403 });
  });
});

describe('UssdHttpAuth with named aggregators', () => {
  const A = 'aggregator-a-secret-0123456789';
  const B = 'aggregator-b-secret-0123456789';
  const auth = () => new UssdHttpAuth(load({
    port: 8384, authFailuresMax: 2,
    aggregators: [
      { id: 'agg-a', sharedSecret: A, operatorIds: ['safaricom-ke'] },
      { id: 'agg-b', sharedSecret: B, allowedAddresses: ['192.0.2.0/24'], operatorIds: ['orange-sn'] },
    ],
  }).ussd.http);

  it('authenticates a request as the aggregator whose secret it carries, with that aggregator\'s operators', () => {
    const verdict = auth().check('127.0.0.1', { authorization: `Bearer ${A}` }, null, 0);
    expect(verdict).toMatchObject({ ok: true, aggregatorId: 'agg-a' });
    expect(verdict.ok && operatorAllowed(verdict, 'safaricom-ke')).toBe(true);
    expect(verdict.ok && operatorAllowed(verdict, 'orange-sn')).toBe(false);
    expect(auth().check('192.0.2.9', {}, `${B}`, 0)).toMatchObject({ ok: true, aggregatorId: 'agg-b' });
  });

  it('holds each aggregator to its own addresses, and without an edge-wide secret needs one of theirs', () => {
    expect(auth().check('127.0.0.1', { authorization: `Bearer ${B}` }, null, 0)).toMatchObject({ status: 403, reason: 'address' });
    expect(auth().check('192.0.2.9', { authorization: `Bearer ${A}` }, null, 0)).toMatchObject({ status: 403, reason: 'address' });
    expect(auth().check('127.0.0.1', {}, null, 0)).toMatchObject({ status: 401, reason: 'missing_secret' });
    expect(auth().check('192.0.2.9', { authorization: 'Bearer nope' }, null, 0)).toMatchObject({ status: 401, reason: 'wrong_secret' });
    expect(auth().check('198.51.100.1', { authorization: 'Bearer nope' }, null, 0)).toMatchObject({ status: 403, reason: 'address' });
  });

  it('keeps the edge-wide secret as an aggregator for every operator', () => {
    const both = new UssdHttpAuth(load({ port: 8384, sharedSecret: SECRET, aggregators: [{ id: 'agg-a', sharedSecret: A, operatorIds: ['safaricom-ke'] }] }).ussd.http);
    const verdict = both.check('127.0.0.1', { 'x-dialpay-ussd-secret': SECRET }, null, 0);
    expect(verdict).toMatchObject({ ok: true, aggregatorId: null, operatorIds: null });
    expect(verdict.ok && operatorAllowed(verdict, 'orange-sn')).toBe(true);
  });
});

describe('numberBelongsTo', () => {
  const kenya = { id: 'ke', numberRanges: ['254'] };

  it('takes the operator\'s ranges, however the number was written', () => {
    for (const written of ['+254711999002', '0711999002', '254711999002', '00254711999002']) {
      expect(numberBelongsTo(kenya, toE164(written, '254') as string), written).toBe(true);
    }
  });

  it('refuses another country\'s number', () => {
    for (const written of ['+221770000555', '00221770000555', '+1 202 555 0100']) {
      expect(numberBelongsTo(kenya, toE164(written, '254') as string), written).toBe(false);
    }
    expect(numberBelongsTo({ id: 'us', numberRanges: ['1'] }, '12025550100')).toBe(true);
  });

  it('refuses a number another operator holds a longer prefix of', () => {
    const airtel = { id: 'airtel-ke', numberRanges: ['25473'] };
    expect(numberBelongsTo(kenya, '254733000001', [kenya, airtel])).toBe(false);
    expect(numberBelongsTo(airtel, '254733000001', [kenya, airtel])).toBe(true);
    expect(numberBelongsTo(kenya, '254711000001', [kenya, airtel])).toBe(true);
  });
});

describe('ussd.http config', () => {
  it('knows loopback hosts', () => {
    for (const host of ['127.0.0.1', '127.1.2.3', 'localhost', '::1', '[::1]', '::ffff:127.0.0.1']) expect(isLoopbackHost(host), host).toBe(true);
    for (const host of ['0.0.0.0', '::', '', '10.0.0.1', 'gateway', '128.0.0.1', '127.example.com']) expect(isLoopbackHost(host), host).toBe(false);
  });

  it('refuses a non-loopback edge with no shared secret, naming ussd.http', () => {
    for (const host of ['0.0.0.0', '::', '10.1.2.3']) {
      const err = configErrorOf(() => load({ host, port: 8384 }));
      expect(err.key).toBe('ussd.http.sharedSecret');
      expect(err.message).toMatch(/ussd\.http\.host .* is not loopback/);
    }
  });

  it('takes the secret from the environment, and a loopback or switched-off edge needs none', () => {
    expect(load({ host: '0.0.0.0', port: 8384 }, { DIALPAY__ussd__http__sharedSecret: SECRET }).ussd.http.sharedSecret).toBe(SECRET);
    expect(load({ host: '127.0.0.1', port: 8384 }).ussd.http.sharedSecret).toBeUndefined();
    expect(load({ host: '0.0.0.0', port: undefined }).ussd.http.port).toBeUndefined();
  });

  it('takes aggregators in place of the edge-wide secret, their secrets from the environment', () => {
    const config = load({ host: '0.0.0.0', port: 8384, aggregators: [{ id: 'agg-a', operatorIds: ['safaricom-ke'] }] }, { DIALPAY__ussd__http__aggregators__0__sharedSecret: 'aggregator-a-secret-0123456789' });
    expect(config.ussd.http.aggregators[0]).toMatchObject({ id: 'agg-a', sharedSecret: 'aggregator-a-secret-0123456789', operatorIds: ['safaricom-ke'] });
    expect(configErrorOf(() => load({ aggregators: [{ id: 'agg-a', operatorIds: ['safaricom-ke'] }] })).key).toBe('ussd.http.aggregators[0].sharedSecret');
  });

  it('refuses an unknown operator, a duplicate id and a secret used twice, naming the key and never the secret', () => {
    const secret = 'aggregator-a-secret-0123456789';
    expect(configErrorOf(() => load({ aggregators: [{ id: 'a', sharedSecret: secret, operatorIds: ['safaricom-ke', 'nobody'] }] })).key).toBe('ussd.http.aggregators[0].operatorIds[1]');
    const twice = configErrorOf(() => load({ sharedSecret: secret, aggregators: [{ id: 'a', sharedSecret: 'another-secret-0123456789', operatorIds: ['safaricom-ke'] }, { id: 'b', sharedSecret: secret, operatorIds: ['orange-sn'] }] }));
    expect(twice.key).toBe('ussd.http.aggregators[1].sharedSecret');
    expect(twice.message).toContain('ussd.http.sharedSecret');
    expect(twice.message).not.toContain(secret);
    expect(configErrorOf(() => load({ aggregators: [{ id: 'a', sharedSecret: secret, operatorIds: ['safaricom-ke'] }, { id: 'b', sharedSecret: 'b-secret-0123456789', operatorIds: ['orange-sn'], sharedSecretPrevious: secret }] })).key).toBe('ussd.http.aggregators[1].sharedSecretPrevious');
    expect(configErrorOf(() => load({ aggregators: [{ id: 'a', sharedSecret: secret, operatorIds: ['safaricom-ke'] }, { id: 'a', sharedSecret: `${secret}x`, operatorIds: ['orange-sn'] }] })).key).toBe('ussd.http.aggregators[1].id');
    expect(configErrorOf(() => load({ trustedProxies: ['10.244.0.0/99'] })).key).toBe('ussd.http.trustedProxies[0]');
  });

  it('lets an aggregator serve one of two operators of a country once their number ranges tell them apart', () => {
    const secret = 'aggregator-a-secret-0123456789';
    const withAirtelKe = (http: Record<string, unknown>, ranges?: string[]) =>
      loadExampleWith((raw) => {
        raw.operators.push({ ...structuredClone(raw.operators[0]), id: 'airtel-ke', name: 'Airtel Kenya', numberRanges: ranges, shortCodes: ['20385'], smpp: { ...raw.operators[0].smpp, port: 2777 }, ussd: { serviceCodes: ['*385#'], networkCodes: ['63903'] } });
        if (!ranges) delete raw.operators[2].numberRanges;
        raw.ussd.http = { ...raw.ussd.http, ...http };
      });
    // Without ranges airtel-ke holds +254 only; safaricom-ke's +2547 and +2541 are longer, so they stay its.
    expect(withAirtelKe({ aggregators: [{ id: 'a', sharedSecret: secret, operatorIds: ['safaricom-ke'] }] }).ussd.http.aggregators).toHaveLength(1);
    expect(withAirtelKe({ aggregators: [{ id: 'a', sharedSecret: secret, operatorIds: ['safaricom-ke'] }] }, ['+25473']).ussd.http.aggregators).toHaveLength(1);
    // The same prefix at both: no number could tell them apart, and the config says so.
    const error = configErrorOf(() => withAirtelKe({ aggregators: [{ id: 'a', sharedSecret: secret, operatorIds: ['safaricom-ke'] }] }, ['+2547']));
    expect(error.key).toBe('operators[2].numberRanges[0]');
    expect(error.message).toMatch(/\+2547 is claimed by both "safaricom-ke" and "airtel-ke"/);
  });

  it('checks allow-list entries, secret shape and the TLS pair', () => {
    expect(configErrorOf(() => load({ allowedAddresses: ['10.0.0.0/33'] })).key).toBe('ussd.http.allowedAddresses[0]');
    expect(configErrorOf(() => load({ allowedAddresses: ['127.0.0.1', 'aggregator.example'] })).key).toBe('ussd.http.allowedAddresses[1]');
    expect(configErrorOf(() => load({ allowedAddresses: [] })).key).toBe('ussd.http.allowedAddresses');
    expect(configErrorOf(() => load({ sharedSecret: 'short' })).key).toBe('ussd.http.sharedSecret');
    expect(configErrorOf(() => load({ sharedSecret: 'sixteen chars or more but a space' })).key).toBe('ussd.http.sharedSecret');
    expect(configErrorOf(() => load({ tlsCertFile: '/etc/dialpay/cert.pem' })).key).toBe('ussd.http.tlsKeyFile');
    expect(load({ allowedAddresses: ['2001:db8::/32', '192.0.2.7'] }).ussd.http.allowedAddresses).toEqual(['2001:db8::/32', '192.0.2.7']);
  });
});
