// Which payments customer care may reverse (`dialpay payment reverse`, reversals.ts), and what a
// reversal's outcome is called. Pure: the payment row, the clock and the config window in, a
// decision out.
import type { PaymentRow } from './rows.js';

/** Why a payment cannot be reversed; nothing is written or moved for any of them. */
export type ReversalRefusal =
  | 'not-found'
  /** Merchant payments are refunded by the merchant (POST /v1/payments/{id}/refunds), not reversed. */
  | 'merchant-payment'
  /** Airtime, a cash-in or a cash-out: not a transfer between two subscribers' wallets. */
  | 'not-a-transfer'
  /** The payee is another operator's subscriber: their operator must take it back. */
  | 'other-operator'
  | 'not-completed'
  | 'too-old'
  /** The payee's wallet holds nothing: the money is gone. */
  | 'nothing-left';

export type ReversalOutcome = 'reversed' | 'partial' | 'refused';

export type ReversiblePayment = Pick<PaymentRow,
  'payee_kind' | 'state' | 'agent_id' | 'funding' | 'operator_id' | 'payee_operator_id' | 'created_at'>;

/** The refusal for this payment, or null when it may be reversed (the payee's wallet is asked afterwards). */
export function reversalRefusal(payment: ReversiblePayment | undefined, nowMs: number, windowMs: number): ReversalRefusal | null {
  if (!payment) return 'not-found';
  if (payment.payee_kind === 'merchant') return 'merchant-payment';
  // A cash-in also pays a subscriber, from an agent's float: the agent's operator handles its mistakes.
  if (payment.payee_kind !== 'subscriber' || payment.agent_id !== null || payment.funding === 'agent-float') return 'not-a-transfer';
  if (payment.payee_operator_id !== null && payment.payee_operator_id !== payment.operator_id) return 'other-operator';
  if (payment.state !== 'completed') return 'not-completed';
  if (nowMs - payment.created_at.getTime() > windowMs) return 'too-old';
  return null;
}

/** What the care agent reads for each refusal. */
export function refusalText(refusal: ReversalRefusal, windowMs: number): string {
  switch (refusal) {
    case 'not-found': return 'no such payment';
    case 'merchant-payment': return 'a merchant payment is not reversed: the merchant refunds it (POST /v1/payments/{id}/refunds)';
    case 'not-a-transfer': return 'not a transfer between two subscribers (airtime, a cash-in or a cash-out): nothing to reverse';
    case 'other-operator':
      return "the payee is another operator's subscriber: the payee's operator must reverse it (an interoperable transfer)";
    case 'not-completed': return 'the transfer is not completed: nothing reached the payee';
    case 'too-old': return `the transfer is older than the reversal window (${formatWindow(windowMs)})`;
    case 'nothing-left': return "the money is gone: the payee's wallet holds nothing";
  }
}

function formatWindow(windowMs: number): string {
  const hours = windowMs / 3_600_000;
  if (hours >= 24 && Number.isInteger(hours / 24)) return `${hours / 24} days`;
  return Number.isInteger(hours) ? `${hours} hours` : `${Math.round(windowMs / 60_000)} minutes`;
}

/** The outcome of a reversal from what was asked and what billing took back. */
export function reversalOutcome(askedMinor: bigint, reversedMinor: bigint): ReversalOutcome {
  if (askedMinor <= 0n || reversedMinor < 0n || reversedMinor > askedMinor) {
    throw new RangeError(`reversed ${reversedMinor} of ${askedMinor}: not a possible reversal`);
  }
  if (reversedMinor === 0n) return 'refused';
  return reversedMinor === askedMinor ? 'reversed' : 'partial';
}

const PREFIX = 'reversal-';
const PAYMENT_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** A payment id as payments makes them (a uuid). */
export function isPaymentId(text: string): boolean {
  return PAYMENT_ID.test(text);
}

/** The credit id (credit.proto) of a payment's reversal: one per payment. */
export function reversalCreditId(paymentId: string): string {
  return `${PREFIX}${paymentId}`;
}

/** The payment a credit id reverses, or null when the credit is not a reversal. */
export function reversedPaymentOf(creditId: string): string | null {
  if (!creditId.startsWith(PREFIX)) return null;
  const paymentId = creditId.slice(PREFIX.length);
  return isPaymentId(paymentId) ? paymentId : null;
}

/** The reference receipts name a payment by (first 8 characters of its id, upper case). */
export function paymentRef(paymentId: string): string {
  return paymentId.slice(0, 8).toUpperCase();
}
