// Credits through billing's real consumer (issue 16): CreditRequested over JetStream to the hosted
// billing component (billing-debit-credit), CreditResult read back from the DEBITS stream. Merchant
// payables are funded by real captures (reserve + capture on safaricom-ke, simulated carrier).
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DLQ_STREAM, DLQ_SUBJECT_PREFIX, newEnvelope, publishEvent, requestReply, Events, Requests, type NatsHandle } from '../../../runtime/nats/index.js';
import { withTransaction, type Pool } from '../../../runtime/pg/index.js';
import { bigIntToInt64, dialpay, int64ToBigInt, moneyFromProto, moneyToProto } from '../../../proto/index.js';
import { SimulatedCarrier } from '../../../services/billing/index.js';
import { CreditService } from '../../../services/billing/credits.js';
import type { Ledger } from '../../../services/billing/ledger/store.js';
import { AccountIds } from '../../../services/billing/ledger/rules.js';
import { statementLines } from '../../../runtime/statement.js';
import { checkMerchantPayables } from '../../../load-tests/harness/invariants.js';
import { startBillingStack, type BillingStack } from '../../support/billing-stack.js';
import { quietLogger, waitFor } from '../../support/stack.js';
import { readEvents, readStored } from '../../support/streams.js';

const { DebitOutcome, CreditOutcome, CreditSource } = dialpay.v1;
let billing: BillingStack;
let nats: NatsHandle;
let pool: Pool;
let ledger: Ledger;
const carrier = new SimulatedCarrier({ openingBalanceMinor: 10_000_000n });
const KES = (amountMinor: bigint) => moneyToProto({ amountMinor, currency: 'KES' });
const PAYER = '254711100000';
let n = 0;

async function publish<M extends object>(def: Parameters<typeof publishEvent<M>>[1], body: Omit<M, 'envelope'>): Promise<void> {
  await publishEvent(nats.js, def, { envelope: newEnvelope({ producer: 'test' }), ...body } as unknown as M, { timeoutMs: 5_000 });
}

/** A merchant paid `amountMinor` (no fee): its payable is credited that much. */
async function pay(merchantId: string, amountMinor: bigint): Promise<string> {
  const debitId = `pay-${++n}`;
  const paymentId = randomUUID();
  await publish(Events.debitReserveRequested, { debitId, paymentId, operatorId: 'safaricom-ke', msisdn: PAYER, amount: KES(amountMinor), description: 'pay' });
  expect((await billing.result(Events.debitReserveResult, debitId)).outcome).toBe(DebitOutcome.DEBIT_OUTCOME_OK);
  await publish(Events.debitCaptureRequested, { debitId, paymentId, amount: KES(amountMinor), merchantId, payeeAmount: KES(amountMinor) });
  expect((await billing.result(Events.debitCaptureResult, debitId)).outcome).toBe(DebitOutcome.DEBIT_OUTCOME_OK);
  return debitId;
}

type CreditBody = Omit<dialpay.v1.ICreditRequested, 'envelope'>;
const deposit = (msisdn: string, amountMinor: bigint, extra: Partial<CreditBody> = {}): CreditBody => ({
  creditId: randomUUID(), source: CreditSource.CREDIT_SOURCE_OPERATOR_DEPOSIT, operatorId: 'safaricom-ke', msisdn, amount: KES(amountMinor), reference: `DEP-${++n}`, ...extra,
});
const payout = (merchantId: string, msisdn: string, amountMinor: bigint, extra: Partial<CreditBody> = {}): CreditBody => ({
  creditId: randomUUID(), source: CreditSource.CREDIT_SOURCE_MERCHANT_PAYOUT, operatorId: 'safaricom-ke', merchantId, msisdn, amount: KES(amountMinor), reference: `PO-${++n}`, ...extra,
});

async function results(creditId: string): Promise<dialpay.v1.ICreditResult[]> {
  return (await readEvents(nats, 'DEBITS', Events.creditResult)).filter((r) => r.creditId === creditId);
}

async function credit(body: CreditBody): Promise<dialpay.v1.ICreditResult> {
  await publish(Events.creditRequested, body);
  return waitFor(`credit result for ${body.creditId}`, async () => (await results(body.creditId as string))[0]);
}

