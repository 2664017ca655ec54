// What every step of a debit (debit-reserves.ts, debit-captures.ts, debit-voids.ts,
// debit-refunds.ts) shares: the service's parts, the errors that have JetStream deliver a
// request again, the reading of a request's fields, and the debit's carrier and operator.
import type pg from 'pg';
import { dialpay, moneyFromProto, ContractError, type MoneyMinor } from '../../proto/index.js';
import type { OperatorConfig } from '../../runtime/config/index.js';
import type { Logger } from '../../runtime/log.js';
import { PermanentHandlerError } from '../../runtime/nats/index.js';
import type { DebitRow } from './debit-rows.js';
import type { Ledger } from './ledger/store.js';
import { CarrierOutcome, type CarrierAdapter, type CarrierOutcomeValue } from './adapters/types.js';
import type { TopUps } from './top-ups.js';
import { stepsFor } from './funding.js';
import type { SimSwapChecks } from './sim-swap.js';

export const { DebitOutcome } = dialpay.v1;
export type DebitOutcomeValue = dialpay.v1.DebitOutcome;

export interface DebitServiceOptions {
  readonly pool: pg.Pool;
  readonly ledger: Ledger;
  readonly operators: ReadonlyMap<string, OperatorConfig>;
  readonly adapterFor: (operator: OperatorConfig) => CarrierAdapter;
  readonly log: Logger;
  /** The SIM-swap check before a reserve that asks for it (sim-swap.ts); absent: none is made (the request's ask is ignored). */
  readonly simSwap?: SimSwapChecks;
}

/** The debit service's parts, as its steps use them. */
export interface DebitContext extends DebitServiceOptions {
  /** Airtime captures top the line up (top-ups.ts). */
  readonly topUps: TopUps;
}

/** Another step of the same debit is in flight: JetStream redelivers this one shortly. */
export class DebitBusyError extends Error {
  override readonly name = 'DebitBusyError';
  constructor(readonly debitId: string) {
    super(`debit ${debitId} is being reserved; retrying after it settles`);
  }
}

/** A carrier that keeps failing: the handler throws, JetStream redelivers later (bounded, then the DLQ). */
export class CarrierUnavailableError extends Error {
  override readonly name = 'CarrierUnavailableError';
  constructor(readonly debitId: string, detail: string) {
    super(`carrier unavailable for debit ${debitId}: ${detail}`);
  }
}

export const OUTCOME_BY_CARRIER: Readonly<Record<CarrierOutcomeValue, DebitOutcomeValue>> = {
  [CarrierOutcome.OK]: DebitOutcome.DEBIT_OUTCOME_OK,
  [CarrierOutcome.INSUFFICIENT_FUNDS]: DebitOutcome.DEBIT_OUTCOME_INSUFFICIENT_FUNDS,
  [CarrierOutcome.ACCOUNT_NOT_FOUND]: DebitOutcome.DEBIT_OUTCOME_ACCOUNT_NOT_FOUND,
  [CarrierOutcome.UNAVAILABLE]: DebitOutcome.DEBIT_OUTCOME_CARRIER_UNAVAILABLE,
  [CarrierOutcome.REJECTED]: DebitOutcome.DEBIT_OUTCOME_REJECTED,
};

export function money(m: dialpay.v1.IMoney | null | undefined, field: string): MoneyMinor {
  try {
    return moneyFromProto(m);
  } catch (err) {
    throw new PermanentHandlerError(`${field}: ${(err as Error).message}`, { cause: err });
  }
}

export function required(value: string | null | undefined, field: string): string {
  if (!value) throw new PermanentHandlerError(`${field} is missing`, { cause: new ContractError(field) });
  return value;
}

export function operatorOf(ctx: DebitContext, id: string): OperatorConfig {
  const operator = ctx.operators.get(id);
  if (!operator) throw new PermanentHandlerError(`debit for an operator no longer configured: ${id}`);
  return operator;
}

/** The carrier side of a debit's later steps: none for a wallet-funded one (funding.ts). */
export function stepsOf(ctx: DebitContext, debit: DebitRow) {
  return stepsFor(debit.funding, ctx.adapterFor(operatorOf(ctx, debit.operator_id)));
}

/** The debit's reserve as the ledger booked it (ledger/rules.ts): what a capture or a void settles. */
export function reserveOf(debit: DebitRow) {
  return {
    id: `reserve:${debit.debit_id}`, paymentId: debit.payment_id, currency: debit.currency,
    amountMinor: debit.amount_minor, payerAccountId: debit.payer_account_id,
  };
}

/**
 * The debits with these ids, read in one statement, for the carrier steps of a capture or void.
 * Read, not remembered: another replica may have captured or voided one since this process
 * reserved it, and the carrier must not be asked to release a captured debit (or the reverse).
 */
export async function peekDebits(pool: pg.Pool, debitIds: readonly string[]): Promise<Map<string, DebitRow>> {
  const found = new Map<string, DebitRow>();
  const { rows } = await pool.query<DebitRow>('SELECT * FROM billing.debits WHERE debit_id = ANY ($1::text[])', [[...new Set(debitIds)]]);
  for (const row of rows) found.set(row.debit_id, row);
  return found;
}
