// The operator API on its own subscribers, through the real API server, payments (over
// dialpay.payments.operator), billing, the simulated SMSC, NATS and PostgreSQL:
// PUT /v1/operator/subscribers/{msisdn}/kyc-tier (audited with its evidence; the limits follow at once) and
// POST .../block and .../unblock (told by SMS, audited, under their Idempotency-Key; a merchant's payment
// request or mandate charge to a blocked payer is refused, an operator deposit to it lands). Only the
// operator's own key opens them, only on its own numbers; a bad body changes nothing.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { SimulatedCarrier } from '../../../services/billing/index.js';
import { newApiKey } from '../../../runtime/api-keys.js';
import { freePort } from '../../../runtime/engines/index.js';
import { startPaymentsStack, type PaymentsStack } from '../../support/payments-stack.js';
import { apiCaller } from '../../support/api-client.js';

let s: PaymentsStack;
let base = '';
const safaricomKey = newApiKey();
const orangeKey = newApiKey();
const merchantKey = newApiKey();
const ORANGE_PHONE = '221770000641';

beforeAll(async () => {
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  s = await startPaymentsStack(new SimulatedCarrier({ openingBalanceMinor: 100_000_000n }), (raw) => {
    raw.merchantApi = { port };
    raw.merchants[0].apiKeys = [merchantKey.stored];
    raw.operators[0].apiKeys = [safaricomKey.stored];
    raw.operators[1].apiKeys = [orangeKey.stored];
  });
}, 120_000);

afterAll(async () => {
  await s?.cleanup();
}, 60_000);

const call = apiCaller(() => base, () => safaricomKey.key);
const problemJson = expect.stringMatching(/^application\/problem\+json/);
const tierChanges = async (msisdn: string) =>
  (await s.pool.query<{ operator_id: string; from_tier: number; to_tier: number; changed_by: string; evidence_ref: string }>(
    'SELECT operator_id, from_tier, to_tier, changed_by, evidence_ref FROM payments.kyc_tier_changes WHERE msisdn = $1 ORDER BY id',
    [msisdn])).rows;
const blockChanges = async (msisdn: string) =>
  (await s.pool.query<{ blocked: boolean; changed_by: string; reason: string }>(
    'SELECT blocked, changed_by, reason FROM payments.subscriber_block_changes WHERE msisdn = $1 ORDER BY id', [msisdn])).rows;
const subscriberRow = async (msisdn: string) =>
  (await s.pool.query<{ kyc_tier: number; blocked: boolean }>(
    'SELECT kyc_tier, blocked_at IS NOT NULL AS blocked FROM payments.subscribers WHERE msisdn = $1', [msisdn])).rows[0];
const smsCount = (phone: string) => s.sim.submitted.filter((m) => m.destination === phone).length;

it('PUT kyc-tier: audited with its evidence, and the next payment is held to the new tier at once', async () => {
  const phone = '254700000641';
  const tier0 = s.stack.config.limits.tiers.find((t) => t.tier === 0);
  if (!tier0) throw new Error('the example config has no tier 0');
  // Just over tier 0's most per payment, well under tier 1's.
  const amountMajor = Number(tier0.perTransactionMaxMinor) / 100 + 500;
  expect(await s.ask(phone, `PAY SHOP42 ${amountMajor}`)).toMatch(/the most per payment is/);

  const set = await call('PUT', `/v1/operator/subscribers/%2B${phone}/kyc-tier`,
    { body: { tier: 1, by: 'crm-user-12', evidenceRef: 'KYC-2026-0099' } });
  expect([set.status, set.body]).toEqual([200, { msisdn: `+${phone}`, kycTier: 1, previousKycTier: 0, changed: true }]);
  expect(await tierChanges(phone)).toEqual([
    { operator_id: 'safaricom-ke', from_tier: 0, to_tier: 1, changed_by: 'crm-user-12', evidence_ref: 'KYC-2026-0099' },
  ]);
  await s.payBySms(phone, 'SHOP42', String(amountMajor));

  // The same tier again: 200, unchanged, nothing recorded.
  const again = await call('PUT', `/v1/operator/subscribers/${phone}/kyc-tier`, { body: { tier: 1, by: 'crm-user-13', evidenceRef: 'KYC-2' } });
  expect([again.status, again.body]).toEqual([200, { msisdn: `+${phone}`, kycTier: 1, previousKycTier: 1, changed: false }]);
  expect(await tierChanges(phone)).toHaveLength(1);
}, 90_000);

