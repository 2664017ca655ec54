// How the merchant API sees a payment: states as statuses, money as Money,
// and list cursors. Pure.
import { bigIntToInt64, moneyToProto, unixMsToProto, type dialpay } from '../../proto/index.js';
import type { PaymentStateValue } from './state.js';

export const MERCHANT_STATUS: Readonly<Record<PaymentStateValue, string>> = {
  reserving: 'pending',
  held: 'pending', // a risk hold: the merchant learns the outcome, not the rule
  challenged: 'awaiting_confirmation',
  authorized: 'authorized',
  capturing: 'processing',
  completed: 'completed',
  failed: 'failed',
};

/** The states behind a status filter; null for a status that does not exist. */
export function statesOf(status: string): PaymentStateValue[] | null {
  const states = (Object.entries(MERCHANT_STATUS) as [PaymentStateValue, string][]).filter(([, s]) => s === status).map(([state]) => state);
  return states.length > 0 ? states : null;
}

export interface PaymentView {
  payment_id: string;
  state: PaymentStateValue;
  currency: string;
  amount_minor: bigint | string;
  fee_minor: bigint | string;
  payer_msisdn: string;
  reference: string;
  description: string;
  created_at: Date;
  updated_at: Date;
  failure_reason: string | null;
  expires_at: Date | null;
  capture_mode: 'automatic' | 'manual';
  authorized_minor: bigint | string | null;
  authorization_expires_at: Date | null;
}

export function merchantPayment(row: PaymentView, refundedMinor = 0n): dialpay.v1.IMerchantPayment {
  return {
    paymentId: row.payment_id,
    status: MERCHANT_STATUS[row.state],
    amount: moneyToProto({ amountMinor: BigInt(row.amount_minor), currency: row.currency }),
    fee: moneyToProto({ amountMinor: BigInt(row.fee_minor), currency: row.currency }),
    msisdn: `+${row.payer_msisdn}`,
    reference: row.reference,
    description: row.description,
    createdAtUnixMs: unixMsToProto(row.created_at),
    updatedAtUnixMs: unixMsToProto(row.updated_at),
    failureReason: row.failure_reason ?? '',
    // A manual capture's authorization lasts longer than the payer's time to confirm.
    expiresAtUnixMs: bigIntToInt64(BigInt((row.state === 'authorized' ? row.authorization_expires_at : row.expires_at)?.getTime() ?? 0)),
    captureMode: row.capture_mode,
    refunded: moneyToProto({ amountMinor: refundedMinor, currency: row.currency }),
    ...(row.authorized_minor !== null
      ? { authorized: moneyToProto({ amountMinor: BigInt(row.authorized_minor), currency: row.currency }) } : {}),
  };
}

/** Keyset cursor: the last row's creation time (microseconds, as Postgres keeps it) and id. */
export interface Cursor {
  readonly createdAtIso: string;
  readonly paymentId: string;
}

export function encodeCursor(cursor: Cursor): string {
  return Buffer.from(JSON.stringify([cursor.createdAtIso, cursor.paymentId]), 'utf8').toString('base64url');
}

/** Null for anything that is not a cursor we made. */
export function decodeCursor(text: string): Cursor | null {
  try {
    const value: unknown = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
    if (!Array.isArray(value) || value.length !== 2 || typeof value[0] !== 'string' || typeof value[1] !== 'string') return null;
    if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/.test(value[0]) || value[1].length > 64) return null;
    return { createdAtIso: value[0], paymentId: value[1] };
  } catch {
    return null;
  }
}

export interface MandateView {
  mandate_id: string;
  cap_minor: string | bigint;
  currency: string;
  period: string;
  payer_msisdn: string;
  reference: string;
  description: string;
  created_at: Date;
  expires_at: Date;
}

export function merchantMandate(row: MandateView, status: string, chargedThisPeriodMinor: bigint): dialpay.v1.IMerchantMandate {
  return {
    mandateId: row.mandate_id,
    status,
    cap: moneyToProto({ amountMinor: BigInt(row.cap_minor), currency: row.currency }),
    period: row.period,
    msisdn: `+${row.payer_msisdn}`,
    reference: row.reference,
    description: row.description,
    chargedThisPeriod: moneyToProto({ amountMinor: chargedThisPeriodMinor, currency: row.currency }),
    createdAtUnixMs: unixMsToProto(row.created_at),
    expiresAtUnixMs: bigIntToInt64(BigInt(status === 'pending' ? row.expires_at.getTime() : 0)),
  };
}
