// Named queries for the merchant side: Idempotency-Key replies, a merchant's
// payments, refunds and mandates. Each takes the caller's client or pool.
import type pg from 'pg';
import type { MandateRow, PaymentRow, RefundRow } from './rows.js';

type Db = pg.ClientBase | pg.Pool;

/**
 * The first request with a key inserts its row and holds it until commit; a concurrent one
 * with the same key waits on the unique index, then reads the committed reply. True if claimed.
 */
export async function claimApiRequest(client: pg.ClientBase, merchantId: string, key: string, bodyHash: Buffer): Promise<boolean> {
  const claimed = await client.query(
    'INSERT INTO payments.api_requests (merchant_id, idempotency_key, body_sha256) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING',
    [merchantId, key, bodyHash],
  );
  return claimed.rowCount !== 0;
}

export async function priorApiRequest(
  client: pg.ClientBase, merchantId: string, key: string,
): Promise<{ body_sha256: Buffer; reply: Buffer | null } | undefined> {
  return (await client.query<{ body_sha256: Buffer; reply: Buffer | null }>(
    'SELECT body_sha256, reply FROM payments.api_requests WHERE merchant_id = $1 AND idempotency_key = $2', [merchantId, key],
  )).rows[0];
}

export async function storeApiReply(client: pg.ClientBase, merchantId: string, key: string, reply: Buffer): Promise<void> {
  await client.query(
    'UPDATE payments.api_requests SET reply = $3 WHERE merchant_id = $1 AND idempotency_key = $2', [merchantId, key, reply],
  );
}

/** Gives a claimed key back (its call made nothing), so its first body keeps it. */
export async function releaseApiRequest(client: pg.ClientBase, merchantId: string, key: string): Promise<void> {
  await client.query('DELETE FROM payments.api_requests WHERE merchant_id = $1 AND idempotency_key = $2', [merchantId, key]);
}

/** Idempotency-Key replies are for retries, which come within minutes; a day is plenty. */
export async function forgetApiRequests(client: pg.ClientBase, olderThanMs: number): Promise<void> {
  await client.query(`DELETE FROM payments.api_requests WHERE created_at < now() - ($1::bigint * interval '1 millisecond')`, [olderThanMs]);
}

/** A select-list column: what has been refunded of the row's payment (pending refunds included), as text. */
const REFUNDED_MINOR_COLUMN = `(SELECT COALESCE(SUM(r.amount_minor), 0) FROM payments.refunds r
         WHERE r.payment_id = payments.payment_id AND r.state <> 'failed')::text AS refunded_minor`;

export async function merchantPaymentWithRefunds(
  db: Db, paymentId: string, merchantId: string,
): Promise<(PaymentRow & { refunded_minor: string }) | undefined> {
  return (await db.query<PaymentRow & { refunded_minor: string }>(
    `SELECT *, ${REFUNDED_MINOR_COLUMN} FROM payments.payments
       WHERE payment_id = $1 AND payee_kind = 'merchant' AND payee_id = $2`, [paymentId, merchantId],
  )).rows[0];
}

export async function lockMerchantPayment(client: pg.ClientBase, paymentId: string, merchantId: string): Promise<PaymentRow | undefined> {
  return (await client.query<PaymentRow>(
    `SELECT * FROM payments.payments WHERE payment_id = $1 AND payee_kind = 'merchant' AND payee_id = $2 FOR UPDATE`,
    [paymentId, merchantId],
  )).rows[0];
}

/** Manual capture: the amount used, at most what was authorized; the split is taken on it. */
export async function setCapturedSplit(
  client: pg.ClientBase, paymentId: string,
  split: { amountMinor: bigint; feeMinor: bigint; operatorShareMinor: bigint; payeeMinor: bigint },
): Promise<PaymentRow> {
  const { rows } = await client.query<PaymentRow>(
    `UPDATE payments.payments SET amount_minor = $2, fee_minor = $3, operator_share_minor = $4, payee_minor = $5, updated_at = now()
       WHERE payment_id = $1 RETURNING *`,
    [paymentId, split.amountMinor.toString(), split.feeMinor.toString(), split.operatorShareMinor.toString(), split.payeeMinor.toString()],
  );
  return rows[0] as PaymentRow;
}

export interface MerchantPageQuery {
  merchantId: string; fromMs: number; toMs: number; states: string[] | null;
  cursor: { createdAtIso: string; paymentId: string } | null; rowsMax: number;
}

export async function merchantPaymentsPage(
  db: Db, q: MerchantPageQuery,
): Promise<Array<PaymentRow & { cursor_at: string; refunded_minor: string }>> {
  return (await db.query<PaymentRow & { cursor_at: string; refunded_minor: string }>(
    `SELECT *, to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS cursor_at, ${REFUNDED_MINOR_COLUMN}
       FROM payments.payments
       WHERE payee_kind = 'merchant' AND payee_id = $1
         AND created_at >= to_timestamp($2::double precision / 1000) AND created_at < to_timestamp($3::double precision / 1000)
         AND ($4::text[] IS NULL OR state = ANY($4))
         AND ($5::timestamptz IS NULL OR (created_at, payment_id) < ($5::timestamptz, $6::text))
       ORDER BY created_at DESC, payment_id DESC LIMIT $7`,
    [q.merchantId, q.fromMs, q.toMs, q.states, q.cursor?.createdAtIso ?? null, q.cursor?.paymentId ?? '', q.rowsMax],
  )).rows;
}

