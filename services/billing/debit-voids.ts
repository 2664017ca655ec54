// A debit's void, on expiry or cancel: the debit read, the carrier's release outside any
// transaction (the carrier is the arbiter: if it captured, nothing is voided), then one
// transaction: the ledger hold released, the debit voided, the result. A void that overtakes
// its reserve leaves a tombstone, so the late reserve holds nothing.
import type pg from 'pg';
import type { dialpay } from '../../proto/index.js';
import { Events } from '../../runtime/nats/index.js';
import { withTransaction } from '../../runtime/pg/index.js';
import { claimedAt, lockDebit, updateDebitAtCommit, type DebitRow } from './debit-rows.js';
import { voidTransfer } from './ledger/rules.js';
import { CarrierOutcome, type CarrierResult } from './adapters/types.js';
import {
  CarrierUnavailableError, DebitBusyError, DebitOutcome, peekDebits, required, reserveOf, stepsOf,
  type DebitContext, type DebitOutcomeValue,
} from './debit-context.js';
import { releaseLedgerHoldIn } from './debit-reserves.js';
import { enqueueResult } from './debit-results.js';

export interface VoidPlan {
  readonly request: dialpay.v1.IDebitVoidRequested;
  readonly debitId: string;
  readonly seen: DebitRow['state'] | null;
  readonly carrier: CarrierResult | null;
}

type VoidResult = (paymentId: string, outcome: DebitOutcomeValue, detail: string) => Promise<void>;

/** One void on its own: the debit read, the carrier's release, then one transaction (bookVoid). */
export async function voidOne(ctx: DebitContext, request: dialpay.v1.IDebitVoidRequested): Promise<void> {
  const debitId = required(request.debitId, 'debitId');
  const debit = (await peekDebits(ctx.pool, [debitId])).get(debitId) ?? null;
  await bookVoid(ctx, await voidAtCarrier(ctx, request, debit));
}

/**
 * The carrier's release, outside any transaction, for a debit read as reserved or refused
 * (idempotent on the debit id). Throws while its reserve is in flight or the carrier does not answer.
 */
export async function voidAtCarrier(ctx: DebitContext, request: dialpay.v1.IDebitVoidRequested, debit: DebitRow | null): Promise<VoidPlan> {
  const debitId = required(request.debitId, 'debitId');
  if (!debit || (debit.state !== 'reserved' && debit.state !== 'refused')) {
    if (debit?.state === 'reserving') throw new DebitBusyError(debitId); // its reserve is in flight: release it once that settles
    return { request, debitId, seen: debit?.state ?? null, carrier: null };
  }
  // A refused debit is released at the carrier anyway: a reserve whose answer was lost may have gone through there.
  const carrier = await stepsOf(ctx, debit).release(debitId, debit.carrier_ref ?? undefined, claimedAt(debit));
  if (carrier.outcome === CarrierOutcome.UNAVAILABLE) throw new CarrierUnavailableError(debitId, carrier.detail);
  // The carrier made a payment for it (carrier_ref) and will not cancel it, its status not showing
  // it released (the adapter answers OK for that): it may still hold money, so try again, then a person.
  if (debit.state === 'refused' && carrier.outcome !== CarrierOutcome.OK && debit.carrier_ref) {
    throw new CarrierUnavailableError(debitId, `release refused: ${carrier.detail}`);
  }
  return { request, debitId, seen: debit.state, carrier };
}

/** Everything a void writes, in one transaction: the debit locked (or its tombstone), the ledger release, the state, the result. */
export async function bookVoid(ctx: DebitContext, plan: VoidPlan): Promise<void> {
  const { request, debitId } = plan;
  const busy = await withTransaction(ctx.pool, 'READ COMMITTED', async (client): Promise<boolean> => {
    const result: VoidResult = (paymentId, outcome, detail) =>
      enqueueResult(client, Events.debitVoidResult, 'void', debitId, paymentId, outcome, { detail });
    if (plan.seen === null) {
      // Nothing reserved yet (a STOP overtook the reserve): leave a tombstone so the late reserve holds nothing.
      const tombstone = await client.query(
        `INSERT INTO billing.debits (debit_id, payment_id, operator_id, msisdn, currency, amount_minor, payer_account_id, adapter,
           state, detail)
         VALUES ($1, $2, '', '', '', 0, '', '', 'voided', 'voided before it was reserved') ON CONFLICT (debit_id) DO NOTHING`,
        [debitId, request.paymentId ?? ''],
      );
      if (tombstone.rowCount === 1) await result(request.paymentId ?? '', DebitOutcome.DEBIT_OUTCOME_OK, 'voided before it was reserved');
      return tombstone.rowCount !== 1; // the reserve claimed it meanwhile: void it once that settles
    }
    const debit = await lockDebit(client, debitId);
    if (!debit) throw new Error(`debit ${debitId} vanished`);
    const paymentId = debit.payment_id;
    switch (debit.state) {
      case 'reserving':
        return true;
      case 'voided':
        await result(paymentId, DebitOutcome.DEBIT_OUTCOME_OK, '');
        return false;
      case 'captured':
        await result(paymentId, DebitOutcome.DEBIT_OUTCOME_INVALID_STATE, 'debit is captured');
        return false;
      case 'refused':
        // Read in another state (a remembered 'reserved' gone stale): its carrier step took the wrong branch; again, reading it.
        if (!plan.carrier || plan.seen !== 'refused') return true;
        await releaseLedgerHoldIn(ctx, client, debit);
        await result(paymentId, DebitOutcome.DEBIT_OUTCOME_OK, 'debit was refused');
        return false;
      case 'reserved':
        if (!plan.carrier || plan.seen !== 'reserved') return true;
        await voidReservedIn(ctx, client, debit, plan, plan.carrier, result);
        return false;
    }
  });
  if (busy) throw new DebitBusyError(debitId);
}

/** A reserved debit the carrier was asked to release, in bookVoid's transaction: the hold released and the debit voided, or the refusal. */
async function voidReservedIn(
  ctx: DebitContext, client: pg.ClientBase, debit: DebitRow, plan: VoidPlan, carrier: CarrierResult, result: VoidResult,
): Promise<void> {
  const { debitId, request } = plan;
  const paymentId = debit.payment_id;
  // The carrier is the arbiter: if it will not release (it captured), neither do we.
  if (carrier.outcome !== CarrierOutcome.OK) return result(paymentId, DebitOutcome.DEBIT_OUTCOME_INVALID_STATE, carrier.detail);
  const [booked] = await ctx.ledger.applyIn(client, [voidTransfer(`void:${debitId}`, reserveOf(debit))]);
  if (booked?.outcome === 'already-settled') return result(paymentId, DebitOutcome.DEBIT_OUTCOME_INVALID_STATE, 'reserve already settled');
  updateDebitAtCommit(client, { debitId, state: 'voided', detail: request.reason ?? '' });
  await result(paymentId, DebitOutcome.DEBIT_OUTCOME_OK, '');
}
