// A debit's capture, on confirmation: the request checked (payee, fee and operator share add
// up to the amount), the debit read, the carrier's capture outside any transaction, then one
// transaction: the ledger capture (holds -> payee, fee, operator share), the debit captured,
// the interop position, the result. An airtime capture tops the line up after its booking.
import type pg from 'pg';
import { int64ToBigInt, moneyToProto, type dialpay, type MoneyMinor } from '../../proto/index.js';
import type { OperatorConfig } from '../../runtime/config/index.js';
import { Events, PermanentHandlerError } from '../../runtime/nats/index.js';
import { withTransaction } from '../../runtime/pg/index.js';
import { lockDebit, updateDebitAtCommit, type DebitRow } from './debit-rows.js';
import { AccountIds, AGENT_ID, captureTransfer, type AccountKind } from './ledger/rules.js';
import { CarrierOutcome, type CarrierResult } from './adapters/types.js';
import type { TopUpResult, TopUps } from './top-ups.js';
import { bookInteropPosition, crossesOperators, payeeOperatorRefusal } from './interop.js';
import {
  CarrierUnavailableError, DebitBusyError, DebitOutcome, money, operatorOf, OUTCOME_BY_CARRIER, peekDebits, required, reserveOf,
  stepsOf, type DebitContext, type DebitOutcomeValue,
} from './debit-context.js';
import { enqueueResult } from './debit-results.js';

export interface CaptureCheck {
  readonly request: dialpay.v1.IDebitCaptureRequested;
  readonly debitId: string;
  readonly amount: MoneyMinor;
  readonly payeeAmount: MoneyMinor;
  readonly fee: MoneyMinor;
  readonly share: MoneyMinor;
  /** The payee's operator for a transfer to a subscriber; '' for a merchant. */
  readonly payeeOperatorId: string;
  /** A cash-in's cap: the most the payee's wallet may hold after the credit; null for none. */
  readonly payeeWalletMax: bigint | null;
}

/** A capture that must check the payee's wallet against a cap under its row's lock: batches.ts runs it alone. */
export function capsPayeeWallet(request: dialpay.v1.IDebitCaptureRequested): boolean {
  if (!request.payeeMsisdn || !request.payeeWalletMax) return false;
  try {
    // unset or zero: no cap
    return int64ToBigInt(request.payeeWalletMax.amountMinor as Parameters<typeof int64ToBigInt>[0]) !== 0n;
  } catch {
    return true; // unreadable: checkCapture refuses it, alone
  }
}

/** The capture's refusal detail when the payee's wallet would go over its cap (DEBIT_OUTCOME_REJECTED). */
export const WALLET_BALANCE_MAX = 'wallet-balance-max';

/** A capture ready to book: the state it was read in (null: no such debit) and the carrier's answer, when asked. */
export interface CapturePlan {
  readonly check: CaptureCheck;
  readonly seen: DebitRow['state'] | null;
  readonly carrier: CarrierResult | null;
}

/**
 * One capture on its own: the debit read, the carrier's capture, then one transaction (bookCapture).
 * An airtime capture keeps its own path: its top-up is a carrier call after the capture is booked.
 */
export async function captureOne(ctx: DebitContext, request: dialpay.v1.IDebitCaptureRequested): Promise<void> {
  if (request.topUpMsisdn) return captureAirtime(ctx, request);
  const check = checkCapture(request);
  const debit = (await peekDebits(ctx.pool, [check.debitId])).get(check.debitId) ?? null;
  await bookCapture(ctx, await captureAtCarrier(ctx, check, debit));
}

/** A capture request read and checked. Throws (for good) when its parts do not add up. */
export function checkCapture(request: dialpay.v1.IDebitCaptureRequested): CaptureCheck {
  const debitId = required(request.debitId, 'debitId');
  const amount = money(request.amount, 'amount');
  const payeeAmount = money(request.payeeAmount, 'payeeAmount');
  const fee = request.fee ? money(request.fee, 'fee') : { amountMinor: 0n, currency: amount.currency };
  const share = request.operatorShare ? money(request.operatorShare, 'operatorShare') : { amountMinor: 0n, currency: amount.currency };
  if (payeeAmount.amountMinor + fee.amountMinor + share.amountMinor !== amount.amountMinor) {
    throw new PermanentHandlerError(`capture of ${debitId}: payee, fee and share do not add up to the amount`);
  }
  const payeeOperatorId = request.merchantId ? '' : (request.payeeOperatorId ?? '');
  const { payeeAgentId } = request;
  if (payeeAgentId !== null && payeeAgentId !== undefined && payeeAgentId !== '' && !AGENT_ID.test(payeeAgentId)) {
    throw new PermanentHandlerError(`capture of ${debitId}: payee agent id ${JSON.stringify(payeeAgentId)} is not [A-Z0-9-]{2,32}`);
  }
  let payeeWalletMax: bigint | null = null;
  if (capsPayeeWallet(request)) {
    const cap = money(request.payeeWalletMax, 'payeeWalletMax');
    if (cap.currency !== amount.currency || cap.amountMinor < 0n) {
      throw new PermanentHandlerError(
        `capture of ${debitId}: wallet cap ${cap.amountMinor} ${cap.currency} for a capture in ${amount.currency}`);
    }
    payeeWalletMax = cap.amountMinor;
  }
  return { request, debitId, amount, payeeAmount, fee, share, payeeOperatorId, payeeWalletMax };
}

