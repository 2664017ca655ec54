// The I/O beside merchant-requests.ts: what its rules count, read from the
// payments schema, and the cap on holds made before those rules.
import type pg from 'pg';
import { UNANSWERED_WINDOW_MS, type MerchantRequestCounts } from './merchant-requests.js';

/**
 * Open requests and pending mandates for this subscriber (this merchant's, and all merchants'),
 * and this merchant's that expired unanswered in the window. A request past its expiry that the
 * sweep has not yet failed still holds its money, so it is still open. Call it under the subscriber's
 * lock, so two requests at once cannot both take the last place.
 */
export async function merchantRequestCounts(
  db: pg.ClientBase, msisdn: string, merchantId: string,
): Promise<MerchantRequestCounts> {
  const row = (await db.query<{ open_this: number; open_all: number; unanswered: number }>(
    `WITH open AS (
       SELECT payee_id AS merchant_id FROM payments.payments
         WHERE payer_msisdn = $1 AND state IN ('reserving', 'challenged') AND channel = 'api' AND payee_kind = 'merchant'
         AND NOT consented
       UNION ALL
       SELECT merchant_id FROM payments.mandates WHERE payer_msisdn = $1 AND state = 'pending' AND expires_at > now())
     SELECT (SELECT count(*) FROM open WHERE merchant_id = $2)::int AS open_this, (SELECT count(*) FROM open)::int AS open_all,
       (SELECT count(*) FROM payments.payments
         WHERE payer_msisdn = $1 AND created_at > now() - ($3::bigint * interval '1 millisecond') AND channel = 'api'
         AND payee_kind = 'merchant' AND payee_id = $2 AND NOT consented AND state = 'failed' AND failure_reason = 'expired')::int
       + (SELECT count(*) FROM payments.mandates WHERE payer_msisdn = $1 AND merchant_id = $2 AND state = 'pending' AND expires_at <= now()
         AND created_at > now() - ($3::bigint * interval '1 millisecond'))::int AS unanswered`,
    [msisdn, merchantId, UNANSWERED_WINDOW_MS],
  )).rows[0] as { open_this: number; open_all: number; unanswered: number };
  return { openThisMerchant: row.open_this, openAllMerchants: row.open_all, unansweredThisMerchant: row.unanswered };
}

/**
 * Merchant requests opened before holds were capped at one challenge (migration 0009) may still
 * wait, holding the payer's money, up to the day their merchant asked for: bring every unconsented
 * one down to the configured challenge lifetime from now. Idempotent. Run at start and by every
 * sweep (during a rolling update, replicas of an older release keep opening long holds), rather
 * than in a migration because the TTL is config. Returns how many it shortened.
 */
export async function capUnconsentedHolds(db: pg.Pool | pg.ClientBase, challengeTtlMs: number): Promise<number> {
  const { rowCount } = await db.query(
    `UPDATE payments.payments SET
       expires_at = CASE WHEN expires_at IS NULL THEN NULL ELSE LEAST(expires_at, now() + ($1::bigint * interval '1 millisecond')) END,
       confirm_ttl_ms = LEAST(confirm_ttl_ms, $1::bigint), updated_at = now()
     WHERE channel = 'api' AND NOT consented AND state IN ('reserving', 'challenged')
       AND (expires_at > now() + ($1::bigint * interval '1 millisecond') OR confirm_ttl_ms > $1::bigint)`,
    [challengeTtlMs],
  );
  return rowCount ?? 0;
}
