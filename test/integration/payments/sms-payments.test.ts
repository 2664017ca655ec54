// SMS payments end to end: phones text the short code through the simulated
// SMSC, over SMPP into the gateway, through payments and billing (simulated
// carrier), and get their challenge, receipts or a clear refusal back by SMS.
// Money moves only after the right code, and the ledger adds up.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SimulatedCarrier } from '../../../services/billing/index.js';
import type { Ledger } from '../../../services/billing/ledger/store.js';
import { AccountIds } from '../../../services/billing/ledger/rules.js';
import type { Pool } from '../../../runtime/pg/index.js';
import type { SmscSimulator } from '../../../operator-sim/index.js';
import { startPaymentsStack, type PaymentsStack } from '../../support/payments-stack.js';
import { hashSecret } from '../../../runtime/secrets.js';
import { connectNats, Events, type NatsHandle } from '../../../runtime/nats/index.js';
import { dialpay, int64ToBigInt } from '../../../proto/index.js';
import { listenTo } from '../../support/notification-listener.js';
import { quietLogger, waitFor } from '../../support/stack.js';

let p: PaymentsStack;
let sim: SmscSimulator;
let pool: Pool;
let ledger: Ledger;
let nats: NatsHandle;
const carrier = new SimulatedCarrier({ openingBalanceMinor: 1_000_000n });
let phoneNo = 0;
const newPhone = () => `2547110${String(++phoneNo).padStart(5, '0')}`;
const ask = (phone: string, text: string) => p.ask(phone, text);
const nextSms = (phone: string, after: number, timeoutMs?: number) => p.nextSms(phone, after, timeoutMs);

function codeIn(challenge: string): string {
  const match = /(?:YES|OUI) (\d{4})/.exec(challenge);
  if (!match) throw new Error(`no code in: ${challenge}`);
  return match[1] as string;
}

beforeAll(async () => {
  p = await startPaymentsStack(carrier, (raw) => {
    raw.limits.challengeTtlMs = 3_000;
  });
  ({ sim, pool, ledger } = p);
  nats = await connectNats({ ...p.stack.config.nats, name: 'test' }, quietLogger());
});
afterAll(async () => {
  await nats?.close();
  await p?.cleanup();
});

describe('a payment that succeeds', () => {
  it('PAY: challenge, YES, receipt, and the merchant, fee and operator share are booked', async () => {
    const phone = newPhone();
    const challenge = await ask(phone, 'PAY SHOP42 500 inv7');
    expect(challenge).toMatch(/^Pay 500\.00 KES to Duka Ya Mama \(SHOP42\) ref inv7\? Fee 7\.60 KES\. Charged to your Safari Mobile account\. Reply YES \d{4} within 0?\d+ min/);
    expect(carrier.balanceOf(phone)).toBe(950_000n); // reserved, not yet taken
    const receipt = await ask(phone, `YES ${codeIn(challenge)}`);
    expect(receipt).toMatch(/^Paid 500\.00 KES to Duka Ya Mama \(SHOP42\)\. Fee 7\.60 KES\. Ref [0-9A-F]{8}\.$/);
    expect(carrier.balanceOf(phone)).toBe(950_000n);
    await waitFor('merchant credited', async () => (await ledger.balance(AccountIds.merchant('SHOP42', 'KES'))) === 44_240n);
    expect(await ledger.balance(AccountIds.fees('KES'))).toBe(760n);
    expect(await ledger.balance(AccountIds.operatorShare('safaricom-ke'))).toBe(5_000n);
    // BAL: the dialpay wallet (empty) beside the carrier's balance, and the mini statement, from billing over request/reply.
    const day = new Date();
    const date = `${String(day.getUTCDate()).padStart(2, '0')}/${String(day.getUTCMonth() + 1).padStart(2, '0')}`;
    expect(await ask(phone, 'BAL')).toBe(`Balance: dialpay wallet 0.00 KES, Safari Mobile 9,500.00 KES. Last: ${date} -500.00 KES SHOP42`);
    expect(await ask(phone, 'solde')).toBe(`Solde: portefeuille dialpay 0,00 KES, Safari Mobile 9 500,00 KES. Derniers: ${date} -500,00 KES SHOP42`);
  });

  it('SEND: both the payer and the payee get a receipt, in French for a French keyword', async () => {
    const payer = newPhone();
    const payee = newPhone();
    const challenge = await ask(payer, `ENVOYER 0${payee.slice(3)} 200`);
    expect(challenge).toMatch(/^Payer 200,00 KES a \+254\d+ \? Frais 0,00 KES\. Debite sur votre compte Safari Mobile\. Repondez OUI \d{4}/);
    const payeeSeen = sim.submitted.filter((m) => m.destination === payee).length;
    expect(await ask(payer, `OUI ${codeIn(challenge)}`)).toMatch(/^Paye 200,00 KES a \+254/);
    expect(await nextSms(payee, payeeSeen)).toMatch(new RegExp(`^Received 200\\.00 KES from \\+${payer}\\.`));
  });

  it('SEND to a payee who chose French: their receipt is in French (their language, read with the payment)', async () => {
    const payer = newPhone();
    const payee = newPhone();
    expect(await ask(payee, 'LANG FR')).toBe('Langue: francais.');
    const challenge = await ask(payer, `SEND 0${payee.slice(3)} 30`);
    const payeeSeen = sim.submitted.filter((m) => m.destination === payee).length;
    expect(await ask(payer, `YES ${codeIn(challenge)}`)).toMatch(/^Paid 30\.00 KES to \+254/);
    expect(await nextSms(payee, payeeSeen)).toMatch(new RegExp(`^Recu 30,00 KES de \\+${payer}\\.`));
  });

  it('each SMS says what it is for, and a challenge and its retry prompt carry the challenge\'s expiry (the gateway drops them past it)', async () => {
    const phone = newPhone();
    const published = await listenTo(nats.nc, Events.smsOutbound);
    const challenge = await ask(phone, 'PAY SHOP42 40');
    const askedAtMs = Date.now();
    expect(await ask(phone, 'YES 0000')).toBe('Wrong code. 2 attempt(s) left.');
    await ask(phone, `YES ${codeIn(challenge)}`);
    published.stop();
    const mine = published.received.filter((m) => m.toMsisdn === phone);
    const byRef = (suffix: string) => mine.find((m) => m.messageRef?.endsWith(suffix)) as dialpay.v1.SmsOutbound;
    const expiry = (m: dialpay.v1.SmsOutbound) => Number(int64ToBigInt(m.expiresAtUnixMs));
    expect(byRef(':challenge-sms').kind).toBe(dialpay.v1.SmsKind.SMS_KIND_CHALLENGE);
    // limits.challengeTtlMs (3 s in this suite) from when the challenge was sent.
    expect(expiry(byRef(':challenge-sms'))).toBeGreaterThan(askedAtMs + 3_000 - 2_000);
    expect(expiry(byRef(':challenge-sms'))).toBeLessThanOrEqual(askedAtMs + 3_000);
    expect(byRef(':retry-1').kind).toBe(dialpay.v1.SmsKind.SMS_KIND_RETRY_PROMPT);
    expect(Math.abs(expiry(byRef(':retry-1')) - expiry(byRef(':challenge-sms')))).toBeLessThan(1_000);
    expect(byRef(':receipt-payer').kind).toBe(dialpay.v1.SmsKind.SMS_KIND_RECEIPT);
    expect(expiry(byRef(':receipt-payer'))).toBe(0);
    // The reply to a YES that matched nothing is an answer; it keeps its value too.
    expect(mine.filter((m) => m.kind === dialpay.v1.SmsKind.SMS_KIND_UNSPECIFIED)).toEqual([]);
  });
});