it('POST block and unblock: the subscriber is told by SMS, a merchant\'s request to the blocked payer is refused, audited', async () => {
  const phone = '254700000642';
  let seen = smsCount(phone);
  const blockBody = { by: 'crm-user-12', reason: 'lost phone, case 77' };
  const blocked = await call('POST', `/v1/operator/subscribers/0${phone.slice(3)}/block`, { body: blockBody, idempotencyKey: 'case-77' });
  expect([blocked.status, blocked.body]).toEqual([200, { msisdn: `+${phone}`, blocked: true, changed: true }]);
  expect(await s.nextSms(phone, seen)).toMatch(/^Customer care has blocked your dialpay account/);

  const request = await call('POST', '/v1/payment-requests',
    { key: merchantKey.key, body: { msisdn: `+${phone}`, amountMinor: 5_000, currency: 'KES', reference: 'INV-9' } });
  expect([request.status, request.type, request.body.type]).toEqual([422, problemJson, '/problems/payment-refused']);
  expect((await s.pool.query('SELECT 1 FROM payments.payments WHERE payer_msisdn = $1', [phone])).rowCount).toBe(0);

  // Money in still lands: the operator's deposit is booked and the subscriber told.
  const deposit = await call('POST', '/v1/operator/deposits',
    { body: { msisdn: `+${phone}`, amountMinor: 10_000, currency: 'KES', reference: 'GOODWILL-1' } });
  expect([deposit.status, deposit.body.status]).toEqual([201, 'completed']);
  expect(await s.nextSms(phone, seen + 1)).toMatch(/^You received 100\.00 KES from /);
  const repeat = await call('POST', `/v1/operator/subscribers/${phone}/block`, { body: blockBody });
  expect([repeat.status, repeat.body]).toEqual([200, { msisdn: `+${phone}`, blocked: true, changed: false }]);

  seen = smsCount(phone);
  const unblocked = await call('POST', `/v1/operator/subscribers/${phone}/unblock`, { body: { by: 'crm-user-14', reason: 'found' } });
  expect([unblocked.status, unblocked.body]).toEqual([200, { msisdn: `+${phone}`, blocked: false, changed: true }]);
  expect(await s.nextSms(phone, seen)).toMatch(/^Customer care has unblocked your dialpay account/);
  // The first block's retry (same key, same call) answers as it did and blocks nothing again; the key with another body is a 409.
  const retried = await call('POST', `/v1/operator/subscribers/0${phone.slice(3)}/block`, { body: blockBody, idempotencyKey: 'case-77' });
  expect([retried.status, retried.body]).toEqual([200, { msisdn: `+${phone}`, blocked: true, changed: true }]);
  const reused = await call('POST', `/v1/operator/subscribers/${phone}/unblock`, { body: blockBody, idempotencyKey: 'case-77' });
  expect([reused.status, reused.body.type]).toEqual([409, '/problems/idempotency-conflict']);
  expect(await subscriberRow(phone)).toMatchObject({ blocked: false });
  const paid = await call('POST', '/v1/payment-requests',
    { key: merchantKey.key, body: { msisdn: `+${phone}`, amountMinor: 5_000, currency: 'KES', reference: 'INV-10' } });
  expect(paid.status).toBe(201);
  expect(await blockChanges(phone)).toEqual([
    { blocked: true, changed_by: 'crm-user-12', reason: 'lost phone, case 77' },
    { blocked: false, changed_by: 'crm-user-14', reason: 'found' },
  ]);
}, 90_000);

it('a mandate\'s charge to a blocked payer is refused with nothing opened; once unblocked it charges again', async () => {
  const phone = '254700000645';
  const asMerchant = (method: string, path: string, body?: unknown) => call(method, path, { key: merchantKey.key, body });
  const seen = smsCount(phone);
  const created = await asMerchant('POST', '/v1/mandates', { msisdn: `+${phone}`, capMinor: 30_000, currency: 'KES', period: 'month', reference: 'SUB-9' });
  expect(created.status).toBe(201);
  const code = /YES (\d{4})/.exec(await s.nextSms(phone, seen))?.[1];
  expect(await s.ask(phone, `YES ${code}`)).toMatch(/^Allowed: /);

  const blocked = await call('POST', `/v1/operator/subscribers/${phone}/block`, { body: { by: 'crm-user-12', reason: 'court order 12' } });
  expect(blocked.body).toMatchObject({ blocked: true, changed: true });
  const charge = await asMerchant('POST', `/v1/mandates/${created.body.id}/charges`, { amountMinor: 1_000 });
  expect([charge.status, charge.type, charge.body.type]).toEqual([422, problemJson, '/problems/payment-refused']);
  expect((await s.pool.query('SELECT 1 FROM payments.payments WHERE payer_msisdn = $1', [phone])).rowCount).toBe(0);

  await call('POST', `/v1/operator/subscribers/${phone}/unblock`, { body: { by: 'crm-user-12', reason: 'order lifted' } });
  expect((await asMerchant('POST', `/v1/mandates/${created.body.id}/charges`, { amountMinor: 1_000 })).status).toBe(201);
}, 60_000);

