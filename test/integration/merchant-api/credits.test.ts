// Credits (issue 16), the payments and API side: merchant payouts on
// /v1/payouts and operator deposits on /v1/operator/deposits, through the real
// gateway (HTTP and SMPP), payments, NATS and PostgreSQL. This test plays
// billing: it reads each CreditRequested from the DEBITS stream and answers a
// CreditResult as credit.proto says, keeping a merchant balance of its own, so
// payments' and the API's rules are checked on their own; the same flows
// against billing's ledger are for the merged branch.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dialpay, moneyFromProto } from '../../../proto/index.js';
import { newApiKey } from '../../../runtime/api-keys.js';
import { validateConfig } from '../../../cli/config.js';
import { startHost, type Host } from '../../../runtime/host.js';
import { createPool, type Pool } from '../../../runtime/pg/index.js';
import { freePort } from '../../../runtime/engines/index.js';
import { connectNats, Events, newEnvelope, publishEvent, type NatsHandle } from '../../../runtime/nats/index.js';
import { gateway } from '../../../gateway/index.js';
import { payments } from '../../../services/payments/index.js';
import { webhookBody } from '../../../services/webhooks/delivery.js';
import { SmscSimulator } from '../../../operator-sim/index.js';
import { setupStack, quietLogger, waitFor, type Stack } from '../../support/stack.js';
import { readEvents } from '../../support/streams.js';
import { apiCaller } from '../../support/api-client.js';

const { CreditOutcome, CreditSource } = dialpay.v1;
const log = quietLogger();
let stack: Stack;
let sim: SmscSimulator;
let host: Host;
let pool: Pool;
let nats: NatsHandle;
let base: string;

const shopKey = newApiKey(); // SHOP42: payouts up to 50,000 a payout, 200,000 a day
const evKey = newApiKey(); // EVCHARGE: no payouts configured
const newsKey = newApiKey(); // NEWSPLUS (orange-sn, XOF): 1,000 a payout, 2,500 a day
const safaricomKey = newApiKey();
const orangeKey = newApiKey();
const strangerKey = newApiKey(); // configured nowhere
let phoneNo = 0;
const newPhone = () => `2547119${String(++phoneNo).padStart(5, '0')}`;

/** The test's billing: the merchant's available balance, and whether it answers at all yet. */
const billing = { shopBalanceMinor: 60_000n, holding: false, answered: new Set<string>(), stopped: false };

async function answerCredits(): Promise<void> {
  while (!billing.stopped) {
    const asked = await readEvents(nats, 'DEBITS', Events.creditRequested).catch(() => []);
    for (const r of asked) {
      const creditId = r.creditId as string;
      if (billing.holding || billing.answered.has(creditId)) continue;
      billing.answered.add(creditId);
      const amount = moneyFromProto(r.amount);
      let outcome: dialpay.v1.CreditOutcome = CreditOutcome.CREDIT_OUTCOME_OK;
      if (r.source === CreditSource.CREDIT_SOURCE_MERCHANT_PAYOUT && r.merchantId === 'SHOP42') {
        if (amount.amountMinor > billing.shopBalanceMinor) outcome = CreditOutcome.CREDIT_OUTCOME_INSUFFICIENT_FUNDS;
        else billing.shopBalanceMinor -= amount.amountMinor;
      }
      await publishEvent(nats.js, Events.creditResult, {
        envelope: newEnvelope({ producer: 'billing', eventId: `${creditId}:credit-result`, correlationId: creditId }),
        creditId, outcome, detail: '', ...(outcome === CreditOutcome.CREDIT_OUTCOME_OK ? { credited: r.amount } : {}),
      }, { timeoutMs: 5_000 });
    }
    await new Promise((resolve) => setTimeout(resolve, 30));
  }
}
let billingLoop: Promise<void>;

