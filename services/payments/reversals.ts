// `dialpay payment reverse` (issue 19): the payer sent a transfer to the wrong number and asks
// customer care for it back. The way mobile-money operators do it: what is still in the payee's
// wallet is taken back (never more than the transfer put there, never below zero), partly when the
// payee spent some; refused, with the reason, when it is gone, when the transfer is older than the
// config's reversals.windowMs, or when it is not an on-net transfer between two subscribers. The
// original's fee is not returned.
//
// It travels as a credit (credit.proto, CREDIT_SOURCE_REVERSAL, credit id reversal-<payment_id>):
// the request row (payments.reversals, append-only, one per payment) and the CreditRequested commit
// together through the outbox; billing decides the amount under the payee wallet's lock and books
// transfer reversal:<payment_id> (services/billing/reversals.ts); its CreditResult appends the
// outcome and tells both parties by SMS (reversal-results.ts).
import type pg from 'pg';
import { dialpay, moneyToProto } from '../../proto/index.js';
import type { Config } from '../../runtime/config/index.js';
import { Events } from '../../runtime/nats/index.js';
import { emitEvent, withTransaction } from '../../runtime/pg/index.js';
import { OUTBOX } from './outbox.js';
import * as store from './store.js';
import { isPaymentId, paymentRef, refusalText, reversalCreditId, reversalRefusal, type ReversalRefusal } from './reversal-rules.js';
import { insertReversal, readReversal, type NewReversal, type ReversalView } from './reversals-store.js';

export interface ReversalAsk {
  readonly paymentId: string;
  /** The customer-care agent. */
  readonly by: string;
  /** Why, as the payer told care ("sent to the wrong number"). */
  readonly reason: string;
}

export type ReversalResult =
  /** Asked of billing now; `reversal.outcome` is 'pending' until its answer. */
  | { readonly kind: 'requested'; readonly reversal: ReversalView }
  /** This payment's reversal was asked before: it, as it stands. Nothing asked again. */
  | { readonly kind: 'existing'; readonly reversal: ReversalView }
  /** Nothing written, nothing moved. */
  | { readonly kind: 'refused'; readonly refusal: ReversalRefusal; readonly detail: string }
  | { readonly kind: 'missing'; readonly field: 'by' | 'reason' };

/** The audit columns' bound: a name or a sentence. */
const AUDIT_TEXT_MAX = 200;
/** How often waitForReversal looks for billing's answer. */
const POLL_MS = 100;

/**
 * Asks for the reversal of one payment. `walletOf` reads the payee's wallet (billing's, passed in by
 * the CLI): an empty one is refused here with nothing written; billing decides again under its lock.
 */
export async function reversePayment(
  pool: pg.Pool, config: Config, ask: ReversalAsk, walletOf: (msisdn: string) => Promise<bigint>, nowMs = Date.now(),
): Promise<ReversalResult> {
  const by = ask.by.trim().slice(0, AUDIT_TEXT_MAX);
  const reason = ask.reason.trim().slice(0, AUDIT_TEXT_MAX);
  if (by === '') return { kind: 'missing', field: 'by' };
  if (reason === '') return { kind: 'missing', field: 'reason' };
  const windowMs = config.reversals.windowMs;
  const refused = (refusal: ReversalRefusal): ReversalResult => ({ kind: 'refused', refusal, detail: refusalText(refusal, windowMs) });
  const paymentId = ask.paymentId.trim().toLowerCase();
  if (!isPaymentId(paymentId)) return refused('not-found');
  const prior = await readReversal(pool, paymentId);
  if (prior) return { kind: 'existing', reversal: prior };
  const payment = await store.readPayment(pool, paymentId);
  const refusal = reversalRefusal(payment, nowMs, windowMs);
  if (refusal !== null || !payment) return refused(refusal ?? 'not-found');
  const payee = payment.payee_id;
  if ((await walletOf(payee)) <= 0n) return refused('nothing-left');
  const askedMinor = BigInt(payment.payee_minor);
  const inserted = await withTransaction(pool, 'READ COMMITTED', async (client) => {
    const fresh = await insertReversal(client, {
      paymentId, operatorId: payment.operator_id, payerMsisdn: payment.payer_msisdn, payeeMsisdn: payee, currency: payment.currency,
      askedMinor, requestedBy: by, reason,
    });
    if (!fresh) return false; // a concurrent ask for the same payment won; it asked billing
    await requestReversalCredit(client, {
      paymentId, operatorId: payment.operator_id, payerMsisdn: payment.payer_msisdn, payeeMsisdn: payee, currency: payment.currency,
      askedMinor,
    }, `${reversalCreditId(paymentId)}:credit`);
    return true;
  });
  const reversal = await readReversal(pool, paymentId);
  if (!reversal) throw new Error(`reversal of ${paymentId} not found after its insert`);
  return { kind: inserted ? 'requested' : 'existing', reversal };
}

type ReversalAsked = Pick<NewReversal, 'paymentId' | 'operatorId' | 'payerMsisdn' | 'payeeMsisdn' | 'currency' | 'askedMinor'>;

/** The reversal's CreditRequested through the outbox, in the caller's transaction: the first ask, or the sweep's again. */
export async function requestReversalCredit(client: pg.ClientBase, r: ReversalAsked, eventId: string): Promise<void> {
  const creditId = reversalCreditId(r.paymentId);
  await emitEvent(client, OUTBOX, Events.creditRequested, { eventId, correlationId: r.paymentId }, {
    creditId, source: dialpay.v1.CreditSource.CREDIT_SOURCE_REVERSAL, operatorId: r.operatorId,
    msisdn: r.payerMsisdn, debitedMsisdn: r.payeeMsisdn, originalPaymentId: r.paymentId,
    amount: moneyToProto({ amountMinor: r.askedMinor, currency: r.currency }), reference: paymentRef(r.paymentId),
  });
}

/** The reversal once billing has answered, or as it stands after `timeoutMs` (still 'pending'). */
export async function waitForReversal(pool: pg.Pool, paymentId: string, timeoutMs: number): Promise<ReversalView | undefined> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const reversal = await readReversal(pool, paymentId);
    if (!reversal || reversal.outcome !== 'pending' || Date.now() >= deadline) return reversal;
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}