/** Every delivery of the credit consumer handled and acked. */
async function creditsDrained(): Promise<void> {
  await waitFor('billing-debit-credit drained', async () => {
    const info = await nats.jsm.consumers.info('DEBITS', 'billing-debit-credit');
    return info.num_pending === 0 && info.num_ack_pending === 0;
  });
}

const balance = (accountId: string) => ledger.balance(accountId).catch(() => 0n);
const creditTransfers = async (creditId: string) => Number((await pool.query<{ n: string }>('SELECT count(*)::text AS n FROM billing.transfers WHERE id = $1', [`credit:${creditId}`])).rows[0]?.n);
const merchantApiBalance = async (merchantId: string) => {
  const reply = await requestReply(nats.nc, Requests.billingMerchantBalance, { merchantId }, 2_000);
  return (reply.balances ?? []).map((b) => moneyFromProto(b)).find((b) => b.currency === 'KES')?.amountMinor;
};

beforeAll(async () => {
  billing = await startBillingStack(carrier);
  ({ nats, pool, ledger } = billing);
});
afterAll(async () => {
  await billing?.stop();
});

describe('operator deposits', () => {
  it('books a deposit funding -> wallet once, however often it is delivered', async () => {
    const msisdn = '254711100001';
    const body = deposit(msisdn, 50_000n);
    expect(await credit(body)).toMatchObject({ outcome: CreditOutcome.CREDIT_OUTCOME_OK, credited: { currency: 'KES' } });
    await publish(Events.creditRequested, body); // delivered again (another envelope: not deduplicated by JetStream)
    await publish(Events.creditRequested, body);
    await creditsDrained();
    expect(await balance(AccountIds.subscriber(msisdn))).toBe(50_000n);
    expect(await balance(AccountIds.operatorFunding('safaricom-ke'))).toBeLessThanOrEqual(-50_000n);
    expect(await creditTransfers(body.creditId as string)).toBe(1);
    expect((await results(body.creditId as string)).every((r) => r.outcome === CreditOutcome.CREDIT_OUTCOME_OK)).toBe(true);
  });

  it('refuses a deposit over the wallet cap, nothing moved, and says so again on redelivery', async () => {
    const msisdn = '254711100002';
    expect((await credit(deposit(msisdn, 30_000n, { walletMax: KES(50_000n) }))).outcome).toBe(CreditOutcome.CREDIT_OUTCOME_OK);
    const funding = await balance(AccountIds.operatorFunding('safaricom-ke'));
    const over = deposit(msisdn, 20_001n, { walletMax: KES(50_000n) });
    expect(await credit(over)).toMatchObject({ outcome: CreditOutcome.CREDIT_OUTCOME_WALLET_BALANCE_MAX, credited: null });
    expect(await balance(AccountIds.subscriber(msisdn))).toBe(30_000n);
    expect(await balance(AccountIds.operatorFunding('safaricom-ke'))).toBe(funding);
    expect(await creditTransfers(over.creditId as string)).toBe(0);
    // Exactly at the cap is fine.
    expect((await credit(deposit(msisdn, 20_000n, { walletMax: KES(50_000n) }))).outcome).toBe(CreditOutcome.CREDIT_OUTCOME_OK);
    await publish(Events.creditRequested, over);
    await creditsDrained();
    expect((await results(over.creditId as string)).map((r) => r.outcome)).toEqual([CreditOutcome.CREDIT_OUTCOME_WALLET_BALANCE_MAX]);
    expect(await creditTransfers(over.creditId as string)).toBe(0);
  });

  it('rejects a deposit in another currency, from an unknown operator or to a malformed number', async () => {
    for (const body of [
      deposit('254711100003', 100n, { amount: moneyToProto({ amountMinor: 100n, currency: 'XOF' }) }),
      deposit('254711100003', 100n, { operatorId: 'nope' }),
      deposit('+2547', 100n),
    ]) {
      expect((await credit(body)).outcome).toBe(CreditOutcome.CREDIT_OUTCOME_REJECTED);
      expect(await creditTransfers(body.creditId as string)).toBe(0);
    }
  });
});

