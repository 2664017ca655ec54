// Who may post to the USSD HTTP edge, over the real edge and a real
// nats-server: callers are told apart by their source address (the edge
// listens on 127.0.0.1; each test that fails on purpose posts from its own
// allowed 127.0.1.x, so failures counted per source do not leak between
// tests; 127.0.0.2 is off the allow list) and by
// the shared secret in each style an aggregator can send it; a named
// aggregator (agg-ke) may act for its operator only; 127.0.2.1 plays the
// Ingress, a trusted proxy that forwards the caller. A stand-in for
// the ussd service answers hops on the real request subject and records them,
// so "nothing reached NATS" is checked, not assumed.
import { request } from 'node:http';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { UssdHttpEdge } from '../../../gateway/ussd/http-edge.js';
import { validateConfig } from '../../../cli/config.js';
import { freePort, startNatsServer, type NatsServerHandle } from '../../../runtime/engines/index.js';
import { createLogger } from '../../../runtime/log.js';
import { Registry } from '../../../runtime/metrics.js';
import { Requests, serveRequests, type Responder } from '../../../runtime/nats/index.js';
import type { dialpay } from '../../../proto/index.js';
import { exampleConfigRaw } from '../../support/stack.js';

const SECRET = 'ussd-edge-secret-0123456789';
const PREVIOUS = 'ussd-edge-secret-previous-42';
const ALLOWED = '127.0.0.1';
const OUTSIDER = '127.0.0.2';
let sourceNo = 0;
/** An allowed source address no other test has failed from. */
const freshSource = () => `127.0.1.${++sourceNo}`;
const FAILURES_MAX = 3;
/** The Kenyan aggregator's own secret: safaricom-ke only. */
const AGG_KE = 'aggregator-ke-secret-0123456789';
const PROXY = '127.0.2.1';

let nats: NatsServerHandle;
let nc: NatsConnection;
let responder: Responder;
let edge: UssdHttpEdge;
let port: number;
const registry = new Registry();
const logLines: string[] = [];
const hops: dialpay.v1.IUssdHopRequest[] = [];

beforeAll(async () => {
  nats = await startNatsServer();
  nc = await connect({ servers: nats.url });
  const log = createLogger({ level: 'info', destination: { write: (line: string) => void logLines.push(line) } });
  responder = serveRequests(nc, Requests.ussdHop, {
    queue: 'ussd', inFlightMax: 16, log,
    unavailable: () => ({ text: 'unavailable', end: true }),
    handle: async (hop) => {
      hops.push(hop);
      return { text: 'stand-in menu', end: false };
    },
  });
  const raw = exampleConfigRaw() as any;
  raw.nats.url = nats.url;
  raw.ussd.http = {
    ...raw.ussd.http, host: ALLOWED, port: await freePort(),
    allowedAddresses: [`${ALLOWED}/32`, '127.0.1.0/24'],
    sharedSecret: SECRET, sharedSecretPrevious: PREVIOUS,
    authFailuresMax: FAILURES_MAX, authFailuresWindowMs: 60_000,
    aggregators: [{ id: 'agg-ke', sharedSecret: AGG_KE, operatorIds: ['safaricom-ke'] }],
    trustedProxies: [`${PROXY}/32`],
  };
  edge = new UssdHttpEdge({ config: validateConfig(raw), nc, log, registry });
  port = await edge.listen();
});

afterAll(async () => {
  await edge?.close();
  await responder?.drain();
  await nc?.close();
  await nats?.stop();
});

beforeEach(() => {
  hops.length = 0;
});

interface Answer {
  readonly status: number;
  readonly body: string;
  readonly headers: Record<string, string | string[] | undefined>;
}

function post(
  options: { path?: string; from?: string; headers?: Record<string, string | undefined>; form: Record<string, string> },
): Promise<Answer> {
  const body = new URLSearchParams(options.form).toString();
  return new Promise((resolve, reject) => {
    const req = request({
      host: ALLOWED, port, path: options.path ?? '/ussd', method: 'POST', localAddress: options.from ?? ALLOWED, agent: false,
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-length': Buffer.byteLength(body), ...(options.headers as Record<string, string>) },
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), headers: res.headers }));
      res.on('error', reject);
    });
    req.setTimeout(10_000, () => req.destroy(new Error('no answer')));
    // The edge may answer and close before it reads the body: that is not the client's error here.
    req.on('error', (err: NodeJS.ErrnoException) => (err.code === 'EPIPE' || err.code === 'ECONNRESET' ? undefined : reject(err)));
    req.end(body);
  });
}

