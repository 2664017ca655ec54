// The sweep's named queries on payments.payments (sweep.ts): each takes the sweep's client, so the
// sweep keeps the transaction and the row locks it takes.
import type pg from 'pg';
import { named, query } from '../../runtime/pg/named.js';
import type { PaymentRow } from './rows.js';

/** A capture or void asked again: its age restarts, so it is not asked again at every sweep. */
export async function touchPayment(client: pg.ClientBase, paymentId: string): Promise<void> {
  await query(client, named('payments.touchPayment', 'UPDATE payments.payments SET updated_at = now() WHERE payment_id = $1'), [paymentId]);
}

// The sweep's batches: each bounded and SKIP LOCKED, so a replica's sweep never waits on another's.
// Two indexed queries rather than one OR that would scan the table twice a second.
export async function lockExpiredChallenges(client: pg.ClientBase, rowsMax: number): Promise<PaymentRow[]> {
  return (await client.query<PaymentRow>(
    `SELECT * FROM payments.payments WHERE state = 'challenged' AND expires_at < now() ORDER BY expires_at LIMIT $1 FOR UPDATE SKIP LOCKED`,
    [rowsMax],
  )).rows;
}

// updated_at too: a held payment care released (holds.ts) asks its reserve long after it was created.
export async function lockUnansweredReserves(client: pg.ClientBase, rowsMax: number, olderThanMs: number): Promise<PaymentRow[]> {
  return (await client.query<PaymentRow>(
    `SELECT * FROM payments.payments WHERE state = 'reserving' AND created_at < now() - ($2::bigint * interval '1 millisecond')
         AND updated_at < now() - ($2::bigint * interval '1 millisecond')
         ORDER BY created_at LIMIT $1 FOR UPDATE SKIP LOCKED`,
    [rowsMax, olderThanMs],
  )).rows;
}

export async function lockUnusedAuthorizations(client: pg.ClientBase, rowsMax: number): Promise<PaymentRow[]> {
  return (await client.query<PaymentRow>(
    `SELECT * FROM payments.payments WHERE state = 'authorized' AND authorization_expires_at < now()
         ORDER BY authorization_expires_at LIMIT $1 FOR UPDATE SKIP LOCKED`,
    [rowsMax],
  )).rows;
}

export async function lockStuckCaptures(client: pg.ClientBase, rowsMax: number, olderThanMs: number): Promise<PaymentRow[]> {
  return (await client.query<PaymentRow>(
    `SELECT * FROM payments.payments WHERE state = 'capturing' AND updated_at < now() - ($2::bigint * interval '1 millisecond')
         ORDER BY updated_at LIMIT $1 FOR UPDATE SKIP LOCKED`,
    [rowsMax, olderThanMs],
  )).rows;
}

export async function lockUnvoided(client: pg.ClientBase, rowsMax: number, olderThanMs: number): Promise<PaymentRow[]> {
  return (await client.query<PaymentRow>(
    `SELECT * FROM payments.payments
       WHERE state = 'failed' AND NOT void_confirmed AND updated_at < now() - ($2::bigint * interval '1 millisecond')
         ORDER BY updated_at LIMIT $1 FOR UPDATE SKIP LOCKED`,
    [rowsMax, olderThanMs],
  )).rows;
}
