// Payments that end at the carrier or at a limit, end to end over SMPP: the
// carrier refuses, the carrier times out, and each spending limit (per
// payment, daily, monthly, velocity). Each gets a clear SMS; no money moves.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { SimulatedCarrier } from '../../../services/billing/index.js';
import { AccountIds } from '../../../services/billing/ledger/rules.js';
import { dialpay, moneyToProto } from '../../../proto/index.js';
import { connectNats, requestReply, Requests } from '../../../runtime/nats/index.js';
import { startPaymentsStack, type PaymentsStack } from '../../support/payments-stack.js';
import { quietLogger, waitFor } from '../../support/stack.js';

let p: PaymentsStack;
const carrier = new SimulatedCarrier({ openingBalanceMinor: 10_000_000n });
let phoneNo = 0;
const newPhone = () => `2547220${String(++phoneNo).padStart(5, '0')}`;
const ask = (phone: string, text: string) => p.ask(phone, text);

async function pay(phone: string, amount: number): Promise<string> {
  const challenge = await ask(phone, `PAY SHOP42 ${amount}`);
  const code = /YES (\d{4})/.exec(challenge)?.[1];
  return code ? ask(phone, `YES ${code}`) : challenge;
}

beforeAll(async () => {
  p = await startPaymentsStack(carrier, (raw) => {
    raw.consumers.retryDelaysMs = [100];
    // Tier 0: at most 50.00 a payment, 80.00 a day, 4 payments a minute.
    raw.limits.tiers[0] = { tier: 0, perTransactionMaxMinor: 5_000, dailyMaxMinor: 8_000, monthlyMaxMinor: 12_000 };
    raw.limits.paymentsPerMinuteMax = 4;
  });
});
afterAll(async () => {
  await p?.cleanup();
});

it('a carrier refusal fails the payment and charges nothing', async () => {
  const phone = newPhone();
  carrier.bar(phone);
  expect(await ask(phone, 'PAY SHOP42 10')).toBe('Payment of 10.00 KES failed: your operator could not charge your account. Nothing was charged.');
  expect(carrier.balanceOf(phone)).toBe(10_000_000n);
});

it('a carrier that does not answer fails the payment cleanly, and a later payment works', async () => {
  const phone = newPhone();
  carrier.down(phone);
  expect(await ask(phone, 'PAY SHOP42 10')).toBe('Payment of 10.00 KES failed: your operator could not charge your account. Nothing was charged.');
  carrier.up(phone);
  expect(await pay(phone, 10)).toMatch(/^Paid 10\.00 KES to Duka Ya Mama/);
  expect(carrier.balanceOf(phone)).toBe(10_000_000n - 1_000n);
});

it('names the limit it refuses: per payment, daily, velocity', async () => {
  const a = newPhone();
  expect(await ask(a, 'PAY SHOP42 50.01')).toBe('Payment refused: the most per payment is 50.00 KES.');
  expect(await pay(a, 50)).toMatch(/^Paid 50\.00 KES/);
  expect(await ask(a, 'PAY SHOP42 40')).toBe('Payment refused: you can pay at most this today: 30.00 KES.');

  const b = newPhone();
  for (let i = 0; i < 4; i++) expect(await pay(b, 1)).toMatch(/^Paid 1\.00 KES/);
  expect(await ask(b, 'PAY SHOP42 1')).toBe('Payment refused: too many payments in a minute, try again shortly.');

});

it('counts the month, not just the day: spending from yesterday counts when yesterday is this month', async () => {
  const phone = newPhone();
  // 75.00 spent yesterday (a completed payment, as it would be booked). Tier 0 allows 120.00 a month.
  await p.pool.query('INSERT INTO payments.subscribers (msisdn) VALUES ($1)', [phone]);
  const { rows } = await p.pool.query<{ same_month: boolean }>(
    `INSERT INTO payments.payments (payment_id, channel, operator_id, short_code, payer_msisdn, payee_kind, payee_id, currency,
       amount_minor, fee_minor, operator_share_minor, payee_minor, language, state, created_at)
     VALUES ($1, 'sms', 'safaricom-ke', '22384', $2, 'merchant', 'SHOP42', 'KES', 7500, 0, 0, 7500, 'en', 'completed', now() - interval '1 day')
     RETURNING date_trunc('month', created_at) = date_trunc('month', now()) AS same_month`,
    [`seed-${phone}`, phone],
  );
  const answer = await ask(phone, 'PAY SHOP42 50');
  if (rows[0]?.same_month) {
    expect(answer).toBe('Payment refused: you can pay at most this month: 45.00 KES.');
  } else {
    // Today is the 1st: yesterday's spending belongs to last month and the month starts afresh.
    expect(answer).toMatch(/^Pay 50\.00 KES to Duka Ya Mama/);
  }
});

it('leaves a ledger that adds up', async () => {
  const ledger = p.ledger;
  expect(await ledger.check()).toEqual({ postingsSumMinor: 0n, unbalancedTransfers: 0, driftedBalances: 0, negativeBalances: 0 });
  await waitFor('holds empty', async () => (await ledger.balance(AccountIds.holds('KES'))) === 0n);
});

it('a USSD StartPayment that names no payee kind, or one unknown, is refused: never taken for a merchant, nothing reserved', async () => {
  const nats = await connectNats({ url: p.stack.nats.url, name: 'payee-kind-test', connectTimeoutMs: 5_000, reconnectWaitMs: 200, reconnectAttemptsMax: 5, publishTimeoutMs: 5_000 }, quietLogger());
  try {
    const phone = newPhone();
    /** A value no PayeeKind of this build has, as another build's menu might send it. */
    const unknownKind = (n: number): number => n;
    for (const payeeKind of [undefined, dialpay.v1.PayeeKind.PAYEE_KIND_UNSPECIFIED, unknownKind(99)]) {
      const answer = await requestReply(nats.nc, Requests.paymentsSubscriber, {
        operatorId: 'safaricom-ke', msisdn: phone,
        startPayment: { requestId: `kind-${String(payeeKind)}`, payeeKind, payeeId: 'SHOP42', amount: moneyToProto({ amountMinor: 1_000n, currency: 'KES' }), pin: '1234' },
      }, 5_000);
      expect(answer.outcome, String(payeeKind)).toBe(dialpay.v1.CommandOutcome.COMMAND_OUTCOME_NOT_FOUND);
    }
    const payments = await p.pool.query('SELECT 1 FROM payments.payments WHERE payer_msisdn = $1', [phone]);
    expect(payments.rowCount).toBe(0);
    expect(carrier.balanceOf(phone)).toBe(10_000_000n);
  } finally {
    await nats.close();
  }
});