describe('refusal details', () => {
  it('name no subscriber number: they are logged, stored in billing.credits and carried on DEBITS', async () => {
    const inXof = '254711100041';
    await withTransaction(pool, 'READ COMMITTED', (client) =>
      ledger.ensureAccountsIn(client, [{ id: AccountIds.subscriber(inXof), kind: 'subscriber', currency: 'XOF' }]));
    const tooLong = '2547111000429999';
    const [payer, payee] = ['254711100043', '254711100044'];
    const reversal = randomUUID();
    const bodies: CreditBody[] = [
      deposit(inXof, 100n),
      deposit(tooLong, 100n),
      { creditId: `reversal-${reversal}`, source: CreditSource.CREDIT_SOURCE_REVERSAL, operatorId: 'safaricom-ke', msisdn: payer,
        debitedMsisdn: payee, originalPaymentId: reversal, amount: KES(100n), reference: 'REV' },
    ];
    for (const body of bodies) {
      const result = await credit(body);
      expect(result.outcome).toBe(CreditOutcome.CREDIT_OUTCOME_REJECTED);
      const stored = (await pool.query<{ detail: string }>('SELECT detail FROM billing.credits WHERE credit_id = $1', [body.creditId])).rows[0];
      for (const detail of [result.detail ?? '', stored?.detail ?? '']) {
        expect(detail).not.toBe('');
        for (const number of [inXof, tooLong, payer, payee]) expect(detail).not.toContain(number.slice(3));
      }
    }
  });
});

describe('credits that break the contract', () => {
  it('dead-letters a credit whose source is unknown or UNSPECIFIED, with the reason, answering nothing and moving no money', async () => {
    const msisdn = '254711100004';
    const funding = await balance(AccountIds.operatorFunding('safaricom-ke'));
    const bodies = [
      { ...deposit(msisdn, 100n), source: 99 as dialpay.v1.CreditSource },
      { ...deposit(msisdn, 100n), source: CreditSource.CREDIT_SOURCE_UNSPECIFIED },
    ];
    for (const body of bodies) await publish(Events.creditRequested, body);
    const deadLetters = async () => (await readStored(nats, DLQ_STREAM))
      .filter((m) => m.subject === `${DLQ_SUBJECT_PREFIX}.DEBITS.billing-debit-credit`)
      .map((m) => ({ creditId: Events.creditRequested.type.decode(m.data).creditId, headers: m.headers }));
    const letters = await waitFor('both credits dead-lettered', async () => {
      const mine = (await deadLetters()).filter((l) => bodies.some((b) => b.creditId === l.creditId));
      return mine.length === 2 ? mine : undefined;
    });
    const reasonOf = (creditId: string) => letters.find((l) => l.creditId === creditId)?.headers ?? '';
    expect(reasonOf(bodies[0]?.creditId as string)).toMatch(/Dialpay-Error: .*source has unknown value 99/);
    expect(reasonOf(bodies[1]?.creditId as string)).toMatch(/Dialpay-Error: .*source is UNSPECIFIED/);
    await creditsDrained();
    for (const body of bodies) {
      expect(await results(body.creditId as string)).toEqual([]);
      expect(await creditTransfers(body.creditId as string)).toBe(0);
    }
    expect(await balance(AccountIds.subscriber(msisdn))).toBe(0n);
    expect(await balance(AccountIds.operatorFunding('safaricom-ke'))).toBe(funding);
  });
});

