// Agents' floats over the operator API (issue 16): POST /v1/operator/agents/{id}/float-topups and
// GET /v1/operator/agents/{id}, through the real API server, payments and billing (its ledger, over
// dialpay.billing.agent_float), NATS and PostgreSQL. billing starts late: until then a top-up is a
// 503 that stores nothing for its Idempotency-Key, so the same call succeeds once billing is up.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MerchantApi } from '../../../gateway/merchant-api/server.js';
import { newApiKey } from '../../../runtime/api-keys.js';
import { type Config } from '../../../runtime/config/index.js';
import { validateConfig } from '../../../cli/config.js';
import { freePort } from '../../../runtime/engines/index.js';
import { startHost, type Host } from '../../../runtime/host.js';
import { Registry } from '../../../runtime/metrics.js';
import { connectNats, type NatsHandle } from '../../../runtime/nats/index.js';
import { createPool, type Pool } from '../../../runtime/pg/index.js';
import { billing } from '../../../services/billing/index.js';
import { addAgent, auditOf, payments } from '../../../services/payments/index.js';
import { quietLogger, setupStack, type Stack } from '../../support/stack.js';
import { apiCaller } from '../../support/api-client.js';

const log = quietLogger();
let stack: Stack;
let config: Config;
let paymentsHost: Host;
let billingHost: Host | null = null;
let nats: NatsHandle;
let api: MerchantApi;
let pool: Pool;
let base: string;

const safaricomKey = newApiKey();
const orangeKey = newApiKey();
const merchantKey = newApiKey();
const AGENT = 'AG2001'; // safaricom-ke's
const ORANGE_AGENT = 'AG2002'; // orange-sn's

beforeAll(async () => {
  stack = await setupStack();
  const raw = structuredClone(stack.rawConfig) as any;
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  raw.merchantApi = { port };
  raw.merchants[0].apiKeys = [merchantKey.stored];
  raw.operators[0].apiKeys = [safaricomKey.stored];
  raw.operators[1].apiKeys = [orangeKey.stored];
  config = validateConfig(raw);
  paymentsHost = await startHost(config, [payments], { log }); // billing comes later (see the 503 test)
  pool = createPool({ url: stack.databaseUrl, poolSizeMax: 2, connectTimeoutMs: 5_000, statementTimeoutMs: 5_000, applicationName: 'test' }, log);
  expect(await addAgent(pool, config, { operatorId: 'safaricom-ke', agentId: AGENT, name: 'Mama Mboga Shop', number: '0711900001', actor: 'test' })).toMatchObject({ kind: 'added' });
  expect(await addAgent(pool, config, { operatorId: 'orange-sn', agentId: ORANGE_AGENT, name: 'Boutique Dakar', number: '+221771900002', actor: 'test' })).toMatchObject({ kind: 'added' });
  nats = await connectNats({ ...config.nats, name: 'agent-floats-test' }, log);
  api = new MerchantApi({ config, nc: nats.nc, log, registry: new Registry() });
  await api.listen();
}, 120_000);

afterAll(async () => {
  await api?.close();
  await nats?.close();
  await pool?.end();
  await billingHost?.stop();
  await paymentsHost?.stop();
  await stack?.cleanup();
}, 60_000);

const call = apiCaller(() => base, () => safaricomKey.key);

const topUp = (agentId: string, body: unknown, options: { key?: string | null; idempotencyKey?: string } = {}) => call('POST', `/v1/operator/agents/${agentId}/float-topups`, { ...options, body });
const transfersOf = async (reference: string) => (await pool.query<{ amount_minor: string }>('SELECT amount_minor::text FROM billing.transfers WHERE id = $1', [`float:safaricom-ke:${reference}`])).rows;
const floatOf = async (agentId: string) => BigInt((await pool.query<{ balance_minor: string }>('SELECT balance_minor::text FROM billing.accounts WHERE id = $1', [`agent:${agentId}`])).rows[0]?.balance_minor ?? '0');
/** billing, started once: by the first test after its 503s, or before any later test when that one failed early. */
const billingUp = async () => void (billingHost ??= await startHost(config, [billing], { log }));
const fundLines = async (agentId: string) => (await auditOf(pool, agentId)).filter((a) => a.action === 'fund');

