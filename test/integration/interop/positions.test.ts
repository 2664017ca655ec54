// billing's side of a cross-operator transfer: the capture credits the payee's
// wallet and books one inter-operator position with it, however often the
// capture request arrives; a payee operator that cannot be paid refuses the
// capture and books nothing; settlement's question sums the positions.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newEnvelope, publishEvent, Events, Requests, requestReply, type NatsHandle } from '../../../runtime/nats/index.js';
import { validateConfig } from '../../../cli/config.js';
import type { Pool } from '../../../runtime/pg/index.js';
import { bigIntToInt64, dialpay, int64ToBigInt, moneyToProto } from '../../../proto/index.js';
import { SimulatedCarrier } from '../../../services/billing/index.js';
import type { Ledger } from '../../../services/billing/ledger/store.js';
import { AccountIds } from '../../../services/billing/ledger/rules.js';
import { waitFor, type Stack } from '../../support/stack.js';
import { readEvents } from '../../support/streams.js';
import { startBillingStack, type BillingStack } from '../../support/billing-stack.js';

const { DebitOutcome } = dialpay.v1;
let stack: Stack;
let billing: BillingStack;
let nats: NatsHandle;
let pool: Pool;
let ledger: Ledger;
const carrier = new SimulatedCarrier({ openingBalanceMinor: 100_000n });
const KES = (amountMinor: bigint) => moneyToProto({ amountMinor, currency: 'KES' });
let n = 0;

async function reserved(msisdn: string, amountMinor: bigint): Promise<string> {
  const debitId = `x-${++n}`;
  await publishEvent(nats.js, Events.debitReserveRequested, { envelope: newEnvelope({ producer: 'test' }), debitId, paymentId: `p-${debitId}`, operatorId: 'safaricom-ke', msisdn, amount: KES(amountMinor), description: 'test' }, { timeoutMs: 5_000 });
  expect((await result(Events.debitReserveResult, debitId)).outcome).toBe(DebitOutcome.DEBIT_OUTCOME_OK);
  return debitId;
}

async function capture(debitId: string, payeeMsisdn: string, amountMinor: bigint, payeeOperatorId: string): Promise<void> {
  await publishEvent(nats.js, Events.debitCaptureRequested, {
    envelope: newEnvelope({ producer: 'test' }), debitId, paymentId: `p-${debitId}`, amount: KES(amountMinor), payeeMsisdn, payeeOperatorId,
    payeeAmount: KES(amountMinor), fee: KES(0n), operatorShare: KES(0n),
  }, { timeoutMs: 5_000 });
}

const result: BillingStack['result'] = (def, debitId) => billing.result(def, debitId);

const positions = async () => (await pool.query('SELECT debit_id, payer_operator_id, payee_operator_id, currency, amount_minor::text AS amount FROM billing.interop_positions ORDER BY debit_id')).rows;

beforeAll(async () => {
  billing = await startBillingStack(carrier, (s) => {
    const raw = structuredClone(s.rawConfig) as any;
    raw.operators.push({ ...structuredClone(raw.operators[0]), id: 'airtel-ke', name: 'Airtel Kenya', numberRanges: ['+25473'], shortCodes: ['385'], ussd: undefined });
    delete raw.operators[2].ussd;
    return validateConfig(raw);
  });
  ({ stack, nats, pool, ledger } = billing);
});
afterAll(async () => {
  await billing?.stop();
});

