// Issue 13, items 4 and 5, end to end: a merchant's API key cannot freeze a
// subscriber's money or use up their limits, and guessing confirmation codes
// is bounded per subscriber across all their open challenges.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SimulatedCarrier } from '../../../services/billing/index.js';
import { newApiKey } from '../../../runtime/api-keys.js';
import { freePort } from '../../../runtime/engines/index.js';
import { startPaymentsStack, type PaymentsStack } from '../../support/payments-stack.js';
import { waitFor } from '../../support/stack.js';

const CHALLENGE_TTL_MS = 12_000;
const CODE_LOCKOUT_MS = 8_000;
const OPEN_MAX = 2;

let p: PaymentsStack;
let base: string;
const carrier = new SimulatedCarrier({ openingBalanceMinor: 1_000_000n }); // 10,000.00 KES each
const shopKey = newApiKey();
const evKey = newApiKey();
let phoneNo = 0;
const newPhone = () => `2547441${String(++phoneNo).padStart(5, '0')}`;
let idem = 0;

async function post(key: string, path: string, body: unknown) {
  const res = await fetch(`${base}${path}`, {
    method: 'POST', body: JSON.stringify(body),
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', 'idempotency-key': `h-${++idem}` },
  });
  return { status: res.status, type: res.headers.get('content-type') ?? '', body: await res.json() };
}
async function get(key: string, id: string) {
  return (await fetch(`${base}/v1/payments/${id}`, { headers: { authorization: `Bearer ${key}` } })).json();
}
const request = (key: string, phone: string, amountMinor: number, extra: Record<string, unknown> = {}) =>
  post(key, '/v1/payment-requests', { msisdn: `+${phone}`, amountMinor, currency: 'KES', ...extra });
