// billing as a service: DebitReserve/Capture/Void requests over NATS, through
// the simulated carrier and the wallet adapter, results back over NATS, and a
// ledger that adds up. Redelivered or repeated requests move nothing twice.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { newEnvelope, publishEvent, Events, type NatsHandle } from '../../../runtime/nats/index.js';
import type { Pool } from '../../../runtime/pg/index.js';
import { dialpay, moneyToProto, moneyFromProto } from '../../../proto/index.js';
import { SimulatedCarrier } from '../../../services/billing/index.js';
import type { Ledger } from '../../../services/billing/ledger/store.js';
import { AccountIds, depositTransfer, reserveTransfer } from '../../../services/billing/ledger/rules.js';
import type { Stack } from '../../support/stack.js';
import { startBillingStack, type BillingStack } from '../../support/billing-stack.js';

const { DebitOutcome } = dialpay.v1;
let stack: Stack;
let billing: BillingStack;
let nats: NatsHandle;
let pool: Pool;
let ledger: Ledger;
const carrier = new SimulatedCarrier({ openingBalanceMinor: 100_000n });
const KES = (amountMinor: bigint) => moneyToProto({ amountMinor, currency: 'KES' });
const XOF = (amountMinor: bigint) => moneyToProto({ amountMinor, currency: 'XOF' });
let n = 0;

async function reserve(operatorId: string, msisdn: string, amount: dialpay.v1.IMoney, debitId = `d-${++n}`): Promise<string> {
  await publishEvent(nats.js, Events.debitReserveRequested, { envelope: newEnvelope({ producer: 'test' }), debitId, paymentId: `p-${debitId}`, operatorId, msisdn, amount, description: 'test' }, { timeoutMs: 5_000 });
  return debitId;
}

const result: BillingStack['result'] = (def, debitId) => billing.result(def, debitId);

beforeAll(async () => {
  billing = await startBillingStack(carrier);
  ({ stack, nats, pool, ledger } = billing);
});
afterAll(async () => {
  await billing?.stop();
});

describe('simulated carrier (safaricom-ke)', () => {
  it('reserves, captures part with fee and share, releases the rest at the carrier', async () => {
    const msisdn = '254711100001';
    const debitId = await reserve('safaricom-ke', msisdn, KES(50_000n));
    expect((await result(Events.debitReserveResult, debitId)).outcome).toBe(DebitOutcome.DEBIT_OUTCOME_OK);
    expect(carrier.balanceOf(msisdn)).toBe(50_000n);
    await publishEvent(nats.js, Events.debitCaptureRequested, {
      envelope: newEnvelope({ producer: 'test' }), debitId, paymentId: `p-${debitId}`, amount: KES(40_000n),
      merchantId: 'SHOP42', payeeAmount: KES(35_400n), fee: KES(600n), operatorShare: KES(4_000n),
    }, { timeoutMs: 5_000 });
    const captured = await result(Events.debitCaptureResult, debitId);
    expect(captured.outcome).toBe(DebitOutcome.DEBIT_OUTCOME_OK);
    expect(moneyFromProto(captured.captured).amountMinor).toBe(40_000n);
    expect(carrier.balanceOf(msisdn)).toBe(60_000n); // 10,000 released
    expect(await ledger.balance(AccountIds.merchant('SHOP42', 'KES'))).toBe(35_400n);
    expect(await ledger.balance(AccountIds.fees('KES'))).toBe(600n);
    expect(await ledger.balance(AccountIds.operatorShare('safaricom-ke'))).toBe(4_000n);
  });

  it('refuses what the carrier refuses, with its reason, and moves nothing', async () => {
    const poor = '254711100002';
    carrier.setBalance(poor, 100n);
    const debitId = await reserve('safaricom-ke', poor, KES(5_000n));
    expect((await result(Events.debitReserveResult, debitId)).outcome).toBe(DebitOutcome.DEBIT_OUTCOME_INSUFFICIENT_FUNDS);
    expect(carrier.balanceOf(poor)).toBe(100n);
    const wrongCurrency = await reserve('safaricom-ke', poor, XOF(5n));
    expect((await result(Events.debitReserveResult, wrongCurrency)).outcome).toBe(DebitOutcome.DEBIT_OUTCOME_REJECTED);
  });

  it('voids a reservation back to the subscriber, and will not capture it afterwards', async () => {
    const msisdn = '254711100003';
    const debitId = await reserve('safaricom-ke', msisdn, KES(20_000n));
    await result(Events.debitReserveResult, debitId);
    expect(carrier.balanceOf(msisdn)).toBe(80_000n);
    await publishEvent(nats.js, Events.debitVoidRequested, { envelope: newEnvelope({ producer: 'test' }), debitId, paymentId: `p-${debitId}`, reason: 'challenge expired' }, { timeoutMs: 5_000 });
    expect((await result(Events.debitVoidResult, debitId)).outcome).toBe(DebitOutcome.DEBIT_OUTCOME_OK);
    expect(carrier.balanceOf(msisdn)).toBe(100_000n);
    await publishEvent(nats.js, Events.debitCaptureRequested, {
      envelope: newEnvelope({ producer: 'test' }), debitId, paymentId: `p-${debitId}`, amount: KES(20_000n), merchantId: 'SHOP42', payeeAmount: KES(20_000n),
    }, { timeoutMs: 5_000 });
    expect((await result(Events.debitCaptureResult, debitId)).outcome).toBe(DebitOutcome.DEBIT_OUTCOME_INVALID_STATE);
    expect(carrier.balanceOf(msisdn)).toBe(100_000n);
  });

  it('reserves once when the same request arrives twice (two event ids, one debit id)', async () => {
    const msisdn = '254711100004';
    const debitId = await reserve('safaricom-ke', msisdn, KES(30_000n));
    await reserve('safaricom-ke', msisdn, KES(30_000n), debitId);
    await result(Events.debitReserveResult, debitId);
    await new Promise((r) => setTimeout(r, 500));
    expect(carrier.balanceOf(msisdn)).toBe(70_000n);
    const { rows } = await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM billing.transfers WHERE id = $1', [`reserve:${debitId}`]);
    expect(rows[0]?.n).toBe(1);
  });
});

