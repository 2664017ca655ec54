// Airtime end to end through the simulated operator: the SMS AIRTIME command and the USSD menu,
// real NATS and PostgreSQL, billing against the simulated carrier. The target line's carrier
// balance goes up once whatever the redeliveries; a top-up the operator refuses after the capture
// leaves the money in the payer's dialpay wallet (both transfers in the ledger) and tells them; an
// operator with no top-up interface sells no airtime and charges nothing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SimulatedCarrier } from '../../../services/billing/index.js';
import { AccountIds } from '../../../services/billing/ledger/rules.js';
import { connectNats, Events, newEnvelope, publishEvent, type NatsHandle } from '../../../runtime/nats/index.js';
import { moneyToProto } from '../../../proto/index.js';
import { startPaymentsStack, type PaymentsStack } from '../../support/payments-stack.js';
import { quietLogger, waitFor } from '../../support/stack.js';
import { UssdPhone } from '../../support/ussd-phone.js';

const OPENING = 1_000_000n;
let phoneNo = 0;
const newPhone = () => `2547440${String(++phoneNo).padStart(5, '0')}`;
const national = (msisdn: string) => `0${msisdn.slice(3)}`;

async function paymentOf(
  p: PaymentsStack, payer: string,
): Promise<{ payment_id: string; state: string; payee_kind: string; payee_id: string }> {
  const { rows } = await p.pool.query('SELECT payment_id, state, payee_kind, payee_id FROM payments.payments WHERE payer_msisdn = $1 ORDER BY created_at DESC LIMIT 1', [payer]);
  return rows[0];
}

async function transfersOf(p: PaymentsStack, paymentId: string): Promise<{ id: string; kind: string }[]> {
  return (await p.pool.query<{ id: string; kind: string }>('SELECT id, kind FROM billing.transfers WHERE payment_id = $1 ORDER BY created_at, id', [paymentId])).rows;
}

/** Every capture request billing has been given is handled and acknowledged. */
async function captureQueueDrained(nats: NatsHandle): Promise<void> {
  await waitFor('capture requests handled', async () => {
    const info = await nats.jsm.consumers.info('DEBITS', 'billing-debit-capture');
    return info.num_pending === 0 && info.num_ack_pending === 0;
  }, 15_000);
}

