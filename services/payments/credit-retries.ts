// Credits asked of billing again (the sweep, sweep.ts). A credit's CreditRequested goes out once,
// through the outbox; when billing dead-letters it, or payments dead-letters billing's CreditResult,
// nothing would end the credit: the APIs would answer pending for good, a payout would count against
// the merchant's day, and the subscriber would get no SMS though money moved. Billing decides a
// credit once and answers a decided one again (services/billing/credits.ts), so asking again is
// safe: a lost request is decided now, a lost result comes again. Reversals travel as credits too.
import type pg from 'pg';
import { STREAMS } from '../../runtime/nats/index.js';
import { lockCreditsToAskAgain, noteCreditAsked } from './credits-store.js';
import { requestCredit, walletMaxOf } from './credit-requests.js';
import type { PaymentEngine } from './engine.js';
import { reversalCreditId } from './reversal-rules.js';
import { requestReversalCredit } from './reversals.js';
import { lockReversalsToAskAgain } from './reversals-store.js';

/**
 * An unanswered credit is asked again this long after it was opened, then after each ask. Past the
 * DEBITS stream's duplicate window: billing answers a decided credit under the same event id as
 * before, which the stream would drop as a duplicate inside the window.
 */
export const CREDIT_ASK_AGAIN_AFTER_MS = 5 * 60_000;
/** Credits and reversals asked again per sweep; the rest wait for the next one. */
const CREDIT_ASKS_PER_SWEEP_MAX = 20;

const debitsDuplicateWindowMs = STREAMS.find((s) => s.name === 'DEBITS')?.duplicateWindowMs ?? Infinity;
if (!(CREDIT_ASK_AGAIN_AFTER_MS > debitsDuplicateWindowMs)) {
  throw new Error(`credits are asked again after ${CREDIT_ASK_AGAIN_AFTER_MS} ms, inside DEBITS' duplicate window`);
}

/** In the sweep's transaction; returns how many it asked again. */
export async function askCreditsAgain(e: PaymentEngine, client: pg.ClientBase): Promise<number> {
  const credits = await lockCreditsToAskAgain(client, CREDIT_ASKS_PER_SWEEP_MAX, CREDIT_ASK_AGAIN_AFTER_MS);
  for (const row of credits) {
    const asks = await noteCreditAsked(client, row.credit_id);
    // A new event id for each ask, so the stream takes it again.
    await requestCredit(client, row, await walletMaxOf(e, client, row.msisdn), `${row.credit_id}:credit:retry:${asks}`);
    e.log.warn({ creditId: row.credit_id, source: row.source, asks }, 'credit unanswered by billing; asked again');
  }
  const room = CREDIT_ASKS_PER_SWEEP_MAX - credits.length;
  const reversals = room > 0 ? await lockReversalsToAskAgain(client, room, CREDIT_ASK_AGAIN_AFTER_MS) : [];
  for (const reversal of reversals) {
    const creditId = reversalCreditId(reversal.paymentId);
    const asks = await noteCreditAsked(client, creditId);
    await requestReversalCredit(client, reversal, `${creditId}:credit:retry:${asks}`);
    e.log.warn({ paymentId: reversal.paymentId, asks }, 'reversal unanswered by billing; asked again');
  }
  e.metrics?.askedAgain(client, 'credit', credits.length);
  e.metrics?.askedAgain(client, 'reversal', reversals.length);
  return credits.length + reversals.length;
}
