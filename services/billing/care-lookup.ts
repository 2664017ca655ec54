// Customer care's lookups (`dialpay subscriber show`, `dialpay payment show`), billing's side: a
// wallet's balance, what is held for a subscriber's payments, their money in and out (the mini
// statement's own query, wallet-balance.ts, with more lines), and one payment's ledger transfers
// with their postings and its debit at the carrier. Reads only, every list bounded; the caller runs
// them in a read-only transaction together with payments' side.
import type pg from 'pg';
import { moneyFromProto, unixMsFromProto } from '../../proto/index.js';
import { AccountIds } from './ledger/rules.js';
import { statement, walletBalance } from './wallet-balance.js';

type Db = pg.ClientBase | pg.Pool;

/** The most movements care may ask for at once. */
export const CARE_MOVEMENTS_MAX = 100;
/** A payment's transfers: reserve, capture or void, refunds and an airtime refund: a handful. */
const TRANSFERS_MAX = 50;
const POSTINGS_MAX = 500;
const REFUNDS_MAX = 50;

/** Money reserved for a payment and neither captured nor released yet. */
export interface CareHold {
  readonly paymentId: string;
  readonly amountMinor: bigint;
  /** wallet: held in our ledger (holds account); carrier: held at the operator; agent-float: an agent's float. */
  readonly funding: string;
  /** reserving: claimed, the carrier not answered yet; reserved: held. */
  readonly state: string;
}

/** One movement of money in (positive) or out (negative) of the subscriber, as the mini statement has it. */
export interface CareMovement {
  /** The payment's id, or the depositor's or merchant's own reference for a credit. */
  readonly paymentId: string;
  readonly amountMinor: bigint;
  /** A number (payee or payer), a merchant, agent:<id>, deposit:<operator> or payout:<merchant>. */
  readonly counterparty: string;
  readonly at: Date;
}

export interface CareWallet {
  /** Whether the ledger has the wallet at all: no account, nothing ever credited. */
  readonly exists: boolean;
  readonly balanceMinor: bigint;
  readonly holds: CareHold[];
  readonly movements: CareMovement[];
}

/**
 * The wallet, the holds of the given payments (payments knows which are open: billing's debits
 * have no index by number for uncaptured ones), and the last `movementsMax` movements.
 */
export async function readCareWallet(
  db: Db, msisdn: string, currency: string, openPaymentIds: readonly string[], movementsMax: number,
): Promise<CareWallet> {
  if (!Number.isInteger(movementsMax) || movementsMax < 1 || movementsMax > CARE_MOVEMENTS_MAX) {
    throw new RangeError(`movementsMax must be 1..${CARE_MOVEMENTS_MAX}`);
  }
  const account = await db.query('SELECT 1 FROM billing.accounts WHERE id = $1', [AccountIds.subscriber(msisdn)]);
  // A debit's id is its payment's (payments' engine): the primary key finds each.
  const holds = openPaymentIds.length === 0 ? [] : (await db.query<{
    debit_id: string; amount_minor: string; funding: string; state: string;
  }>(
    `SELECT debit_id, amount_minor::text AS amount_minor, funding, state FROM billing.debits
      WHERE debit_id = ANY ($1::text[]) AND msisdn = $2 AND state IN ('reserving', 'reserved') ORDER BY created_at DESC`,
    [openPaymentIds, msisdn],
  )).rows;
  const lines = await statement(db, msisdn, currency, movementsMax);
  return {
    exists: account.rowCount === 1,
    balanceMinor: await walletBalance(db, msisdn),
    holds: holds.map((h) => ({ paymentId: h.debit_id, amountMinor: BigInt(h.amount_minor), funding: h.funding, state: h.state })),
    movements: lines.map((l) => ({
      paymentId: l.paymentId ?? '', amountMinor: moneyFromProto(l.amount).amountMinor, counterparty: l.counterparty ?? '',
      at: new Date(unixMsFromProto(l.atUnixMs)),
    })),
  };
}

export interface CarePosting {
  readonly accountId: string;
  /** Positive credits the account, negative debits it. */
  readonly amountMinor: bigint;
}

