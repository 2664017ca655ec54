// Merchant requests opened before holds were capped at one challenge
// (migration 0009) may still wait, holding the payer's money, up to the day
// their merchant asked for. At start, bring every unconsented one down to the
// configured challenge lifetime from now. Idempotent, and a no-op once none is
// left; done at start rather than in a migration because the TTL is config.
import type pg from 'pg';

/** Returns how many open merchant requests it shortened. */
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
