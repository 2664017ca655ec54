// The risk rules' facts (risk-rules.ts), each one bounded indexed query, asked only for a rule that applies.
import type pg from 'pg';
import { named, query } from '../../runtime/pg/named.js';

/** The most of a payer's (or a merchant's) latest payments a rule looks at within its window. */
export const RECENT_PAYMENTS_MAX = 500;

/** Whether the payer ever completed a payment to this payee (index payments_payer_payee_completed). */
export async function paidBefore(client: pg.ClientBase, msisdn: string, payeeKind: string, payeeId: string): Promise<boolean> {
  const { rows } = await query<{ paid: boolean }>(client, named('payments.riskPaidBefore',
    `SELECT EXISTS (SELECT 1 FROM payments.payments
       WHERE payer_msisdn = $1 AND payee_kind = $2 AND payee_id = $3 AND state = 'completed') AS paid`), [msisdn, payeeKind, payeeId]);
  return rows[0]?.paid === true;
}

/**
 * The payer's distinct payees ("kind:id") among their latest payments within the window, at most `payeesMax`
 * (index payments_payer_created). Every attempt counts, failed ones too; an agent's cash-ins are its float's.
 */
export async function recentPayees(
  client: pg.ClientBase, msisdn: string, windowMs: number, payeesMax: number,
): Promise<string[]> {
  const { rows } = await query<{ payee: string }>(client, named('payments.riskRecentPayees',
    `SELECT DISTINCT payee_kind || ':' || payee_id AS payee FROM (
       SELECT payee_kind, payee_id FROM payments.payments
        WHERE payer_msisdn = $1 AND created_at >= now() - ($2::bigint * interval '1 millisecond') AND agent_id IS NULL
        ORDER BY created_at DESC LIMIT $3) recent
     LIMIT $4`), [msisdn, windowMs, RECENT_PAYMENTS_MAX, payeesMax]);
  return rows.map((r) => r.payee);
}

/**
 * The merchant's latest payments within the window (index payments_payee_created): how many, failed, refunded
 * (a refund not failed). Held payments and those a hold failed are left out, so holds do not feed the rule.
 */
export async function merchantOutcomes(
  client: pg.ClientBase, merchantId: string, windowMs: number,
): Promise<{ payments: number; failed: number; refunded: number }> {
  const { rows } = await query<{ payments: number; failed: number; refunded: number }>(client, named('payments.riskMerchantOutcomes',
    `SELECT count(*)::int AS payments, count(*) FILTER (WHERE p.state = 'failed')::int AS failed,
            count(*) FILTER (WHERE EXISTS (SELECT 1 FROM payments.refunds r WHERE r.payment_id = p.payment_id AND r.state <> 'failed'))::int
              AS refunded
       FROM (SELECT payment_id, state FROM payments.payments
              WHERE payee_kind = 'merchant' AND payee_id = $1 AND created_at >= now() - ($2::bigint * interval '1 millisecond')
                AND state <> 'held' AND (failure_reason IS NULL OR failure_reason NOT IN ('risk-rejected', 'hold-expired'))
              ORDER BY created_at DESC LIMIT $3) p`), [merchantId, windowMs, RECENT_PAYMENTS_MAX]);
  return rows[0] ?? { payments: 0, failed: 0, refunded: 0 };
}
