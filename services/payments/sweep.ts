// The clock's part of the engine: fails challenges past their expiry,
// reserves the carrier never answered and holds care never reviewed, and asks again for captures and voids
// left unanswered (both are idempotent in billing), and credits billing never answered (credit-retries.ts).
// One transaction per sweep.
import { Events } from '../../runtime/nats/index.js';
import { withTransaction } from '../../runtime/pg/index.js';
import { askCreditsAgain } from './credit-retries.js';
import { capUnconsentedHolds } from './merchant-requests-store.js';
import { forgetApiRequests } from './merchant-store.js';
import * as store from './sweep-store.js';
import { expireHolds } from './holds.js';
import type { PaymentEngine } from './engine.js';

/** A capture unanswered this long is requested again (billing's capture is idempotent). */
const CAPTURE_RETRY_AFTER_MS = 60_000;
/** A failed payment's void unconfirmed this long is requested again. */
const VOID_RETRY_AFTER_MS = 60_000;
/** Challenges expired per sweep; the rest wait for the next one. */
const EXPIRY_BATCH_MAX = 100;
/** Stored Idempotency-Key replies are kept this long, then forgotten. */
const API_REQUESTS_KEEP_MS = 24 * 60 * 60_000;

/** Returns how many payments it touched. */
export function sweepPayments(engine: PaymentEngine): Promise<number> {
  return withTransaction(engine.pool, 'READ COMMITTED', async (client) => {
    const ttlMs = engine.config.limits.challengeTtlMs;
    // Before expiring: a hold an older replica opened for a day is brought down to one challenge.
    const capped = await capUnconsentedHolds(client, ttlMs);
    if (capped > 0) engine.log.info({ capped }, 'merchant requests holding past one challenge shortened');
    const expired = await store.lockExpiredChallenges(client, EXPIRY_BATCH_MAX);
    const unanswered = await store.lockUnansweredReserves(client, EXPIRY_BATCH_MAX, ttlMs);
    const unused = await store.lockUnusedAuthorizations(client, EXPIRY_BATCH_MAX);
    const rows = [...expired, ...unanswered, ...unused];
    for (const payment of rows) await engine.step(client, payment, { kind: 'expired' });
    const holdsExpired = await expireHolds(engine, client); // holds.ts: care did not review them in time
    const stuck = await store.lockStuckCaptures(client, EXPIRY_BATCH_MAX, CAPTURE_RETRY_AFTER_MS);
    for (const payment of stuck) {
      await store.touchPayment(client, payment.payment_id);
      // The payer confirmed: the capture must happen. A new event id, so the stream takes it again.
      await engine.requestCapture(client, payment, `${payment.payment_id}:capture:${Date.now()}`);
      engine.log.warn({ paymentId: payment.payment_id }, 'capture unanswered; asked again');
    }
    const unvoided = await store.lockUnvoided(client, EXPIRY_BATCH_MAX, VOID_RETRY_AFTER_MS);
    for (const payment of unvoided) {
      await store.touchPayment(client, payment.payment_id);
      await engine.emit(client, Events.debitVoidRequested, `${payment.payment_id}:void:${Date.now()}`, payment.payment_id, {
        debitId: payment.payment_id, paymentId: payment.payment_id, reason: 'payment not completed (asked again)',
      });
    }
    const askedAgain = await askCreditsAgain(engine, client);
    // Idempotency-Key replies are for retries, which come within minutes; a day is plenty.
    await forgetApiRequests(client, API_REQUESTS_KEEP_MS);
    return rows.length + holdsExpired + stuck.length + unvoided.length + askedAgain;
  });
}
