// The dialpay wallet end to end on a carrier-billed operator (safaricom-ke,
// simulated carrier), phones driven through the simulated SMSC and the USSD
// HTTP edge, real NATS and PostgreSQL: a SEND lands in the payee's wallet;
// the payee then PAYs a merchant from it (the challenge says so, the carrier
// is not charged, the ledger shows wallet down and merchant payable up); BAL
// shows the wallet beside the carrier with money in and out; a refund of that
// payment goes back to the wallet; the USSD confirmation screen promises the
// wallet; and a payment the wallet does not cover is charged to the carrier.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SimulatedCarrier } from '../../../services/billing/index.js';
import { AccountIds } from '../../../services/billing/ledger/rules.js';
import { newApiKey } from '../../../runtime/api-keys.js';
import { freePort } from '../../../runtime/engines/index.js';
import { checkAccounts } from '../../../load-tests/harness/invariants.js';
import { startPaymentsStack, type PaymentsStack } from '../../support/payments-stack.js';
import { waitFor } from '../../support/stack.js';
import { UssdPhone } from '../../support/ussd-phone.js';

const OPENING = 1_000_000n;
const carrier = new SimulatedCarrier({ openingBalanceMinor: OPENING });
const key = newApiKey();
let p: PaymentsStack;
let api: string;
let ussdPort: number;
const [payer, payee] = ['254755000001', '254755000002'];
const smsTo = (phone: string) => p.sim.submitted.filter((m) => m.destination === phone).map((m) => m.text);
const code = (challenge: string) => /YES (\d{4})/.exec(challenge)?.[1] as string;
const wallet = (msisdn: string) => p.ledger.balance(AccountIds.subscriber(msisdn));
const merchant = () => p.ledger.balance(AccountIds.merchant('SHOP42', 'KES')).catch(() => 0n);
const today = () => {
  const d = new Date();
  return `${String(d.getUTCDate()).padStart(2, '0')}/${String(d.getUTCMonth() + 1).padStart(2, '0')}`;
};

async function lastPayment(msisdn: string): Promise<{ payment_id: string; payee_minor: string; funding: string | null; state: string }> {
  const { rows } = await p.pool.query('SELECT payment_id, payee_minor::text, funding, state FROM payments.payments WHERE payer_msisdn = $1 ORDER BY created_at DESC LIMIT 1', [msisdn]);
  return rows[0];
}

async function completed(msisdn: string): Promise<{ payment_id: string; payee_minor: string; funding: string | null }> {
  return waitFor(`payment of ${msisdn} completed`, async () => {
    const last = await lastPayment(msisdn);
    return last?.state === 'completed' ? last : undefined;
  });
}

beforeAll(async () => {
  const port = await freePort();
  p = await startPaymentsStack(carrier, (raw) => {
    raw.merchantApi = { port };
    raw.merchants[0].apiKeys = [key.stored];
    ussdPort = raw.ussd.http.port;
  });
  api = `http://127.0.0.1:${port}`;
});
afterAll(async () => {
  await p?.cleanup();
});