describe('on an operator that tops up (the simulated carrier)', () => {
  const carrier = new SimulatedCarrier({ openingBalanceMinor: OPENING });
  let p: PaymentsStack;
  let nats: NatsHandle;
  const smsTo = (phone: string) => p.sim.submitted.filter((m) => m.destination === phone).map((m) => m.text);

  beforeAll(async () => {
    p = await startPaymentsStack(carrier, (raw) => {
      raw.consumers.retryDelaysMs = [200];
    });
    nats = await connectNats({ ...p.stack.config.nats, name: 'airtime-test' }, quietLogger());
  });
  afterAll(async () => {
    await nats?.close();
    await p?.cleanup();
  });

  it('airtime for another number: confirmed by code, the line credited once even when billing is asked to capture again', async () => {
    const payer = newPhone();
    const target = newPhone();
    const airtimeBefore = await p.ledger.balance(AccountIds.airtime('safaricom-ke', 'KES')).catch(() => 0n);
    // The line does not answer the first top-up: the capture is booked, then redelivered until it does.
    carrier.down(target);
    const challenge = await p.ask(payer, `AIRTIME 50 ${national(target)}`);
    expect(challenge).toMatch(new RegExp(`^Pay 50\\.00 KES to airtime for \\+${target}\\? Fee 0\\.00 KES\\. Charged to your Safari Mobile account\\. Reply YES \\d{4} within`));
    const seen = smsTo(payer).length;
    const statuses = await p.sim.sendFromPhone(payer, '384', `YES ${/YES (\d{4})/.exec(challenge)?.[1]}`);
    expect(statuses).toEqual([0]);
    const payment = await paymentOf(p, payer);
    expect(payment).toMatchObject({ payee_kind: 'airtime', payee_id: target });
    await waitFor('capture booked while the top-up waits', async () => (await transfersOf(p, payment.payment_id)).some((t) => t.id === `capture:${payment.payment_id}`));
    expect(carrier.balanceOf(target)).toBe(OPENING);
    expect((await paymentOf(p, payer)).state).toBe('capturing');
    const credited = carrier.topUpsCredited;
    carrier.up(target);

    const receipt = await p.nextSms(payer, seen);
    expect(receipt).toBe(`Airtime 50.00 KES for +${target} bought. Fee 0.00 KES. Ref ${payment.payment_id.slice(0, 8).toUpperCase()}.`);
    expect(await p.nextSms(target, 0)).toBe(`You received 50.00 KES airtime from +${payer}. Ref ${payment.payment_id.slice(0, 8).toUpperCase()}.`);
    expect(carrier.balanceOf(target)).toBe(OPENING + 5_000n);
    expect(carrier.balanceOf(payer)).toBe(OPENING - 5_000n);
    expect(carrier.topUpsCredited).toBe(credited + 1);
    await waitFor('completed', async () => (await paymentOf(p, payer)).state === 'completed');

    // Billing asked to capture it again (as the payments sweep does when a result is slow): nothing moves twice.
    await publishEvent(nats.js, Events.debitCaptureRequested, {
      envelope: newEnvelope({ producer: 'test', paymentId: payment.payment_id }),
      debitId: payment.payment_id, paymentId: payment.payment_id, amount: moneyToProto({ amountMinor: 5_000n, currency: 'KES' }),
      topUpMsisdn: target, topUpOperatorId: 'safaricom-ke', payeeAmount: moneyToProto({ amountMinor: 5_000n, currency: 'KES' }),
      fee: moneyToProto({ amountMinor: 0n, currency: 'KES' }), operatorShare: moneyToProto({ amountMinor: 0n, currency: 'KES' }),
    }, { timeoutMs: 5_000 });
    await captureQueueDrained(nats);
    expect(carrier.balanceOf(target)).toBe(OPENING + 5_000n);
    expect(carrier.topUpsCredited).toBe(credited + 1);
    expect((await transfersOf(p, payment.payment_id)).map((t) => t.kind)).toEqual(['reserve', 'capture']);
    expect(await p.ledger.balance(AccountIds.airtime('safaricom-ke', 'KES'))).toBe(airtimeBefore + 5_000n);
    expect(smsTo(target)).toHaveLength(1);
  });

  it('airtime for oneself: the receipt names the own number, and no "received" SMS', async () => {
    const payer = newPhone();
    const challenge = await p.ask(payer, 'AIRTIME 20');
    expect(challenge).toContain(`airtime for +${payer}`);
    const receipt = await p.ask(payer, `YES ${/YES (\d{4})/.exec(challenge)?.[1]}`);
    const payment = await paymentOf(p, payer);
    expect(receipt).toBe(`Airtime 20.00 KES for +${payer} bought. Fee 0.00 KES. Ref ${payment.payment_id.slice(0, 8).toUpperCase()}.`);
    // Charged 20.00 and credited 20.00 of airtime on the same line.
    expect(carrier.balanceOf(payer)).toBe(OPENING);
    await waitFor('completed', async () => (await paymentOf(p, payer)).state === 'completed');
    expect(smsTo(payer)).toHaveLength(2);
    expect((await transfersOf(p, payment.payment_id)).map((t) => t.kind)).toEqual(['reserve', 'capture']);
  });

  it('in French: CREDIT, with the receipt in French', async () => {
    const payer = newPhone();
    await p.ask(payer, 'LANG FR');
    const challenge = await p.ask(payer, 'CREDIT 10');
    expect(challenge).toMatch(new RegExp(`^Payer 10,00 KES a credit pour \\+${payer} \\?`));
    const receipt = await p.ask(payer, `OUI ${/OUI (\d{4})/.exec(challenge)?.[1]}`);
    expect(receipt).toMatch(new RegExp(`^Credit de 10,00 KES achete pour \\+${payer}\\. Frais 0,00 KES\\. Ref `));
  });

  it('a top-up refused after the capture: the payer is refunded to their wallet and told; the ledger shows both transfers', async () => {
    const payer = newPhone();
    const target = newPhone();
    carrier.refuseTopUps(target);
    const challenge = await p.ask(payer, `AIRTIME 30 ${national(target)}`);
    const told = await p.ask(payer, `YES ${/YES (\d{4})/.exec(challenge)?.[1]}`);
    const payment = await paymentOf(p, payer);
    const ref = payment.payment_id.slice(0, 8).toUpperCase();
    expect(told).toBe(`Airtime 30.00 KES for +${target} failed: the operator refused the top-up. The 30.00 KES is in your dialpay wallet. Ref ${ref}.`);
    expect(carrier.balanceOf(target)).toBe(OPENING);
    expect(carrier.balanceOf(payer)).toBe(OPENING - 3_000n); // the carrier was paid; the money is now ours to give back
    expect(await p.ledger.balance(AccountIds.subscriber(payer))).toBe(3_000n);
    expect(await transfersOf(p, payment.payment_id)).toEqual([
      { id: `reserve:${payment.payment_id}`, kind: 'reserve' },
      { id: `capture:${payment.payment_id}`, kind: 'capture' },
      { id: `airtime-refund:${payment.payment_id}`, kind: 'refund' },
    ]);
    const { rows } = await p.pool.query<{ account_id: string; amount_minor: string }>(
      `SELECT account_id, amount_minor::text FROM billing.postings WHERE transfer_id = $1 ORDER BY amount_minor`, [`airtime-refund:${payment.payment_id}`]);
    expect(rows).toEqual([{ account_id: 'airtime:safaricom-ke:KES', amount_minor: '-3000' }, { account_id: `subscriber:${payer}`, amount_minor: '3000' }]);
    await waitFor('completed', async () => (await paymentOf(p, payer)).state === 'completed');
    expect(smsTo(target)).toEqual([]);
    // The mini statement shows the airtime out and the refund in.
    const bal = await p.ask(payer, 'BAL');
    expect(bal).toContain(`+30.00 KES +${target}`);
    expect(bal).toContain(`-30.00 KES +${target}`);
    expect(await p.ledger.check()).toEqual({ postingsSumMinor: 0n, unbalancedTransfers: 0, driftedBalances: 0, negativeBalances: 0 });
  });

  it('a bad number is refused before anything is reserved', async () => {
    const payer = newPhone();
    expect(await p.ask(payer, 'AIRTIME 50 12ab')).toMatch(/^dialpay: PAY/); // not a command: HELP
    expect((await p.pool.query('SELECT 1 FROM payments.payments WHERE payer_msisdn = $1', [payer])).rowCount).toBe(0);
  });
});

