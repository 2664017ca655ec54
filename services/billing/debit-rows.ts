// A debit's row inside a step's transaction: locked before it is read (a concurrent step of
// the same debit waits), changed at the end of the transaction (every debit a batch changed
// in one statement, just before COMMIT), and locked up front for a whole batch in id order
// (two batches wait for each other instead of deadlocking).
import type pg from 'pg';
import { onBeforeCommit, transactionLocal } from '../../runtime/pg/pool.js';
import { named, query } from '../../runtime/pg/named.js';
import type { Funding } from './funding.js';

export interface DebitRow {
  debit_id: string;
  payment_id: string;
  operator_id: string;
  msisdn: string;
  currency: string;
  amount_minor: bigint;
  payer_account_id: string;
  adapter: string;
  /** Where the money comes from (funding.ts): the subscriber's dialpay wallet or the carrier account. */
  funding: Funding;
  state: 'reserving' | 'reserved' | 'captured' | 'voided' | 'refused';
  captured_minor: bigint;
  detail: string;
  /** The carrier's id for the reservation (CAMARA's paymentId), when it has its own. */
  carrier_ref: string | null;
  /** When the debit was claimed: no reserve of it at the carrier is older (a lookup starts there). */
  created_at: Date;
}

/** A change to a locked debit, written just before COMMIT (updateDebitAtCommit); absent fields keep their value. */
export interface DebitUpdate {
  readonly debitId: string;
  readonly state: DebitRow['state'];
  readonly detail?: string;
  readonly carrierRef?: string | null;
  readonly capturedMinor?: bigint;
  readonly payee?: string;
}

/** Transaction locals: the debits a batch locked up front (lockDebitsIn), and the debit changes waiting for COMMIT. */
const LOCKED_DEBITS = Symbol('billing.lockedDebits');
const DEBIT_UPDATES = Symbol('billing.debitUpdates');

/**
 * Locks a batch's debits in one statement, in id order, in the shared transaction the batch's
 * units join (batches.ts): each unit then takes its row without a statement of its own, and two
 * batches wait for each other instead of deadlocking.
 */
export async function lockDebitsIn(client: pg.ClientBase, debitIds: readonly string[]): Promise<void> {
  const { rows } = await query<DebitRow>(client,
    named('billing.lockDebits', 'SELECT * FROM billing.debits WHERE debit_id = ANY ($1::text[]) ORDER BY debit_id FOR UPDATE'),
    [[...new Set(debitIds)]]);
  const locked = transactionLocal(client, LOCKED_DEBITS, () => new Map<string, DebitRow>());
  for (const row of rows) locked.set(row.debit_id, row);
}

/** The debit, locked for the rest of the client's transaction: a concurrent step of it waits. */
export async function lockDebit(client: pg.ClientBase, debitId: string): Promise<DebitRow | null> {
  // Its update waits for COMMIT (updateDebitAtCommit): a read now would see the row as it was.
  if (transactionLocal(client, DEBIT_UPDATES, () => new Map<string, DebitUpdate>()).has(debitId)) {
    throw new Error(`debit ${debitId} read after its update in one transaction`);
  }
  const locked = transactionLocal(client, LOCKED_DEBITS, () => new Map<string, DebitRow>());
  const row = locked.get(debitId);
  if (row) {
    locked.delete(debitId); // taken once: the unit that took it is the one that changes it
    return row;
  }
  const lockOne = named('billing.lockDebit', 'SELECT * FROM billing.debits WHERE debit_id = $1 FOR UPDATE');
  return (await query<DebitRow>(client, lockOne, [debitId])).rows[0] ?? null;
}

/**
 * Changes a debit the caller has locked, at the end of its transaction: every debit changed in
 * one (shared) transaction in one statement, just before COMMIT.
 */
export function updateDebitAtCommit(client: pg.ClientBase, update: DebitUpdate): void {
  const updates = transactionLocal(client, DEBIT_UPDATES, () => new Map<string, DebitUpdate>());
  if (updates.size === 0) {
    onBeforeCommit(client, async () => {
      const rows = [...updates.values()];
      updates.clear();
      await query(client, named('billing.updateDebits',
        `UPDATE billing.debits d SET state = u.state, detail = COALESCE(u.detail, d.detail),
           carrier_ref = COALESCE(u.carrier_ref, d.carrier_ref), captured_minor = COALESCE(u.captured_minor, d.captured_minor),
           payee = COALESCE(u.payee, d.payee), updated_at = now()
         FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::text[])
           AS u(debit_id, state, detail, carrier_ref, captured_minor, payee)
         WHERE d.debit_id = u.debit_id`),
      [rows.map((u) => u.debitId), rows.map((u) => u.state), rows.map((u) => u.detail ?? null), rows.map((u) => u.carrierRef ?? null),
        rows.map((u) => (u.capturedMinor === undefined ? null : u.capturedMinor.toString())), rows.map((u) => u.payee ?? null)],
      );
    });
  }
  updates.set(update.debitId, update);
}

/** When the debit was claimed, in epoch ms, for the carrier's lookups (none of its reserves is older). */
export function claimedAt(debit: DebitRow): number | undefined {
  const at = debit.created_at instanceof Date ? debit.created_at.getTime() : Date.parse(String(debit.created_at));
  return Number.isFinite(at) ? at : undefined;
}