export interface CareTransfer {
  /** reserve:<payment>, capture:<payment>, void:<payment>, refund:<refund>, airtime-refund:<payment>. */
  readonly id: string;
  readonly kind: string;
  readonly currency: string;
  readonly amountMinor: bigint;
  readonly at: Date;
  /** Money out of an account first, then in. */
  readonly postings: CarePosting[];
}

/** The payment's debit: what billing asked of the carrier (or of the wallet), and where it ended. */
export interface CareDebit {
  readonly funding: string;
  readonly adapter: string;
  readonly state: string;
  readonly amountMinor: bigint;
  readonly capturedMinor: bigint;
  /** The operator's own id for it (CAMARA's paymentId); null for the simulator and wallet-funded ones. */
  readonly carrierRef: string | null;
  /** Why it was refused, or what the carrier answered. */
  readonly detail: string;
  readonly createdAt: Date;
  readonly updatedAt: Date;
}

export interface CareDebitRefund {
  readonly refundId: string;
  readonly amountMinor: bigint;
  readonly state: string;
  readonly detail: string;
  readonly createdAt: Date;
  readonly updatedAt: Date;
}

export interface CarePaymentLedger {
  readonly transfers: CareTransfer[];
  readonly debit: CareDebit | null;
  readonly refunds: CareDebitRefund[];
}

export async function readCarePaymentLedger(db: Db, paymentId: string): Promise<CarePaymentLedger> {
  const transfers = (await db.query<{ id: string; kind: string; currency: string; amount_minor: string; created_at: Date }>(
    `SELECT id, kind, currency, amount_minor::text AS amount_minor, created_at FROM billing.transfers
      WHERE payment_id = $1 ORDER BY created_at, id LIMIT $2`, [paymentId, TRANSFERS_MAX],
  )).rows;
  const postings = transfers.length === 0 ? [] : (await db.query<{ transfer_id: string; account_id: string; amount_minor: string }>(
    `SELECT transfer_id, account_id, amount_minor::text AS amount_minor FROM billing.postings
      WHERE transfer_id = ANY ($1::text[]) ORDER BY postings.amount_minor, account_id LIMIT $2`, [transfers.map((t) => t.id), POSTINGS_MAX],
  )).rows;
  const debit = (await db.query<{
    funding: string; adapter: string; state: string; amount_minor: string; captured_minor: string; carrier_ref: string | null;
    detail: string; created_at: Date; updated_at: Date;
  }>(
    `SELECT funding, adapter, state, amount_minor::text AS amount_minor, captured_minor::text AS captured_minor, carrier_ref, detail,
            created_at, updated_at
       FROM billing.debits WHERE debit_id = $1`, [paymentId],
  )).rows[0];
  const refunds = !debit ? [] : (await db.query<{
    refund_id: string; amount_minor: string; state: string; detail: string; created_at: Date; updated_at: Date;
  }>(
    `SELECT refund_id, amount_minor::text AS amount_minor, state, detail, created_at, updated_at FROM billing.refunds
      WHERE debit_id = $1 ORDER BY created_at LIMIT $2`, [paymentId, REFUNDS_MAX],
  )).rows;
  return {
    transfers: transfers.map((t) => ({
      id: t.id, kind: t.kind, currency: t.currency, amountMinor: BigInt(t.amount_minor), at: t.created_at,
      postings: postings.filter((p) => p.transfer_id === t.id)
        .map((p) => ({ accountId: p.account_id, amountMinor: BigInt(p.amount_minor) })),
    })),
    debit: debit ? {
      funding: debit.funding, adapter: debit.adapter, state: debit.state, amountMinor: BigInt(debit.amount_minor),
      capturedMinor: BigInt(debit.captured_minor), carrierRef: debit.carrier_ref, detail: debit.detail,
      createdAt: debit.created_at, updatedAt: debit.updated_at,
    } : null,
    refunds: refunds.map((r) => ({
      refundId: r.refund_id, amountMinor: BigInt(r.amount_minor), state: r.state, detail: r.detail, createdAt: r.created_at,
      updatedAt: r.updated_at,
    })),
  };
}
