// The merchant API end to end: a merchant asks over HTTP, the payer gets the
// challenge by SMS through the simulated SMSC, answers YES, and the merchant
// reads the payment completed. Keys, idempotency, validation, refusals, rate
// limits and cursor pages each answer with their documented status and a
// problem+json body, and none of the failures creates a payment.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SimulatedCarrier } from '../../../services/billing/index.js';
import { AccountIds } from '../../../services/billing/ledger/rules.js';
import { newApiKey } from '../../../runtime/api-keys.js';
import { freePort } from '../../../runtime/engines/index.js';
import { openApiDocument } from '../../../gateway/merchant-api/openapi.js';
import { startPaymentsStack, type PaymentsStack } from '../../support/payments-stack.js';
import { ROOT, quietLogger, waitFor } from '../../support/stack.js';
import { connectNats, Requests, requestReply } from '../../../runtime/nats/index.js';
import { dialpay, moneyToProto } from '../../../proto/index.js';

let p: PaymentsStack;
let base: string;
const carrier = new SimulatedCarrier({ openingBalanceMinor: 1_000_000n });
const shopKey = newApiKey();
const shopKeyRotated = newApiKey();
const evKey = newApiKey();
let phoneNo = 0;
const newPhone = () => `2547440${String(++phoneNo).padStart(5, '0')}`;
let idem = 0;

async function call(
  method: string, path: string,
  options: { key?: string | null; body?: unknown; raw?: string; idempotencyKey?: string | null; contentType?: string } = {},
) {
  const headers: Record<string, string> = {};
  const key = options.key === undefined ? shopKey.key : options.key;
  if (key) headers.authorization = `Bearer ${key}`;
  if (method === 'POST') {
    headers['content-type'] = options.contentType ?? 'application/json';
    const idempotencyKey = options.idempotencyKey === undefined ? `k-${++idem}` : options.idempotencyKey;
    if (idempotencyKey) headers['idempotency-key'] = idempotencyKey;
  }
  const res = await fetch(`${base}${path}`, { method, headers, body: options.raw ?? (options.body === undefined ? undefined : JSON.stringify(options.body)) });
  const text = await res.text();
  return { status: res.status, type: res.headers.get('content-type') ?? '', headers: res.headers, body: text ? JSON.parse(text) : null };
}

