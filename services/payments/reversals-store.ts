// Named queries on payments.reversals and payments.reversal_outcomes (migration 0020), both
// append-only: rows are inserted, never changed. The caller keeps the transaction.
import type pg from 'pg';
import type { ReversalOutcome } from './reversal-rules.js';

type Db = pg.ClientBase | pg.Pool;

/** A reversal as care reads it: the request, and billing's outcome once it came ('pending' until then). */
export interface ReversalView extends NewReversal {
  readonly requestedAt: Date;
  readonly outcome: ReversalOutcome | 'pending';
  readonly reversedMinor: bigint;
  readonly detail: string;
}

export interface NewReversal {
  readonly paymentId: string;
  readonly operatorId: string;
  readonly payerMsisdn: string;
  readonly payeeMsisdn: string;
  readonly currency: string;
  readonly askedMinor: bigint;
  readonly requestedBy: string;
  readonly reason: string;
}

interface Row {
  payment_id: string; operator_id: string; payer_msisdn: string; payee_msisdn: string; currency: string; asked_minor: string;
  requested_by: string; reason: string; requested_at: Date; outcome: ReversalOutcome | null; reversed_minor: string | null;
  detail: string | null;
}

function view(row: Row): ReversalView {
  return {
    paymentId: row.payment_id, operatorId: row.operator_id, payerMsisdn: row.payer_msisdn, payeeMsisdn: row.payee_msisdn,
    currency: row.currency, askedMinor: BigInt(row.asked_minor), requestedBy: row.requested_by, reason: row.reason,
    requestedAt: row.requested_at, outcome: row.outcome ?? 'pending', reversedMinor: BigInt(row.reversed_minor ?? '0'),
    detail: row.detail ?? '',
  };
}

const SELECT_VIEW = `SELECT r.payment_id, r.operator_id, r.payer_msisdn, r.payee_msisdn, r.currency, r.asked_minor::text, r.requested_by,
            r.reason, r.requested_at, o.outcome, o.reversed_minor::text, o.detail
       FROM payments.reversals r LEFT JOIN payments.reversal_outcomes o ON o.payment_id = r.payment_id`;

export async function readReversal(db: Db, paymentId: string): Promise<ReversalView | undefined> {
  const { rows } = await db.query<Row>(`${SELECT_VIEW} WHERE r.payment_id = $1`, [paymentId]);
  return rows[0] ? view(rows[0]) : undefined;
}

/**
 * Reversals billing has not answered, asked (or last asked again) more than `olderThanMs` ago, oldest
 * first: the sweep asks again (credit-retries.ts). Care asks for reversals one by one: the table is small.
 */
export async function lockReversalsToAskAgain(client: pg.ClientBase, rowsMax: number, olderThanMs: number): Promise<ReversalView[]> {
  const { rows } = await client.query<Row>(
    `${SELECT_VIEW} LEFT JOIN payments.credit_asks a ON a.credit_id = 'reversal-' || r.payment_id
      WHERE o.payment_id IS NULL AND r.requested_at < now() - ($2::bigint * interval '1 millisecond')
        AND (a.asked_at IS NULL OR a.asked_at < now() - ($2::bigint * interval '1 millisecond'))
      ORDER BY r.requested_at LIMIT $1 FOR UPDATE OF r SKIP LOCKED`,
    [rowsMax, olderThanMs],
  );
  return rows.map(view);
}

/** The request; false when this payment already has one (a concurrent ask won: read it). */
export async function insertReversal(client: pg.ClientBase, r: NewReversal): Promise<boolean> {
  const { rowCount } = await client.query(
    `INSERT INTO payments.reversals (payment_id, operator_id, payer_msisdn, payee_msisdn, currency, asked_minor, requested_by, reason)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (payment_id) DO NOTHING`,
    [r.paymentId, r.operatorId, r.payerMsisdn, r.payeeMsisdn, r.currency, r.askedMinor.toString(), r.requestedBy, r.reason],
  );
  return rowCount === 1;
}

/** Billing's outcome; false when it was already recorded (a repeated result). */
export async function insertOutcome(
  client: pg.ClientBase, paymentId: string, outcome: ReversalOutcome, reversedMinor: bigint, detail: string,
): Promise<boolean> {
  const { rowCount } = await client.query(
    `INSERT INTO payments.reversal_outcomes (payment_id, outcome, reversed_minor, detail) VALUES ($1, $2, $3, $4)
     ON CONFLICT (payment_id) DO NOTHING`,
    [paymentId, outcome, reversedMinor.toString(), detail.slice(0, 500)],
  );
  return rowCount === 1;
}