beforeAll(async () => {
  stack = await setupStack();
  sim = new SmscSimulator({ systemId: 'dialpay', password: 'secret1', receiptDelayMs: 10 });
  const raw = structuredClone(stack.rawConfig) as any;
  Object.assign(raw.operators[0].smpp, { port: await sim.start(), bindCount: 1, reconnectDelayMsMin: 100, reconnectDelayMsMax: 500 });
  raw.operators[1].smpp.port = await freePort();
  raw.outbox.pollIntervalMs = 20;
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  raw.merchantApi = { port, creditWaitMs: 2_000 };
  raw.merchants[0].apiKeys = [shopKey.stored];
  raw.merchants[0].payouts = { perPayoutMaxMinor: 50_000, perDayMaxMinor: 200_000 };
  raw.merchants[1].apiKeys = [evKey.stored];
  raw.merchants[2].apiKeys = [newsKey.stored];
  raw.merchants[2].payouts = { perPayoutMaxMinor: 1_000, perDayMaxMinor: 2_500 };
  raw.operators[0].apiKeys = [safaricomKey.stored];
  raw.operators[1].apiKeys = [orangeKey.stored];
  host = await startHost(validateConfig(raw), [payments, gateway], { log }); // no billing: this test answers for it
  pool = createPool({ url: stack.databaseUrl, poolSizeMax: 2, connectTimeoutMs: 5_000, statementTimeoutMs: 5_000, applicationName: 'test' }, log);
  nats = await connectNats({ ...stack.config.nats, name: 'credits-test' }, log);
  await waitFor('gateway bound', async () => sim.boundSessions === 1);
  billingLoop = answerCredits();
}, 120_000);

afterAll(async () => {
  billing.stopped = true;
  await billingLoop;
  await nats?.close();
  await pool?.end();
  await host?.stop();
  await sim?.stop();
  await stack?.cleanup();
}, 60_000);

const call = apiCaller(() => base, () => shopKey.key);

const smsTo = (phone: string) => sim.submitted.filter((m) => m.destination === phone).map((m) => m.text);
const creditsAsked = async (msisdn: string) => (await readEvents(nats, 'DEBITS', Events.creditRequested)).filter((r) => r.msisdn === msisdn);
const merchantEvents = async (payoutId: string) => (await readEvents(nats, 'MERCHANT_EVENTS', Events.merchantEvent)).filter((e) => e.payout?.payoutId === payoutId);
const creditRows = async (msisdn: string) => (await pool.query<{ state: string; failure: string | null; source: string }>('SELECT state, failure, source FROM payments.credits WHERE msisdn = $1', [msisdn])).rows;

