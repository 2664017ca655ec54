// Issue 13, items 4 and 5, end to end: a merchant's API key cannot freeze a
// subscriber's money, use up their limits or lock them out, and guessing
// confirmation codes is bounded per subscriber across all their open challenges.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SimulatedCarrier } from '../../../services/billing/index.js';
import { newApiKey } from '../../../runtime/api-keys.js';
import { freePort } from '../../../runtime/engines/index.js';
import { startPaymentsStack, type PaymentsStack } from '../../support/payments-stack.js';
import { waitFor } from '../../support/stack.js';
import { hashSecret } from '../../../runtime/secrets.js';
import { hashCode } from '../../../services/payments/service.js';
import { capUnconsentedHolds } from '../../../services/payments/merchant-requests-store.js';

const CHALLENGE_TTL_MS = 12_000;
const CODE_LOCKOUT_MS = 8_000;
const OPEN_MAX = 2;
const UNANSWERED_MAX = 3;

let p: PaymentsStack;
let base: string;
const carrier = new SimulatedCarrier({ openingBalanceMinor: 1_000_000n }); // 10,000.00 KES each
const shopKey = newApiKey();
const evKey = newApiKey();
const thirdKey = newApiKey();
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
const mandate = (key: string, phone: string) => post(key, '/v1/mandates', { msisdn: `+${phone}`, capMinor: 10_000, currency: 'KES', period: 'month', reference: 'SUB' });
const withPin = async (phone: string, pin: string) => p.pool.query('INSERT INTO payments.subscribers (msisdn, pin_hash) VALUES ($1, $2)', [phone, await hashSecret(pin)]);
const openCount = async (phone: string) => (await p.pool.query<{ n: number }>(
  `SELECT (SELECT count(*) FROM payments.payments WHERE payer_msisdn = $1) + (SELECT count(*) FROM payments.mandates WHERE payer_msisdn = $1) AS n`, [phone],
)).rows[0]?.n;
const statesOf = async (phone: string) => (await p.pool.query<{ state: string }>(`SELECT state FROM payments.payments WHERE payer_msisdn = $1 AND channel = 'api'`, [phone])).rows.map((r) => r.state);
const smsTo = (phone: string) => p.sim.submitted.filter((m) => m.destination === phone).map((m) => m.text);
const codesIn = (texts: string[]) => texts.map((t) => /YES (\d{4})/.exec(t)?.[1]).filter((c): c is string => !!c);
/**
 * Sends `text` and waits for the reply that matches `pattern`, skipping others that arrive meanwhile (an
 * expiry notice of an earlier request can land between a PAY and its challenge, and `ask` takes the next SMS).
 */