describe('merchant payouts', () => {
  it('pays out within the available balance, refuses beyond it with nothing moved, and answers a refusal the same way again', async () => {
    await pay('SHOP42', 10_000n);
    const msisdn = '254711100010';
    const ok = payout('SHOP42', msisdn, 4_000n);
    expect(await credit(ok)).toMatchObject({ outcome: CreditOutcome.CREDIT_OUTCOME_OK });
    expect(await balance(AccountIds.merchant('SHOP42', 'KES'))).toBe(6_000n);
    expect(await balance(AccountIds.subscriber(msisdn))).toBe(4_000n);
    expect(await merchantApiBalance('SHOP42')).toBe(6_000n);

    const over = payout('SHOP42', msisdn, 6_001n);
    expect(await credit(over)).toMatchObject({ outcome: CreditOutcome.CREDIT_OUTCOME_INSUFFICIENT_FUNDS, credited: null });
    expect(await balance(AccountIds.merchant('SHOP42', 'KES'))).toBe(6_000n);
    expect(await balance(AccountIds.subscriber(msisdn))).toBe(4_000n);
    expect(await creditTransfers(over.creditId as string)).toBe(0);

    // The merchant is paid meanwhile: the same credit delivered again is still refused (decided once).
    await pay('SHOP42', 5_000n);
    await publish(Events.creditRequested, over);
    await creditsDrained();
    expect((await results(over.creditId as string)).map((r) => r.outcome)).toEqual([CreditOutcome.CREDIT_OUTCOME_INSUFFICIENT_FUNDS]);
    expect(await balance(AccountIds.merchant('SHOP42', 'KES'))).toBe(11_000n);

    // The whole available balance, exactly.
    expect((await credit(payout('SHOP42', msisdn, 11_000n))).outcome).toBe(CreditOutcome.CREDIT_OUTCOME_OK);
    expect(await balance(AccountIds.merchant('SHOP42', 'KES'))).toBe(0n);
    expect((await credit(payout('SHOP42', msisdn, 1n))).outcome).toBe(CreditOutcome.CREDIT_OUTCOME_INSUFFICIENT_FUNDS);
    expect((await checkMerchantPayables(pool))[0]).toMatchObject({ ok: true });
  });

  it('counts refunds claimed and not yet booked against the available balance', async () => {
    const debitId = await pay('EVCHARGE', 8_000n);
    // A refund the carrier is still being asked about (billing.refunds 'refunding').
    await pool.query(`INSERT INTO billing.refunds (refund_id, debit_id, amount_minor, state) VALUES ($1, $2, 3000, 'refunding')`, [`rf-${debitId}`, debitId]);
    try {
      expect(await merchantApiBalance('EVCHARGE')).toBe(5_000n);
      expect((await credit(payout('EVCHARGE', '254711100011', 5_001n))).outcome).toBe(CreditOutcome.CREDIT_OUTCOME_INSUFFICIENT_FUNDS);
      expect((await credit(payout('EVCHARGE', '254711100011', 5_000n))).outcome).toBe(CreditOutcome.CREDIT_OUTCOME_OK);
      expect(await balance(AccountIds.merchant('EVCHARGE', 'KES'))).toBe(3_000n); // what the refund will take
    } finally {
      await pool.query(`UPDATE billing.refunds SET state = 'refused' WHERE refund_id = $1`, [`rf-${debitId}`]);
    }
  });

  it('books exactly one of two payouts that together exceed the balance, through the consumer and from two services at once', async () => {
    await pay('SHOP42', 10_000n);
    const [a, b] = [payout('SHOP42', '254711100020', 6_000n), payout('SHOP42', '254711100021', 6_000n)];
    await Promise.all([publish(Events.creditRequested, a), publish(Events.creditRequested, b)]);
    const outcomes = await Promise.all([a, b].map((c) => waitFor('result', async () => (await results(c.creditId as string))[0])));
    expect(outcomes.map((r) => r.outcome).sort())
      .toEqual([CreditOutcome.CREDIT_OUTCOME_OK, CreditOutcome.CREDIT_OUTCOME_INSUFFICIENT_FUNDS]);
    expect(await balance(AccountIds.merchant('SHOP42', 'KES'))).toBe(4_000n);

    // Two billing instances (two services on the same database) racing: still one.
    await pay('SHOP42', 6_000n); // 10,000 available
    const operators = new Map(billing.stack.config.operators.map((o) => [o.id, o]));
    const merchants = new Map(billing.stack.config.merchants.map((m) => [m.id, m]));
    const services = [0, 1].map(() => new CreditService({ pool, ledger, operators, merchants, log: quietLogger() }));
    const racing = [payout('SHOP42', '254711100022', 7_000n), payout('SHOP42', '254711100023', 7_000n), payout('SHOP42', '254711100024', 7_000n)];
    await Promise.all(racing.map((c, i) => (services[i % 2] as CreditService).credit({ envelope: newEnvelope({ producer: 'test' }), ...c })));
    const booked = await Promise.all(racing.map((c) => creditTransfers(c.creditId as string)));
    expect(booked.reduce((s, x) => s + x, 0)).toBe(1);
    expect(await balance(AccountIds.merchant('SHOP42', 'KES'))).toBe(3_000n);
    expect((await checkMerchantPayables(pool))[0]).toMatchObject({ ok: true });
  });

  it('rejects a payout of an unknown merchant or in a currency the merchant is not paid in', async () => {
    for (const body of [payout('NOPE', '254711100030', 100n), payout('SHOP42', '221771234567', 100n, { operatorId: 'orange-sn', amount: moneyToProto({ amountMinor: 100n, currency: 'XOF' }) })]) {
      expect((await credit(body)).outcome).toBe(CreditOutcome.CREDIT_OUTCOME_REJECTED);
    }
  });
});