let sessionNo = 0;
const dial = (phoneNumber = '+254711999002', text = '') => ({ sessionId: `ATUid_auth_${++sessionNo}`, serviceCode: '*384#', phoneNumber, networkCode: '63902', text });
const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
const failures = async (reason: string) => (await registry.getSingleMetric('dialpay_ussd_http_auth_failures_total')?.get())?.values.find((v) => v.labels.reason === reason)?.value ?? 0;

describe('the USSD HTTP edge authenticates its callers', () => {
  it('a caller from an allowed address with the secret gets its menu, in each way an aggregator can send it', async () => {
    const ways: { path?: string; headers?: Record<string, string> }[] = [
      { headers: { 'x-dialpay-ussd-secret': SECRET } },
      { headers: { authorization: `Bearer ${SECRET}` } },
      { headers: { authorization: basic('africastalking', SECRET) } },
      { path: `/ussd/${SECRET}` },
      { headers: { 'x-dialpay-ussd-secret': PREVIOUS } },
    ];
    for (const way of ways) {
      const answer = await post({ ...way, form: dial() });
      expect({ status: answer.status, body: answer.body }, JSON.stringify(way)).toEqual({ status: 200, body: 'CON stand-in menu' });
    }
    expect(hops).toHaveLength(ways.length);
    expect(hops[0]).toMatchObject({ msisdn: '254711999002', operatorId: 'safaricom-ke', serviceCode: '*384#', begins: true });
    hops.length = 0;
    // A path token is one segment: anything else beside the two edges is 404, not a way around the checks.
    for (const path of ['/ussdx', `/ussd/${SECRET}/events/x`, '/ussd/a%20b', '/']) {
      expect((await post({ path, headers: { 'x-dialpay-ussd-secret': SECRET }, form: dial() })).status, path).toBe(404);
    }
    expect(hops).toEqual([]);
  });

  it('a missing secret gets 401 with a Basic challenge, and nothing reaches the menu', async () => {
    const before = await failures('missing_secret');
    const answer = await post({ from: freshSource(), form: dial('+254711999002', '2468*2468') });
    expect(answer.status).toBe(401);
    expect(answer.headers['www-authenticate']).toMatch(/^Basic realm="dialpay-ussd"/);
    expect(answer.body).not.toMatch(/^(CON|END) /);
    expect(await failures('missing_secret')).toBe(before + 1);
    expect(hops).toEqual([]);
  });

  it('a wrong secret gets 401 however it is sent, and is never logged', async () => {
    const wrong = 'ussd-edge-secret-0123456780';
    const before = await failures('wrong_secret');
    const sources: string[] = [];
    for (const way of [{ headers: { 'x-dialpay-ussd-secret': wrong } }, { headers: { authorization: basic('x', wrong) } }, { headers: { authorization: `Bearer ${SECRET}x` } }, { path: `/ussd/${wrong}` }]) {
      const from = freshSource();
      sources.push(from);
      expect((await post({ ...way, from, form: dial('+254711999002', '2468*2468*1*SHOP42*900*INV1*2468*1') })).status, JSON.stringify(way)).toBe(401);
    }
    expect(await failures('wrong_secret')).toBe(before + 4);
    expect(hops).toEqual([]);
    const refusals = logLines.filter((l) => l.includes('USSD HTTP request refused'));
    expect(refusals.length).toBeGreaterThan(0);
    for (const from of sources) expect(refusals.join('\n')).toContain(`"source":"${from}"`);
    expect(logLines.join('\n')).not.toContain(wrong);
    expect(logLines.join('\n')).not.toContain(SECRET);
  });

  it('a caller outside the allow list gets 403 even with the right secret', async () => {
    const before = await failures('address');
    const answer = await post({ from: OUTSIDER, headers: { 'x-dialpay-ussd-secret': SECRET }, form: dial() });
    expect(answer.status).toBe(403);
    expect(await failures('address')).toBe(before + 1);
    expect(hops).toEqual([]);
  });

  it('the end-of-session notification takes the same checks: no secret, no release', async () => {
    const end = { ...dial(), status: 'Incomplete' };
    const from = freshSource();
    expect((await post({ path: '/ussd/events', from, form: end })).status).toBe(401);
    expect((await post({ path: '/ussd/events', from: OUTSIDER, headers: { 'x-dialpay-ussd-secret': SECRET }, form: end })).status).toBe(403);
    expect((await post({ path: '/ussd/not-the-secret/events', from, form: end })).status).toBe(401);
    expect(hops).toEqual([]);
    expect(await post({ path: `/ussd/${SECRET}/events`, form: end })).toMatchObject({ status: 200, body: 'OK' });
    expect(hops).toHaveLength(1);
    expect(hops[0]).toMatchObject({ sessionId: `http:${end.sessionId}`, released: true });
  });

  it('a number that is not the operator\'s gets an END saying so, and nothing is sent on', async () => {
    const auth = { 'x-dialpay-ussd-secret': SECRET };
    for (const phoneNumber of ['+221770000555', '00221770000555']) {
      const answer = await post({ headers: auth, form: dial(phoneNumber) });
      expect({ status: answer.status, body: answer.body }).toEqual({ status: 200, body: 'END This number is not on this network, so it cannot use this service here.' });
    }
    expect((await post({ path: '/ussd/events', headers: auth, form: { ...dial('+221770000555'), status: 'Incomplete' } })).status).toBe(200);
    expect(hops).toEqual([]);
    // The operator's own numbers, international or national, still go through.
    for (const phoneNumber of ['+254711999002', '0711999002']) expect((await post({ headers: auth, form: dial(phoneNumber) })).body).toBe('CON stand-in menu');
    expect(hops.map((h) => h.msisdn)).toEqual(['254711999002', '254711999002']);
  });

  it('a source that keeps failing is answered 429 for its failures, but the right secret from it still gets in', async () => {
    const flooder = freshSource();
    for (let i = 0; i < FAILURES_MAX; i++) expect((await post({ from: flooder, headers: { 'x-dialpay-ussd-secret': `wrong-${i}` }, form: dial() })).status).toBe(401);
    const logged = logLines.length;
    const before = await failures('rate_limited');
    const limited = await post({ from: flooder, headers: { 'x-dialpay-ussd-secret': 'wrong-again' }, form: dial() });
    expect(limited.status).toBe(429);
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    expect(await failures('rate_limited')).toBe(before + 1);
    expect(logLines.length, 'a flood is counted, not logged line by line').toBe(logged);
    expect(hops).toEqual([]);
    expect((await post({ from: flooder, headers: { 'x-dialpay-ussd-secret': SECRET }, form: dial() })).body).toBe('CON stand-in menu');
    expect((await post({ headers: { 'x-dialpay-ussd-secret': SECRET }, form: dial() })).body).toBe('CON stand-in menu');
  });

  it('behind the trusted proxy, one caller\'s failures shut out that caller only, and logs name it', async () => {
    const attacker = freshSource();
    const honest = freshSource();
    const via = (caller: string, secret: string) => post({ from: PROXY, headers: { 'x-dialpay-ussd-secret': secret, 'x-forwarded-for': `198.51.100.7, ${caller}` }, form: dial() });
    for (let i = 0; i < FAILURES_MAX; i++) expect((await via(attacker, `wrong-${i}`)).status).toBe(401);
    expect((await via(attacker, 'wrong-again')).status).toBe(429);
    expect((await via(honest, SECRET)).body).toBe('CON stand-in menu');
    expect((await via(honest, 'wrong-once')).status).toBe(401);
    expect(logLines.filter((l) => l.includes('USSD HTTP request refused') && l.includes(`"source":"${attacker}"`))).toHaveLength(FAILURES_MAX);
    expect(logLines.some((l) => l.includes(`"source":"${PROXY}"`))).toBe(false);
    // The proxy is no aggregator: without a forwarded caller it is judged by its own address, off the list.
    expect((await post({ from: PROXY, headers: { 'x-dialpay-ussd-secret': SECRET }, form: dial() })).status).toBe(403);
  });

  it('a named aggregator acts for its own operator only: for another\'s, 403 and nothing reaches NATS', async () => {
    const auth = { 'x-dialpay-ussd-secret': AGG_KE };
    expect((await post({ headers: auth, form: dial() })).body).toBe('CON stand-in menu');
    expect(hops.map((h) => h.operatorId)).toEqual(['safaricom-ke']);
    hops.length = 0;
    const before = await failures('operator');
    // The same code, with Orange Senegal's networkCode and one of its subscribers.
    const foreign = { ...dial('+221770000555'), networkCode: '60801' };
    const refused = await post({ headers: auth, form: foreign });
    expect({ status: refused.status, body: refused.body }).toEqual({ status: 403, body: 'Forbidden.' });
    expect((await post({ path: '/ussd/events', headers: auth, form: { ...foreign, status: 'Incomplete' } })).status).toBe(403);
    expect(await failures('operator')).toBe(before + 2);
    expect(hops).toEqual([]);
    expect(logLines.some((l) => l.includes('the aggregator does not serve this operator') && l.includes('"aggregatorId":"agg-ke"') && l.includes('"operatorId":"orange-sn"'))).toBe(true);
    expect(logLines.join('\n')).not.toContain(AGG_KE);
    // The edge-wide secret stays an aggregator for every operator.
    expect((await post({ headers: { 'x-dialpay-ussd-secret': SECRET }, form: foreign })).body).toBe('CON stand-in menu');
    expect(hops.map((h) => h.operatorId)).toEqual(['orange-sn']);
  });
});
