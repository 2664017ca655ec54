// Payouts and operator deposits ("credits") wait for billing's answer before
// the API replies: payments opens the credit and asks billing at once; this
// reads it back until it is booked or refused, for at most creditWaitMs.
import { problem, type Problem } from './problem.js';

/** The fields of a MerchantPayout or OperatorDeposit that decide the answer. */
export interface CreditLike {
  status?: string | null;
  failureReason?: string | null;
}

/** First read after this, then each wait doubles up to the cap: quick answers come back quickly, slow ones cost few reads. */
const FIRST_READ_AFTER_MS = 20;
const READ_INTERVAL_MAX_MS = 250;

/**
 * The credit once billing has answered, or as last read when `waitMs` passes first (still pending).
 * A failed read (payments busy) is skipped: the caller still gets the credit as it last saw it.
 */
export async function waitForCredit<C extends CreditLike>(first: C, waitMs: number, read: () => Promise<C | null>): Promise<C> {
  let credit = first;
  const deadline = Date.now() + waitMs;
  let intervalMs = FIRST_READ_AFTER_MS;
  while (credit.status === 'pending' && Date.now() + intervalMs <= deadline) {
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
    intervalMs = Math.min(intervalMs * 2, READ_INTERVAL_MAX_MS);
    credit = (await read()) ?? credit;
  }
  return credit;
}

/**
 * 201 booked, 202 not answered yet (read it at `instance` later); a refusal is a problem naming
 * it: 409 insufficient-balance for a payout over the merchant's balance, else 422. Pure.
 */
export function creditAnswer(credit: CreditLike, instance: string): { status: 201 | 202 } | { problem: Problem } {
  if (credit.status === 'completed') return { status: 201 };
  if (credit.status !== 'failed') return { status: 202 };
  if (credit.failureReason === 'insufficient-balance') {
    return { problem: problem('insufficient-balance', `refused: ${instance} is failed and nothing moved`, undefined, instance) };
  }
  const why = credit.failureReason === 'wallet-balance-max' ? 'the subscriber\'s wallet would exceed its limit' : 'billing refused it';
  return { problem: problem('credit-refused', `${why}; ${instance} is failed and nothing moved`, undefined, instance) };
}