/** Why this debit cannot be captured as asked, or null. */
function captureRefusal(ctx: DebitContext, check: CaptureCheck, debit: DebitRow): { outcome: DebitOutcomeValue; detail: string } | null {
  if (debit.state !== 'reserved' || check.amount.amountMinor > debit.amount_minor || check.amount.currency !== debit.currency) {
    return { outcome: DebitOutcome.DEBIT_OUTCOME_INVALID_STATE, detail: `debit is ${debit.state}` };
  }
  const payeeRefusal = payeeOperatorRefusal(ctx.operators, check.payeeOperatorId, debit.currency);
  return payeeRefusal ? { outcome: DebitOutcome.DEBIT_OUTCOME_REJECTED, detail: payeeRefusal } : null;
}

/**
 * The carrier's capture, outside any transaction, for a debit read as 'reserved' (idempotent on
 * the debit id). Throws while its reserve is in flight or the carrier does not answer: the payer
 * confirmed, so JetStream delivers it again.
 */
export async function captureAtCarrier(ctx: DebitContext, check: CaptureCheck, debit: DebitRow | null): Promise<CapturePlan> {
  if (!debit || debit.state !== 'reserved') {
    if (debit?.state === 'reserving') throw new DebitBusyError(check.debitId); // its reserve is still in flight: retry shortly
    return { check, seen: debit?.state ?? null, carrier: null };
  }
  if (captureRefusal(ctx, check, debit)) return { check, seen: debit.state, carrier: null };
  const carrier = await stepsOf(ctx, debit).capture(check.debitId, check.amount.amountMinor, debit.carrier_ref ?? undefined);
  if (carrier.outcome === CarrierOutcome.UNAVAILABLE) throw new CarrierUnavailableError(check.debitId, carrier.detail);
  return { check, seen: debit.state, carrier };
}

/** Everything a capture writes, in one transaction: the debit locked, the ledger capture, the debit captured, the position, the result. */
export async function bookCapture(ctx: DebitContext, plan: CapturePlan): Promise<void> {
  const { check } = plan;
  const { debitId, amount } = check;
  const busy = await withTransaction(ctx.pool, 'READ COMMITTED', async (client): Promise<boolean> => {
    const result = (debit: DebitRow | null, outcome: DebitOutcomeValue, captured: MoneyMinor, detail: string) =>
      enqueueCaptureResult(client, debitId, debit?.payment_id ?? check.request.paymentId ?? '', outcome, captured, detail);
    const debit = plan.seen === null ? null : await lockDebit(client, debitId);
    if (!debit) {
      await result(null, DebitOutcome.DEBIT_OUTCOME_INVALID_STATE, amount, 'no such debit');
      return false;
    }
    if (debit.state === 'captured') {
      await result(debit, DebitOutcome.DEBIT_OUTCOME_OK, { amountMinor: debit.captured_minor, currency: debit.currency }, '');
      return false;
    }
    const refusal = captureRefusal(ctx, check, debit);
    if (refusal) {
      await result(debit, refusal.outcome, amount, refusal.detail);
      return false;
    }
    if (!plan.carrier) return true; // read before its reserve settled: the carrier has not captured it yet
    if (plan.carrier.outcome !== CarrierOutcome.OK) {
      await result(debit, OUTCOME_BY_CARRIER[plan.carrier.outcome], amount, plan.carrier.detail);
      return false;
    }
    const refused = await bookCaptureTransferIn(ctx, client, debit, check);
    if (refused) {
      await result(debit, refused.outcome, amount, refused.detail);
      return false;
    }
    await markCapturedIn(client, debit, check, null);
    return false;
  });
  if (busy) throw new DebitBusyError(debitId);
}