describe('a merchant payout', () => {
  it('is booked and answered 201, the subscriber told by SMS, payout.completed emitted for the webhook', async () => {
    const phone = newPhone();
    const created = await call('POST', '/v1/payouts', { body: { msisdn: `0${phone.slice(3)}`, amountMinor: 15_000, currency: 'KES', reference: 'REFUND-7' } });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ status: 'completed', amountMinor: 15_000, currency: 'KES', msisdn: `+${phone}`, reference: 'REFUND-7', failureReason: null });
    const [asked] = await creditsAsked(phone);
    expect(asked).toMatchObject({ creditId: created.body.id, source: CreditSource.CREDIT_SOURCE_MERCHANT_PAYOUT, merchantId: 'SHOP42', operatorId: 'safaricom-ke', reference: 'REFUND-7' });
    expect(moneyFromProto(asked?.amount)).toEqual({ amountMinor: 15_000n, currency: 'KES' });
    // An unknown subscriber is tier 0: its wallet cap goes with the request.
    expect(moneyFromProto(asked?.walletMax)).toEqual({ amountMinor: 10_000_000n, currency: 'KES' });
    expect(await waitFor('SMS to the subscriber', async () => smsTo(phone)[0])).toBe('You received 150.00 KES from Duka Ya Mama. Ref REFUND-7. It is in your dialpay wallet: send BAL to see it.');
    const [event] = await waitFor('payout.completed', async () => { const e = await merchantEvents(created.body.id); return e.length > 0 ? e : null; });
    expect(event).toMatchObject({ merchantId: 'SHOP42', type: 'payout.completed' });
    expect(JSON.parse(webhookBody(event as dialpay.v1.IMerchantEvent))).toMatchObject({ type: 'payout.completed', data: { payout: { id: created.body.id, status: 'completed', amountMinor: 15_000 } } });
    expect((await call('GET', `/v1/payouts/${created.body.id}`)).body).toEqual(created.body);
    const listed = await call('GET', '/v1/payouts?status=completed');
    expect(listed.body.data.map((p: { id: string }) => p.id)).toContain(created.body.id);
    // Another merchant does not see it.
    expect((await call('GET', `/v1/payouts/${created.body.id}`, { key: evKey.key })).status).toBe(404);
  });

  it('beyond the merchant\'s balance is refused 409 and nothing is recorded as completed; a retry answers the same', async () => {
    const phone = newPhone();
    const body = { msisdn: `+${phone}`, amountMinor: 49_000, currency: 'KES', reference: 'TOO-MUCH' };
    const before = billing.shopBalanceMinor;
    expect(before).toBeLessThan(49_000n);
    const refused = await call('POST', '/v1/payouts', { body, idempotencyKey: 'too-much-1' });
    expect(refused.status).toBe(409);
    expect(refused.type).toMatch(/^application\/problem\+json/);
    expect(refused.body).toMatchObject({ type: '/problems/insufficient-balance', status: 409 });
    const payoutId = /^\/v1\/payouts\/([0-9a-f-]{36})$/.exec(refused.body.instance)?.[1] as string;
    expect((await call('GET', `/v1/payouts/${payoutId}`)).body).toMatchObject({ status: 'failed', failureReason: 'insufficient-balance' });
    expect(await creditRows(phone)).toEqual([{ state: 'failed', failure: 'insufficient-balance', source: 'merchant-payout' }]);
    const [event] = await waitFor('payout.failed', async () => { const e = await merchantEvents(payoutId); return e.length > 0 ? e : null; });
    expect(event?.type).toBe('payout.failed');
    const again = await call('POST', '/v1/payouts', { body, idempotencyKey: 'too-much-1' });
    expect([again.status, again.body.instance]).toEqual([409, refused.body.instance]);
    expect(await creditsAsked(phone)).toHaveLength(1);
    expect(billing.shopBalanceMinor).toBe(before);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(smsTo(phone)).toEqual([]);
  });

  it('with a reused Idempotency-Key: the same body answers the same payout, another body is a 409; one credit only', async () => {
    const phone = newPhone();
    const body = { msisdn: `+${phone}`, amountMinor: 1_000, currency: 'KES', reference: 'R-1' };
    const first = await call('POST', '/v1/payouts', { body, idempotencyKey: 'payout-r1' });
    expect(first.status).toBe(201);
    const again = await call('POST', '/v1/payouts', { body: { reference: 'R-1', currency: 'KES', amountMinor: 1_000, msisdn: `+${phone}` }, idempotencyKey: 'payout-r1' });
    expect([again.status, again.body]).toEqual([201, first.body]);
    const other = await call('POST', '/v1/payouts', { body: { ...body, amountMinor: 1_001 }, idempotencyKey: 'payout-r1' });
    expect([other.status, other.body.type]).toEqual([409, '/problems/idempotency-conflict']);
    expect(await creditRows(phone)).toHaveLength(1);
    expect(await creditsAsked(phone)).toHaveLength(1);
    // A day later the stored reply is forgotten (sweep.ts); the payout itself keeps the key.
    await pool.query(`DELETE FROM payments.api_requests WHERE merchant_id = 'SHOP42' AND idempotency_key = 'payout-r1'`);
    const otherLater = await call('POST', '/v1/payouts', { body: { ...body, amountMinor: 1_002 }, idempotencyKey: 'payout-r1' });
    expect([otherLater.status, otherLater.body.type]).toEqual([409, '/problems/idempotency-conflict']);
    const later = await call('POST', '/v1/payouts', { body, idempotencyKey: 'payout-r1' });
    expect([later.status, later.body.id, later.body.status]).toEqual([201, first.body.id, 'completed']);
    expect(await creditRows(phone)).toHaveLength(1);
    expect(await creditsAsked(phone)).toHaveLength(1);
  });

  it('with a key whose stored reply was forgotten, a body refused by the checks does not take the key from the payout it made', async () => {
    const phone = newPhone();
    const body = { msisdn: `+${phone}`, amountMinor: 1_000, currency: 'KES', reference: 'R-2' };
    const first = await call('POST', '/v1/payouts', { body, idempotencyKey: 'payout-r2' });
    expect(first.status).toBe(201);
    await pool.query(`DELETE FROM payments.api_requests WHERE merchant_id = 'SHOP42' AND idempotency_key = 'payout-r2'`);
    // Over the per-payout limit, and a number on no operator of this merchant's: the key is the payout's,
    // so a conflict, not a refusal kept under the key.
    for (const other of [{ ...body, amountMinor: 50_001 }, { ...body, msisdn: '+221770000009' }]) {
      const refused = await call('POST', '/v1/payouts', { body: other, idempotencyKey: 'payout-r2' });
      expect([refused.status, refused.body.type]).toEqual([409, '/problems/idempotency-conflict']);
    }
    const retry = await call('POST', '/v1/payouts', { body, idempotencyKey: 'payout-r2' });
    expect([retry.status, retry.body.id]).toEqual([201, first.body.id]);
    expect(await creditsAsked(phone)).toHaveLength(1);
  });

  it('answers 202 pending while billing has not answered, and completes when it does', async () => {
    const phone = newPhone();
    billing.holding = true;
    try {
      const pending = await call('POST', '/v1/payouts', { body: { msisdn: `+${phone}`, amountMinor: 500, currency: 'KES' } });
      expect([pending.status, pending.body.status]).toEqual([202, 'pending']);
      expect((await call('GET', `/v1/payouts?status=pending`)).body.data.map((p: { id: string }) => p.id)).toContain(pending.body.id);
      billing.holding = false;
      await waitFor('completed', async () => (await call('GET', `/v1/payouts/${pending.body.id}`)).body.status === 'completed');
    } finally {
      billing.holding = false;
    }
  });

  it('keeps to the merchant\'s limits, its operators and its currency; a merchant without payouts is refused 403', async () => {
    const phone = newPhone();
    const over = await call('POST', '/v1/payouts', { body: { msisdn: `+${phone}`, amountMinor: 50_001, currency: 'KES' } });
    expect([over.status, over.body.type]).toEqual([422, '/problems/limit-exceeded']);
    const otherOperator = await call('POST', '/v1/payouts', { body: { msisdn: '+221770000001', amountMinor: 100, currency: 'XOF' } });
    expect([otherOperator.status, otherOperator.body.type]).toEqual([422, '/problems/payment-refused']);
    const currency = await call('POST', '/v1/payouts', { body: { msisdn: `+${phone}`, amountMinor: 100, currency: 'XOF' } });
    expect(currency.status).toBe(422);
    const disabled = await call('POST', '/v1/payouts', { key: evKey.key, body: { msisdn: `+${phone}`, amountMinor: 100, currency: 'KES' } });
    expect([disabled.status, disabled.body.type]).toEqual([403, '/problems/forbidden']);
    expect(await creditRows(phone)).toEqual([]);
  });

  it('counts the day\'s payouts not failed against the per-day limit', async () => {
    // 200,000 a day: what the earlier tests paid out (not failed) plus these must stay under it.
    const { rows } = await pool.query<{ total: string }>(`SELECT COALESCE(SUM(amount_minor), 0)::text AS total FROM payments.credits WHERE merchant_id = 'SHOP42' AND state <> 'failed'`);
    const left = 200_000n - BigInt(rows[0]?.total ?? '0');
    billing.shopBalanceMinor = 1_000_000n;
    let paid = 0n;
    while (left - paid >= 50_000n) {
      expect((await call('POST', '/v1/payouts', { body: { msisdn: `+${newPhone()}`, amountMinor: 50_000, currency: 'KES' } })).status).toBe(201);
      paid += 50_000n;
    }
    const over = await call('POST', '/v1/payouts', { body: { msisdn: `+${newPhone()}`, amountMinor: Number(left - paid) + 1, currency: 'KES' } });
    expect([over.status, over.body.type]).toEqual([422, '/problems/limit-exceeded']);
    expect(over.body.detail).toMatch(/a day/);
  });
});

