// Customer care's lookups (`dialpay subscriber show`, `dialpay payment show`), payments' side: a
// subscriber's tier, PIN state and open payments, and one payment's row, its states in order
// (payment_history, migration 0021) and its refunds. Reads only, every list bounded; the caller
// runs them in a read-only transaction (runtime/pg/read-only.ts) together with billing's side.
// Secrets never leave here: a PIN or code hash becomes "set" or "not set".
import type pg from 'pg';
import type { Config } from '../../runtime/config/index.js';
import { isE164, numberBelongsTo, toE164 } from '../../runtime/msisdn.js';
import type { PaymentRow } from './rows.js';
import { readPayment } from './store.js';

type Db = pg.ClientBase | pg.Pool;

/** Open payments shown per subscriber: the newest; a subscriber has a few at most (limits, STOP). */
export const CARE_OPEN_PAYMENTS_MAX = 20;
/** States kept per payment: a payment makes at most a handful of transitions. */
const HISTORY_ROWS_MAX = 50;
const REFUNDS_MAX = 50;
/** A payment id as stored (a UUID today): anything longer is no payment's. */
const PAYMENT_ID_CHARS_MAX = 128;

/** Not ended: money may still be held or moving. */
export const OPEN_STATES = ['held', 'reserving', 'challenged', 'authorized', 'capturing'] as const;

export type PinState = 'not set' | 'set' | 'locked';

export interface CareSubscriber {
  readonly msisdn: string;
  readonly kycTier: number;
  /** Blocked by care (blocks.ts): since when and why; null when the line may pay. */
  readonly blocked: { readonly at: Date; readonly reason: string } | null;
  readonly language: string;
  readonly pin: PinState;
  /** Wrong PINs in a row since the last right one (the lock comes at limits.pinAttemptsMax). */
  readonly pinFailures: number;
  /** One-time codes refused until then after too many wrong ones (code-guesses.ts); null: not locked. */
  readonly codesLockedUntil: Date | null;
  readonly since: Date;
}

/** A payment as care reads it: no code hash, no challenge secret. */
export interface CarePayment {
  readonly paymentId: string;
  readonly operatorId: string;
  readonly channel: string;
  readonly state: string;
  readonly payerMsisdn: string;
  readonly payeeKind: string;
  readonly payeeId: string;
  readonly payeeOperatorId: string | null;
  readonly currency: string;
  readonly amountMinor: bigint;
  readonly feeMinor: bigint;
  readonly payeeMinor: bigint;
  readonly reference: string;
  readonly funding: string | null;
  readonly challengeMethod: string | null;
  readonly challengeAttempts: number;
  readonly failureReason: string | null;
  readonly expiresAt: Date | null;
  readonly createdAt: Date;
  readonly updatedAt: Date;
}

export interface CareStateChange {
  readonly from: string | null;
  readonly to: string;
  readonly failureReason: string | null;
  readonly challengeAttempts: number;
  readonly at: Date;
}

export interface CareRefund {
  readonly refundId: string;
  readonly amountMinor: bigint;
  readonly state: string;
  readonly createdAt: Date;
}

/** The number as care typed it, in E.164 digits, when it is one of this operator's; null otherwise. */
export function careNumber(config: Config, operatorId: string, number: string): string | null {
  const operator = config.operators.find((o) => o.id === operatorId);
  if (!operator) return null;
  const msisdn = toE164(number, operator.countryCallingCode);
  return msisdn && isE164(msisdn) && numberBelongsTo(operator, msisdn, config.operators) ? msisdn : null;
}

export function carePayment(row: PaymentRow): CarePayment {
  return {
    paymentId: row.payment_id, operatorId: row.operator_id, channel: row.channel, state: row.state, payerMsisdn: row.payer_msisdn,
    payeeKind: row.payee_kind, payeeId: row.payee_id, payeeOperatorId: row.payee_operator_id, currency: row.currency,
    amountMinor: BigInt(row.amount_minor), feeMinor: BigInt(row.fee_minor), payeeMinor: BigInt(row.payee_minor),
    reference: row.reference, funding: row.funding, challengeMethod: row.challenge_method, challengeAttempts: row.challenge_attempts,
    failureReason: row.failure_reason, expiresAt: row.expires_at, createdAt: row.created_at, updatedAt: row.updated_at,
  };
}