async function askFor(phone: string, text: string, pattern: RegExp): Promise<string> {
  const seen = smsTo(phone).length;
  const statuses = await p.sim.sendFromPhone(phone, '384', text);
  if (statuses.some((s) => s !== 0)) throw new Error(`the gateway answered ${statuses.join(',')} to "${text}"`);
  return waitFor(`a reply to "${text}" matching ${pattern}`, async () => smsTo(phone).slice(seen).find((t) => pattern.test(t)));
}
const paymentCount = async () => (await p.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM payments.payments')).rows[0]?.n ?? 0;

beforeAll(async () => {
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  p = await startPaymentsStack(carrier, (raw) => {
    raw.merchantApi = { port, requestsPerSecondMax: 100, requestsBurstMax: 40 };
    raw.merchants[0].apiKeys = [shopKey.stored];
    raw.merchants[1].apiKeys = [evKey.stored];
    // A third merchant on the same operator.
    raw.merchants.push({ id: 'GAMES-KE', name: 'Games Kenya', operatorIds: ['safaricom-ke'], feeScheduleId: 'none', apiKeys: [thirdKey.stored] });
    raw.limits.paymentsPerMinuteMax = 5;
    raw.limits.tiers[0].dailyMaxMinor = 600_000; // 6,000.00 KES: one 4,999.00 request fits, two do not
    raw.limits.challengeTtlMs = CHALLENGE_TTL_MS;
    raw.limits.codeLockoutMs = CODE_LOCKOUT_MS;
    raw.limits.merchantOpenRequestsPerSubscriberMax = OPEN_MAX;
    raw.limits.merchantUnansweredRequestsPerDayMax = UNANSWERED_MAX;
    // merchantOpenRequestsPerSubscriberTotalMax: the default, 5.
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

    const challenge = await askFor(phone, 'PAY EVCHARGE 50', /^Pay 50\.00 KES to Volt EV Charging/);
    expect(await askFor(phone, `YES ${codesIn([challenge])[0]}`, /^Paid |failed|Wrong/)).toMatch(/^Paid 50\.00 KES to Volt EV Charging/);
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
    // The payer's own payment first: a wrong code counts on the newest challenge, so this one stays open.
    const own = await p.ask(phone, 'PAY SHOP42 5');
    expect(own).toMatch(/^Pay 5\.00 KES/);
    const rightCode = codesIn([own])[0] as string;
    for (const key of [shopKey.key, shopKey.key, evKey.key, evKey.key]) expect((await request(key, phone, 1_000)).status).toBe(201);
    await waitFor('merchant challenges', async () => codesIn(smsTo(phone)).length === 5);

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
    for (let i = 0; i < 5; i++) replies.push(await p.ask(phone, 'OUI 0000'));
    expect(replies[0]).toMatch(/^Code incorrect\./);
    expect(replies[4]).toMatch(/^Trop de codes incorrects\. Par securite, les confirmations par code sont suspendues \d+ min\./);
  });
});

describe('a merchant cannot lock a subscriber out, nor start a mandate on a PIN (review of issue 13)', () => {
  it('one wrong reply is one wrong answer: with five merchant challenges open, a typo does not lock the payer out', async () => {
    const phone = newPhone();
    for (const key of [shopKey.key, shopKey.key, evKey.key, evKey.key]) expect((await request(key, phone, 1_000)).status).toBe(201);
    expect((await mandate(thirdKey.key, phone)).status).toBe(201);
    await waitFor('merchant challenges', async () => codesIn(smsTo(phone)).length === 5);
    const own = await p.ask(phone, 'PAY SHOP42 5');
    expect(await p.ask(phone, 'YES 0000')).toMatch(/^Wrong code\./);
    expect(await p.ask(phone, `YES ${codesIn([own])[0]}`)).toMatch(/^Paid 5\.00 KES to Duka Ya Mama/);
    const guesses = await p.pool.query<{ wrong: Date[]; until: Date | null }>('SELECT code_wrong_at AS wrong, code_locked_until AS until FROM payments.subscribers WHERE msisdn = $1', [phone]);
    expect([guesses.rows[0]?.wrong.length, guesses.rows[0]?.until]).toEqual([1, null]);
  });

  it('pending mandates count in a merchant\'s open requests, and all merchants together may have at most five open', async () => {
    const phone = newPhone();
    expect((await request(evKey.key, phone, 100)).status).toBe(201);
    expect((await mandate(evKey.key, phone)).status).toBe(201);
    const before = await openCount(phone);
    for (const refused of [await mandate(evKey.key, phone), await request(evKey.key, phone, 100)]) {
      expect(refused.type).toMatch(/^application\/problem\+json/);
      expect([refused.status, refused.body.type]).toEqual([409, '/problems/too-many-open-requests']);
    }
    expect(await openCount(phone)).toBe(before);
    expect((await request(shopKey.key, phone, 100)).status).toBe(201);
    expect((await mandate(shopKey.key, phone)).status).toBe(201);
    expect((await request(thirdKey.key, phone, 100)).status).toBe(201); // the fifth
    const sixth = await mandate(thirdKey.key, phone); // GAMES-KE has one of its two places left, but the payer has none
    expect([sixth.status, sixth.body.type]).toEqual([409, '/problems/too-many-open-requests']);
    expect(sixth.body.detail).toMatch(/this payer already has as many requests awaiting their answer as they may/);
  });

  it('a bare PIN is compared with no code: it activates no mandate, counts as no guess, and works during a code lockout', async () => {
    const phone = newPhone();
    await withPin(phone, '4821');
    const asked = await mandate(evKey.key, phone);
    expect(asked.status).toBe(201);
    await waitFor('mandate SMS', async () => smsTo(phone).some((t) => t.includes('asks to charge you')));
    // The one chance in 9,000 per pending mandate: its code is the payer's PIN.
    await p.pool.query('UPDATE payments.mandates SET code_hash = $2 WHERE mandate_id = $1', [asked.body.id, hashCode(asked.body.id, '4821')]);
    expect(await p.ask(phone, 'PAY SHOP42 2000')).toMatch(/Reply with your PIN/);
    expect(await p.ask(phone, '4821')).toMatch(/^Paid 2,000\.00 KES to Duka Ya Mama/);
    const view = await (await fetch(`${base}/v1/mandates/${asked.body.id}`, { headers: { authorization: `Bearer ${evKey.key}` } })).json();
    expect(view.status).toBe('pending');

    // Locked out of codes (by wrong codes, or a merchant's doing): the PIN still answers the payer's own PIN payment.
    await p.pool.query(`UPDATE payments.subscribers SET code_locked_until = now() + interval '10 minutes' WHERE msisdn = $1`, [phone]);
    expect(await p.ask(phone, 'PAY SHOP42 2100')).toMatch(/Reply with your PIN/);
    expect(await p.ask(phone, '4821')).toMatch(/^Paid 2,100\.00 KES to Duka Ya Mama/);
    const guesses = await p.pool.query<{ wrong: Date[] }>('SELECT code_wrong_at AS wrong FROM payments.subscribers WHERE msisdn = $1', [phone]);
    expect(guesses.rows[0]?.wrong).toEqual([]);
  });
});

describe('a merchant cannot keep a balance frozen by reissuing requests (review of issue 13)', () => {
  it('3 x 4,999.00 KES reissued every challenge: past the bound of unanswered requests a day, 409 and nothing held', async () => {
    const phone = newPhone();
    // The clock, sped up: each round's requests reach their expiry at once, as after challengeTtlMs.
    const expireRound = async () => {
      await waitFor('challenged', async () => (await statesOf(phone)).filter((s) => s === 'challenged').length === 2);
      expect(carrier.balanceOf(phone)).toBe(1_000_000n - 999_800n);
      await p.pool.query(`UPDATE payments.payments SET expires_at = now() - interval '1 second' WHERE payer_msisdn = $1 AND state = 'challenged'`, [phone]);
      await waitFor('expired', async () => (await statesOf(phone)).every((s) => s === 'failed'));
      await waitFor('released', async () => carrier.balanceOf(phone) === 1_000_000n);
    };
    for (let round = 0; round < 2; round++) {
      for (let i = 0; i < 2; i++) expect((await request(evKey.key, phone, 499_900)).status).toBe(201);
      await expireRound();
    }
    // Four went unanswered today (bound 3): the merchant may not hold this payer's money again today.
    const before = await paymentCount();
    const again = await request(evKey.key, phone, 499_900);
    expect(again.type).toMatch(/^application\/problem\+json/);
    expect([again.status, again.body.type]).toEqual([409, '/problems/too-many-unanswered-requests']);
    expect(await paymentCount()).toBe(before);
    expect(carrier.balanceOf(phone)).toBe(1_000_000n);
    // Per merchant: another is not punished for it.
    expect((await request(shopKey.key, phone, 100)).status).toBe(201);
  }, 60_000);

  it('mandates asked again and again, never answered, count too: they would fill the payer\'s open places', async () => {
    const phone = newPhone();
    for (let i = 0; i < UNANSWERED_MAX; i++) {
      expect((await mandate(evKey.key, phone)).status).toBe(201);
      await p.pool.query(`UPDATE payments.mandates SET expires_at = now() - interval '1 second' WHERE payer_msisdn = $1`, [phone]);
    }
    const again = await mandate(evKey.key, phone);
    expect([again.status, again.body.type]).toEqual([409, '/problems/too-many-unanswered-requests']);
    expect((await mandate(shopKey.key, phone)).status).toBe(201);
  });
});

describe('holds from before the cap (review of issue 13)', () => {
  it('at start, an unconsented merchant request waiting for a day is brought down to one challenge; other payments are left alone', async () => {
    const phone = newPhone();
    const created = await request(evKey.key, phone, 100);
    await waitFor('merchant challenge', async () => codesIn(smsTo(phone)).length === 1);
    const own = await p.ask(phone, 'PAY SHOP42 5');
    expect(own).toMatch(/^Pay 5\.00 KES/);
    await waitFor('challenged', async () => (await statesOf(phone)).includes('challenged'));
    // As migration 0009 left them: a day to wait.
    await p.pool.query(`UPDATE payments.payments SET expires_at = now() + interval '24 hours', confirm_ttl_ms = CASE WHEN channel = 'api' THEN 86400000 END WHERE payer_msisdn = $1`, [phone]);
    expect(await capUnconsentedHolds(p.pool, CHALLENGE_TTL_MS)).toBeGreaterThanOrEqual(1);
    const rows = (await p.pool.query<{ channel: string; left_ms: number; confirm_ttl_ms: number | null }>(
      `SELECT channel, (extract(epoch FROM expires_at - now()) * 1000)::int AS left_ms, confirm_ttl_ms FROM payments.payments WHERE payer_msisdn = $1 ORDER BY channel`, [phone],
    )).rows;
    expect(rows.map((r) => [r.channel, r.left_ms <= CHALLENGE_TTL_MS, r.confirm_ttl_ms])).toEqual([['api', true, CHALLENGE_TTL_MS], ['sms', false, null]]);
    expect(await capUnconsentedHolds(p.pool, CHALLENGE_TTL_MS)).toBe(0); // idempotent
    expect((await get(evKey.key, created.body.id)).status).toBe('awaiting_confirmation');
  });
});

describe('one reply is one kind of answer: a code or the PIN, never both (second review of issue 13)', () => {
  const subscriberRow = async (phone: string) => (await p.pool.query<{ pin_failures: number; wrong: Date[] }>(
    'SELECT pin_failures, code_wrong_at AS wrong FROM payments.subscribers WHERE msisdn = $1', [phone],
  )).rows[0];
  const attemptsOf = async (phone: string) => (await p.pool.query<{ channel: string; state: string; challenge_attempts: number }>(
    `SELECT channel, state, challenge_attempts FROM payments.payments WHERE payer_msisdn = $1 ORDER BY channel`, [phone],
  )).rows.map((r) => [r.channel, r.state, r.challenge_attempts]);
  /** A payer with a PIN, a merchant's code request open, then their own payment above the PIN threshold (the newest). */
  const codeAndPinOpen = async (phone: string) => {
    await withPin(phone, '4821');
    expect((await request(shopKey.key, phone, 1_000)).status).toBe(201);
    await waitFor('merchant challenge', async () => codesIn(smsTo(phone)).length === 1);
    expect(await p.ask(phone, 'PAY SHOP42 2000')).toMatch(/Reply with your PIN/);
  };

  it('a mistyped YES <code> with a PIN challenge newest is one wrong code, and no PIN failure', async () => {
    const phone = newPhone();
    await codeAndPinOpen(phone);
    expect(await p.ask(phone, 'YES 0000')).toBe('Wrong code. 2 attempt(s) left.');
    expect(await subscriberRow(phone)).toMatchObject({ pin_failures: 0, wrong: [expect.any(Date)] });
    // The attempt counts on the code challenge, not on the PIN payment.
    expect(await attemptsOf(phone)).toEqual([['api', 'challenged', 1], ['sms', 'challenged', 0]]);
  });

  it('YES <PIN> while a merchant\'s code request is open is a code answer only: it answers no PIN challenge; the bare PIN does, and counts no code', async () => {
    const phone = newPhone();
    await codeAndPinOpen(phone);
    expect(await p.ask(phone, 'YES 4821')).toBe('Wrong code. 2 attempt(s) left.');
    expect(await attemptsOf(phone)).toEqual([['api', 'challenged', 1], ['sms', 'challenged', 0]]);
    expect(await p.ask(phone, '4821')).toMatch(/^Paid 2,000\.00 KES to Duka Ya Mama/);
    expect(await subscriberRow(phone)).toMatchObject({ pin_failures: 0, wrong: [expect.any(Date)] });
    // With no code challenge left, YES <PIN> is the PIN again (as people write it), and no code guess.
    await p.ask(phone, 'STOP');
    await waitFor('STOP reply', async () => smsTo(phone).some((t) => t.startsWith('STOP received')));
    // (What STOP cancelled may still be telling the phone so: wait for these replies by what they say.)
    expect(await askFor(phone, 'PAY SHOP42 2100', /Reply with your PIN|failed/)).toMatch(/Reply with your PIN/);
    expect(await askFor(phone, 'YES 4821', /^Paid |Wrong|failed/)).toMatch(/^Paid 2,100\.00 KES to Duka Ya Mama/);
    expect(await subscriberRow(phone)).toMatchObject({ pin_failures: 0, wrong: [expect.any(Date)] });
  });

  it('a bare number with no PIN challenge open answers nothing and counts nothing, codes open or not', async () => {
    const phone = newPhone();
    await withPin(phone, '4821');
    expect((await request(shopKey.key, phone, 1_000)).status).toBe(201);
    expect((await mandate(evKey.key, phone)).status).toBe(201);
    await waitFor('merchant challenges', async () => codesIn(smsTo(phone)).length === 2);
    expect(await p.ask(phone, '4821')).toBe('No payment is waiting for your PIN. To confirm with a code, reply YES <code>.');
    expect(await p.ask(phone, '1234')).toBe('No payment is waiting for your PIN. To confirm with a code, reply YES <code>.');
    expect(await attemptsOf(phone)).toEqual([['api', 'challenged', 0]]);
    expect((await p.pool.query<{ attempts: number }>('SELECT attempts FROM payments.mandates WHERE payer_msisdn = $1', [phone])).rows).toEqual([{ attempts: 0 }]);
    expect(await subscriberRow(phone)).toMatchObject({ pin_failures: 0, wrong: [] });
  });

  it('with a code challenge and two PIN challenges open, a bare PIN names the two PIN payments waiting', async () => {
    const phone = newPhone();
    await codeAndPinOpen(phone);
    expect(await p.ask(phone, 'PAY SHOP42 2100')).toMatch(/Reply with your PIN/);
    expect(await p.ask(phone, '4821')).toBe('2 payments wait for your PIN, and a PIN cannot say which one. Send STOP to cancel all waiting payments, then pay again.');
  });
});

describe('holds the sweep keeps bounded (second review of issue 13)', () => {
  it('a day-long hold opened after start (an older replica, mid rolling update) is brought down to one challenge by the sweep', async () => {
    const phone = newPhone();
    const created = await request(evKey.key, phone, 100);
    await waitFor('merchant challenge', async () => codesIn(smsTo(phone)).length === 1);
    await p.pool.query(`UPDATE payments.payments SET expires_at = now() + interval '24 hours', confirm_ttl_ms = 86400000 WHERE payer_msisdn = $1`, [phone]);
    const capped = async () => (await p.pool.query<{ left_ms: number; confirm_ttl_ms: number }>(
      `SELECT (extract(epoch FROM expires_at - now()) * 1000)::int AS left_ms, confirm_ttl_ms FROM payments.payments WHERE payer_msisdn = $1`, [phone],
    )).rows[0];
    await waitFor('capped by the sweep', async () => { const row = await capped(); return row !== undefined && row.left_ms <= CHALLENGE_TTL_MS && row.confirm_ttl_ms === CHALLENGE_TTL_MS; }, 5_000);
    expect((await get(evKey.key, created.body.id)).status).toBe('awaiting_confirmation');
  });

  it('a request past its expiry that the sweep has not failed yet still holds, so it still counts in the open bound', async () => {
    const phone = newPhone();
    for (let i = 0; i < OPEN_MAX; i++) expect((await request(evKey.key, phone, 499_900)).status).toBe(201);
    await waitFor('challenged', async () => (await statesOf(phone)).filter((s) => s === 'challenged').length === OPEN_MAX);
    // Expiring in a moment; then held by a transaction of ours, so the sweep (SKIP LOCKED) cannot fail them yet.
    await p.pool.query(`UPDATE payments.payments SET expires_at = now() + interval '1 second' WHERE payer_msisdn = $1`, [phone]);
    const blocker = await p.pool.connect();
    try {
      await blocker.query('BEGIN');
      await blocker.query(`SELECT 1 FROM payments.payments WHERE payer_msisdn = $1 FOR UPDATE`, [phone]);
      await waitFor('expired, not swept', async () => (await p.pool.query(`SELECT 1 FROM payments.payments WHERE payer_msisdn = $1 AND expires_at < now()`, [phone])).rowCount === OPEN_MAX);
      expect(carrier.balanceOf(phone)).toBe(1_000_000n - 2n * 499_900n);
      const before = await paymentCount();
      const stacked = await request(evKey.key, phone, 499_900);
      expect([stacked.status, stacked.body.type]).toEqual([409, '/problems/too-many-open-requests']);
      expect(await paymentCount()).toBe(before);
      expect(await statesOf(phone)).toEqual(['challenged', 'challenged']);
    } finally {
      await blocker.query('ROLLBACK');
      blocker.release();
    }
    await waitFor('swept', async () => (await statesOf(phone)).every((s) => s === 'failed'));
    await waitFor('released', async () => carrier.balanceOf(phone) === 1_000_000n);
  });
});
