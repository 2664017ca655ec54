// Named queries on payments.care_cases and its append-only events (migration 0019): a held
// payment's case, opened once, decided at most once. A case's status is its decision event, if any.
import type pg from 'pg';
import { named, query } from '../../runtime/pg/named.js';
import type { PaymentRow } from './rows.js';

type Db = pg.ClientBase | pg.Pool;

export type CareCaseStatus = 'open' | 'released' | 'rejected' | 'expired';

export interface CareCaseRow {
  case_id: string;
  operator_id: string;
  msisdn: string;
  payment_id: string;
  rule: string;
  opened_at: Date;
  status: CareCaseStatus;
  /** The decision's author and reason, when decided. */
  decided_by: string | null;
  reason: string | null;
  decided_at: Date | null;
}

const CASE_COLUMNS = `c.case_id::text AS case_id, c.operator_id, c.msisdn, c.payment_id, c.rule, c.opened_at,
  COALESCE(d.event, 'open') AS status, d.by AS decided_by, d.reason, d.at AS decided_at`;
const DECISION_JOIN = `LEFT JOIN payments.care_case_events d ON d.case_id = c.case_id AND d.event <> 'opened'`;

/** The payment's case, opened now (with its 'opened' event) or the one it already has: idempotent. */
export async function openCase(client: pg.ClientBase, payment: PaymentRow, rule: string): Promise<string> {
  const inserted = await query<{ case_id: string }>(client, named('payments.openCareCase',
    `INSERT INTO payments.care_cases (operator_id, msisdn, payment_id, rule) VALUES ($1, $2, $3, $4)
       ON CONFLICT (payment_id) DO NOTHING RETURNING case_id::text AS case_id`),
  [payment.operator_id, payment.payer_msisdn, payment.payment_id, rule]);
  const fresh = inserted.rows[0];
  if (fresh) {
    await addEvent(client, fresh.case_id, 'opened', `risk:${rule}`, '');
    return fresh.case_id;
  }
  const existing = await query<{ case_id: string }>(client, named('payments.careCaseOfPayment',
    'SELECT case_id::text AS case_id FROM payments.care_cases WHERE payment_id = $1'), [payment.payment_id]);
  return (existing.rows[0] as { case_id: string }).case_id;
}

export async function addEvent(
  client: pg.ClientBase, caseId: string, event: 'opened' | Exclude<CareCaseStatus, 'open'>, by: string, reason: string,
): Promise<void> {
  await query(client, named('payments.addCareCaseEvent',
    'INSERT INTO payments.care_case_events (case_id, event, by, reason) VALUES ($1, $2, $3, $4)'), [caseId, event, by, reason]);
}

/** The case, its row locked so two agents' decisions on it serialise (the unique decision index backs this). */
export async function lockCase(client: pg.ClientBase, caseId: string): Promise<CareCaseRow | undefined> {
  return (await query<CareCaseRow>(client, named('payments.lockCareCase',
    `SELECT ${CASE_COLUMNS} FROM payments.care_cases c ${DECISION_JOIN} WHERE c.case_id = $1 FOR UPDATE OF c`), [caseId])).rows[0];
}

export async function caseOfPayment(db: Db, paymentId: string): Promise<CareCaseRow | undefined> {
  return (await query<CareCaseRow>(db, named('payments.careCaseOfPaymentRead',
    `SELECT ${CASE_COLUMNS} FROM payments.care_cases c ${DECISION_JOIN} WHERE c.payment_id = $1`), [paymentId])).rows[0];
}

/** The payment's case, locked (the sweep's expiry). */
export async function lockCaseOfPayment(client: pg.ClientBase, paymentId: string): Promise<CareCaseRow | undefined> {
  return (await query<CareCaseRow>(client, named('payments.lockCareCaseOfPayment',
    `SELECT ${CASE_COLUMNS} FROM payments.care_cases c ${DECISION_JOIN} WHERE c.payment_id = $1 FOR UPDATE OF c`),
  [paymentId])).rows[0];
}

/** An operator's cases, newest first, at most `rowsMax`; `openOnly`: those still waiting for a decision. */
export async function listCases(db: Db, operatorId: string, openOnly: boolean, rowsMax: number): Promise<CareCaseRow[]> {
  return (await query<CareCaseRow>(db, named('payments.listCareCases',
    `SELECT ${CASE_COLUMNS} FROM payments.care_cases c ${DECISION_JOIN}
      WHERE c.operator_id = $1 AND (NOT $2::boolean OR d.event IS NULL)
      ORDER BY c.opened_at DESC, c.case_id DESC LIMIT $3`), [operatorId, openOnly, rowsMax])).rows;
}

/** Held payments past their time with care, oldest first: bounded and SKIP LOCKED, as the sweep's other batches. */
export async function lockExpiredHolds(client: pg.ClientBase, rowsMax: number, holdTtlMs: number): Promise<PaymentRow[]> {
  return (await query<PaymentRow>(client, named('payments.lockExpiredHolds',
    `SELECT * FROM payments.payments WHERE state = 'held' AND updated_at < now() - ($2::bigint * interval '1 millisecond')
       ORDER BY updated_at LIMIT $1 FOR UPDATE SKIP LOCKED`), [rowsMax, holdTtlMs])).rows;
}

/**
 * A released payment goes on to its reserve and challenge. A USSD one is confirmed by SMS (its dialogue
 * is long over), and any consent given before the hold is forgotten: the payer confirms after care's call
 * (a mandate's charge keeps its standing consent).
 */
export async function prepareRelease(client: pg.ClientBase, paymentId: string): Promise<void> {
  await query(client, named('payments.prepareRelease',
    `UPDATE payments.payments SET channel = CASE WHEN channel = 'ussd' THEN 'sms' ELSE channel END,
            consented = mandate_id IS NOT NULL
      WHERE payment_id = $1 AND state = 'held'`), [paymentId]);
}