/** The subscriber as payments knows them; undefined when the number never used dialpay by SMS or USSD. */
export async function readCareSubscriber(db: Db, msisdn: string): Promise<CareSubscriber | undefined> {
  const row = (await db.query<{
    msisdn: string; kyc_tier: number; language: string; has_pin: boolean; pin_locked: boolean; pin_failures: number;
    code_locked_until: Date | null; created_at: Date; blocked_at: Date | null; block_reason: string | null;
  }>(
    `SELECT msisdn, kyc_tier, language, pin_hash IS NOT NULL AS has_pin, pin_locked, pin_failures,
            CASE WHEN code_locked_until > now() THEN code_locked_until END AS code_locked_until, created_at,
            blocked_at, block_reason
       FROM payments.subscribers WHERE msisdn = $1`, [msisdn],
  )).rows[0];
  if (!row) return undefined;
  return {
    msisdn: row.msisdn, kycTier: row.kyc_tier, language: row.language,
    blocked: row.blocked_at ? { at: row.blocked_at, reason: row.block_reason ?? '' } : null,
    pin: row.pin_locked ? 'locked' : row.has_pin ? 'set' : 'not set',
    pinFailures: row.pin_failures, codesLockedUntil: row.code_locked_until, since: row.created_at,
  };
}

/**
 * The payer's payments not ended, newest first, and those whose reserve may still be held after
 * they failed (the void not yet confirmed by billing): billing is asked what each still holds.
 */
export async function readOpenPayments(db: Db, msisdn: string): Promise<{ open: CarePayment[]; voidPendingIds: string[] }> {
  const { rows } = await db.query<PaymentRow>(
    `(SELECT * FROM payments.payments WHERE payer_msisdn = $1 AND state = ANY ($2::text[]) ORDER BY created_at DESC LIMIT $3)
     UNION ALL
     (SELECT * FROM payments.payments WHERE payer_msisdn = $1 AND state = 'failed' AND NOT void_confirmed
        ORDER BY created_at DESC LIMIT $3)`,
    [msisdn, OPEN_STATES, CARE_OPEN_PAYMENTS_MAX],
  );
  const open = rows.filter((r) => r.state !== 'failed').map(carePayment);
  return { open, voidPendingIds: rows.filter((r) => r.state === 'failed').map((r) => r.payment_id) };
}

/** The payments' own references (the payer's "ref" or the merchant's), for statement lines; bounded by the ids given. */
export async function readPaymentReferences(db: Db, paymentIds: readonly string[]): Promise<Map<string, string>> {
  if (paymentIds.length === 0) return new Map();
  const { rows } = await db.query<{ payment_id: string; reference: string }>(
    'SELECT payment_id, reference FROM payments.payments WHERE payment_id = ANY ($1::text[])', [paymentIds],
  );
  return new Map(rows.map((r) => [r.payment_id, r.reference]));
}

export interface CarePaymentView {
  readonly payment: CarePayment;
  /** Every state the payment entered, in order (since migration 0021; older payments have none). */
  readonly history: CareStateChange[];
  readonly refunds: CareRefund[];
}

export async function readCarePayment(db: Db, paymentId: string): Promise<CarePaymentView | undefined> {
  if (paymentId.length === 0 || paymentId.length > PAYMENT_ID_CHARS_MAX) return undefined;
  const row = await readPayment(db, paymentId);
  if (!row) return undefined;
  const history = await db.query<{
    from_state: string | null; to_state: string; failure_reason: string | null; challenge_attempts: number; at: Date;
  }>(
    `SELECT from_state, to_state, failure_reason, challenge_attempts, at FROM payments.payment_history
      WHERE payment_id = $1 ORDER BY id LIMIT $2`, [paymentId, HISTORY_ROWS_MAX],
  );
  const refunds = await db.query<{ refund_id: string; amount_minor: string; state: string; created_at: Date }>(
    `SELECT refund_id, amount_minor::text AS amount_minor, state, created_at FROM payments.refunds
      WHERE payment_id = $1 ORDER BY created_at LIMIT $2`, [paymentId, REFUNDS_MAX],
  );
  return {
    payment: carePayment(row),
    history: history.rows.map((h) => ({
      from: h.from_state, to: h.to_state, failureReason: h.failure_reason, challengeAttempts: h.challenge_attempts, at: h.at,
    })),
    refunds: refunds.rows.map((r) => ({
      refundId: r.refund_id, amountMinor: BigInt(r.amount_minor), state: r.state, createdAt: r.created_at,
    })),
  };
}