describe('races and crash windows', () => {
  it('a void that overtakes its reserve leaves a tombstone: the late reserve holds nothing', async () => {
    const msisdn = '254711100005';
    const debitId = `race-${++n}`;
    await publishEvent(nats.js, Events.debitVoidRequested, { envelope: newEnvelope({ producer: 'test' }), debitId, paymentId: `p-${debitId}`, reason: 'STOP' }, { timeoutMs: 5_000 });
    expect((await result(Events.debitVoidResult, debitId)).outcome).toBe(DebitOutcome.DEBIT_OUTCOME_OK);
    await reserve('safaricom-ke', msisdn, KES(10_000n), debitId);
    const late = await result(Events.debitReserveResult, debitId);
    expect(late.outcome).toBe(DebitOutcome.DEBIT_OUTCOME_REJECTED);
    expect(late.detail).toBe('cancelled before it was reserved');
    expect(carrier.balanceOf(msisdn)).toBe(100_000n);
  });

  it('a redelivered reserve that the carrier now refuses releases the hold an earlier delivery booked', async () => {
    const msisdn = '254711100006';
    const debitId = `crash-${++n}`;
    const payer = AccountIds.carrier('safaricom-ke');
    const holdsBefore = await ledger.balance(AccountIds.holds('KES'));
    // What a delivery that died after the ledger write leaves: a claim and a booked hold.
    await pool.query(
      `INSERT INTO billing.debits (debit_id, payment_id, operator_id, msisdn, currency, amount_minor, payer_account_id, adapter, state)
       VALUES ($1, $2, 'safaricom-ke', $3, 'KES', 7000, $4, 'simulator', 'reserving')`,
      [debitId, `p-${debitId}`, msisdn, payer],
    );
    await ledger.apply(reserveTransfer({ id: `reserve:${debitId}`, paymentId: `p-${debitId}`, currency: 'KES', payerAccountId: payer, amountMinor: 7_000n }));
    expect(await ledger.balance(AccountIds.holds('KES'))).toBe(holdsBefore + 7_000n);
    carrier.bar(msisdn);
    await reserve('safaricom-ke', msisdn, KES(7_000n), debitId);
    expect((await result(Events.debitReserveResult, debitId)).outcome).toBe(DebitOutcome.DEBIT_OUTCOME_REJECTED);
    expect(await ledger.balance(AccountIds.holds('KES'))).toBe(holdsBefore);
  });
});