/** The ledger capture of a debit the carrier captured, in bookCapture's transaction; what refused it, or null. */
async function bookCaptureTransferIn(
  ctx: DebitContext, client: pg.ClientBase, debit: DebitRow, check: CaptureCheck,
): Promise<{ outcome: DebitOutcomeValue; detail: string } | null> {
  const operator = operatorOf(ctx, debit.operator_id);
  const payee = payeeOf(check.request, debit.currency);
  const transfer = await captureTransferOf(ctx, client, debit, check, payee, operator);
  // A cash-in's cap, under the wallet row's lock (held until COMMIT): over it, nothing is credited and the hold stays for the void.
  if (check.payeeWalletMax !== null && payee.kind === 'subscriber') {
    const after = await walletAfter(client, transfer.postings.map((p) => p.accountId), payee.accountId, check.payeeAmount.amountMinor);
    if (after > check.payeeWalletMax) return { outcome: DebitOutcome.DEBIT_OUTCOME_REJECTED, detail: WALLET_BALANCE_MAX };
  }
  const [booked] = await ctx.ledger.applyIn(client, [transfer]);
  return booked?.outcome === 'already-settled'
    ? { outcome: DebitOutcome.DEBIT_OUTCOME_INVALID_STATE, detail: 'reserve already settled' }
    : null;
}

/** The ledger's capture of the debit's hold to the payee (its accounts ensured): holds -> payee, fee, operator share. */
async function captureTransferOf(
  ctx: DebitContext, client: pg.ClientBase, debit: DebitRow, check: CaptureCheck, payee: { accountId: string; kind: AccountKind },
  operator: OperatorConfig,
) {
  await ctx.ledger.ensureAccountsIn(client, [
    { id: payee.accountId, kind: payee.kind, currency: debit.currency },
    { id: AccountIds.fees(debit.currency), kind: 'fee_revenue', currency: debit.currency },
    { id: AccountIds.operatorShare(operator.id), kind: 'operator_share', currency: debit.currency },
  ]);
  return captureTransfer({
    id: `capture:${debit.debit_id}`, reserve: reserveOf(debit), payeeAccountId: payee.accountId, payeeMinor: check.payeeAmount.amountMinor,
    feeMinor: check.fee.amountMinor, operatorShareMinor: check.share.amountMinor, operatorId: operator.id,
  });
}

/**
 * The wallet's balance after a credit of creditMinor, read under its row's lock: the
 * transfer's balance-checked accounts locked in id order, as apply_transfers locks them.
 */
async function walletAfter(client: pg.ClientBase, accountIds: readonly string[], walletId: string, creditMinor: bigint): Promise<bigint> {
  const { rows } = await client.query<{ id: string; balance_minor: string }>(
    'SELECT id, balance_minor::text FROM billing.accounts WHERE id = ANY ($1::text[]) AND balance_minor IS NOT NULL ORDER BY id FOR UPDATE',
    [[...new Set(accountIds)]],
  );
  return BigInt(rows.find((r) => r.id === walletId)?.balance_minor ?? '0') + creditMinor;
}

/** The debit captured, the interop position, the result: in the caller's transaction. */
async function markCapturedIn(client: pg.ClientBase, debit: DebitRow, check: CaptureCheck, topUp: TopUpResult | null): Promise<void> {
  const { request, amount, payeeOperatorId } = check;
  const payee = request.payeeAgentId
    ? AccountIds.agentFloat(request.payeeAgentId)
    : (request.merchantId || request.payeeMsisdn || request.topUpMsisdn || '');
  updateDebitAtCommit(client, { debitId: debit.debit_id, state: 'captured', capturedMinor: amount.amountMinor, payee });
  // A transfer to another operator's subscriber: the payer's operator owes the payee's (interop.ts),
  // when that operator collected the money: charged to the carrier account, or held in its own
  // wallet model. A carrier-billed payer's dialpay wallet was not collected by their operator, nor an agent's float.
  if (crossesOperators(debit.operator_id, payeeOperatorId) && debit.funding !== 'agent-float'
    && (debit.funding === 'carrier' || debit.adapter === 'wallet')) {
    await bookInteropPosition(client, {
      debitId: debit.debit_id, paymentId: debit.payment_id, payerOperatorId: debit.operator_id, payeeOperatorId,
      currency: debit.currency, amountMinor: check.payeeAmount.amountMinor,
    });
  }
  await enqueueCaptureResult(client, debit.debit_id, debit.payment_id, DebitOutcome.DEBIT_OUTCOME_OK, amount, '', topUp);
}

/**
 * An airtime capture: the carrier's capture, the ledger capture into the target operator's
 * airtime account, then the top-up (a carrier call, so after that commits), then the debit
 * captured with what became of the top-up. A retry resumes where it stopped.
 */
