// Agents through billing's real consumers (issue 16): the events payments sends for a cash-in
// (reserve with FUNDING_SOURCE_AGENT_FLOAT and agent_id, capture with payee_wallet_max) and a
// cash-out (capture with payee_agent_id) over JetStream to the hosted billing component, on a
// carrier-billed operator (safaricom-ke, simulated carrier that is never asked about the float).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newEnvelope, publishEvent, requestReply, Events, Requests, type NatsHandle } from '../../../runtime/nats/index.js';
import type { Pool } from '../../../runtime/pg/index.js';
import { dialpay, moneyFromProto, moneyToProto } from '../../../proto/index.js';
import { SimulatedCarrier, fundAgentFloat, readAgentFloat } from '../../../services/billing/index.js';
import type { Ledger } from '../../../services/billing/ledger/store.js';
import { AccountIds } from '../../../services/billing/ledger/rules.js';
import { statementLines } from '../../../runtime/statement.js';
import { startBillingStack, type BillingStack } from '../../support/billing-stack.js';

const { DebitOutcome, FundingSource } = dialpay.v1;
const OPENING = 100_000n;
let billing: BillingStack;
let nats: NatsHandle;
let pool: Pool;
let ledger: Ledger;
const carrier = new SimulatedCarrier({ openingBalanceMinor: OPENING });
const KES = (amountMinor: bigint) => moneyToProto({ amountMinor, currency: 'KES' });
const AGENT_LINE = '254733300000';
let n = 0;

async function publish<M extends object>(def: Parameters<typeof publishEvent<M>>[1], body: Omit<M, 'envelope'>): Promise<void> {
  await publishEvent(nats.js, def, { envelope: newEnvelope({ producer: 'test' }), ...body } as unknown as M, { timeoutMs: 5_000 });
}

async function cashIn(
  agentId: string, payee: string, amountMinor: bigint, capMinor: bigint,
): Promise<{ debitId: string; reserve: dialpay.v1.IDebitReserveResult; capture: dialpay.v1.IDebitCaptureResult | null }> {
  const debitId = `ci-${++n}`;
  await publish(Events.debitReserveRequested, {
    debitId, paymentId: `c1d2e3f4-${debitId}`, operatorId: 'safaricom-ke', msisdn: AGENT_LINE, amount: KES(amountMinor), description: 'cash-in',
    funding: FundingSource.FUNDING_SOURCE_AGENT_FLOAT, agentId,
  });
  const reserve = await billing.result(Events.debitReserveResult, debitId);
  if (reserve.outcome !== DebitOutcome.DEBIT_OUTCOME_OK) return { debitId, reserve, capture: null };
  await publish(Events.debitCaptureRequested, {
    debitId, paymentId: `c1d2e3f4-${debitId}`, amount: KES(amountMinor), payeeMsisdn: payee, payeeAmount: KES(amountMinor), payeeWalletMax: KES(capMinor),
  });
  return { debitId, reserve, capture: await billing.result(Events.debitCaptureResult, debitId) };
}

beforeAll(async () => {
  billing = await startBillingStack(carrier);
  ({ nats, pool, ledger } = billing);
});
afterAll(async () => {
  await billing?.stop();
});

describe('agents through the debit consumers', () => {
  it('cash-in from the float (capped), a refusal over the cap voided back, a short float refused, then a cash-out into the float', async () => {
    expect(await fundAgentFloat(pool, { operatorId: 'safaricom-ke', agentId: 'AG1001', currency: 'KES', amountMinor: 10_000n, reference: 'TOPUP-1' })).toMatchObject({ outcome: 'funded', balanceMinor: 10_000n });
    const subscriber = '254733300001';

    const ok = await cashIn('AG1001', subscriber, 4_000n, 5_000n);
    expect(ok.reserve).toMatchObject({ outcome: DebitOutcome.DEBIT_OUTCOME_OK, funding: FundingSource.FUNDING_SOURCE_AGENT_FLOAT });
    expect(ok.capture?.outcome).toBe(DebitOutcome.DEBIT_OUTCOME_OK);
    expect(await readAgentFloat(pool, 'AG1001')).toBe(6_000n);
    expect(await ledger.balance(AccountIds.subscriber(subscriber))).toBe(4_000n);
    expect(carrier.balanceOf(AGENT_LINE)).toBe(OPENING); // the agent's carrier account is not touched

    const over = await cashIn('AG1001', subscriber, 2_000n, 5_000n);
    expect(over.capture).toMatchObject({ outcome: DebitOutcome.DEBIT_OUTCOME_REJECTED, detail: 'wallet-balance-max' });
    expect(await readAgentFloat(pool, 'AG1001')).toBe(4_000n); // still held
    await publish(Events.debitVoidRequested, { debitId: over.debitId, paymentId: `c1d2e3f4-${over.debitId}`, reason: 'wallet-balance-max' });
    expect((await billing.result(Events.debitVoidResult, over.debitId)).outcome).toBe(DebitOutcome.DEBIT_OUTCOME_OK);
    expect(await readAgentFloat(pool, 'AG1001')).toBe(6_000n);
    expect(await ledger.balance(AccountIds.subscriber(subscriber))).toBe(4_000n);

    const short = await cashIn('AG1001', subscriber, 6_001n, 50_000n);
    expect(short.reserve.outcome).toBe(DebitOutcome.DEBIT_OUTCOME_INSUFFICIENT_FUNDS);
    expect(await readAgentFloat(pool, 'AG1001')).toBe(6_000n);

    // Cash-out: the subscriber's wallet pays 1,000 and a fee of 50; the float gets 1,000.
    const out = `co-${++n}`;
    await publish(Events.debitReserveRequested, {
      debitId: out, paymentId: `a9b8c7d6-${out}`, operatorId: 'safaricom-ke', msisdn: subscriber, amount: KES(1_050n), description: 'cash-out', funding: FundingSource.FUNDING_SOURCE_WALLET,
    });
    expect((await billing.result(Events.debitReserveResult, out)).funding).toBe(FundingSource.FUNDING_SOURCE_WALLET);
    await publish(Events.debitCaptureRequested, {
      debitId: out, paymentId: `a9b8c7d6-${out}`, amount: KES(1_050n), payeeAgentId: 'AG1001', payeeAmount: KES(1_000n), fee: KES(30n), operatorShare: KES(20n),
    });
    expect((await billing.result(Events.debitCaptureResult, out)).outcome).toBe(DebitOutcome.DEBIT_OUTCOME_OK);
    expect(await readAgentFloat(pool, 'AG1001')).toBe(7_000n);
    expect(await ledger.balance(AccountIds.subscriber(subscriber))).toBe(2_950n);

    // BAL: the withdrawal out, the deposit in, each with the agent and the reference.
    const reply = await requestReply(nats.nc, Requests.billingBalance, { operatorId: 'safaricom-ke', msisdn: subscriber, statementLinesMax: 5 }, 2_000);
    expect(moneyFromProto(reply.wallet).amountMinor).toBe(2_950n);
    expect(statementLines(reply.lines, 'KES', 'en').map((l) => l.slice(6))).toEqual([
      '-10.50 KES Withdrawal, agent AG1001, Ref A9B8C7D6',
      '+40.00 KES Deposit, agent AG1001, Ref C1D2E3F4',
    ]);
    expect(await ledger.check()).toEqual({ postingsSumMinor: 0n, unbalancedTransfers: 0, driftedBalances: 0, negativeBalances: 0 });
  });
});
