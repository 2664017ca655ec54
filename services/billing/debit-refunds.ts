// Gives back part of a captured merchant payment: the refund claimed under the debit's lock
// (never more than captured, in total), the carrier's refund outside any transaction
// (idempotent on the refund id), then one transaction: the ledger (merchant payable -> payer),
// the refund's state, the result.
import type pg from 'pg';
import { moneyToProto, type dialpay, type MoneyMinor } from '../../proto/index.js';
import { Events } from '../../runtime/nats/index.js';
import { withTransaction } from '../../runtime/pg/index.js';
import { lockDebit, type DebitRow } from './debit-rows.js';
import { AccountIds, refundTransfer } from './ledger/rules.js';
import { CarrierOutcome, type CarrierResult } from './adapters/types.js';
import { lockPayable } from './payable.js';
import {
  CarrierUnavailableError, DebitOutcome, money, OUTCOME_BY_CARRIER, required, stepsOf, type DebitContext, type DebitOutcomeValue,
} from './debit-context.js';
import { enqueue } from './debit-results.js';

/** A refund after its claim: the debit when the carrier is to refund it, null when the claim answered already. */
export interface RefundClaim {
  readonly request: dialpay.v1.IDebitRefundRequested;
  readonly refundId: string;
  readonly debitId: string;
  readonly paymentId: string;
  readonly amount: MoneyMinor;
  readonly debit: DebitRow | null;
}

export interface RefundPlan extends RefundClaim {
  readonly carrier: CarrierResult | null;
}

/** One refund on its own: the claim, the carrier's refund, then one transaction (bookRefund). */
export async function refundOne(ctx: DebitContext, request: dialpay.v1.IDebitRefundRequested): Promise<void> {
  const claim = await claimRefund(ctx, request);
  await bookRefund(ctx, await refundAtCarrier(ctx, claim));
}

/** The refund claimed under the debit's lock, in one transaction; a refusal or a refund already made answers there. */
export async function claimRefund(ctx: DebitContext, request: dialpay.v1.IDebitRefundRequested): Promise<RefundClaim> {
  const refundId = required(request.refundId, 'refundId');
  const debitId = required(request.debitId, 'debitId');
  const amount = money(request.amount, 'amount');
  const paymentId = request.paymentId ?? '';
  const ids = { request, refundId, debitId, paymentId, amount };
  return withTransaction(ctx.pool, 'READ COMMITTED', async (client): Promise<RefundClaim> => {
    const answer = async (outcome: DebitOutcomeValue, detail: string): Promise<RefundClaim> => {
      await enqueueRefundResult(client, refundId, debitId, paymentId, outcome, amount, detail);
      return { ...ids, debit: null };
    };
    if (!request.merchantId) return answer(DebitOutcome.DEBIT_OUTCOME_REJECTED, 'refunds are for merchant payments');
    const debit = await lockDebit(client, debitId);
    if (!debit || debit.state !== 'captured' || debit.currency !== amount.currency) {
      return answer(DebitOutcome.DEBIT_OUTCOME_INVALID_STATE, `debit is ${debit?.state ?? 'unknown'}`);
    }
    // Not between a payout's balance check and its commit (payable.ts): a refund claimed now counts against the available balance.
    await lockPayable(client, request.merchantId, debit.currency, 'shared');
    const existing = (await client.query<{ state: string; detail: string }>(
      'SELECT state, detail FROM billing.refunds WHERE refund_id = $1', [refundId],
    )).rows[0];
    if (existing?.state === 'refunded') return answer(DebitOutcome.DEBIT_OUTCOME_OK, '');
    if (existing?.state === 'refused') return answer(DebitOutcome.DEBIT_OUTCOME_INVALID_STATE, existing.detail);
    if (!existing) {
      const { rows } = await client.query<{ total: string }>(
        "SELECT COALESCE(SUM(amount_minor), 0)::text AS total FROM billing.refunds WHERE debit_id = $1 AND state <> 'refused'", [debitId],
      );
      const left = BigInt(debit.captured_minor) - BigInt(rows[0]?.total ?? '0');
      if (amount.amountMinor <= 0n || amount.amountMinor > left) {
        return answer(DebitOutcome.DEBIT_OUTCOME_INVALID_STATE, `at most ${left} can be refunded`);
      }
      await client.query(
        "INSERT INTO billing.refunds (refund_id, debit_id, amount_minor, state) VALUES ($1, $2, $3, 'refunding')",
        [refundId, debitId, amount.amountMinor.toString()],
      );
    }
    return { ...ids, debit };
  });
}

/** The carrier's refund of a claimed refund, outside any transaction (idempotent on the refund id). */
export async function refundAtCarrier(ctx: DebitContext, claim: RefundClaim): Promise<RefundPlan> {
  if (!claim.debit) return { ...claim, carrier: null };
  const carrier = await stepsOf(ctx, claim.debit)
    .refund(claim.refundId, claim.debitId, claim.amount.amountMinor, claim.debit.carrier_ref ?? undefined);
  if (carrier.outcome === CarrierOutcome.UNAVAILABLE) throw new CarrierUnavailableError(claim.debitId, carrier.detail);
  return { ...claim, carrier };
}

/** Everything a refund writes after the carrier, in one transaction: the ledger, the refund's state, the result. */
export async function bookRefund(ctx: DebitContext, plan: RefundPlan): Promise<void> {
  const { refundId, debitId, paymentId, amount, debit, carrier } = plan;
  if (!debit || !carrier) return; // answered in its claim
  await withTransaction(ctx.pool, 'READ COMMITTED', async (client) => {
    if (carrier.outcome !== CarrierOutcome.OK) {
      await client.query(
        "UPDATE billing.refunds SET state = 'refused', detail = $2, updated_at = now() WHERE refund_id = $1 AND state = 'refunding'",
        [refundId, carrier.detail],
      );
      await enqueueRefundResult(client, refundId, debitId, paymentId, OUTCOME_BY_CARRIER[carrier.outcome], amount, carrier.detail);
      return;
    }
    const payeeAccountId = AccountIds.merchant(plan.request.merchantId ?? '', debit.currency);
    await ctx.ledger.ensureAccountsIn(client, [{ id: payeeAccountId, kind: 'merchant_payable', currency: debit.currency }]);
    const [booked] = await ctx.ledger.applyIn(client, [refundTransfer({
      id: `refund:${refundId}`, paymentId: debit.payment_id, currency: debit.currency, amountMinor: amount.amountMinor,
      payeeAccountId, payerAccountId: debit.payer_account_id,
    })]);
    // The carrier has paid it back: the books must follow. Anything else is retried, then reaches a person via the DLQ.
    if (booked?.outcome !== 'applied' && booked?.outcome !== 'duplicate') {
      throw new Error(`refund ${refundId} could not be booked: ${booked?.outcome}`);
    }
    await client.query("UPDATE billing.refunds SET state = 'refunded', updated_at = now() WHERE refund_id = $1", [refundId]);
    await enqueueRefundResult(client, refundId, debitId, paymentId, DebitOutcome.DEBIT_OUTCOME_OK, amount, '');
  });
}

function enqueueRefundResult(
  client: pg.ClientBase, refundId: string, debitId: string, paymentId: string, outcome: DebitOutcomeValue, amount: MoneyMinor,
  detail: string,
): Promise<void> {
  return enqueue(client, Events.debitRefundResult, `debit-refund-result:${refundId}:${outcome}`, paymentId, {
    refundId, debitId, paymentId, outcome, refunded: outcome === DebitOutcome.DEBIT_OUTCOME_OK ? moneyToProto(amount) : null, detail,
  });
}