describe('on an operator with no top-up interface (wallet billing, no operators[].topUp)', () => {
  const carrier = new SimulatedCarrier({ openingBalanceMinor: OPENING });
  let p: PaymentsStack;
  let port: number;

  beforeAll(async () => {
    p = await startPaymentsStack(carrier, (raw) => {
      raw.operators[0].billingAdapter = 'wallet';
      delete raw.operators[0].topUp;
      port = raw.ussd.http.port;
    });
  });
  afterAll(async () => {
    await p?.cleanup();
  });

  it('the SMS command and the menu say airtime is not sold; nothing is reserved, no debit, no transfer', async () => {
    const payer = newPhone();
    expect(await p.ask(payer, `AIRTIME 50 ${national(newPhone())}`)).toBe('Airtime is not sold through dialpay on your network. Nothing was charged.');
    expect(await p.ask(payer, 'AIRTIME 50')).toBe('Airtime is not sold through dialpay on your network. Nothing was charged.');
    const phone = new UssdPhone(port, payer);
    await phone.dial();
    await phone.answer('2468', '2468');
    expect(await phone.answer('3')).toMatchObject({ text: 'Airtime is not sold here on your network.', end: true });
    expect((await p.pool.query('SELECT 1 FROM payments.payments WHERE payer_msisdn = $1', [payer])).rowCount).toBe(0);
    expect((await p.pool.query('SELECT 1 FROM billing.debits WHERE msisdn = $1', [payer])).rowCount).toBe(0);
    expect((await p.pool.query(`SELECT 1 FROM billing.postings WHERE account_id = $1`, [AccountIds.subscriber(payer)])).rowCount).toBe(0);
    expect((await p.pool.query(`SELECT 1 FROM billing.accounts WHERE kind = 'airtime_payable'`)).rowCount).toBe(0);
  });
});