describe('wallet (orange-sn)', () => {
  it('checks the subscriber wallet in the ledger, and pays another subscriber', async () => {
    const payer = '221770100001';
    await ledger.ensureAccount(AccountIds.subscriber(payer), 'subscriber', 'XOF');
    await ledger.ensureAccount(AccountIds.carrier('orange-sn'), 'carrier_clearing', 'XOF');
    await ledger.apply(depositTransfer('cash-in-1', 'orange-sn', AccountIds.subscriber(payer), 'XOF', 5_000n));
    const tooMuch = await reserve('orange-sn', payer, XOF(6_000n));
    expect((await result(Events.debitReserveResult, tooMuch)).outcome).toBe(DebitOutcome.DEBIT_OUTCOME_INSUFFICIENT_FUNDS);
    const debitId = await reserve('orange-sn', payer, XOF(2_000n));
    expect((await result(Events.debitReserveResult, debitId)).outcome).toBe(DebitOutcome.DEBIT_OUTCOME_OK);
    await publishEvent(nats.js, Events.debitCaptureRequested, {
      envelope: newEnvelope({ producer: 'test' }), debitId, paymentId: `p-${debitId}`, amount: XOF(2_000n), payeeMsisdn: '221770100002', payeeAmount: XOF(2_000n),
    }, { timeoutMs: 5_000 });
    expect((await result(Events.debitCaptureResult, debitId)).outcome).toBe(DebitOutcome.DEBIT_OUTCOME_OK);
    expect(await ledger.balance(AccountIds.subscriber(payer))).toBe(3_000n);
    expect(await ledger.balance(AccountIds.subscriber('221770100002'))).toBe(2_000n);
  });

  it('a merchant served in two currencies is paid in each, on its own account', async () => {
    const payer = '221770100003';
    await ledger.ensureAccount(AccountIds.subscriber(payer), 'subscriber', 'XOF');
    await ledger.apply(depositTransfer('cash-in-2', 'orange-sn', AccountIds.subscriber(payer), 'XOF', 5_000n));
    const kes = await reserve('safaricom-ke', '254711100009', KES(1_000n));
    const xof = await reserve('orange-sn', payer, XOF(1_000n));
    for (const [debitId, money] of [[kes, KES], [xof, XOF]] as const) {
      expect((await result(Events.debitReserveResult, debitId)).outcome).toBe(DebitOutcome.DEBIT_OUTCOME_OK);
      await publishEvent(nats.js, Events.debitCaptureRequested, {
        envelope: newEnvelope({ producer: 'test' }), debitId, paymentId: `p-${debitId}`, amount: money(1_000n), merchantId: 'EVCHARGE', payeeAmount: money(1_000n),
      }, { timeoutMs: 5_000 });
      expect((await result(Events.debitCaptureResult, debitId)).outcome).toBe(DebitOutcome.DEBIT_OUTCOME_OK);
    }
    expect(await ledger.balance(AccountIds.merchant('EVCHARGE', 'KES'))).toBe(1_000n);
    expect(await ledger.balance(AccountIds.merchant('EVCHARGE', 'XOF'))).toBe(1_000n);
  });
});

it('leaves a ledger that adds up', async () => {
  expect(await ledger.check()).toEqual({ postingsSumMinor: 0n, unbalancedTransfers: 0, driftedBalances: 0, negativeBalances: 0 });
  const client = new pg.Client({ connectionString: stack.databaseUrl });
  await client.connect();
  const { rows } = await client.query<{ state: string; n: number }>('SELECT state, count(*)::int AS n FROM billing.debits GROUP BY state ORDER BY state');
  await client.end();
  expect(rows.map((r) => r.state)).toEqual(['captured', 'refused', 'reserved', 'voided']);
  expect(await ledger.balance(AccountIds.holds('KES'))).toBe(30_000n); // exactly the one reservation still open
});
