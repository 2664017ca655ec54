// Two-phase debits: reserve when the challenge is sent, capture on
// confirmation, void on expiry or cancel. Each step calls the carrier adapter
// (idempotent on the debit id), books the ledger under an id derived from the
// debit id (so a redelivered request books nothing twice), then records the
// debit's state and its result event in one transaction through the outbox.
import type pg from 'pg';
import { bigIntToInt64, dialpay, moneyFromProto, moneyToProto, ContractError, type MoneyMinor } from '../../proto/index.js';
import type { OperatorConfig } from '../../runtime/config/index.js';
import type { Logger } from '../../runtime/log.js';
import { Events, newEnvelope, PermanentHandlerError } from '../../runtime/nats/index.js';
import { enqueueEvent, withTransaction } from '../../runtime/pg/index.js';
import { Ledger } from './ledger/store.js';
import { AccountIds, captureTransfer, reserveTransfer, voidTransfer } from './ledger/rules.js';
import { CarrierOutcome, type CarrierAdapter, type CarrierOutcomeValue } from './adapters/types.js';

const { DebitOutcome } = dialpay.v1;
type DebitOutcomeValue = dialpay.v1.DebitOutcome;
export const PRODUCER = 'billing';
const SCHEMA = 'billing';
const STATEMENT_LINES_MAX = 10;

/** A carrier that keeps failing: the handler throws, JetStream redelivers later (bounded, then the DLQ). */
export class CarrierUnavailableError extends Error {
  override readonly name = 'CarrierUnavailableError';
  constructor(readonly debitId: string, detail: string) {
    super(`carrier unavailable for debit ${debitId}: ${detail}`);
  }
}

const OUTCOME_BY_CARRIER: Readonly<Record<CarrierOutcomeValue, DebitOutcomeValue>> = {
  [CarrierOutcome.OK]: DebitOutcome.DEBIT_OUTCOME_OK,
  [CarrierOutcome.INSUFFICIENT_FUNDS]: DebitOutcome.DEBIT_OUTCOME_INSUFFICIENT_FUNDS,
  [CarrierOutcome.ACCOUNT_NOT_FOUND]: DebitOutcome.DEBIT_OUTCOME_ACCOUNT_NOT_FOUND,
  [CarrierOutcome.UNAVAILABLE]: DebitOutcome.DEBIT_OUTCOME_CARRIER_UNAVAILABLE,
  [CarrierOutcome.REJECTED]: DebitOutcome.DEBIT_OUTCOME_REJECTED,
};

interface DebitRow {
  debit_id: string;
  payment_id: string;
  operator_id: string;
  msisdn: string;
  currency: string;
  amount_minor: bigint;
  payer_account_id: string;
  adapter: string;
  state: 'reserved' | 'captured' | 'voided' | 'refused';
  captured_minor: bigint;
  detail: string;
}

export interface DebitServiceOptions {
  readonly pool: pg.Pool;
  readonly ledger: Ledger;
  readonly operators: ReadonlyMap<string, OperatorConfig>;
  readonly adapterFor: (operator: OperatorConfig) => CarrierAdapter;
  readonly log: Logger;
}

function money(m: dialpay.v1.IMoney | null | undefined, field: string): MoneyMinor {
  try {
    return moneyFromProto(m);
  } catch (err) {
    throw new PermanentHandlerError(`${field}: ${(err as Error).message}`, { cause: err });
  }
}

export class DebitService {
  readonly #o: DebitServiceOptions;
  readonly #ledger: Ledger;

  constructor(options: DebitServiceOptions) {
    this.#o = options;
    this.#ledger = options.ledger;
  }

