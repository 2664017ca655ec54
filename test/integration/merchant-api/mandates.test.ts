// Mandates end to end: a merchant asks for a standing permission, the
// subscriber confirms it by SMS, charges inside its cap need no new
// confirmation but each gets a receipt, STOP revokes it at once (confirmed
// by SMS, told to the merchant), and no charge goes through outside an
// active mandate.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SimulatedCarrier } from '../../../services/billing/index.js';
import { newApiKey } from '../../../runtime/api-keys.js';
import { Events, type NatsHandle } from '../../../runtime/nats/index.js';
import { startMerchantApiStack, type PaymentsStack } from '../../support/payments-stack.js';
import { waitFor } from '../../support/stack.js';
import { readEvents } from '../../support/streams.js';

let p: PaymentsStack;
let api: string;
let nats: NatsHandle;
const key = newApiKey();
const otherMerchantKey = newApiKey();
const carrier = new SimulatedCarrier({ openingBalanceMinor: 1_000_000n });
let phoneNo = 0;
const newPhone = () => `2547660${String(++phoneNo).padStart(5, '0')}`;
let idem = 0;
const smsTo = (phone: string) => p.sim.submitted.filter((m) => m.destination === phone).map((m) => m.text);
const paymentCount = async () => (await p.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM payments.payments')).rows[0]?.n ?? 0;

async function call(method: string, path: string, body?: unknown) {
  const res = await fetch(`${api}${path}`, {
    method,
    headers: { authorization: `Bearer ${key.key}`, ...(method === 'POST' ? { 'content-type': 'application/json', 'idempotency-key': `m-${++idem}` } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, any> };
}

async function mandateFor(phone: string, capMinor: number, reference: string): Promise<{ id: string; code: string }> {
  const created = await call('POST', '/v1/mandates', { msisdn: `+${phone}`, capMinor, currency: 'KES', period: 'month', reference });
  expect(created.status).toBe(201);
  expect(created.body).toMatchObject({ status: 'pending', capMinor, currency: 'KES', period: 'month', msisdn: `+${phone}`, chargedThisPeriodMinor: 0 });
  const ask = await waitFor('mandate SMS', async () => smsTo(phone).find((t) => t.includes('asks to charge you')));
  return { id: created.body.id, code: /YES (\d{4})/.exec(ask)?.[1] as string };
}

beforeAll(async () => {
  ({ p, api, nats } = await startMerchantApiStack(carrier, [key.stored, otherMerchantKey.stored], 'mandates-test'));
});
afterAll(async () => {
  await nats?.close();
  await p?.cleanup();
});

describe('mandates', () => {
  it('create, confirm by SMS, charge inside the cap with a receipt each time, STOP, then no more charges', async () => {
    const phone = newPhone();
    const { id, code } = await mandateFor(phone, 30_000, 'SUB-1');
    expect(smsTo(phone)[0]).toBe(`Duka Ya Mama (SHOP42) asks to charge you up to 300.00 KES per month (SUB-1). Reply YES ${code} within 2 min to allow. STOP cancels it any time.`);
    // Not yet confirmed: no charge.
    const before = await paymentCount();
    const early = await call('POST', `/v1/mandates/${id}/charges`, { amountMinor: 1_000 });
    expect([early.status, early.body.detail]).toEqual([422, 'the mandate is pending, not active']);
    expect(await paymentCount()).toBe(before);

    expect(await p.ask(phone, `YES ${code}`)).toBe('Allowed: Duka Ya Mama (SHOP42) may charge you up to 300.00 KES per month. You get a receipt each time. Send STOP to cancel.');
    expect((await call('GET', `/v1/mandates/${id}`)).body.status).toBe('active');

    const sent = smsTo(phone).length;
    const first = await call('POST', `/v1/mandates/${id}/charges`, { amountMinor: 10_000, reference: 'NOV' });
    expect(first.status).toBe(201);
    await waitFor('first receipt', async () => smsTo(phone).some((t) => t.startsWith('Paid 100.00 KES to Duka Ya Mama')));
    expect((await call('POST', `/v1/mandates/${id}/charges`, { amountMinor: 15_000 })).status).toBe(201);
    await waitFor('second receipt', async () => smsTo(phone).filter((t) => t.startsWith('Paid ')).length === 2);
    // No challenge went out for either: the mandate was the consent.
    expect(smsTo(phone).slice(sent).filter((t) => /YES \d{4}/.test(t))).toEqual([]);
    expect(carrier.balanceOf(phone)).toBe(1_000_000n - 25_000n);
    const over = await call('POST', `/v1/mandates/${id}/charges`, { amountMinor: 5_001 });
    expect([over.status, over.body.detail]).toEqual([422, 'at most 5000 minor units of KES are left in this month']);
    expect((await call('GET', `/v1/mandates/${id}`)).body.chargedThisPeriodMinor).toBe(25_000);

    expect(await p.ask(phone, 'STOP')).toBe('STOP received: pending payments cancelled, no further charges. Send HELP for help. 1 standing permission(s) to charge you cancelled.');
    expect((await call('GET', `/v1/mandates/${id}`)).body.status).toBe('revoked');
    const after = await call('POST', `/v1/mandates/${id}/charges`, { amountMinor: 100 });
    expect([after.status, after.body.detail]).toEqual([422, 'the mandate is revoked, not active']);
    expect(carrier.balanceOf(phone)).toBe(1_000_000n - 25_000n);
    // The merchant is told, through its webhook stream.
    const events = await readEvents(nats, 'MERCHANT_EVENTS', Events.merchantEvent);
    expect(events.filter((e) => e.mandate?.mandateId === id).map((e) => e.type)).toEqual(['mandate.activated', 'mandate.revoked']);
  });

  it('three wrong codes decline a mandate; it can never be charged', async () => {
    const phone = newPhone();
    const { id, code } = await mandateFor(phone, 10_000, 'SUB-2');
    const wrong = code === '1111' ? '2222' : '1111';
    expect(await p.ask(phone, `YES ${wrong}`)).toBe('Wrong code. 2 attempt(s) left.');
    expect(await p.ask(phone, `YES ${wrong}`)).toBe('Wrong code. 1 attempt(s) left.');
    expect(await p.ask(phone, `YES ${wrong}`)).toBe('Wrong code 3 times: the request to charge you was declined.');
    expect(await p.ask(phone, `YES ${code}`)).toBe('No payment is waiting for your confirmation.');
    expect((await call('GET', `/v1/mandates/${id}`)).body.status).toBe('declined');
    expect((await call('POST', `/v1/mandates/${id}/charges`, { amountMinor: 100 })).status).toBe(422);
  });

  it('another merchant cannot see or charge a mandate', async () => {
    const phone = newPhone();
    const { id, code } = await mandateFor(phone, 10_000, 'SUB-3');
    await p.ask(phone, `YES ${code}`);
    const asOther = (method: string, path: string, body?: unknown) => fetch(`${api}${path}`, {
      method, headers: { authorization: `Bearer ${otherMerchantKey.key}`, 'content-type': 'application/json', 'idempotency-key': `o-${++idem}` }, body: body === undefined ? undefined : JSON.stringify(body),
    });
    expect((await asOther('GET', `/v1/mandates/${id}`)).status).toBe(404);
    expect((await asOther('POST', `/v1/mandates/${id}/charges`, { amountMinor: 100 })).status).toBe(404);
    expect(carrier.balanceOf(phone)).toBe(1_000_000n);
  });
});
