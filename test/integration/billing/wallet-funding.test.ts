// The subscriber's dialpay wallet on a carrier-billed operator (safaricom-ke,
// simulated carrier): a transfer received lands in subscriber:<msisdn>, a
// reserve draws on it first (the carrier is never asked), capture, void and
// refund stay in the ledger, and what the wallet does not cover goes to the
// carrier as before. The funding source is on the reserve result, and the
// balance reply shows the wallet beside the carrier with money in and out.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newEnvelope, publishEvent, requestReply, Events, Requests, type NatsHandle, type EventDef, type EventMessage } from '../../../runtime/nats/index.js';
import type { Pool } from '../../../runtime/pg/index.js';
import { bigIntToInt64, dialpay, moneyToProto, moneyFromProto } from '../../../proto/index.js';
import { SimulatedCarrier } from '../../../services/billing/index.js';
import type { Ledger } from '../../../services/billing/ledger/store.js';
import { AccountIds } from '../../../services/billing/ledger/rules.js';
import { waitFor, type Stack } from '../../support/stack.js';
import { readEvents } from '../../support/streams.js';
import { startBillingStack, type BillingStack } from '../../support/billing-stack.js';

const { DebitOutcome, FundingSource } = dialpay.v1;
const OPENING = 100_000n;
let stack: Stack;
let billing: BillingStack;
let nats: NatsHandle;
let pool: Pool;
let ledger: Ledger;
const carrier = new SimulatedCarrier({ openingBalanceMinor: OPENING });
const KES = (amountMinor: bigint) => moneyToProto({ amountMinor, currency: 'KES' });
let n = 0;

async function result<M extends EventMessage & { debitId?: string | null }>(def: EventDef<M>, id: string, key: 'debitId' | 'refundId' = 'debitId'): Promise<M> {
  return waitFor(`${def.subject} for ${id}`, async () => (await readEvents(nats, 'DEBITS', def)).find((r) => (r as Record<string, unknown>)[key] === id));
}

async function reserve(
  msisdn: string, amountMinor: bigint, funding: dialpay.v1.FundingSource = FundingSource.FUNDING_SOURCE_UNSPECIFIED,
): Promise<{ debitId: string; result: dialpay.v1.IDebitReserveResult }> {
  const debitId = `wf-${++n}`;
  await publishEvent(nats.js, Events.debitReserveRequested, {
    envelope: newEnvelope({ producer: 'test' }), debitId, paymentId: `p-${debitId}`, operatorId: 'safaricom-ke', msisdn, amount: KES(amountMinor), description: 'test', funding,
  }, { timeoutMs: 5_000 });
  return { debitId, result: await result(Events.debitReserveResult, debitId) };
}

async function capture(
  debitId: string, amountMinor: bigint, payee: { merchantId: string } | { payeeMsisdn: string },
): Promise<dialpay.v1.IDebitCaptureResult> {
  await publishEvent(nats.js, Events.debitCaptureRequested, {
    envelope: newEnvelope({ producer: 'test' }), debitId, paymentId: `p-${debitId}`, amount: KES(amountMinor), ...payee, payeeAmount: KES(amountMinor), fee: KES(0n), operatorShare: KES(0n),
  }, { timeoutMs: 5_000 });
  return result(Events.debitCaptureResult, debitId);
}

/** B receives `amountMinor` from A by a SEND charged to A's carrier account. */
async function receive(from: string, to: string, amountMinor: bigint): Promise<string> {
  const sent = await reserve(from, amountMinor);
  expect(sent.result.funding).toBe(FundingSource.FUNDING_SOURCE_CARRIER);
  expect((await capture(sent.debitId, amountMinor, { payeeMsisdn: to })).outcome).toBe(DebitOutcome.DEBIT_OUTCOME_OK);
  return sent.debitId;
}

const wallet = (msisdn: string) => ledger.balance(AccountIds.subscriber(msisdn));

beforeAll(async () => {
  billing = await startBillingStack(carrier);
  ({ stack, nats, pool, ledger } = billing);
});
afterAll(async () => {
  await billing?.stop();
});