describe('the operator API for agents\' floats, billing not there yet', () => {
  it('answers 503 while billing is not there, storing nothing for the key; the same call succeeds once billing answers', async () => {
    const body = { amountMinor: 100_000, currency: 'KES', reference: 'BANK-0001' };
    // Nobody serving the subject: NATS says so at once.
    const unanswered = await topUp(AGENT, body, { idempotencyKey: 'float-first' });
    expect(unanswered.status).toBe(503);
    expect(unanswered.type).toMatch(/^application\/problem\+json/);
    expect(unanswered.body).toMatchObject({ type: '/problems/unavailable', detail: expect.stringContaining('billing did not answer') });
    expect((await call('GET', `/v1/operator/agents/${AGENT}`)).status).toBe(503);
    // A billing that hears the request and never answers: payments gives up before the API does.
    const silent = nats.nc.subscribe('dialpay.billing.agent_float', { queue: 'billing' });
    const startedAt = Date.now();
    const timedOut = await topUp(AGENT, body, { idempotencyKey: 'float-first' });
    silent.unsubscribe();
    expect(timedOut).toMatchObject({ status: 503, body: { type: '/problems/unavailable', detail: expect.stringContaining('billing did not answer') } });
    expect(Date.now() - startedAt).toBeLessThan(config.merchantApi.requestTimeoutMs);
    expect(await fundLines(AGENT)).toEqual([]);
    expect((await pool.query('SELECT 1 FROM payments.api_requests WHERE merchant_id = $1 AND idempotency_key = $2', ['operator:safaricom-ke', 'float-first'])).rows).toEqual([]);

    await billingUp();
    const retried = await topUp(AGENT, body, { idempotencyKey: 'float-first' });
    expect(retried.status).toBe(201);
    expect(retried.body).toEqual({ agentId: AGENT, reference: 'BANK-0001', amountMinor: 100_000, currency: 'KES', status: 'completed', transferId: 'float:safaricom-ke:BANK-0001', floatBalanceMinor: 100_000 });
    expect(await transfersOf('BANK-0001')).toEqual([{ amount_minor: '100000' }]);
    expect(await floatOf(AGENT)).toBe(100_000n);
  }, 60_000);

});

