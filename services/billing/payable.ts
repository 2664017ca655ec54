// A merchant's payable (merchant:<merchant>:<currency>) is append-only postings, no balance row,
// so "never below zero" cannot be a row check: whatever debits it takes one advisory lock per
// payable account first (payable lock), and reads the available balance under it.
//
// Available balance: the payable's postings balance (captures in, refunds booked and settlement
// closes out, payouts out) less the refunds billing has claimed for this merchant's payments and
// not yet booked (billing.refunds 'refunding': the carrier is being asked; booking them moves the
// same amount out of the payable in the transaction that ends the claim, so the figure does not
// jump). Settled money (merchant_settled) is not available: the settlement report pays it to the
// merchant's bank. A refund payments accepted but billing has not yet claimed is not counted: it
// is not ours to see until its request arrives.
//
// Who takes the lock: a payout (credits.ts) and a settlement close (settlement-ledger.ts)
// exclusively: each checks the available balance and debits the payable under it; a refund's claim
// (debits.ts) shared: refunds do not check the balance (a refund is owed to the payer whatever
// the merchant holds; a debt is carried to the next window), they only must not be claimed between
// a payout's check and its commit. Shared among themselves, two refund batches never wait on each
// other, so their locks taken in any order cannot deadlock. The lock is always taken before any
// wallet row (apply_transfers locks those), so a payout and a refund never wait on each other in a cycle.
import type pg from 'pg';
import { AccountIds } from './ledger/rules.js';

export interface AvailableBalance {
  /** The sum of the payable account's postings. */
  readonly payableMinor: bigint;
  /** Refunds of this merchant's payments claimed and not yet booked. */
  readonly refundsOwedMinor: bigint;
  /** payable - refunds owed: what a payout may take. */
  readonly availableMinor: bigint;
}

/** The advisory lock on one merchant's payable, held until the transaction ends. */
export async function lockPayable(
  client: pg.ClientBase, merchantId: string, currency: string, mode: 'exclusive' | 'shared',
): Promise<void> {
  const fn = mode === 'exclusive' ? 'pg_advisory_xact_lock' : 'pg_advisory_xact_lock_shared';
  await client.query(`SELECT ${fn}(hashtextextended($1, 0))`, [`payable:${AccountIds.merchant(merchantId, currency)}`]);
}

/** The merchant's available balance in this currency (see above); zero for a merchant never paid. */
export async function availableBalance(db: pg.ClientBase | pg.Pool, merchantId: string, currency: string): Promise<AvailableBalance> {
  const { rows } = await db.query<{ payable: string; owed: string }>(
    `SELECT (SELECT COALESCE(SUM(p.amount_minor), 0) FROM billing.postings p WHERE p.account_id = $1)::text AS payable,
            (SELECT COALESCE(SUM(r.amount_minor), 0) FROM billing.refunds r JOIN billing.debits d ON d.debit_id = r.debit_id
              WHERE r.state = 'refunding' AND d.payee = $2 AND d.currency = $3)::text AS owed`,
    [AccountIds.merchant(merchantId, currency), merchantId, currency],
  );
  const payableMinor = BigInt(rows[0]?.payable ?? '0');
  const refundsOwedMinor = BigInt(rows[0]?.owed ?? '0');
  return { payableMinor, refundsOwedMinor, availableMinor: payableMinor - refundsOwedMinor };
}