const paymentCount = async () => (await p.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM payments.payments')).rows[0]?.n ?? 0;
const smsTo = (phone: string) => p.sim.submitted.filter((m) => m.destination === phone).map((m) => m.text);

beforeAll(async () => {
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  p = await startPaymentsStack(carrier, (raw) => {
    raw.merchantApi = { port, requestsPerSecondMax: 100, requestsBurstMax: 40 };
    raw.merchants[0].apiKeys = [shopKey.stored, shopKeyRotated.stored];
    raw.merchants[1].apiKeys = [evKey.stored];
    // EVCHARGE's own plan: 1 request a second after a burst of 40, so the rate test cannot be refilled by a slow machine.
    Object.assign(raw.merchants[1], { apiRequestsPerSecondMax: 1, apiRequestsBurstMax: 40 });
    raw.limits.paymentsPerMinuteMax = 50;
    raw.limits.authorizationTtlMs = 4_000;
  });
});
afterAll(async () => {
  await p?.cleanup();
});

describe('a payment request', () => {
  it('challenges the payer by SMS and completes when they answer YES', async () => {
    const phone = newPhone();
    const created = await call('POST', '/v1/payment-requests', { body: { msisdn: `+${phone}`, amountMinor: 15_000, currency: 'KES', reference: 'INV-7', description: 'order 7' } });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ status: 'pending', amountMinor: 15_000, feeMinor: 235, currency: 'KES', msisdn: `+${phone}`, reference: 'INV-7', description: 'order 7', failureReason: null });
    const challenge = await waitFor('challenge SMS', async () => smsTo(phone).find((t) => t.startsWith('Pay 150.00 KES to Duka Ya Mama (SHOP42) ref INV-7?')));
    const code = /YES (\d{4})/.exec(challenge)?.[1] as string;
    expect(await p.ask(phone, `YES ${code}`)).toMatch(/^Paid 150\.00 KES to Duka Ya Mama/);
    await waitFor('completed', async () => (await call('GET', `/v1/payments/${created.body.id}`)).body.status === 'completed');
    expect(carrier.balanceOf(phone)).toBe(1_000_000n - 15_000n);
  });

  it('gives the payer the time the merchant asked for to confirm', async () => {
    const phone = newPhone();
    const created = await call('POST', '/v1/payment-requests', { body: { msisdn: `0${phone.slice(3)}`, amountMinor: 5_000, currency: 'KES', expiresInSeconds: 30 } });
    expect(created.status).toBe(201);
    const challenged = await waitFor('challenged', async () => {
      const r = await call('GET', `/v1/payments/${created.body.id}`);
      return r.body.status === 'awaiting_confirmation' ? r.body : null;
    });
    const ttlMs = Date.parse(challenged.expiresAt) - Date.parse(challenged.createdAt);
    expect(ttlMs).toBeGreaterThan(29_000);
    expect(ttlMs).toBeLessThan(35_000);
  });

  it('the same Idempotency-Key and body answer the same; another body is a 409; none makes a second payment', async () => {
    const phone = newPhone();
    const body = { msisdn: `+${phone}`, amountMinor: 2_000, currency: 'KES', reference: 'A1' };
    const first = await call('POST', '/v1/payment-requests', { body, idempotencyKey: 'order-a1' });
    const before = await paymentCount();
    // The same fields in another order are the same body.
    const again = await call('POST', '/v1/payment-requests', { raw: JSON.stringify({ reference: 'A1', currency: 'KES', amountMinor: 2_000, msisdn: `+${phone}` }), idempotencyKey: 'order-a1' });
    expect([again.status, again.body.id]).toEqual([201, first.body.id]);
    const other = await call('POST', '/v1/payment-requests', { body: { ...body, amountMinor: 2_001 }, idempotencyKey: 'order-a1' });
    expect(other.status).toBe(409);
    expect(other.type).toMatch(/^application\/problem\+json/);
    expect(other.body).toMatchObject({ type: '/problems/idempotency-conflict', status: 409 });
    const missing = await call('POST', '/v1/payment-requests', { body, idempotencyKey: null });
    expect([missing.status, missing.body.type]).toEqual([400, '/problems/idempotency-key-required']);
    expect(await paymentCount()).toBe(before);
    // Another merchant's key with the same Idempotency-Key is another request.
    const ev = await call('POST', '/v1/payment-requests', { key: evKey.key, body, idempotencyKey: 'order-a1' });
    expect(ev.status).toBe(201);
    expect(ev.body.id).not.toBe(first.body.id);
  });
});

