// Failed merchant API authentication, on a real server over real sockets:
// each failure is counted by reason and logged with its source address but
// never the key, and a source past its failures gets 429 for failing keys,
// while a valid key from it and other sources are unaffected. Behind trusted
// proxies (the Ingress) the source is the forwarded caller, not the proxy.
import { request as httpRequest } from 'node:http';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MerchantApi } from '../../../gateway/merchant-api/server.js';
import { newApiKey } from '../../../runtime/api-keys.js';
import { validateConfig } from '../../../cli/config.js';
import { freePort, startNatsServer, type NatsServerHandle } from '../../../runtime/engines/index.js';
import { createLogger } from '../../../runtime/log.js';
import { Registry } from '../../../runtime/metrics.js';
import { connectNats, type NatsHandle } from '../../../runtime/nats/index.js';
import { exampleConfigRaw, quietLogger } from '../../support/stack.js';

const FAILURES_MAX = 10;
const good = newApiKey();
const operatorKey = newApiKey();
const lines: string[] = [];
let natsServer: NatsServerHandle;
let nats: NatsHandle;
let api: MerchantApi;
let registry: Registry;
let port: number;
let config: ReturnType<typeof validateConfig>;

/** One GET from `localAddress` (any 127.x address is this host), so a test can be two sources. */
function get(path: string, authorization: string | null, localAddress = '127.0.0.1', extra: { headers?: Record<string, string>; port?: number } = {}): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: any }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port: extra.port ?? port, path, method: 'GET', localAddress, headers: { ...(authorization ? { authorization } : {}), ...extra.headers } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text ? JSON.parse(text) : null }));
    });
    req.on('error', reject);
    req.end();
  });
}

beforeAll(async () => {
  natsServer = await startNatsServer();
  port = await freePort();
  const raw = exampleConfigRaw() as any;
  raw.nats = { ...raw.nats, url: natsServer.url };
  raw.merchantApi = { port, authFailuresMax: FAILURES_MAX, authFailureWindowMs: 60_000 };
  raw.merchants[0].apiKeys = [good.stored];
  raw.operators[0].apiKeys = [operatorKey.stored];
  config = validateConfig(raw);
  nats = await connectNats({ ...config.nats, name: 'auth-test' }, quietLogger());
  const destination = new Writable({
    write(chunk, _enc, cb) {
      lines.push(...chunk.toString().split('\n').filter(Boolean));
      cb();
    },
  });
  registry = new Registry();
  api = new MerchantApi({ config, nc: nats.nc, log: createLogger({ level: 'info', component: 'gateway', destination }), registry });
  await api.listen();
});
afterAll(async () => {
  await api?.close();
  await nats?.close();
  await natsServer?.stop();
});

async function failuresByReason(): Promise<Record<string, number>> {
  const metric = await registry.getSingleMetric('dialpay_merchant_api_auth_failures_total')?.get();
  return Object.fromEntries((metric?.values ?? []).map((v) => [String(v.labels.reason), v.value]));
}