describe('what credits show', () => {
  it('the wallet statement shows a deposit and a payout as money in, with their reference', async () => {
    const msisdn = '254711100040';
    await pay('EVCHARGE', 2_000n);
    expect((await credit(deposit(msisdn, 50_000n, { reference: 'SALARY-NOV' }))).outcome).toBe(CreditOutcome.CREDIT_OUTCOME_OK);
    expect((await credit(payout('EVCHARGE', msisdn, 1_250n, { reference: 'CASHBACK-7' }))).outcome).toBe(CreditOutcome.CREDIT_OUTCOME_OK);
    const reply = await requestReply(nats.nc, Requests.billingBalance, { operatorId: 'safaricom-ke', msisdn, statementLinesMax: 5 }, 2_000);
    expect(moneyFromProto(reply.wallet).amountMinor).toBe(51_250n);
    expect(statementLines(reply.lines, 'KES', 'en').map((l) => l.slice(6))).toEqual([
      '+12.50 KES Payout, Volt EV Charging, Ref CASHBACK-7',
      '+500.00 KES Deposit, Safari Mobile, Ref SALARY-NOV',
    ]);
  });

  it("settlement sees payouts in the window of the subscriber's operator, and never settles what was paid out", async () => {
    const from = Date.now() - 60_000;
    await pay('SHOP42', 20_000n);
    const before = await balance(AccountIds.merchant('SHOP42', 'KES'));
    const po = payout('SHOP42', '254711100050', 15_000n);
    expect((await credit(po)).outcome).toBe(CreditOutcome.CREDIT_OUTCOME_OK);
    const to = Date.now() + 60_000;
    const movements = await requestReply(nats.nc, Requests.billingSettlementMovements, { operatorId: 'safaricom-ke', fromUnixMs: bigIntToInt64(BigInt(from)), toUnixMs: bigIntToInt64(BigInt(to)) }, 5_000);
    const line = (movements.movements ?? []).find((m) => m.transferId === `credit:${po.creditId}`);
    expect(line).toMatchObject({ kind: 'payout', merchantId: 'SHOP42', currency: 'KES' });
    expect(int64ToBigInt(line?.payeeMinor)).toBe(15_000n);
    // A close asking for the whole window's captures moves only what is left after the payout.
    const booked = await requestReply(nats.nc, Requests.billingBookSettlement, {
      windowId: `test-${randomUUID()}`, operatorId: 'safaricom-ke', lines: [{ merchantId: 'SHOP42', netPayable: KES(20_000n) }],
    }, 5_000);
    expect(booked.ok).toBe(true);
    expect(moneyFromProto(booked.paidOut?.[0]?.netPayable).amountMinor).toBe(before - 15_000n);
    expect(await balance(AccountIds.merchant('SHOP42', 'KES'))).toBe(0n);
    expect(await ledger.check()).toEqual({ postingsSumMinor: 0n, unbalancedTransfers: 0, driftedBalances: 0, negativeBalances: 0 });
  });
});