describe('the dialpay wallet on a carrier-billed operator', () => {
  it('a transfer received is spent from the wallet, shown by BAL, refunded into it; what it does not cover goes to the carrier', async () => {
    // P2P: the payer's carrier account pays; the payee's wallet receives.
    const sendChallenge = await p.ask(payer, `SEND 0${payee.slice(3)} 20`);
    expect(sendChallenge).toMatch(/^Pay 20\.00 KES to \+254755000002\? Fee 0\.00 KES\. Charged to your Safari Mobile account\. Reply YES \d{4}/);
    expect(await p.ask(payer, `YES ${code(sendChallenge)}`)).toMatch(/^Paid 20\.00 KES to \+254755000002/);
    const told = await waitFor('payee told', async () => smsTo(payee).find((t) => t.startsWith('Received 20.00 KES from +254755000001')));
    expect(told).toMatch(/^Received 20\.00 KES from \+254755000001\. Ref [0-9A-F]{8}\. It is in your dialpay wallet: send BAL to see it\.$/);
    await waitFor('wallet credited', async () => (await wallet(payee).catch(() => 0n)) === 2_000n);
    expect(carrier.balanceOf(payer)).toBe(OPENING - 2_000n);

    // The payee PAYs a merchant: the wallet covers it, the challenge says so, the carrier is not charged.
    const merchantBefore = await merchant();
    const payChallenge = await p.ask(payee, 'PAY SHOP42 15');
    expect(payChallenge).toMatch(/^Pay 15\.00 KES to Duka Ya Mama \(SHOP42\)\? Fee [\d.]+ KES\. From your dialpay wallet\. Reply YES \d{4}/);
    expect(await p.ask(payee, `YES ${code(payChallenge)}`)).toMatch(/^Paid 15\.00 KES to Duka Ya Mama \(SHOP42\)/);
    const paid = await completed(payee);
    expect(paid.funding).toBe('wallet');
    expect(carrier.balanceOf(payee)).toBe(OPENING);
    expect(await wallet(payee)).toBe(500n);
    expect(await merchant()).toBe(merchantBefore + BigInt(paid.payee_minor));

    // BAL: the wallet beside the carrier account, money in and out, newest first.
    expect(await p.ask(payee, 'BAL')).toBe(`Balance: dialpay wallet 5.00 KES, Safari Mobile 10,000.00 KES. Last: ${today()} -15.00 KES SHOP42; ${today()} +20.00 KES +${payer}`);
    expect(await p.ask(payee, 'SOLDE')).toBe(`Solde: portefeuille dialpay 5,00 KES, Safari Mobile 10 000,00 KES. Derniers: ${today()} -15,00 KES SHOP42; ${today()} +20,00 KES +${payer}`);

    // The merchant refunds part of the wallet payment: it lands back in the wallet, not at the carrier.
    const refund = await fetch(`${api}/v1/payments/${paid.payment_id}/refunds`, {
      method: 'POST', headers: { authorization: `Bearer ${key.key}`, 'content-type': 'application/json', 'idempotency-key': 'wallet-refund-1' }, body: JSON.stringify({ amountMinor: 500 }),
    });
    expect(refund.status).toBe(201);
    await waitFor('refund SMS', async () => smsTo(payee).includes(`Refund: 5.00 KES back from Duka Ya Mama (SHOP42) for payment ${paid.payment_id.slice(0, 8).toUpperCase()}. It is in your dialpay wallet.`));
    expect(await wallet(payee)).toBe(1_000n);
    expect(carrier.balanceOf(payee)).toBe(OPENING);
    expect(await p.ask(payee, 'BAL')).toMatch(new RegExp(`^Balance: dialpay wallet 10\\.00 KES, Safari Mobile 10,000\\.00 KES\\. Last: ${today()} \\+5\\.00 KES SHOP42; `));

    // USSD: the confirmation screen promises the wallet, and the wallet pays.
    const phone = new UssdPhone(ussdPort, payee);
    await phone.dial();
    expect((await phone.answer('2468', '2468')).text).toMatch(/^PIN saved\./);
    const confirm = await phone.answer('1', 'SHOP42', '10', '0', '2468');
    expect(confirm.text).toMatch(/^Pay 10\.00 KES to Duka Ya Mama \(SHOP42\)\nFee [\d.]+ KES\nFrom your dialpay wallet\n1 Confirm\n2 Cancel$/);
    expect((await phone.answer('1')).text).toBe('Payment submitted. You will get an SMS with the result.');
    expect((await completed(payee)).funding).toBe('wallet');
    expect(await wallet(payee)).toBe(0n);
    expect(carrier.balanceOf(payee)).toBe(OPENING);

    // The wallet is empty now: the next payment is charged to the carrier, and the screen says so first.
    const again = new UssdPhone(ussdPort, payee);
    await again.dial();
    expect((await again.answer('1', 'SHOP42', '12', '0', '2468')).text).toMatch(/\nCharged to your Safari Mobile account\n1 Confirm\n2 Cancel$/);
    expect((await again.answer('2')).text).toBe('Cancelled. Nothing was charged.');
    await waitFor('cancel SMS', async () => smsTo(payee).includes('Payment of 12.00 KES failed: cancelled. Nothing was charged.'));
    await waitFor('its carrier reserve released', async () => carrier.balanceOf(payee) === OPENING);
    const byCarrier = await p.ask(payee, 'PAY SHOP42 50');
    expect(byCarrier).toMatch(/Fee [\d.]+ KES\. Charged to your Safari Mobile account\. Reply YES/);
    expect(carrier.balanceOf(payee)).toBe(OPENING - 5_000n); // reserved at the carrier
    expect(await p.ask(payee, `YES ${code(byCarrier)}`)).toMatch(/^Paid 50\.00 KES/);
    expect((await completed(payee)).funding).toBe('carrier');
    expect(carrier.balanceOf(payee)).toBe(OPENING - 5_000n);
    expect(await wallet(payee)).toBe(0n);

    // A carrier that cannot say its balance hides nothing of ours: BAL still shows the wallet and the statement.
    carrier.down(payee);
    expect(await p.ask(payee, 'BAL')).toMatch(new RegExp(`^Balance: dialpay wallet 0\\.00 KES; Safari Mobile balance not available right now\\. Last: ${today()} -50\\.00 KES SHOP42; `));
    carrier.up(payee);

    // Nothing stranded: every wallet is a served number's, no money rests where no flow reads it.
    await waitFor('holds released', async () => (await checkAccounts(p.pool, p.stack.config.operators)).every((c) => c.ok));
    expect(await p.ledger.check()).toEqual({ postingsSumMinor: 0n, unbalancedTransfers: 0, driftedBalances: 0, negativeBalances: 0 });
  });
});