  /** BAL and the USSD menu: the carrier's balance and the last captured payments of this number. */
  async balance(request: dialpay.v1.IBalanceRequest): Promise<dialpay.v1.IBalanceReply> {
    const operator = this.#o.operators.get(request.operatorId ?? '');
    const msisdn = request.msisdn ?? '';
    if (!operator || !/^\d{7,15}$/.test(msisdn)) return { available: false };
    const balance = await this.#o.adapterFor(operator).balance(operator.id, msisdn, operator.currency);
    if (balance === null) return { available: false };
    const limit = Math.min(Math.max(request.statementLinesMax ?? 5, 0), STATEMENT_LINES_MAX);
    const { rows } = await this.#o.pool.query<{ payment_id: string; captured_minor: bigint; payee: string; updated_at: Date }>(
      `SELECT payment_id, captured_minor, payee, updated_at FROM billing.debits WHERE msisdn = $1 AND state = 'captured' ORDER BY updated_at DESC LIMIT $2`,
      [msisdn, limit],
    );
    return {
      available: true,
      balance: moneyToProto({ amountMinor: balance, currency: operator.currency }),
      lines: rows.map((r) => ({
        paymentId: r.payment_id,
        amount: moneyToProto({ amountMinor: -BigInt(r.captured_minor), currency: operator.currency }),
        atUnixMs: bigIntToInt64(BigInt(r.updated_at.getTime())),
        counterparty: r.payee,
      })),
    };
  }

  get ledger(): Ledger {
    return this.#ledger;
  }

  async reserve(request: dialpay.v1.IDebitReserveRequested): Promise<void> {
    const debitId = required(request.debitId, 'debitId');
    const paymentId = required(request.paymentId, 'paymentId');
    const amount = money(request.amount, 'amount');
    const existing = await this.#load(debitId);
    if (existing) return this.#reserveResult(debitId, paymentId, existing.state === 'refused' ? outcomeOf(existing.detail) : DebitOutcome.DEBIT_OUTCOME_OK, amount, existing.detail);
    const operator = this.#o.operators.get(request.operatorId ?? '');
    if (!operator) return this.#refuse(request, amount, DebitOutcome.DEBIT_OUTCOME_REJECTED, `unknown operator ${request.operatorId}`);
    if (operator.currency !== amount.currency) return this.#refuse(request, amount, DebitOutcome.DEBIT_OUTCOME_REJECTED, `operator bills in ${operator.currency}`);
    const adapter = this.#o.adapterFor(operator);
    const msisdn = required(request.msisdn, 'msisdn');
    const carrier = await adapter.reserve({ debitId, msisdn, currency: amount.currency, amountMinor: amount.amountMinor, description: request.description ?? '' });
    if (carrier.outcome !== CarrierOutcome.OK) return this.#refuse(request, amount, OUTCOME_BY_CARRIER[carrier.outcome], carrier.detail);
    const payer = adapter.payerAccountId(operator.id, msisdn);
    await this.#ledger.ensureAccount(payer, adapter.fundsCheckedInLedger ? 'subscriber' : 'carrier_clearing', amount.currency);
    await this.#ledger.ensureAccount(AccountIds.holds(amount.currency), 'holds', amount.currency);
    const booked = await this.#ledger.apply(reserveTransfer({ id: `reserve:${debitId}`, paymentId, currency: amount.currency, payerAccountId: payer, amountMinor: amount.amountMinor }));
    if (booked.outcome === 'insufficient-funds') return this.#refuse(request, amount, DebitOutcome.DEBIT_OUTCOME_INSUFFICIENT_FUNDS, '');
    await withTransaction(this.#o.pool, 'READ COMMITTED', async (client) => {
      await client.query(
        `INSERT INTO billing.debits (debit_id, payment_id, operator_id, msisdn, currency, amount_minor, payer_account_id, adapter, state)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'reserved') ON CONFLICT (debit_id) DO NOTHING`,
        [debitId, paymentId, operator.id, msisdn, amount.currency, amount.amountMinor.toString(), payer, adapter.name],
      );
      await this.#enqueueReserveResult(client, debitId, paymentId, DebitOutcome.DEBIT_OUTCOME_OK, amount, '');
    });
  }

  async capture(request: dialpay.v1.IDebitCaptureRequested): Promise<void> {
    const debitId = required(request.debitId, 'debitId');
    const amount = money(request.amount, 'amount');
    const payeeAmount = money(request.payeeAmount, 'payeeAmount');
    const fee = request.fee ? money(request.fee, 'fee') : { amountMinor: 0n, currency: amount.currency };
    const share = request.operatorShare ? money(request.operatorShare, 'operatorShare') : { amountMinor: 0n, currency: amount.currency };
    if (payeeAmount.amountMinor + fee.amountMinor + share.amountMinor !== amount.amountMinor) {
      throw new PermanentHandlerError(`capture of ${debitId}: payee, fee and share do not add up to the amount`);
    }
    const debit = await this.#load(debitId);
    if (!debit) return this.#captureResult(debitId, request.paymentId ?? '', DebitOutcome.DEBIT_OUTCOME_INVALID_STATE, amount, 'no such debit');
    if (debit.state === 'captured') return this.#captureResult(debitId, debit.payment_id, DebitOutcome.DEBIT_OUTCOME_OK, { amountMinor: debit.captured_minor, currency: debit.currency }, '');
    if (debit.state !== 'reserved' || amount.amountMinor > debit.amount_minor || amount.currency !== debit.currency) {
      return this.#captureResult(debitId, debit.payment_id, DebitOutcome.DEBIT_OUTCOME_INVALID_STATE, amount, `debit is ${debit.state}`);
    }
    const operator = this.#operator(debit.operator_id);
    const adapter = this.#o.adapterFor(operator);
    const carrier = await adapter.capture(debitId, amount.amountMinor);
    if (carrier.outcome === CarrierOutcome.UNAVAILABLE) throw new CarrierUnavailableError(debitId, carrier.detail); // the payer confirmed: keep trying
    if (carrier.outcome !== CarrierOutcome.OK) return this.#captureResult(debitId, debit.payment_id, OUTCOME_BY_CARRIER[carrier.outcome], amount, carrier.detail);
    const payeeAccount = request.merchantId ? AccountIds.merchant(request.merchantId) : AccountIds.subscriber(required(request.payeeMsisdn, 'payeeMsisdn'));
    await this.#ledger.ensureAccount(payeeAccount, request.merchantId ? 'merchant_payable' : 'subscriber', debit.currency);
    await this.#ledger.ensureAccount(AccountIds.fees(debit.currency), 'fee_revenue', debit.currency);
    await this.#ledger.ensureAccount(AccountIds.operatorShare(operator.id), 'operator_share', debit.currency);
    const reserve = { id: `reserve:${debitId}`, paymentId: debit.payment_id, currency: debit.currency, amountMinor: debit.amount_minor, payerAccountId: debit.payer_account_id };
    const booked = await this.#ledger.apply(captureTransfer({
      id: `capture:${debitId}`, reserve, payeeAccountId: payeeAccount, payeeMinor: payeeAmount.amountMinor, feeMinor: fee.amountMinor, operatorShareMinor: share.amountMinor, operatorId: operator.id,
    }));
    if (booked.outcome === 'already-settled') return this.#captureResult(debitId, debit.payment_id, DebitOutcome.DEBIT_OUTCOME_INVALID_STATE, amount, 'reserve already settled');
    await withTransaction(this.#o.pool, 'READ COMMITTED', async (client) => {
      await client.query(`UPDATE billing.debits SET state = 'captured', captured_minor = $2, payee = $3, updated_at = now() WHERE debit_id = $1 AND state = 'reserved'`, [
        debitId, amount.amountMinor.toString(), request.merchantId || request.payeeMsisdn || '',
      ]);
      await this.#enqueue(client, Events.debitCaptureResult, `debit-capture-result:${debitId}:${DebitOutcome.DEBIT_OUTCOME_OK}`, debit.payment_id, {
        debitId, paymentId: debit.payment_id, outcome: DebitOutcome.DEBIT_OUTCOME_OK, captured: moneyToProto(amount), detail: '',
      });
    });
  }

  async void(request: dialpay.v1.IDebitVoidRequested): Promise<void> {
    const debitId = required(request.debitId, 'debitId');
    const debit = await this.#load(debitId);
    const paymentId = debit?.payment_id ?? request.paymentId ?? '';
    if (!debit || debit.state === 'refused' || debit.state === 'voided') {
      // Nothing held here; still release at the carrier in case an unanswered reserve went through there.
      if (debit) await this.#o.adapterFor(this.#operator(debit.operator_id)).release(debitId);
      return this.#voidResult(debitId, paymentId, DebitOutcome.DEBIT_OUTCOME_OK, debit ? `debit is ${debit.state}` : 'no such debit');
    }
    if (debit.state === 'captured') return this.#voidResult(debitId, paymentId, DebitOutcome.DEBIT_OUTCOME_INVALID_STATE, 'debit is captured');
    const carrier = await this.#o.adapterFor(this.#operator(debit.operator_id)).release(debitId);
    if (carrier.outcome === CarrierOutcome.UNAVAILABLE) throw new CarrierUnavailableError(debitId, carrier.detail);
    const reserve = { id: `reserve:${debitId}`, paymentId, currency: debit.currency, amountMinor: debit.amount_minor, payerAccountId: debit.payer_account_id };
    const booked = await this.#ledger.apply(voidTransfer(`void:${debitId}`, reserve));
    if (booked.outcome === 'already-settled') return this.#voidResult(debitId, paymentId, DebitOutcome.DEBIT_OUTCOME_INVALID_STATE, 'reserve already settled');
    await withTransaction(this.#o.pool, 'READ COMMITTED', async (client) => {
      await client.query(`UPDATE billing.debits SET state = 'voided', detail = $2, updated_at = now() WHERE debit_id = $1 AND state = 'reserved'`, [debitId, request.reason ?? '']);
      await this.#enqueue(client, Events.debitVoidResult, `debit-void-result:${debitId}:${DebitOutcome.DEBIT_OUTCOME_OK}`, paymentId, { debitId, paymentId, outcome: DebitOutcome.DEBIT_OUTCOME_OK, detail: '' });
    });
  }

  #operator(id: string): OperatorConfig {
    const operator = this.#o.operators.get(id);
    if (!operator) throw new PermanentHandlerError(`debit for an operator no longer configured: ${id}`);
    return operator;
  }

  async #load(debitId: string): Promise<DebitRow | null> {
    const { rows } = await this.#o.pool.query<DebitRow>('SELECT * FROM billing.debits WHERE debit_id = $1', [debitId]);
    return rows[0] ?? null;
  }

  async #refuse(request: dialpay.v1.IDebitReserveRequested, amount: MoneyMinor, outcome: DebitOutcomeValue, detail: string): Promise<void> {
    const debitId = request.debitId as string;
    await withTransaction(this.#o.pool, 'READ COMMITTED', async (client) => {
      await client.query(
        `INSERT INTO billing.debits (debit_id, payment_id, operator_id, msisdn, currency, amount_minor, payer_account_id, adapter, state, detail)
         VALUES ($1, $2, $3, $4, $5, $6, '', '', 'refused', $7) ON CONFLICT (debit_id) DO NOTHING`,
        [debitId, request.paymentId, request.operatorId ?? '', request.msisdn ?? '', amount.currency, amount.amountMinor.toString(), `${outcome}:${detail}`],
      );
      await this.#enqueueReserveResult(client, debitId, request.paymentId as string, outcome, amount, detail);
    });
  }

  async #reserveResult(debitId: string, paymentId: string, outcome: DebitOutcomeValue, amount: MoneyMinor, detail: string): Promise<void> {
    await withTransaction(this.#o.pool, 'READ COMMITTED', (client) => this.#enqueueReserveResult(client, debitId, paymentId, outcome, amount, detail));
  }

  #enqueueReserveResult(client: pg.ClientBase, debitId: string, paymentId: string, outcome: DebitOutcomeValue, amount: MoneyMinor, detail: string): Promise<void> {
    return this.#enqueue(client, Events.debitReserveResult, `debit-reserve-result:${debitId}`, paymentId, {
      debitId, paymentId, outcome, reserved: outcome === DebitOutcome.DEBIT_OUTCOME_OK ? moneyToProto(amount) : null, detail,
    });
  }

  async #captureResult(debitId: string, paymentId: string, outcome: DebitOutcomeValue, amount: MoneyMinor, detail: string): Promise<void> {
    await withTransaction(this.#o.pool, 'READ COMMITTED', (client) =>
      this.#enqueue(client, Events.debitCaptureResult, `debit-capture-result:${debitId}:${outcome}`, paymentId, {
        debitId, paymentId, outcome, captured: outcome === DebitOutcome.DEBIT_OUTCOME_OK ? moneyToProto(amount) : null, detail,
      }));
  }

  async #voidResult(debitId: string, paymentId: string, outcome: DebitOutcomeValue, detail: string): Promise<void> {
    await withTransaction(this.#o.pool, 'READ COMMITTED', (client) =>
      this.#enqueue(client, Events.debitVoidResult, `debit-void-result:${debitId}:${outcome}`, paymentId, { debitId, paymentId, outcome, detail }));
  }

  /** Result event ids derive from the debit id, so a re-emitted result is the same event. */
  async #enqueue<M extends { envelope?: dialpay.v1.IEnvelope | null }>(client: pg.ClientBase, def: { subject: string; typeName: string; type: { encode(m: M): { finish(): Uint8Array }; decode(b: Uint8Array): M } }, eventId: string, paymentId: string, body: Omit<M, 'envelope'>): Promise<void> {
    const message = { ...body, envelope: newEnvelope({ producer: PRODUCER, eventId, paymentId, correlationId: paymentId }) } as M;
    await enqueueEvent(client, SCHEMA, def, message);
  }
}

function required(value: string | null | undefined, field: string): string {
  if (!value) throw new PermanentHandlerError(`${field} is missing`, { cause: new ContractError(field) });
  return value;
}

/** The outcome a refused debit recorded in its detail ("<outcome>:<text>"). */
function outcomeOf(detail: string): DebitOutcomeValue {
  const code = Number(detail.split(':')[0]);
  return Number.isInteger(code) && code > 0 ? (code as DebitOutcomeValue) : DebitOutcome.DEBIT_OUTCOME_REJECTED;
}