describe('payments that end without moving money', () => {
  it('three wrong codes cancel it and release the reservation', async () => {
    const phone = newPhone();
    await ask(phone, 'PAY SHOP42 100');
    expect(await ask(phone, 'YES 0000')).toBe('Wrong code. 2 attempt(s) left.');
    expect(await ask(phone, 'YES 0001')).toBe('Wrong code. 1 attempt(s) left.');
    expect(await ask(phone, 'YES 0002')).toBe('Payment of 100.00 KES failed: wrong code 3 times. Nothing was charged.');
    await waitFor('released at the carrier', async () => carrier.balanceOf(phone) === 1_000_000n);
  });

  it('an unanswered challenge expires and the reservation is voided', async () => {
    const phone = newPhone();
    const seen = sim.submitted.filter((m) => m.destination === phone).length;
    await ask(phone, 'PAY SHOP42 250');
    expect(await nextSms(phone, seen + 1, 10_000)).toBe('Payment of 250.00 KES failed: not confirmed in time. Nothing was charged.');
    await waitFor('released at the carrier', async () => carrier.balanceOf(phone) === 1_000_000n);
    expect(await ask(phone, 'YES 1234')).toBe('No payment is waiting for your confirmation.');
  });

  it('above the PIN threshold the PIN confirms, and a wrong PIN counts', async () => {
    const phone = newPhone();
    await pool.query('INSERT INTO payments.subscribers (msisdn, pin_hash) VALUES ($1, $2)', [phone, await hashSecret('4821')]);
    expect(await ask(phone, 'PAY SHOP42 2000')).toMatch(/^Pay 2,000\.00 KES to Duka Ya Mama \(SHOP42\)\? Fee [\d.,]+ KES\. Charged to your Safari Mobile account\. Reply with your PIN within/);
    expect(carrier.balanceOf(phone)).toBe(800_000n);
    expect(await ask(phone, '1111')).toBe('Wrong code. 2 attempt(s) left.');
    // "YES <pin>" is read as the PIN too: people write what the code challenge taught them.
    expect(await ask(phone, 'YES 9999')).toBe('Wrong code. 1 attempt(s) left.');
    expect(await ask(phone, 'yes 4821')).toMatch(/^Paid 2,000\.00 KES to Duka Ya Mama/);
    expect(carrier.balanceOf(phone)).toBe(800_000n);
    // A correct PIN clears the failure count.
    expect((await pool.query('SELECT pin_failures, pin_locked FROM payments.subscribers WHERE msisdn = $1', [phone])).rows[0]).toEqual({ pin_failures: 0, pin_locked: false });
  });

  it('with two payments waiting, a PIN confirms neither: it could be meant for the other', async () => {
    const phone = newPhone();
    await pool.query('INSERT INTO payments.subscribers (msisdn, pin_hash) VALUES ($1, $2)', [phone, await hashSecret('4821')]);
    await ask(phone, 'PAY SHOP42 1200');
    await ask(phone, 'PAY SHOP42 1300');
    expect(await ask(phone, '4821')).toBe('2 payments wait for your PIN, and a PIN cannot say which one. Send STOP to cancel all waiting payments, then pay again.');
    expect(carrier.balanceOf(phone)).toBe(1_000_000n - 250_000n); // both still only held
    await ask(phone, 'STOP'); // each cancelled payment's SMS, then the STOP reply
    await waitFor('STOP reply', async () => sim.submitted.some((m) => m.destination === phone && m.text.startsWith('STOP received')));
    await waitFor('released', async () => carrier.balanceOf(phone) === 1_000_000n);
  });

  it('three wrong PINs cancel the payment, release the hold and lock the PIN', async () => {
    const phone = newPhone();
    await pool.query('INSERT INTO payments.subscribers (msisdn, pin_hash) VALUES ($1, $2)', [phone, await hashSecret('4821')]);
    await ask(phone, 'PAY SHOP42 1500');
    expect(await ask(phone, '0000')).toBe('Wrong code. 2 attempt(s) left.');
    expect(await ask(phone, '0001')).toBe('Wrong code. 1 attempt(s) left.');
    expect(await ask(phone, '0002')).toBe('Payment of 1,500.00 KES failed: wrong code 3 times. Nothing was charged.');
    await waitFor('released at the carrier', async () => carrier.balanceOf(phone) === 1_000_000n);
    expect((await pool.query('SELECT pin_locked FROM payments.subscribers WHERE msisdn = $1', [phone])).rows[0]).toEqual({ pin_locked: true });
    expect(await ask(phone, 'PAY SHOP42 2000')).toBe('Payment of 2,000.00 KES failed: PIN locked. Nothing was charged.');
    // Below the threshold the SMS code still works for a locked PIN.
    const challenge = await ask(phone, 'PAY SHOP42 10');
    expect(await ask(phone, `YES ${codeIn(challenge)}`)).toMatch(/^Paid 10\.00 KES/);
  });

  it('a locked PIN refuses a large payment instead of falling back to an SMS code', async () => {
    const phone = newPhone();
    await pool.query(`INSERT INTO payments.subscribers (msisdn, pin_hash, pin_failures, pin_locked) VALUES ($1, 'scrypt$16384$8$1$c2FsdA==$aGFzaA==', 3, true)`, [phone]);
    expect(await ask(phone, 'PAY SHOP42 2000')).toBe('Payment of 2,000.00 KES failed: PIN locked. Nothing was charged.');
    expect(carrier.balanceOf(phone)).toBe(1_000_000n);
  });

  it('insufficient funds at the carrier', async () => {
    const phone = newPhone();
    carrier.setBalance(phone, 1_000n);
    expect(await ask(phone, 'PAY SHOP42 50')).toBe('Payment of 50.00 KES failed: insufficient balance. Nothing was charged.');
    expect(carrier.balanceOf(phone)).toBe(1_000n);
  });

  it('unknown merchant, self-transfer, a limit, and text that does not parse', async () => {
    const phone = newPhone();
    expect(await ask(phone, 'PAY NOSHOP 5')).toBe('NOSHOP is not a shop we know. Check the code and try again.');
    expect(await ask(phone, 'PAY NEWSPLUS 5')).toBe('NEWSPLUS is not a shop we know. Check the code and try again.'); // not on this operator
    expect(await ask(phone, `SEND ${phone} 5`)).toBe('You cannot send money to yourself.');
    expect(await ask(phone, 'PAY SHOP42 6000')).toBe('Payment refused: the most per payment is 5,000.00 KES.');
    expect(await ask(phone, 'hello there')).toMatch(/^dialpay: PAY <shop> <amount>/);
    expect(carrier.balanceOf(phone)).toBe(1_000_000n);
  });
});

it('leaves a ledger that adds up, with no reservation left open', async () => {
  expect(await ledger.check()).toEqual({ postingsSumMinor: 0n, unbalancedTransfers: 0, driftedBalances: 0, negativeBalances: 0 });
  await waitFor('holds empty', async () => (await ledger.balance(AccountIds.holds('KES'))) === 0n);
  const { rows } = await pool.query<{ state: string; n: number }>('SELECT state, count(*)::int AS n FROM payments.payments GROUP BY state ORDER BY state');
  expect(rows).toEqual([{ state: 'completed', n: 6 }, { state: 'failed', n: 6 }]);
});