describe('manual capture (a metered service)', () => {
  async function authorize(maxMinor: number, reference: string): Promise<{ id: string; phone: string }> {
    const phone = newPhone();
    const created = await call('POST', '/v1/payment-requests', { body: { msisdn: `+${phone}`, amountMinor: maxMinor, currency: 'KES', reference, capture: 'manual' } });
    expect(created.body).toMatchObject({ status: 'pending', captureMode: 'manual', authorizedMinor: maxMinor });
    const challenge = await waitFor('challenge SMS', async () => smsTo(phone).find((t) => /YES \d{4}/.test(t)));
    expect(challenge).toMatch(/^Pay up to [\d,.]+ KES to Duka Ya Mama \(SHOP42\) ref /);
    expect(await p.ask(phone, `YES ${/YES (\d{4})/.exec(challenge)?.[1]}`)).toMatch(/^Authorised up to [\d,.]+ KES for Duka Ya Mama \(SHOP42\)\. You pay only what is used/);
    await waitFor('authorized', async () => (await call('GET', `/v1/payments/${created.body.id}`)).body.status === 'authorized');
    return { id: created.body.id, phone };
  }

  it('holds the most, captures what was used, releases the rest, and books the split on the captured amount', async () => {
    const { id, phone } = await authorize(50_000, 'EV-1');
    expect(carrier.balanceOf(phone)).toBe(1_000_000n - 50_000n);
    const over = await call('POST', `/v1/payments/${id}/capture`, { body: { amountMinor: 50_001 } });
    expect([over.status, over.body.type]).toEqual([422, '/problems/payment-refused']);
    const captured = await call('POST', `/v1/payments/${id}/capture`, { body: { amountMinor: 12_345 }, idempotencyKey: `cap-${id}` });
    expect(captured.status).toBe(200);
    expect(captured.body).toMatchObject({ id, status: 'processing', amountMinor: 12_345, authorizedMinor: 50_000 });
    // A retry of the same capture is the same answer, not a second capture.
    const retried = await call('POST', `/v1/payments/${id}/capture`, { body: { amountMinor: 12_345 }, idempotencyKey: `cap-${id}` });
    expect([retried.status, retried.body.amountMinor]).toEqual([200, 12_345]);
    await waitFor('completed', async () => (await call('GET', `/v1/payments/${id}`)).body.status === 'completed');
    expect(carrier.balanceOf(phone)).toBe(1_000_000n - 12_345n);
    await waitFor('receipt', async () => smsTo(phone).some((t) => t.startsWith('Paid 123.45 KES to Duka Ya Mama')));
    const again = await call('POST', `/v1/payments/${id}/capture`, { body: { amountMinor: 100 } });
    expect([again.status, again.body.detail]).toEqual([422, 'the payment is completed, not authorized']);
  });

  it('an authorization the merchant never captures expires and the hold is released', async () => {
    const { id, phone } = await authorize(20_000, 'EV-2');
    await waitFor('expired', async () => (await call('GET', `/v1/payments/${id}`)).body.status === 'failed', 15_000);
    await waitFor('released', async () => carrier.balanceOf(phone) === 1_000_000n);
  });

  it('STOP from the payer ends an authorization: the hold is released and the merchant cannot capture', async () => {
    const { id, phone } = await authorize(20_000, 'EV-3');
    await p.ask(phone, 'STOP'); // the cancelled payment's SMS comes first, then the STOP reply
    await waitFor('STOP reply', async () => smsTo(phone).some((t) => t.startsWith('STOP received')));
    await waitFor('released', async () => carrier.balanceOf(phone) === 1_000_000n);
    expect((await call('GET', `/v1/payments/${id}`)).body).toMatchObject({ status: 'failed', failureReason: 'cancelled' });
    const late = await call('POST', `/v1/payments/${id}/capture`, { body: { amountMinor: 100 } });
    expect([late.status, late.body.detail]).toEqual([422, 'the payment is failed, not authorized']);
  });

  it('an automatic payment cannot be captured by hand', async () => {
    const created = await call('POST', '/v1/payment-requests', { body: { msisdn: `+${newPhone()}`, amountMinor: 1_000, currency: 'KES' } });
    const refused = await call('POST', `/v1/payments/${created.body.id}/capture`, { body: { amountMinor: 1_000 } });
    expect([refused.status, refused.body.detail]).toEqual([422, 'this payment is captured automatically']);
  });
});