describe('payouts at once', () => {
  it('never pass the per-day limit together: six at once, room for two', async () => {
    // Inserts into payments.credits wait on the test's lock, so all six are inside payments at once,
    // each past its own read of the day's total unless something makes them take turns.
    const blocker = await pool.connect();
    let answers: Awaited<ReturnType<typeof call>>[];
    try {
      await blocker.query('BEGIN');
      await blocker.query('LOCK TABLE payments.credits IN SHARE MODE');
      const calls = Promise.all(Array.from({ length: 6 }, (_, i) =>
        call('POST', '/v1/payouts', { key: newsKey.key, body: { msisdn: `+2217700010${i}`, amountMinor: 1_000, currency: 'XOF' } })));
      await waitFor('the six waiting in payments', async () => (await pool.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()`)).rows[0]?.n === 6 || null, 3_000).catch(() => undefined);
      await blocker.query('COMMIT');
      answers = await calls;
    } finally {
      blocker.release();
    }
    expect(answers.map((a) => a.status).sort()).toEqual([201, 201, 422, 422, 422, 422]);
    expect(answers.filter((a) => a.status === 422).every((a) => a.body.type === '/problems/limit-exceeded')).toBe(true);
    const { rows } = await pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM payments.credits WHERE merchant_id = 'NEWSPLUS'`);
    expect(rows[0]?.n).toBe(2);
  });
});

describe('an operator deposit', () => {
  const deposit = (phone: string, amountMinor = 25_000) => ({ msisdn: `+${phone}`, amountMinor, currency: 'KES', reference: 'SALARY-11' });

  it('is refused 401 with a wrong key, a merchant\'s key or none; an operator\'s key opens no merchant route', async () => {
    const phone = newPhone();
    for (const key of [strangerKey.key, shopKey.key, null, 'dpk_nonsense']) {
      const refused = await call('POST', '/v1/operator/deposits', { key, body: deposit(phone) });
      expect([refused.status, refused.body.type], String(key)).toEqual([401, '/problems/unauthorized']);
      expect(refused.type).toMatch(/^application\/problem\+json/);
      // The secret is nowhere in the answer.
      if (key) expect(JSON.stringify(refused.body)).not.toContain(key.slice(-20));
    }
    expect((await call('POST', '/v1/payouts', { key: safaricomKey.key, body: { msisdn: `+${phone}`, amountMinor: 100, currency: 'KES' } })).status).toBe(401);
    expect((await call('GET', '/v1/payouts', { key: safaricomKey.key })).status).toBe(401);
    expect(await creditRows(phone)).toEqual([]);
  });

  it('credits the operator\'s subscriber: 201, an SMS naming the operator; a reused key answers the same, another body 409', async () => {
    const phone = newPhone();
    const created = await call('POST', '/v1/operator/deposits', { key: safaricomKey.key, body: deposit(phone), idempotencyKey: 'salary-11' });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ status: 'completed', amountMinor: 25_000, currency: 'KES', msisdn: `+${phone}`, reference: 'SALARY-11', failureReason: null });
    const [asked] = await creditsAsked(phone);
    expect(asked).toMatchObject({ creditId: created.body.id, source: CreditSource.CREDIT_SOURCE_OPERATOR_DEPOSIT, operatorId: 'safaricom-ke', merchantId: '' });
    expect(await waitFor('SMS to the subscriber', async () => smsTo(phone)[0])).toBe('You received 250.00 KES from Safari Mobile. Ref SALARY-11. It is in your dialpay wallet: send BAL to see it.');
    const again = await call('POST', '/v1/operator/deposits', { key: safaricomKey.key, body: deposit(phone), idempotencyKey: 'salary-11' });
    expect([again.status, again.body]).toEqual([201, created.body]);
    const other = await call('POST', '/v1/operator/deposits', { key: safaricomKey.key, body: deposit(phone, 25_001), idempotencyKey: 'salary-11' });
    expect([other.status, other.body.type]).toEqual([409, '/problems/idempotency-conflict']);
    // Another operator's same key is its own.
    expect(await creditsAsked(phone)).toHaveLength(1);
    expect(await creditRows(phone)).toEqual([{ state: 'completed', failure: null, source: 'operator-deposit' }]);
    expect((await call('GET', `/v1/operator/deposits/${created.body.id}`, { key: safaricomKey.key })).body).toEqual(created.body);
    expect((await call('GET', `/v1/operator/deposits/${created.body.id}`, { key: orangeKey.key })).status).toBe(404);
    // A deposit is no merchant's payout.
    expect((await call('GET', `/v1/payouts/${created.body.id}`)).status).toBe(404);
  });

  it('with a key whose stored reply was forgotten, a body refused by the checks does not take the key from the deposit it made', async () => {
    const phone = newPhone();
    const first = await call('POST', '/v1/operator/deposits', { key: safaricomKey.key, body: deposit(phone), idempotencyKey: 'salary-12' });
    expect(first.status).toBe(201);
    await pool.query(`DELETE FROM payments.api_requests WHERE merchant_id = 'operator:safaricom-ke' AND idempotency_key = 'salary-12'`);
    const refused = await call('POST', '/v1/operator/deposits', { key: safaricomKey.key, body: { ...deposit(phone), currency: 'XOF' }, idempotencyKey: 'salary-12' });
    expect([refused.status, refused.body.type]).toEqual([409, '/problems/idempotency-conflict']);
    const retry = await call('POST', '/v1/operator/deposits', { key: safaricomKey.key, body: deposit(phone), idempotencyKey: 'salary-12' });
    expect([retry.status, retry.body.id]).toEqual([201, first.body.id]);
    expect(await creditsAsked(phone)).toHaveLength(1);
  });

  it('credits only the operator\'s own subscribers, in its currency, and needs an Idempotency-Key', async () => {
    const phone = newPhone();
    const notTheirs = await call('POST', '/v1/operator/deposits', { key: orangeKey.key, body: { ...deposit(phone), currency: 'XOF' } });
    expect([notTheirs.status, notTheirs.body.type]).toEqual([422, '/problems/payment-refused']);
    const currency = await call('POST', '/v1/operator/deposits', { key: safaricomKey.key, body: { ...deposit(phone), currency: 'XOF' } });
    expect([currency.status, currency.body.type]).toEqual([422, '/problems/validation']);
    const res = await fetch(`${base}/v1/operator/deposits`, { method: 'POST', headers: { authorization: `Bearer ${safaricomKey.key}`, 'content-type': 'application/json' }, body: JSON.stringify(deposit(phone)) });
    expect([res.status, (await res.json()).type]).toEqual([400, '/problems/idempotency-key-required']);
    expect(await creditRows(phone)).toEqual([]);
  });
});
