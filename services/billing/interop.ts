// Inter-operator positions: a transfer from one operator's subscriber to
// another's is debited on the payer's operator and credited to the payee's
// wallet (subscriber:<msisdn>, the same account whatever the operator). The
// payer's operator collected the money (charged to the carrier account, or held
// in its own wallet model); the payee's operator's subscriber holds it; so the
// payer's operator owes the payee's operator the amount. A carrier-billed
// payer's transfer out of their dialpay wallet books no position: their
// operator never collected that money.
//
// Where it is kept: a row per capture in billing.interop_positions, not ledger
// accounts. The position is a claim between two operators that they settle
// outside dialpay's ledger (settlement reports the daily net, it moves no
// money of ours), so booking it as a ledger transfer would leave accounts
// holding money no flow ever moves. The row is written in the transaction that
// marks the debit captured (debits.ts), keyed by the debit id: a redelivered
// capture books it once, and a capture that committed always has its position.
import type pg from 'pg';
import { bigIntToInt64, unixMsFromProto, type dialpay } from '../../proto/index.js';
import type { OperatorConfig } from '../../runtime/config/index.js';
import type { Pool } from '../../runtime/pg/index.js';

export interface InteropPosition {
  readonly debitId: string;
  readonly paymentId: string;
  readonly payerOperatorId: string;
  readonly payeeOperatorId: string;
  readonly currency: string;
  readonly amountMinor: bigint;
}

/**
 * Why a capture to `payeeOperatorId` cannot go ahead, or null. Payments refuses such transfers
 * before the reserve; this guards a config changed in between (an operator gone, or in another
 * currency now): the capture is refused and the payer's hold voided, nothing credited.
 */
export function payeeOperatorRefusal(
  operators: ReadonlyMap<string, OperatorConfig>, payeeOperatorId: string, currency: string,
): string | null {
  if (!payeeOperatorId) return null;
  const payee = operators.get(payeeOperatorId);
  if (!payee) return `payee operator ${payeeOperatorId} is not configured`;
  if (payee.currency !== currency) return `payee operator ${payeeOperatorId} bills in ${payee.currency}, not ${currency}`;
  return null;
}

/** Whether a capture crosses operators: a payee operator named and not the debit's own. */
export function crossesOperators(payerOperatorId: string, payeeOperatorId: string | null | undefined): payeeOperatorId is string {
  return !!payeeOperatorId && payeeOperatorId !== payerOperatorId;
}

/** Books the position in the caller's transaction (the one marking the debit captured). Idempotent on the debit id. */
export async function bookInteropPosition(client: pg.ClientBase, position: InteropPosition): Promise<void> {
  if (position.amountMinor <= 0n) return;
  await client.query(
    `INSERT INTO billing.interop_positions (debit_id, payment_id, payer_operator_id, payee_operator_id, currency, amount_minor)
     VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (debit_id) DO NOTHING`,
    [position.debitId, position.paymentId, position.payerOperatorId, position.payeeOperatorId, position.currency,
      position.amountMinor.toString()],
  );
}

/** Settlement's question: the positions booked in [from, to), summed per payer operator, payee operator and currency. */
export async function interopPositionTotals(
  pool: Pool, request: dialpay.v1.IInteropPositionsRequest,
): Promise<dialpay.v1.IInteropPositionsReply> {
  const fromMs = unixMsFromProto(request.fromUnixMs);
  const toMs = unixMsFromProto(request.toUnixMs);
  if (!(toMs > fromMs)) return { available: false };
  const { rows } = await pool.query<{
    payer_operator_id: string; payee_operator_id: string; currency: string; transfers: number; amount_minor: string;
  }>(
    `SELECT payer_operator_id, payee_operator_id, currency, count(*)::int AS transfers, SUM(amount_minor)::text AS amount_minor
     FROM billing.interop_positions
     WHERE booked_at >= to_timestamp($1::double precision / 1000) AND booked_at < to_timestamp($2::double precision / 1000)
     GROUP BY payer_operator_id, payee_operator_id, currency ORDER BY payer_operator_id, payee_operator_id, currency`,
    [fromMs, toMs],
  );
  return {
    available: true,
    totals: rows.map((r) => ({
      payerOperatorId: r.payer_operator_id, payeeOperatorId: r.payee_operator_id, currency: r.currency, transfers: r.transfers,
      amountMinor: bigIntToInt64(BigInt(r.amount_minor)),
    })),
  };
}