describe('the dialpay wallet on a carrier-billed operator', () => {
  it('spends a received transfer from the wallet: the carrier is not charged, the merchant is paid, a refund goes back to the wallet', async () => {
    const [a, b] = ['254722200001', '254722200002'];
    const sentId = await receive(a, b, 2_000n);
    expect(carrier.balanceOf(a)).toBe(OPENING - 2_000n);
    expect(await wallet(b)).toBe(2_000n);

    const paid = await reserve(b, 1_500n);
    expect(paid.result.outcome).toBe(DebitOutcome.DEBIT_OUTCOME_OK);
    expect(paid.result.funding).toBe(FundingSource.FUNDING_SOURCE_WALLET);
    expect(await wallet(b)).toBe(500n);
    const merchantBefore = await ledger.balance(AccountIds.merchant('SHOP42', 'KES')).catch(() => 0n);
    // The simulated carrier holds no reservation for it: a capture there would be refused.
    expect((await capture(paid.debitId, 1_500n, { merchantId: 'SHOP42' })).outcome).toBe(DebitOutcome.DEBIT_OUTCOME_OK);
    expect(carrier.balanceOf(b)).toBe(OPENING);
    expect(await ledger.balance(AccountIds.merchant('SHOP42', 'KES'))).toBe(merchantBefore + 1_500n);
    expect(await wallet(b)).toBe(500n);

    const refundId = `r-${paid.debitId}`;
    await publishEvent(nats.js, Events.debitRefundRequested, {
      envelope: newEnvelope({ producer: 'test' }), refundId, debitId: paid.debitId, paymentId: `p-${paid.debitId}`, amount: KES(600n), merchantId: 'SHOP42',
    }, { timeoutMs: 5_000 });
    expect((await result(Events.debitRefundResult, refundId, 'refundId')).outcome).toBe(DebitOutcome.DEBIT_OUTCOME_OK);
    expect(await wallet(b)).toBe(1_100n);
    expect(carrier.balanceOf(b)).toBe(OPENING);
    expect(await ledger.balance(AccountIds.merchant('SHOP42', 'KES'))).toBe(merchantBefore + 900n);

    // BAL: the wallet beside the carrier, and money in (received, refund) as well as out, newest first.
    const reply = await requestReply(nats.nc, Requests.billingBalance, { operatorId: 'safaricom-ke', msisdn: b, statementLinesMax: 5 }, 2_000);
    expect(moneyFromProto(reply.wallet).amountMinor).toBe(1_100n);
    expect(moneyFromProto(reply.balance).amountMinor).toBe(OPENING);
    expect((reply.lines ?? []).map((l) => [moneyFromProto(l.amount).amountMinor, l.counterparty])).toEqual([
      [600n, 'SHOP42'], [-1_500n, 'SHOP42'], [2_000n, a],
    ]);
    const walletOnly = await requestReply(nats.nc, Requests.billingBalance, { operatorId: 'safaricom-ke', msisdn: b, walletOnly: true }, 2_000);
    expect(moneyFromProto(walletOnly.wallet).amountMinor).toBe(1_100n);
    expect(walletOnly.balance ?? null).toBeNull();
    expect(walletOnly.lines ?? []).toEqual([]);
    expect((await ledger.check()).negativeBalances).toBe(0);

    // Reconciliation matches the carrier's records: a wallet-funded debit never reached the carrier.
    const charges = await requestReply(nats.nc, Requests.billingCharges, {
      operatorId: 'safaricom-ke', fromUnixMs: bigIntToInt64(0n), toUnixMs: bigIntToInt64(BigInt(Date.now() + 60_000)), limit: 500,
    }, 2_000);
    const ids = (charges.charges ?? []).map((c) => c.debitId);
    expect(ids).toContain(sentId);
    expect(ids).not.toContain(paid.debitId);
  });

  it('charges the carrier for what the wallet does not cover, and leaves the wallet alone', async () => {
    const [a, b] = ['254722200011', '254722200012'];
    await receive(a, b, 300n);
    const paid = await reserve(b, 1_000n);
    expect(paid.result.outcome).toBe(DebitOutcome.DEBIT_OUTCOME_OK);
    expect(paid.result.funding).toBe(FundingSource.FUNDING_SOURCE_CARRIER);
    expect(carrier.balanceOf(b)).toBe(OPENING - 1_000n);
    expect(await wallet(b)).toBe(300n);
    expect((await capture(paid.debitId, 1_000n, { merchantId: 'SHOP42' })).outcome).toBe(DebitOutcome.DEBIT_OUTCOME_OK);
    expect(carrier.balanceOf(b)).toBe(OPENING - 1_000n);
    expect(await wallet(b)).toBe(300n);
  });

  it('keeps the source the payer was promised: a promised wallet that falls short is refused, a promised carrier is charged', async () => {
    const [a, b] = ['254722200021', '254722200022'];
    await receive(a, b, 500n);
    const short = await reserve(b, 800n, FundingSource.FUNDING_SOURCE_WALLET);
    expect(short.result.outcome).toBe(DebitOutcome.DEBIT_OUTCOME_INSUFFICIENT_FUNDS);
    expect(carrier.balanceOf(b)).toBe(OPENING);
    expect(await wallet(b)).toBe(500n);
    const byCarrier = await reserve(b, 200n, FundingSource.FUNDING_SOURCE_CARRIER);
    expect(byCarrier.result.funding).toBe(FundingSource.FUNDING_SOURCE_CARRIER);
    expect(carrier.balanceOf(b)).toBe(OPENING - 200n);
    expect(await wallet(b)).toBe(500n);
  });

  it('voids a wallet reserve back into the wallet without asking the carrier', async () => {
    const [a, b] = ['254722200031', '254722200032'];
    await receive(a, b, 700n);
    const held = await reserve(b, 700n);
    expect(held.result.funding).toBe(FundingSource.FUNDING_SOURCE_WALLET);
    expect(await wallet(b)).toBe(0n);
    carrier.down(b); // were the carrier asked, the void would wait for it
    await publishEvent(nats.js, Events.debitVoidRequested, { envelope: newEnvelope({ producer: 'test' }), debitId: held.debitId, paymentId: `p-${held.debitId}`, reason: 'test' }, { timeoutMs: 5_000 });
    expect((await result(Events.debitVoidResult, held.debitId)).outcome).toBe(DebitOutcome.DEBIT_OUTCOME_OK);
    // The carrier not answering hides nothing of ours: BAL still shows the wallet.
    const reply = await requestReply(nats.nc, Requests.billingBalance, { operatorId: 'safaricom-ke', msisdn: b, statementLinesMax: 5 }, 2_000);
    expect(reply).toMatchObject({ available: true, carrierUnavailable: true });
    expect(moneyFromProto(reply.wallet).amountMinor).toBe(700n);
    expect(reply.balance ?? null).toBeNull();
    expect((reply.lines ?? []).map((l) => moneyFromProto(l.amount).amountMinor)).toEqual([700n]);
    carrier.up(b);
    expect(await wallet(b)).toBe(700n);
    expect(carrier.balanceOf(b)).toBe(OPENING);
    const { rows } = await pool.query<{ funding: string; state: string }>('SELECT funding, state FROM billing.debits WHERE debit_id = $1', [held.debitId]);
    expect(rows[0]).toEqual({ funding: 'wallet', state: 'voided' });
  });
});