describe('failed authentication', () => {
  it('300 bad keys from one address: counted by reason, logged without the key, and the address is refused after the limit', async () => {
    const wrongSecret = `${good.key.slice(0, -4)}AAAA`;
    const unknown = newApiKey().key;
    const attempts = Array.from({ length: 300 }, (_, i) => [null, 'Bearer not-a-key', `Bearer ${unknown}`, `Bearer ${wrongSecret}`][i % 4] as string | null);
    const answers = [];
    for (const authorization of attempts) answers.push(await get('/v1/payments', authorization));

    expect(answers.slice(0, FAILURES_MAX).map((a) => a.status)).toEqual(Array(FAILURES_MAX).fill(401));
    const refused = answers.slice(FAILURES_MAX);
    expect(refused.every((a) => a.status === 429 && a.body.type === '/problems/too-many-auth-failures')).toBe(true);
    expect(Number(refused[0]?.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(Number(refused[0]?.headers['retry-after'])).toBeLessThanOrEqual(60);

    expect(await failuresByReason()).toEqual({ missing: 3, malformed: 3, 'unknown-key': 2, 'wrong-secret': 2, blocked: 290 });

    const failed = lines.map((l) => JSON.parse(l)).filter((l) => l.msg === 'merchant API authentication failed');
    expect(failed.length).toBe(FAILURES_MAX);
    expect(failed.every((l) => l.level === 'warn' && l.remote === '127.0.0.1' && l.route === '/v1/payments')).toBe(true);
    expect(failed.map((l) => l.reason).slice(0, 4)).toEqual(['missing', 'malformed', 'unknown-key', 'wrong-secret']);
    // A key id only when it is one of ours (the wrong secret), never the attacker's made-up one.
    expect(failed.filter((l) => l.keyId).map((l) => l.keyId)).toEqual([good.stored.id, good.stored.id]);
    expect(lines.filter((l) => l.includes('too many failed authentications')).length).toBe(1);
    const output = lines.join('\n');
    for (const secret of [good.key, wrongSecret, unknown, unknown.slice(-43), wrongSecret.slice(-43), 'not-a-key']) expect(output).not.toContain(secret);

    // A valid key from that address still gets in (503: past the key check, billing, not running
    // here, does not answer): the check is cheap, and a shared source must not lock everyone out.
    expect((await get('/v1/balance', `Bearer ${good.key}`)).status).toBe(503);
    expect((await get('/v1/balance', `Bearer ${wrongSecret}`)).status).toBe(429);
    const other = await get('/v1/balance', `Bearer ${good.key}`, '127.0.0.2');
    expect([other.status, other.body.type]).toEqual([503, '/problems/unavailable']);
    expect((await get('/v1/payments?limit=x', 'Bearer nope', '127.0.0.2')).status).toBe(401);
  });
});

describe('the operator door', () => {
  it('takes only operators\' keys, and merchant routes only merchants\': each refusal counted and logged without the key', async () => {
    const source = '127.0.0.9';
    const before = await failuresByReason();
    const linesBefore = lines.length;
    // A valid merchant key is no operator key, and the other way round.
    expect((await get('/v1/operator/deposits/x', `Bearer ${good.key}`, source)).status).toBe(401);
    expect((await get('/v1/payments', `Bearer ${operatorKey.key}`, source)).status).toBe(401);
    expect((await get('/v1/operator/deposits/x', null, source)).status).toBe(401);
    // Past the key check (503: payments, not running here, does not answer).
    expect((await get('/v1/operator/deposits/x', `Bearer ${operatorKey.key}`, source)).status).toBe(503);
    const after = await failuresByReason();
    expect([(after['unknown-key'] ?? 0) - (before['unknown-key'] ?? 0), (after.missing ?? 0) - (before.missing ?? 0)]).toEqual([2, 1]);
    const logged = lines.slice(linesBefore).map((l) => JSON.parse(l)).filter((l) => /API authentication failed$/.test(l.msg));
    expect(logged.map((l) => [l.msg, l.door, l.reason])).toEqual([
      ['operator API authentication failed', 'operator', 'unknown-key'],
      ['merchant API authentication failed', 'merchant', 'unknown-key'],
      ['operator API authentication failed', 'operator', 'missing'],
    ]);
    const output = lines.slice(linesBefore).join('\n');
    for (const secret of [good.key.slice(-43), operatorKey.key.slice(-43)]) expect(output).not.toContain(secret);
  });
});

describe('reloading keys', () => {
  it('swaps the key table whole; keys of a merchant the process did not start with wait for a restart', async () => {
    const rotated = newApiKey();
    const newcomer = newApiKey();
    const [first, ...rest] = config.merchants;
    api.reloadKeys([{ ...first!, apiKeys: [rotated.stored] }, ...rest, { ...first!, id: 'NEWSHOP', apiKeys: [newcomer.stored] }]);
    // From an address of its own: 127.0.0.1 is past its failures from the test above.
    expect((await get('/v1/balance', `Bearer ${good.key}`, '127.0.0.3')).status).toBe(401);
    expect((await get('/v1/balance', `Bearer ${rotated.key}`, '127.0.0.3')).status).toBe(503);
    expect((await get('/v1/balance', `Bearer ${newcomer.key}`, '127.0.0.3')).status).toBe(401);
    expect(lines.some((l) => l.includes('keys of merchants added since start are ignored') && l.includes('NEWSHOP'))).toBe(true);
  });
});

describe('behind trusted proxies', () => {
  const PROXY = '127.0.0.5';
  let proxied: MerchantApi;
  let proxiedPort: number;
  const proxiedLines: string[] = [];
  const via = (from: string, forwardedFor: string | null, key: string) =>
    get('/v1/balance', `Bearer ${key}`, from, { port: proxiedPort, headers: forwardedFor ? { 'x-forwarded-for': forwardedFor } : {} });

  beforeAll(async () => {
    proxiedPort = await freePort();
    const raw = exampleConfigRaw() as any;
    raw.nats = { ...raw.nats, url: natsServer.url };
    raw.merchantApi = { port: proxiedPort, authFailuresMax: 2, authFailureWindowMs: 60_000, trustedProxies: [`${PROXY}/32`, '10.244.0.0/16'] };
    raw.merchants[0].apiKeys = [good.stored];
    const destination = new Writable({ write(chunk, _enc, cb) { proxiedLines.push(...chunk.toString().split('\n').filter(Boolean)); cb(); } });
    proxied = new MerchantApi({ config: validateConfig(raw), nc: nats.nc, log: createLogger({ level: 'info', component: 'gateway', destination }), registry: new Registry() });
    await proxied.listen();
  });
  afterAll(async () => {
    await proxied?.close();
  });

  it('limits and logs the forwarded caller, so one attacker behind the Ingress shuts out only itself', async () => {
    // The attacker's own X-Forwarded-For entries (left) are not believed; the proxy's (right-most) are.
    for (let i = 0; i < 2; i++) expect((await via(PROXY, '203.0.113.66, 198.51.100.1', 'nope')).status).toBe(401);
    expect((await via(PROXY, '198.51.100.1', 'nope')).status).toBe(429);
    expect((await via(PROXY, '10.244.3.3, 198.51.100.1', 'nope')).status, 'a hop through a second proxy is still the same caller').toBe(429);
    expect((await via(PROXY, '198.51.100.1', good.key)).status, 'a valid key is never refused for its source').toBe(503);
    // Other callers through the same proxy are unaffected.
    expect((await via(PROXY, '198.51.100.2', 'nope')).status).toBe(401);
    expect((await via(PROXY, '198.51.100.2', good.key)).status).toBe(503);
    const failed = proxiedLines.map((l) => JSON.parse(l)).filter((l) => l.msg === 'merchant API authentication failed');
    expect(failed.map((l) => l.remote)).toEqual(['198.51.100.1', '198.51.100.1', '198.51.100.2']);
  });

  it('ignores X-Forwarded-For from a peer that is not a trusted proxy', async () => {
    for (let i = 0; i < 2; i++) expect((await via('127.0.0.6', `198.51.100.${10 + i}`, 'nope')).status).toBe(401);
    expect((await via('127.0.0.6', '198.51.100.99', 'nope')).status).toBe(429);
    expect(proxiedLines.map((l) => JSON.parse(l)).filter((l) => l.msg === 'merchant API authentication failed').at(-1).remote).toBe('127.0.0.6');
  });
});