const smsTo = (phone: string) => p.sim.submitted.filter((m) => m.destination === phone).map((m) => m.text);
const codesIn = (texts: string[]) => texts.map((t) => /YES (\d{4})/.exec(t)?.[1]).filter((c): c is string => !!c);
const paymentCount = async () => (await p.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM payments.payments')).rows[0]?.n ?? 0;

beforeAll(async () => {
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  p = await startPaymentsStack(carrier, (raw) => {
    raw.merchantApi = { port, requestsPerSecondMax: 100, requestsBurstMax: 40 };
    raw.merchants[0].apiKeys = [shopKey.stored];
    raw.merchants[1].apiKeys = [evKey.stored];
    raw.limits.paymentsPerMinuteMax = 5;
    raw.limits.tiers[0].dailyMaxMinor = 600_000; // 6,000.00 KES: one 4,999.00 request fits, two do not
    raw.limits.challengeTtlMs = CHALLENGE_TTL_MS;
    raw.limits.codeLockoutMs = CODE_LOCKOUT_MS;
    raw.limits.merchantOpenRequestsPerSubscriberMax = OPEN_MAX;
  });
});
afterAll(async () => {
  await p?.cleanup();
});

describe('a merchant cannot freeze a subscriber\'s money (issue 13 item 4)', () => {
  it('two 4,999.00 KES requests for a day hold for one challenge at most, count against no limit, and a third is refused', async () => {
    const phone = newPhone();
    const first = await request(evKey.key, phone, 499_900, { expiresInSeconds: 86_400 });
    // Unanswered, the first counts against none of the payer's limits: the second fits the daily cap.
    const second = await request(evKey.key, phone, 499_900, { expiresInSeconds: 86_400 });
    expect([first.status, second.status]).toEqual([201, 201]);
    const before = await paymentCount();
    const third = await request(evKey.key, phone, 100, { expiresInSeconds: 86_400 });
    expect(third.type).toMatch(/^application\/problem\+json/);
    expect([third.status, third.body.type]).toEqual([409, '/problems/too-many-open-requests']);
    expect(await paymentCount()).toBe(before);
    // Another merchant's place is its own.
    expect((await request(shopKey.key, phone, 100)).status).toBe(201);

    await waitFor('all challenged', async () => codesIn(smsTo(phone)).length === 3);
    for (const created of [first, second]) {
      const challenged = await get(evKey.key, created.body.id);
      expect(challenged.status).toBe('awaiting_confirmation');
      expect(Date.parse(challenged.expiresAt) - Date.parse(challenged.createdAt)).toBeLessThanOrEqual(CHALLENGE_TTL_MS + 1_000);
    }
    expect(carrier.balanceOf(phone)).toBe(1_000_000n - 999_800n - 100n); // held, for one challenge
    // The payer's own payment is not refused by a limit the requests used up; only the hold is in its way.
    expect(await p.ask(phone, 'PAY EVCHARGE 50')).toBe('Payment of 50.00 KES failed: insufficient balance. Nothing was charged.');

    await waitFor('requests expired', async () => (await get(evKey.key, first.body.id)).status === 'failed' && (await get(evKey.key, second.body.id)).status === 'failed', CHALLENGE_TTL_MS + 5_000);
    expect((await get(evKey.key, first.body.id)).failureReason).toBe('expired');
    const endedAfterMs = Date.now() - Date.parse(first.body.createdAt);
    expect(endedAfterMs).toBeLessThan(CHALLENGE_TTL_MS + 5_000);
    await waitFor('holds released', async () => carrier.balanceOf(phone) === 1_000_000n);

    const challenge = await p.ask(phone, 'PAY EVCHARGE 50');
    expect(await p.ask(phone, `YES ${codesIn([challenge])[0]}`)).toMatch(/^Paid 50\.00 KES to Volt EV Charging/);
    // The expired requests are no longer open: the merchant may ask again.
    expect((await request(evKey.key, phone, 100)).status).toBe(201);
  }, 60_000);

  it('requests not answered do not use up the payer\'s payments per minute', async () => {
    const phone = newPhone();
    for (const key of [shopKey.key, shopKey.key, evKey.key, evKey.key]) expect((await request(key, phone, 100)).status).toBe(201);
    await waitFor('merchant challenges', async () => codesIn(smsTo(phone)).length === 4);
    // Four merchant requests and two of the payer's own: still under 5 a minute, as the payer's own are 2.
    expect(await p.ask(phone, 'PAY SHOP42 1')).toMatch(/^Pay 1\.00 KES to Duka Ya Mama/);
    expect(await p.ask(phone, 'PAY SHOP42 2')).toMatch(/^Pay 2\.00 KES to Duka Ya Mama/);
  });

  it('a request is checked against the payer\'s limits when they consent, and refused if it no longer fits', async () => {
    const phone = newPhone();
    const ev = await request(evKey.key, phone, 300_000);
    const shop = await request(shopKey.key, phone, 400_000);
    expect([ev.status, shop.status]).toEqual([201, 201]);
    await waitFor('both challenged', async () => codesIn(smsTo(phone)).length === 2);
    const texts = smsTo(phone);
    const evCode = codesIn(texts.filter((t) => t.includes('Volt EV')))[0];
    const shopCode = codesIn(texts.filter((t) => t.includes('Duka Ya Mama')))[0];
    expect(await p.ask(phone, `YES ${evCode}`)).toMatch(/^Paid 3,000\.00 KES to Volt EV Charging/);
    // 3,000.00 paid today and 4,000.00 more would pass the 6,000.00 daily cap.
    expect(await p.ask(phone, `YES ${shopCode}`)).toBe('Payment of 4,000.00 KES failed: over your limit. Nothing was charged.');
    await waitFor('shop request failed', async () => (await get(shopKey.key, shop.body.id)).failureReason === 'limit');
    await waitFor('hold released', async () => carrier.balanceOf(phone) === 1_000_000n - 300_000n);
  });
});

describe('guessing codes is bounded per subscriber (issue 13 item 5)', () => {
  it('with 5 open challenges, 16 wrong codes get at most 5 "wrong code" replies, then a lockout that refuses a right code too, until it ends', async () => {
    const phone = newPhone();
    for (const key of [shopKey.key, shopKey.key, evKey.key, evKey.key]) expect((await request(key, phone, 1_000)).status).toBe(201);
    await waitFor('merchant challenges', async () => codesIn(smsTo(phone)).length === 4);
    const own = await p.ask(phone, 'PAY SHOP42 5');
    expect(own).toMatch(/^Pay 5\.00 KES/);
    const rightCode = codesIn([own])[0] as string;

    const replies: string[] = [];
    for (let i = 0; i < 16; i++) replies.push(await p.ask(phone, 'YES 0000'));
    const lockedText = /^Too many wrong codes\. For your safety, confirmations by code are paused for \d+ min\./;
    expect(replies.filter((r) => r.startsWith('Wrong code')).length).toBeLessThanOrEqual(5);
    const firstLocked = replies.findIndex((r) => lockedText.test(r));
    expect(firstLocked).toBeGreaterThanOrEqual(0);
    expect(replies.slice(firstLocked).every((r) => lockedText.test(r))).toBe(true);

    // The right code during the lockout is refused like any other, and the payment stays open.
    expect(await p.ask(phone, `YES ${rightCode}`)).toMatch(lockedText);
    const open = await p.pool.query<{ state: string }>(`SELECT state FROM payments.payments WHERE payer_msisdn = $1 AND channel = 'sms'`, [phone]);
    expect(open.rows.map((r) => r.state)).toEqual(['challenged']);

    // After the lockout, codes work again.
    const lockedUntil = (await p.pool.query<{ until: Date }>('SELECT code_locked_until AS until FROM payments.subscribers WHERE msisdn = $1', [phone])).rows[0]?.until as Date;
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, lockedUntil.getTime() - Date.now() + 200)));
    const again = await p.ask(phone, 'PAY SHOP42 6');
    expect(await p.ask(phone, `YES ${codesIn([again])[0]}`)).toMatch(/^Paid 6\.00 KES to Duka Ya Mama/);
  }, 60_000);

  it('tells a French subscriber in French', async () => {
    const phone = newPhone();
    await p.ask(phone, 'LANGUE FR');
    expect((await request(evKey.key, phone, 1_000)).status).toBe(201);
    expect((await request(evKey.key, phone, 1_000)).status).toBe(201);
    await waitFor('challenges', async () => codesIn(smsTo(phone)).length === 0 && smsTo(phone).filter((t) => /OUI \d{4}/.test(t)).length === 2);
    const replies: string[] = [];
    for (let i = 0; i < 3; i++) replies.push(await p.ask(phone, 'OUI 0000'));
    expect(replies[0]).toMatch(/^Code incorrect\./);
    expect(replies[2]).toMatch(/^Trop de codes incorrects\. Par securite, les confirmations par code sont suspendues \d+ min\./);
  });
});