async function captureAirtime(ctx: DebitContext, request: dialpay.v1.IDebitCaptureRequested): Promise<void> {
  const check = checkCapture(request);
  const { debitId, amount } = check;
  const debit = (await peekDebits(ctx.pool, [debitId])).get(debitId) ?? null;
  if (!debit) {
    return captureResult(ctx, debitId, request.paymentId ?? '', DebitOutcome.DEBIT_OUTCOME_INVALID_STATE, amount, 'no such debit');
  }
  if (debit.state === 'reserving') throw new DebitBusyError(debitId);
  if (debit.state === 'captured') {
    const topUp = await ctx.topUps.settle(request, debit, check.payeeAmount.amountMinor); // what became of it (idempotent)
    const captured = { amountMinor: debit.captured_minor, currency: debit.currency };
    return captureResult(ctx, debitId, debit.payment_id, DebitOutcome.DEBIT_OUTCOME_OK, captured, '', topUp);
  }
  const refusal = captureRefusal(ctx, check, debit);
  if (refusal) return captureResult(ctx, debitId, debit.payment_id, refusal.outcome, amount, refusal.detail);
  // An earlier delivery may have captured and booked it before dying: do not charge the carrier again.
  if ((await ctx.ledger.transferAmount(`capture:${debitId}`)) === null) {
    const carrier = await stepsOf(ctx, debit).capture(debitId, amount.amountMinor, debit.carrier_ref ?? undefined);
    if (carrier.outcome === CarrierOutcome.UNAVAILABLE) throw new CarrierUnavailableError(debitId, carrier.detail);
    if (carrier.outcome !== CarrierOutcome.OK) {
      return captureResult(ctx, debitId, debit.payment_id, OUTCOME_BY_CARRIER[carrier.outcome], amount, carrier.detail);
    }
    const refused = await bookAirtimeCapture(ctx, request, debit, check);
    if (refused) return captureResult(ctx, debitId, debit.payment_id, DebitOutcome.DEBIT_OUTCOME_INVALID_STATE, amount, refused);
  }
  // airtime (top-ups.ts): credit the line, or refund the payer's wallet
  const topUp = await ctx.topUps.settle(request, debit, check.payeeAmount.amountMinor);
  await withTransaction(ctx.pool, 'READ COMMITTED', async (client) => {
    await lockDebit(client, debitId);
    await markCapturedIn(client, debit, check, topUp);
  });
}

/** An airtime capture's ledger capture into the target operator's airtime account, in its own transaction; what refused it, or null. */
async function bookAirtimeCapture(
  ctx: DebitContext, request: dialpay.v1.IDebitCaptureRequested, debit: DebitRow, check: CaptureCheck,
): Promise<string | null> {
  const payee = ctx.topUps.payee(request, debit) as NonNullable<ReturnType<TopUps['payee']>>; // the target operator's airtime account
  const operator = operatorOf(ctx, debit.operator_id);
  return withTransaction(ctx.pool, 'READ COMMITTED', async (client) => {
    const locked = await lockDebit(client, check.debitId);
    if (locked?.state !== 'reserved') return `debit is ${locked?.state ?? 'unknown'}`;
    const [booked] = await ctx.ledger.applyIn(client, [await captureTransferOf(ctx, client, debit, check, payee, operator)]);
    return booked?.outcome === 'already-settled' ? 'reserve already settled' : null;
  });
}

async function captureResult(
  ctx: DebitContext, debitId: string, paymentId: string, outcome: DebitOutcomeValue, amount: MoneyMinor, detail: string,
  topUp: TopUpResult | null = null,
): Promise<void> {
  await withTransaction(ctx.pool, 'READ COMMITTED',
    (client) => enqueueCaptureResult(client, debitId, paymentId, outcome, amount, detail, topUp));
}

function enqueueCaptureResult(
  client: pg.ClientBase, debitId: string, paymentId: string, outcome: DebitOutcomeValue, amount: MoneyMinor, detail: string,
  topUp: TopUpResult | null = null,
): Promise<void> {
  return enqueueResult(client, Events.debitCaptureResult, 'capture', debitId, paymentId, outcome, {
    captured: outcome === DebitOutcome.DEBIT_OUTCOME_OK ? moneyToProto(amount) : null, detail, ...topUp,
  });
}

/** Where a capture's payee amount goes: a merchant's payable, an agent's float (cash-out) or a subscriber's wallet. */
function payeeOf(request: dialpay.v1.IDebitCaptureRequested, currency: string): { accountId: string; kind: AccountKind } {
  if (request.merchantId) return { accountId: AccountIds.merchant(request.merchantId, currency), kind: 'merchant_payable' };
  if (request.payeeAgentId) return { accountId: AccountIds.agentFloat(request.payeeAgentId), kind: 'agent_float' };
  return { accountId: AccountIds.subscriber(required(request.payeeMsisdn, 'payeeMsisdn')), kind: 'subscriber' };
}
