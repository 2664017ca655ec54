// Named queries on payments.credits (migration 0015): the caller keeps the
// transaction and its locks.
import type pg from 'pg';
import type { Cursor } from './merchant-view.js';

type Db = pg.ClientBase | pg.Pool;

export type CreditSource = 'operator-deposit' | 'merchant-payout';
export type CreditState = 'pending' | 'completed' | 'failed';
export type CreditFailure = 'insufficient-balance' | 'wallet-balance-max' | 'rejected';

export interface CreditRow {
  credit_id: string;
  source: CreditSource;
  operator_id: string;
  merchant_id: string | null;
  msisdn: string;
  currency: string;
  amount_minor: string;
  reference: string;
  idempotency_scope: string;
  idempotency_key: string;
  body_sha256: Buffer;
  state: CreditState;
  failure: CreditFailure | null;
  created_at: Date;
  updated_at: Date;
}

export interface NewCredit {
  creditId: string;
  source: CreditSource;
  operatorId: string;
  merchantId: string | null;
  msisdn: string;
  currency: string;
  amountMinor: bigint;
  reference: string;
  scope: string;
  key: string;
  bodyHash: Buffer;
}

export async function insertCredit(client: pg.ClientBase, c: NewCredit): Promise<CreditRow> {
  const { rows } = await client.query<CreditRow>(
    `INSERT INTO payments.credits (credit_id, source, operator_id, merchant_id, msisdn, currency, amount_minor, reference,
       idempotency_scope, idempotency_key, body_sha256)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING *`,
    [c.creditId, c.source, c.operatorId, c.merchantId, c.msisdn, c.currency, c.amountMinor.toString(), c.reference,
      c.scope, c.key, c.bodyHash],
  );
  return rows[0] as CreditRow;
}

/** The credit an Idempotency-Key opened, however long ago (api_requests forgets after a day; this does not). */
export async function creditByKey(db: Db, scope: string, key: string): Promise<CreditRow | undefined> {
  return (await db.query<CreditRow>(
    'SELECT * FROM payments.credits WHERE idempotency_scope = $1 AND idempotency_key = $2', [scope, key])).rows[0];
}

/** Only the owner's: a merchant's payout by its merchant, an operator's deposit by its operator. */
export async function readCredit(
  db: Db, creditId: string, owner: { merchantId: string } | { operatorId: string },
): Promise<CreditRow | undefined> {
  const sql = 'merchantId' in owner
    ? `SELECT * FROM payments.credits WHERE credit_id = $1 AND source = 'merchant-payout' AND merchant_id = $2`
    : `SELECT * FROM payments.credits WHERE credit_id = $1 AND source = 'operator-deposit' AND operator_id = $2`;
  return (await db.query<CreditRow>(sql, [creditId, 'merchantId' in owner ? owner.merchantId : owner.operatorId])).rows[0];
}

/**
 * Serialises one merchant's payouts until commit, so two cannot both pass the per-day limit.
 * The key is this table's own (hashtext of 'payout:<merchant>'), apart from billing's locks.
 */
export async function lockMerchantPayouts(client: pg.ClientBase, merchantId: string): Promise<void> {
  await client.query(`SELECT pg_advisory_xact_lock(hashtext('payments.credits:payout:' || $1))`, [merchantId]);
}

/** This merchant's payouts not failed since 00:00 UTC (pending ones count: they may yet be booked). */
export async function payoutsTodayMinor(client: pg.ClientBase, merchantId: string, currency: string): Promise<bigint> {
  const { rows } = await client.query<{ total: string }>(
    `SELECT COALESCE(SUM(amount_minor), 0)::text AS total FROM payments.credits
       WHERE merchant_id = $1 AND currency = $2 AND state <> 'failed'
         AND created_at >= date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'`,
    [merchantId, currency],
  );
  return BigInt(rows[0]?.total ?? '0');
}

/** Null for a repeated or unknown result: only a pending credit ends. */
export async function endCredit(client: pg.ClientBase, creditId: string, failure: CreditFailure | null): Promise<CreditRow | undefined> {
  return (await client.query<CreditRow>(
    `UPDATE payments.credits SET state = $2, failure = $3, updated_at = now() WHERE credit_id = $1 AND state = 'pending' RETURNING *`,
    [creditId, failure === null ? 'completed' : 'failed', failure],
  )).rows[0];
}

export interface PayoutPageQuery {
  merchantId: string;
  fromMs: number;
  toMs: number;
  state: CreditState | null;
  cursor: Cursor | null;
  rowsMax: number;
}

export async function merchantPayoutsPage(db: Db, q: PayoutPageQuery): Promise<Array<CreditRow & { cursor_at: string }>> {
  return (await db.query<CreditRow & { cursor_at: string }>(
    `SELECT *, to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS cursor_at FROM payments.credits
       WHERE merchant_id = $1 AND created_at >= to_timestamp($2::double precision / 1000)
         AND created_at < to_timestamp($3::double precision / 1000)
         AND ($4::text IS NULL OR state = $4)
         AND ($5::timestamptz IS NULL OR (created_at, credit_id) < ($5::timestamptz, $6::uuid))
       ORDER BY created_at DESC, credit_id DESC LIMIT $7`,
    [q.merchantId, q.fromMs, q.toMs, q.state, q.cursor?.createdAtIso ?? null,
      q.cursor?.paymentId ?? '00000000-0000-0000-0000-000000000000', q.rowsMax],
  )).rows;
}

/**
 * Pending credits asked last (or opened) more than `olderThanMs` ago, oldest first: the sweep asks
 * billing again (credit-retries.ts). SKIP LOCKED, so a replica's sweep never waits on another's.
 */
export async function lockCreditsToAskAgain(client: pg.ClientBase, rowsMax: number, olderThanMs: number): Promise<CreditRow[]> {
  return (await client.query<CreditRow>(
    `SELECT c.* FROM payments.credits c LEFT JOIN payments.credit_asks a ON a.credit_id = c.credit_id::text
       WHERE c.state = 'pending' AND c.created_at < now() - ($2::bigint * interval '1 millisecond')
         AND (a.asked_at IS NULL OR a.asked_at < now() - ($2::bigint * interval '1 millisecond'))
       ORDER BY c.created_at LIMIT $1 FOR UPDATE OF c SKIP LOCKED`,
    [rowsMax, olderThanMs],
  )).rows;
}

/** Notes one more ask of a credit (or reversal) id; returns its number, 1 for the first ask again. */
export async function noteCreditAsked(client: pg.ClientBase, creditId: string): Promise<number> {
  const { rows } = await client.query<{ asks: number }>(
    `INSERT INTO payments.credit_asks (credit_id, asks) VALUES ($1, 1)
     ON CONFLICT (credit_id) DO UPDATE SET asks = credit_asks.asks + 1, asked_at = now() RETURNING asks`,
    [creditId],
  );
  return rows[0]?.asks ?? 1;
}