it('a wrong key, no key or a merchant\'s key is a 401; another operator\'s number is a 404; nothing changes', async () => {
  const phone = '254700000643';
  const body = { by: 'crm-user-12', reason: 'court order 5' };
  for (const key of [newApiKey().key, null, merchantKey.key]) {
    const answer = await call('POST', `/v1/operator/subscribers/${phone}/block`, { key, body });
    expect([answer.status, answer.type, answer.body.type]).toEqual([401, problemJson, '/problems/unauthorized']);
    const tier = await call('PUT', `/v1/operator/subscribers/${phone}/kyc-tier`, { key, body: { tier: 1, by: 'x', evidenceRef: 'y' } });
    expect([tier.status, tier.body.type]).toEqual([401, '/problems/unauthorized']);
  }
  // Orange's key on Safaricom's number, and Safaricom's on Orange's.
  const crossed = await call('POST', `/v1/operator/subscribers/${phone}/block`, { key: orangeKey.key, body });
  expect([crossed.status, crossed.type, crossed.body.type]).toEqual([404, problemJson, '/problems/not-found']);
  const crossedTier = await call('PUT', `/v1/operator/subscribers/${ORANGE_PHONE}/kyc-tier`, { body: { tier: 1, by: 'x', evidenceRef: 'y' } });
  expect([crossedTier.status, crossedTier.body.type]).toEqual([404, '/problems/not-found']);
  for (const msisdn of [phone, ORANGE_PHONE]) {
    expect(await subscriberRow(msisdn)).toBeUndefined();
    expect(await blockChanges(msisdn)).toEqual([]);
    expect(await tierChanges(msisdn)).toEqual([]);
  }
}, 60_000);

it('a bad body is a problem+json naming what is wrong, and changes nothing', async () => {
  const phone = '254700000644';
  const path = `/v1/operator/subscribers/${phone}`;
  const cases: [string, string, unknown, number, string][] = [
    ['PUT', `${path}/kyc-tier`, { tier: 7, by: 'crm', evidenceRef: 'KYC-1' }, 422, '/problems/validation'], // no such tier
    ['PUT', `${path}/kyc-tier`, { tier: '1', by: 'crm', evidenceRef: 'KYC-1' }, 422, '/problems/validation'],
    ['PUT', `${path}/kyc-tier`, { tier: 1, by: 'crm' }, 422, '/problems/validation'],
    ['PUT', `${path}/kyc-tier`, { tier: 1, by: '  ', evidenceRef: 'KYC-1' }, 422, '/problems/validation'],
    ['POST', `${path}/block`, { by: 'crm' }, 422, '/problems/validation'],
    ['POST', `${path}/block`, { by: 'crm', reason: 'x', extra: true }, 422, '/problems/validation'],
    ['POST', '/v1/operator/subscribers/call-me/block', { by: 'crm', reason: 'x' }, 422, '/problems/validation'],
  ];
  for (const [method, url, body, status, type] of cases) {
    const answer = await call(method, url, { body });
    expect([url, answer.status, answer.type, answer.body.type]).toEqual([url, status, problemJson, type]);
  }
  const named = await call('PUT', `${path}/kyc-tier`, { body: { tier: 1, by: 'crm' } });
  expect(named.body.errors).toEqual([expect.objectContaining({ pointer: '/evidenceRef' })]);
  const unknownTier = await call('PUT', `${path}/kyc-tier`, { body: { tier: 7, by: 'crm', evidenceRef: 'KYC-1' } });
  expect(unknownTier.body.detail).toContain('no such KYC tier; the tiers are: 0, 1');
  // Not JSON at all: 400.
  const res = await fetch(`${base}${path}/block`, {
    method: 'POST', body: '{"by":', headers: { authorization: `Bearer ${safaricomKey.key}`, 'content-type': 'application/json', 'idempotency-key': 'bad-json' },
  });
  expect([res.status, res.headers.get('content-type'), (await res.json()).type]).toEqual([400, problemJson, '/problems/malformed-request']);
  expect(await subscriberRow(phone)).toBeUndefined();
  expect(await blockChanges(phone)).toEqual([]);
  expect(await tierChanges(phone)).toEqual([]);
}, 60_000);