describe('an inter-operator position', () => {
  it('is booked once with the capture, however often the capture is asked for', async () => {
    const debitId = await reserved('254711200001', 7_000n);
    await capture(debitId, '254733200001', 7_000n, 'airtel-ke');
    await capture(debitId, '254733200001', 7_000n, 'airtel-ke'); // a second request (not a JetStream duplicate: a new envelope)
    expect((await result(Events.debitCaptureResult, debitId)).outcome).toBe(DebitOutcome.DEBIT_OUTCOME_OK);
    await waitFor('both captures handled', async () => (await readEvents(nats, 'DEBITS', Events.debitCaptureRequested)).filter((r) => r.debitId === debitId).length === 2);
    await waitFor('payee wallet credited', async () => (await ledger.balance(AccountIds.subscriber('254733200001'))) === 7_000n);
    // Let the second request be handled before counting (its result is the same event id, deduplicated).
    await new Promise((r) => setTimeout(r, 500));
    expect(await positions()).toEqual([{ debit_id: debitId, payer_operator_id: 'safaricom-ke', payee_operator_id: 'airtel-ke', currency: 'KES', amount: '7000' }]);
    expect(await ledger.balance(AccountIds.subscriber('254733200001'))).toBe(7_000n);
    expect(carrier.balanceOf('254711200001')).toBe(93_000n);
  });

  it('is not booked for an on-net transfer', async () => {
    const debitId = await reserved('254711200002', 1_000n);
    await capture(debitId, '254711200003', 1_000n, 'safaricom-ke');
    expect((await result(Events.debitCaptureResult, debitId)).outcome).toBe(DebitOutcome.DEBIT_OUTCOME_OK);
    expect((await positions()).map((p) => p.debit_id)).not.toContain(debitId);
  });

  it('is not booked when a carrier-billed payer sends from their dialpay wallet: their operator never collected it', async () => {
    const payer = '254711200004';
    const filled = await reserved('254711200005', 1_500n);
    await capture(filled, payer, 1_500n, 'safaricom-ke'); // on-net: fills the payer's wallet
    await waitFor('payer wallet filled', async () => (await ledger.balance(AccountIds.subscriber(payer)).catch(() => 0n)) === 1_500n);
    const debitId = await reserved(payer, 1_500n);
    expect((await pool.query('SELECT funding FROM billing.debits WHERE debit_id = $1', [debitId])).rows[0]).toEqual({ funding: 'wallet' });
    await capture(debitId, '254733200009', 1_500n, 'airtel-ke');
    expect((await result(Events.debitCaptureResult, debitId)).outcome).toBe(DebitOutcome.DEBIT_OUTCOME_OK);
    expect(await ledger.balance(AccountIds.subscriber('254733200009'))).toBe(1_500n);
    expect((await positions()).map((p) => p.debit_id)).not.toContain(debitId);
    expect(carrier.balanceOf(payer)).toBe(100_000n); // the carrier account was never touched
  });

  it('refuses the capture when the payee\'s operator bills in another currency or is unknown: nothing captured, nothing booked', async () => {
    for (const payeeOperatorId of ['orange-sn', 'gone-ke']) {
      const payer = `25471120001${payeeOperatorId.length}`;
      const debitId = await reserved(payer, 2_000n);
      await capture(debitId, '221770000001', 2_000n, payeeOperatorId);
      const refused = await result(Events.debitCaptureResult, debitId);
      expect(refused.outcome).toBe(DebitOutcome.DEBIT_OUTCOME_REJECTED);
      expect(refused.detail).toMatch(payeeOperatorId === 'orange-sn' ? /bills in XOF, not KES/ : /not configured/);
      expect((await pool.query(`SELECT state FROM billing.debits WHERE debit_id = $1`, [debitId])).rows[0]).toEqual({ state: 'reserved' });
      expect((await positions()).map((p) => p.debit_id)).not.toContain(debitId);
    }
    // Never credited: the payee's wallet account was not even opened.
    expect((await pool.query('SELECT 1 FROM billing.accounts WHERE id = $1', [AccountIds.subscriber('221770000001')])).rowCount).toBe(0);
  });

  it('is summed per direction and currency for settlement, within the asked range', async () => {
    const reply = await requestReply(nats.nc, Requests.billingInteropPositions,
      { fromUnixMs: bigIntToInt64(BigInt(Date.now() - 60_000)), toUnixMs: bigIntToInt64(BigInt(Date.now() + 60_000)) }, 5_000);
    expect(reply.available).toBe(true);
    expect((reply.totals ?? []).map((t) => ({ ...t, amountMinor: int64ToBigInt(t.amountMinor) }))).toEqual([
      { payerOperatorId: 'safaricom-ke', payeeOperatorId: 'airtel-ke', currency: 'KES', transfers: 1, amountMinor: 7_000n },
    ]);
    const before = await requestReply(nats.nc, Requests.billingInteropPositions,
      { fromUnixMs: bigIntToInt64(0n), toUnixMs: bigIntToInt64(BigInt(Date.now() - 60_000)) }, 5_000);
    expect(before.totals ?? []).toEqual([]);
    expect((await requestReply(nats.nc, Requests.billingInteropPositions,
      { fromUnixMs: bigIntToInt64(10n), toUnixMs: bigIntToInt64(5n) }, 5_000)).available).toBe(false);
    expect(await ledger.check()).toEqual({ postingsSumMinor: 0n, unbalancedTransfers: 0, driftedBalances: 0, negativeBalances: 0 });
  });
});