/** Refunds asked for and not failed: pending ones count, so two at once cannot overshoot. */
export async function refundedMinor(client: pg.ClientBase, paymentId: string): Promise<bigint> {
  const { rows } = await client.query<{ total: string }>(
    `SELECT COALESCE(SUM(amount_minor), 0)::text AS total FROM payments.refunds WHERE payment_id = $1 AND state <> 'failed'`, [paymentId],
  );
  return BigInt(rows[0]?.total ?? '0');
}

export async function insertRefund(client: pg.ClientBase, refundId: string, paymentId: string, amountMinor: bigint): Promise<RefundRow> {
  const { rows } = await client.query<RefundRow>(
    `INSERT INTO payments.refunds (refund_id, payment_id, amount_minor, state) VALUES ($1, $2, $3, 'pending') RETURNING *`,
    [refundId, paymentId, amountMinor.toString()],
  );
  return rows[0] as RefundRow;
}

/** Null for a repeated result: only a pending refund ends. */
export async function endRefund(client: pg.ClientBase, refundId: string, ok: boolean, detail: string): Promise<RefundRow | undefined> {
  const { rows } = await client.query<RefundRow>(
    `UPDATE payments.refunds SET state = $2, detail = $3, updated_at = now() WHERE refund_id = $1 AND state = 'pending' RETURNING *`,
    [refundId, ok ? 'completed' : 'failed', detail],
  );
  return rows[0];
}

export async function readMandate(db: Db, mandateId: string, merchantId: string): Promise<MandateRow | undefined> {
  return (await db.query<MandateRow>(
    'SELECT * FROM payments.mandates WHERE mandate_id = $1 AND merchant_id = $2', [mandateId, merchantId],
  )).rows[0];
}

export async function lockMandate(client: pg.ClientBase, mandateId: string): Promise<MandateRow> {
  return (await client.query<MandateRow>(
    'SELECT * FROM payments.mandates WHERE mandate_id = $1 FOR UPDATE', [mandateId],
  )).rows[0] as MandateRow;
}

export async function lockPendingMandates(client: pg.ClientBase, msisdn: string, rowsMax: number): Promise<MandateRow[]> {
  return (await client.query<MandateRow>(
    `SELECT * FROM payments.mandates WHERE payer_msisdn = $1 AND state = 'pending' AND expires_at > now()
       ORDER BY created_at DESC LIMIT $2 FOR UPDATE`, [msisdn, rowsMax],
  )).rows;
}

export interface NewMandate {
  mandateId: string; merchantId: string; operatorId: string; msisdn: string; currency: string; capMinor: bigint;
  period: string; reference: string; description: string; codeHash: string; ttlMs: number;
}

export async function insertMandate(client: pg.ClientBase, m: NewMandate): Promise<MandateRow> {
  const { rows } = await client.query<MandateRow>(
    `INSERT INTO payments.mandates (mandate_id, merchant_id, operator_id, payer_msisdn, currency, cap_minor, period, reference,
         description, state, code_hash, expires_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'pending', $10, now() + ($11::bigint * interval '1 millisecond')) RETURNING *`,
    [m.mandateId, m.merchantId, m.operatorId, m.msisdn, m.currency, m.capMinor.toString(), m.period, m.reference, m.description,
      m.codeHash, m.ttlMs],
  );
  return rows[0] as MandateRow;
}

export async function activateMandate(client: pg.ClientBase, mandateId: string): Promise<MandateRow> {
  return (await client.query<MandateRow>(
    `UPDATE payments.mandates SET state = 'active', code_hash = NULL, updated_at = now() WHERE mandate_id = $1 RETURNING *`, [mandateId],
  )).rows[0] as MandateRow;
}

export async function setMandateAttempts(
  client: pg.ClientBase, mandateId: string, attempts: number, state: 'declined' | 'pending',
): Promise<void> {
  await client.query(
    `UPDATE payments.mandates SET attempts = $2, state = $3, updated_at = now() WHERE mandate_id = $1`, [mandateId, attempts, state],
  );
}

export async function revokeMandates(client: pg.ClientBase, msisdn: string): Promise<MandateRow[]> {
  return (await client.query<MandateRow>(
    `UPDATE payments.mandates SET state = 'revoked', updated_at = now()
       WHERE payer_msisdn = $1 AND state IN ('pending', 'active') RETURNING *`, [msisdn],
  )).rows;
}

/** Charged under the mandate in the current calendar period (UTC), failed charges aside. */
export async function chargedThisPeriod(db: Db, mandate: MandateRow): Promise<bigint> {
  const { rows } = await db.query<{ total: string }>(
    `SELECT COALESCE(SUM(amount_minor), 0)::text AS total FROM payments.payments
       WHERE mandate_id = $1 AND state <> 'failed' AND created_at >= date_trunc($2, now())`,
    [mandate.mandate_id, mandate.period],
  );
  return BigInt(rows[0]?.total ?? '0');
}