describe('the operator API for agents\' floats, billing answering', () => {
  /** The float these tests start from: 100,000 after the first describe's top-up. */
  let startMinor = 0n;
  const after = (minor: number) => startMinor + BigInt(minor);
  beforeAll(async () => {
    await billingUp();
    startMinor = await floatOf(AGENT);
  }, 60_000);

  it('books a top-up once, whatever the retries: the same Idempotency-Key, or the same reference under another key', async () => {
    const body = { amountMinor: 250_000, currency: 'KES', reference: 'BANK-0002' };
    const first = await topUp(AGENT.toLowerCase(), body, { idempotencyKey: 'float-second' });
    expect(first.status).toBe(201);
    expect(first.body).toMatchObject({ agentId: AGENT, status: 'completed', transferId: 'float:safaricom-ke:BANK-0002', floatBalanceMinor: Number(after(250_000)) });
    const again = await topUp(AGENT.toLowerCase(), body, { idempotencyKey: 'float-second' });
    expect(again).toMatchObject({ status: 201, body: first.body });
    const otherKey = await topUp(AGENT, body);
    expect(otherKey.status).toBe(201);
    expect(otherKey.body).toMatchObject({ transferId: 'float:safaricom-ke:BANK-0002', floatBalanceMinor: Number(after(250_000)) });
    expect(await transfersOf('BANK-0002')).toEqual([{ amount_minor: '250000' }]);
    expect(await floatOf(AGENT)).toBe(after(250_000));
    // One audit line per booked top-up, naming the operator API as the actor.
    expect(await fundLines(AGENT)).toMatchObject([
      { actor: 'operator-api:safaricom-ke', detail: { reference: 'BANK-0001', amountMinor: '100000', currency: 'KES', transferId: 'float:safaricom-ke:BANK-0001' } },
      { actor: 'operator-api:safaricom-ke', detail: { reference: 'BANK-0002', amountMinor: '250000', transferId: 'float:safaricom-ke:BANK-0002' } },
    ]);
    // The same key with another body is the key's conflict, not a second top-up.
    expect((await topUp(AGENT, { ...body, amountMinor: 1 }, { idempotencyKey: 'float-second' })).body).toMatchObject({ type: '/problems/idempotency-conflict', status: 409 });
  });

  it('refuses the same reference for another amount with 409, nothing booked', async () => {
    const refused = await topUp(AGENT, { amountMinor: 999_000, currency: 'KES', reference: 'BANK-0002' });
    expect(refused.status).toBe(409);
    expect(refused.type).toMatch(/^application\/problem\+json/);
    expect(refused.body).toMatchObject({ type: '/problems/reference-conflict', status: 409, detail: expect.stringContaining('nothing booked') });
    expect(await transfersOf('BANK-0002')).toEqual([{ amount_minor: '250000' }]);
    expect(await floatOf(AGENT)).toBe(after(250_000));
    expect(await fundLines(AGENT)).toHaveLength(2);
  });

  it('reads the agent and its float back, the line masked', async () => {
    const read = await call('GET', `/v1/operator/agents/${AGENT}`);
    expect(read.status).toBe(200);
    expect(read.body).toEqual({ agentId: AGENT, name: 'Mama Mboga Shop', state: 'active', msisdn: '+2547******01', floatBalanceMinor: Number(after(250_000)), currency: 'KES' });
    // Never funded: zero, in the operator's currency.
    expect((await call('GET', `/v1/operator/agents/${ORANGE_AGENT}`, { key: orangeKey.key })).body).toMatchObject({ agentId: ORANGE_AGENT, floatBalanceMinor: 0, currency: 'XOF' });
  });

  it('treats another operator\'s agent as unknown: 404, nothing booked', async () => {
    const foreign = await topUp(AGENT, { amountMinor: 1_000, currency: 'XOF', reference: 'ORANGE-1' }, { key: orangeKey.key });
    expect(foreign).toMatchObject({ status: 404, body: { type: '/problems/not-found' } });
    expect((await call('GET', `/v1/operator/agents/${AGENT}`, { key: orangeKey.key })).status).toBe(404);
    expect((await topUp(ORANGE_AGENT, { amountMinor: 1_000, currency: 'KES', reference: 'SAF-1' })).status).toBe(404);
    expect((await call('GET', '/v1/operator/agents/NOBODY')).status).toBe(404);
    expect((await pool.query(`SELECT 1 FROM billing.transfers WHERE id IN ('float:orange-sn:ORANGE-1', 'float:safaricom-ke:SAF-1')`)).rows).toEqual([]);
    expect(await floatOf(ORANGE_AGENT)).toBe(0n);
  });

  it('refuses a bad amount, another currency or a bad reference, nothing booked', async () => {
    const zero = await topUp(AGENT, { amountMinor: 0, currency: 'KES', reference: 'BAD-1' });
    expect(zero).toMatchObject({ status: 422, body: { type: '/problems/validation' } });
    const currency = await topUp(AGENT, { amountMinor: 1_000, currency: 'XOF', reference: 'BAD-2' });
    expect(currency).toMatchObject({ status: 422, body: { type: '/problems/validation', detail: "this operator's currency is KES" } });
    expect((await topUp(AGENT, { amountMinor: 1_000, currency: 'KES', reference: 'no spaces' })).status).toBe(422);
    expect((await topUp(AGENT, { amountMinor: 1_000, currency: 'KES' })).status).toBe(422);
    expect(await floatOf(AGENT)).toBe(after(250_000));
  });

  it('opens to the operator\'s key only: a merchant\'s key or none is 401', async () => {
    const body = { amountMinor: 1_000, currency: 'KES', reference: 'KEY-1' };
    for (const key of [merchantKey.key, null, `${safaricomKey.key}x`]) {
      expect((await topUp(AGENT, body, { key })).status).toBe(401);
      expect((await call('GET', `/v1/operator/agents/${AGENT}`, { key })).status).toBe(401);
    }
    expect(await transfersOf('KEY-1')).toEqual([]);
  });
});