describe('refunds', () => {
  it('gives back part, then the rest, never more than captured; the payer gets the money and an SMS', async () => {
    const phone = newPhone();
    const created = await call('POST', '/v1/payment-requests', { body: { msisdn: `+${phone}`, amountMinor: 15_000, currency: 'KES', reference: 'RF-1' } });
    const id = created.body.id as string;
    const notYet = await call('POST', `/v1/payments/${id}/refunds`, { body: { amountMinor: 100 } });
    expect([notYet.status, notYet.body.type]).toEqual([422, '/problems/payment-refused']);
    const challenge = await waitFor('challenge SMS', async () => smsTo(phone).find((t) => /YES \d{4}/.test(t)));
    await p.ask(phone, `YES ${/YES (\d{4})/.exec(challenge)?.[1]}`);
    await waitFor('completed', async () => (await call('GET', `/v1/payments/${id}`)).body.status === 'completed');
    const merchantBefore = await p.ledger.balance(AccountIds.merchant('SHOP42', 'KES'));

    const first = await call('POST', `/v1/payments/${id}/refunds`, { body: { amountMinor: 5_000 } });
    expect(first.status).toBe(201);
    expect(first.body.refund).toMatchObject({ status: 'pending', amountMinor: 5_000, currency: 'KES' });
    expect(first.body.payment).toMatchObject({ id, refundedMinor: 5_000 });
    const over = await call('POST', `/v1/payments/${id}/refunds`, { body: { amountMinor: 10_001 } });
    expect([over.status, over.body.detail]).toEqual([422, 'at most 10000 minor units of KES are left to refund']);
    const rest = await call('POST', `/v1/payments/${id}/refunds`, { body: { amountMinor: 10_000 } });
    expect(rest.status).toBe(201);
    expect((await call('POST', `/v1/payments/${id}/refunds`, { body: { amountMinor: 1 } })).status).toBe(422);

    await waitFor('payer refunded at the carrier', async () => carrier.balanceOf(phone) === 1_000_000n);
    await waitFor('refund SMS', async () => smsTo(phone).filter((t) => t.startsWith('Refund: ')).length === 2);
    expect(smsTo(phone)).toContain(`Refund: 50.00 KES back from Duka Ya Mama (SHOP42) for payment ${id.slice(0, 8).toUpperCase()}.`);
    await waitFor('merchant payable debited', async () => (await p.ledger.balance(AccountIds.merchant('SHOP42', 'KES'))) === merchantBefore - 15_000n);
    expect((await call('GET', `/v1/payments/${id}`)).body.refundedMinor).toBe(15_000);
    const balance = await call('GET', '/v1/balance');
    expect(balance.body).toEqual({ balances: [{ currency: 'KES', amountMinor: Number(await p.ledger.balance(AccountIds.merchant('SHOP42', 'KES'))) }] });
    expect(await p.ledger.check()).toEqual({ postingsSumMinor: 0n, unbalancedTransfers: 0, driftedBalances: 0, negativeBalances: 0 });
  });
});

describe('what a bad call gets', () => {
  it('keys: none, a wrong secret, an unknown id are 401; a rotated second key works', async () => {
    const before = await paymentCount();
    const body = { msisdn: `+${newPhone()}`, amountMinor: 100, currency: 'KES' };
    const none = await call('POST', '/v1/payment-requests', { key: null, body });
    expect([none.status, none.body.type, none.headers.get('www-authenticate')]).toEqual([401, '/problems/unauthorized', 'Bearer']);
    const wrongSecret = `${shopKey.key.slice(0, -4)}AAAA`;
    expect((await call('POST', '/v1/payment-requests', { key: wrongSecret, body })).status).toBe(401);
    expect((await call('GET', '/v1/payments', { key: newApiKey().key })).status).toBe(401);
    // An encoded path routes to the same handler and gets the same check.
    expect((await call('GET', '/%761/balance', { key: null })).status).toBe(401);
    expect((await call('GET', '/%76%31/payments/abc', { key: null })).status).toBe(401);
    expect(await paymentCount()).toBe(before);
    expect((await call('POST', '/v1/payment-requests', { key: shopKeyRotated.key, body })).status).toBe(201);
  });

  it('validation: each bad field is named; bad JSON, a wrong type and a huge body are refused; no payment', async () => {
    const before = await paymentCount();
    const invalid = await call('POST', '/v1/payment-requests', { body: { amountMinor: -5, currency: 'kes', extra: 1 } });
    expect(invalid.status).toBe(422);
    expect(invalid.body.type).toBe('/problems/validation');
    const pointers = invalid.body.errors.map((e: { pointer: string }) => e.pointer).sort();
    expect(pointers).toEqual(expect.arrayContaining(['/amountMinor', '/currency', '/extra', '/msisdn']));
    expect((await call('POST', '/v1/payment-requests', { raw: '{"msisdn": ' })).body.type).toBe('/problems/malformed-request');
    // Nothing is coerced into an amount: not true, not [5000], not "1e3".
    for (const amountMinor of [true, [5_000], '1e3', '5000']) {
      const r = await call('POST', '/v1/payment-requests', { body: { msisdn: `+${newPhone()}`, amountMinor, currency: 'KES' } });
      expect({ amountMinor, status: r.status, pointers: r.body.errors?.map((e: { pointer: string }) => e.pointer) }).toEqual({ amountMinor, status: 422, pointers: ['/amountMinor'] });
    }
    expect((await call('GET', '/v1/payments?limit=abc')).status).toBe(422);
    expect((await call('POST', '/v1/payment-requests', { raw: 'msisdn=1', contentType: 'text/plain' })).status).toBe(415);
    expect((await call('POST', '/v1/payment-requests', { raw: JSON.stringify({ description: 'x'.repeat(20_000) }) })).status).toBe(413);
    expect((await call('GET', '/v1/payments/nope')).status).toBe(404);
    expect((await call('GET', '/v1/nothing-here')).status).toBe(404);
    expect(await paymentCount()).toBe(before);
  });

  it('a NUL or an unpaired surrogate in the body, the path or the query is a 422 problem, never a retryable 503; no payment', async () => {
    const before = await paymentCount();
    const msisdn = `+${newPhone()}`;
    // Raw JSON, so the escapes reach the server as written.
    const nulBody = await call('POST', '/v1/payment-requests', { raw: `{"msisdn":"${msisdn}","amountMinor":100,"currency":"KES","description":"a\\u0000b"}` });
    expect([nulBody.status, nulBody.type, nulBody.body.type, nulBody.body.errors]).toEqual([422, expect.stringMatching(/^application\/problem\+json/), '/problems/validation', [{ pointer: '/description', detail: expect.stringContaining('NUL') }]]);
    const surrogate = await call('POST', '/v1/payment-requests', { raw: `{"msisdn":"${msisdn}","amountMinor":100,"currency":"KES","description":"a\\ud800b"}` });
    expect([surrogate.status, surrogate.body.errors?.[0]?.pointer]).toEqual([422, '/description']);
    const nulPath = await call('GET', '/v1/payments/%00');
    expect([nulPath.status, nulPath.type, nulPath.body.type, nulPath.body.errors?.[0]?.pointer]).toEqual([422, expect.stringMatching(/^application\/problem\+json/), '/problems/validation', '/id']);
    expect((await call('GET', '/v1/mandates/a%00b')).status).toBe(422);
    expect((await call('POST', '/v1/payments/%00/refunds', { body: { amountMinor: 1 } })).status).toBe(422);
    expect((await call('GET', '/v1/payments?cursor=%00')).status).toBe(422);
    expect(await paymentCount()).toBe(before);
  });

  it('payments answers a call PostgreSQL refuses for its data as invalid, not busy (a client would retry that forever)', async () => {
    const nats = await connectNats({ ...p.stack.config.nats, name: 'nul-test' }, quietLogger());
    try {
      const reply = await requestReply(nats.nc, Requests.paymentsMerchant, {
        merchantId: 'SHOP42', idempotencyKey: 'nul-1', bodySha256: Buffer.alloc(32, 1),
        createPaymentRequest: { msisdn: `+${newPhone()}`, amount: moneyToProto({ amountMinor: 100n, currency: 'KES' }), description: 'a\u0000b' },
      }, 5_000);
      expect([reply.error, reply.detail]).toEqual([dialpay.v1.MerchantError.MERCHANT_ERROR_INVALID, expect.stringContaining('cannot be stored')]);
    } finally {
      await nats.close();
    }
  });

  it('refusals name the rule: over the per-payment limit, a number no operator of ours serves', async () => {
    const before = await paymentCount();
    const over = await call('POST', '/v1/payment-requests', { body: { msisdn: `+${newPhone()}`, amountMinor: 600_000, currency: 'KES' } });
    // Refused, but without the payer's own figures (their limits are nobody else's business).
    expect([over.status, over.body.type, over.body.detail]).toEqual([422, '/problems/payment-refused', 'this payer cannot make this payment now (a limit or the payer\'s account)']);
    const foreign = await call('POST', '/v1/payment-requests', { body: { msisdn: '+14155550100', amountMinor: 100, currency: 'KES' } });
    expect([foreign.status, foreign.body.type]).toEqual([422, '/problems/payment-refused']);
    expect(await paymentCount()).toBe(before);
  });

  it('a key past its rate gets 429 with Retry-After', async () => {
    const answers = await Promise.all(Array.from({ length: 150 }, () => call('GET', '/v1/payments?limit=1', { key: evKey.key })));
    const limited = answers.filter((a) => a.status === 429);
    expect(limited.length).toBeGreaterThan(0);
    expect(limited[0]?.body.type).toBe('/problems/rate-limited');
    expect(Number(limited[0]?.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(answers.filter((a) => a.status === 200).length).toBeGreaterThanOrEqual(40);
  });
});

describe('reading payments', () => {
  it('lists newest first in cursor pages, filters by status, and never shows another merchant\'s payments', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const r = await call('POST', '/v1/payment-requests', { key: shopKeyRotated.key, body: { msisdn: `+${newPhone()}`, amountMinor: 300 + i, currency: 'KES', reference: `L${i}` } });
      ids.push(r.body.id);
    }
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page = await call('GET', `/v1/payments?limit=2${cursor ? `&cursor=${cursor}` : ''}`, { key: shopKeyRotated.key });
      expect(page.status).toBe(200);
      expect(page.body.data.length).toBeLessThanOrEqual(2);
      seen.push(...page.body.data.map((d: { id: string }) => d.id));
      cursor = page.body.nextCursor;
    } while (cursor);
    expect(seen.slice(0, 3)).toEqual([...ids].reverse());
    expect(new Set(seen).size).toBe(seen.length);
    const all = (await p.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM payments.payments WHERE payee_id = 'SHOP42'`)).rows[0]?.n;
    expect(seen.length).toBe(all);
    const completed = await call('GET', '/v1/payments?status=completed&limit=200');
    expect(completed.body.data.every((d: { status: string }) => d.status === 'completed')).toBe(true);
    expect(completed.body.data.length).toBeGreaterThanOrEqual(1);
    expect((await call('GET', '/v1/payments?cursor=bm90LWEtY3Vyc29y')).status).toBe(422);
    const evPayment = (await p.pool.query<{ payment_id: string }>(`SELECT payment_id FROM payments.payments WHERE payee_id = 'EVCHARGE' LIMIT 1`)).rows[0]?.payment_id;
    expect((await call('GET', `/v1/payments/${evPayment}`)).status).toBe(404);
  });

  it('serves its OpenAPI document, the same as the copy in the repo', async () => {
    const served = await (await fetch(`${base}/openapi.json`)).json();
    expect(served).toEqual(openApiDocument());
    expect(JSON.parse(readFileSync(`${ROOT}gateway/merchant-api/openapi.json`, 'utf8'))).toEqual(served);
    expect(Object.keys(served.paths)).toEqual(['/v1/payment-requests', '/v1/payments/{id}/capture', '/v1/payments/{id}/refunds', '/v1/payments/{id}', '/v1/mandates', '/v1/mandates/{id}', '/v1/mandates/{id}/charges', '/v1/settlements', '/v1/balance',
      '/v1/payouts', '/v1/payouts/{id}', '/v1/operator/deposits', '/v1/operator/deposits/{id}', '/v1/operator/agents/{agentId}/float-topups', '/v1/operator/agents/{agentId}',
      '/v1/operator/subscribers/{msisdn}/kyc-tier', '/v1/operator/subscribers/{msisdn}/block', '/v1/operator/subscribers/{msisdn}/unblock', '/v1/payments']);
    // The operator routes take the operator's key, every other route the merchant's.
    expect(Object.keys(served.components.securitySchemes)).toEqual(['apiKey', 'operatorKey']);
    expect(served.paths['/v1/operator/deposits'].post.security).toEqual([{ operatorKey: [] }]);
    expect(served.paths['/v1/operator/deposits/{id}'].get.security).toEqual([{ operatorKey: [] }]);
    expect(served.paths['/v1/operator/agents/{agentId}/float-topups'].post.security).toEqual([{ operatorKey: [] }]);
    expect(served.paths['/v1/operator/agents/{agentId}'].get.security).toEqual([{ operatorKey: [] }]);
    expect(served.paths['/v1/operator/subscribers/{msisdn}/kyc-tier'].put.security).toEqual([{ operatorKey: [] }]);
    expect(served.paths['/v1/operator/subscribers/{msisdn}/block'].post.security).toEqual([{ operatorKey: [] }]);
    expect(served.paths['/v1/operator/subscribers/{msisdn}/unblock'].post.security).toEqual([{ operatorKey: [] }]);
    expect(served.paths['/v1/payouts'].post.security).toBeUndefined();
  });
});
