// Two-phase debits: reserve when the challenge is sent, capture on
// confirmation, void on expiry or cancel. Each step calls the carrier adapter
// (idempotent on the debit id), books the ledger under an id derived from the
// debit id (so a redelivered request books nothing twice), then records the
// debit's state and its result event in one transaction through the outbox.
import type pg from 'pg';
import { dialpay, fundingToProto, moneyFromProto, moneyToProto, ContractError, type MoneyMinor } from '../../proto/index.js';
import type { OperatorConfig } from '../../runtime/config/index.js';
import type { Logger } from '../../runtime/log.js';
import { Events, newEnvelope, PermanentHandlerError, type EventDef } from '../../runtime/nats/index.js';
import { enqueueEvent, withTransaction } from '../../runtime/pg/index.js';
import { Ledger } from './ledger/store.js';
import { AccountIds, captureTransfer, refundTransfer, reserveTransfer, voidTransfer } from './ledger/rules.js';
import { CarrierOutcome, type CarrierAdapter, type CarrierOutcomeValue } from './adapters/types.js';
import { TopUps, type TopUpResult } from './top-ups.js';
import { bookInteropPosition, crossesOperators, payeeOperatorRefusal } from './interop.js';
import { CLAIM_SQL, claimFunding, fundingWanted, mayFallBackToCarrier, stepsFor, type Funding, type FundingWanted } from './funding.js';
import { subscriberBalance } from './wallet-balance.js';

const { DebitOutcome } = dialpay.v1;
type DebitOutcomeValue = dialpay.v1.DebitOutcome;
export const PRODUCER = 'billing';
const SCHEMA = 'billing';

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
  readonly #topUps: TopUps;

  constructor(options: DebitServiceOptions) {
    this.#o = options;
    this.#ledger = options.ledger;
    this.#topUps = new TopUps(options);
  }

  /** The merchant API's GET /v1/balance: what we owe the merchant, per currency. */
  async merchantBalance(request: dialpay.v1.IMerchantBalanceRequest): Promise<dialpay.v1.IMerchantBalanceReply> {
    const merchantId = request.merchantId ?? '';
    const balances: dialpay.v1.IMoney[] = [];
    for (const currency of await this.#ledger.accountCurrencies(`merchant:${merchantId}:`)) {
      balances.push(moneyToProto({ amountMinor: await this.#ledger.balance(AccountIds.merchant(merchantId, currency)), currency }));
    }
    return { available: true, balances };
  }

  /** BAL and the USSD menu: the wallet, the carrier's balance and the mini statement (wallet-balance.ts). */
  async balance(request: dialpay.v1.IBalanceRequest): Promise<dialpay.v1.IBalanceReply> {
    const operator = this.#o.operators.get(request.operatorId ?? '');
    if (!operator) return { available: false };
    return subscriberBalance({ pool: this.#o.pool, ledger: this.#ledger, adapter: this.#o.adapterFor(operator) }, operator, request);
  }

  get ledger(): Ledger {
    return this.#ledger;
  }

  async reserve(request: dialpay.v1.IDebitReserveRequested): Promise<void> {
    const debitId = required(request.debitId, 'debitId');
    const paymentId = required(request.paymentId, 'paymentId');
    const amount = money(request.amount, 'amount');
    const operator = this.#o.operators.get(request.operatorId ?? '');
    if (!operator) return this.#refuse(request, amount, DebitOutcome.DEBIT_OUTCOME_REJECTED, `unknown operator ${request.operatorId}`);
    if (operator.currency !== amount.currency) return this.#refuse(request, amount, DebitOutcome.DEBIT_OUTCOME_REJECTED, `operator bills in ${operator.currency}`);
    const adapter = this.#o.adapterFor(operator);
    const msisdn = required(request.msisdn, 'msisdn');
    const wanted = fundingWanted(request.funding);
    // Claim the debit before calling the carrier: a void that arrives meanwhile waits for us. The
    // funding is decided in the claim (the wallet first: funding.ts), so a redelivery takes the same path.
    await this.#o.pool.query(CLAIM_SQL, [
      debitId, paymentId, operator.id, msisdn, amount.currency, amount.amountMinor.toString(), adapter.payerAccountId(operator.id, msisdn), adapter.name,
      claimFunding(adapter, wanted), AccountIds.subscriber(msisdn),
    ]);
    const debit = (await this.#load(debitId)) as DebitRow;
    switch (debit.state) {
      case 'voided': // cancelled (STOP, expiry) before this reserve arrived: hold nothing
        return this.#reserveResult(debitId, paymentId, DebitOutcome.DEBIT_OUTCOME_REJECTED, amount, 'cancelled before it was reserved');
      case 'refused':
        return this.#reserveResult(debitId, paymentId, outcomeOf(debit.detail), amount, debit.detail);
      case 'reserved':
      case 'captured':
        return this.#reserveResult(debitId, paymentId, DebitOutcome.DEBIT_OUTCOME_OK, amount, '', debit.funding);
      case 'reserving':
        break; // ours, or left by a delivery that died part way: carrier and ledger calls are idempotent
    }
    if (debit.funding === 'wallet') {
      // Fell short (spent since the claim): the debit switched to the carrier once; take that path.
      if (!(await this.#reserveFromWallet(debit, amount, adapter, wanted))) return this.reserve(request);
      return;
    }
    const payer = debit.payer_account_id;
    const carrier = await adapter.reserve({ debitId, msisdn, currency: amount.currency, amountMinor: amount.amountMinor, description: request.description ?? '', claimedAtMs: claimedAt(debit) });
    if (carrier.carrierRef) await this.#o.pool.query('UPDATE billing.debits SET carrier_ref = $2 WHERE debit_id = $1', [debitId, carrier.carrierRef]);
    // The carrier may hold it (an answer lost, its status unknown): not a refusal. The claim stays
    // 'reserving' and the reserve is delivered again (then the stale-claim sweep releases it).
    if (carrier.outcome === CarrierOutcome.UNAVAILABLE && carrier.uncertain) throw new CarrierUnavailableError(debitId, carrier.detail);
    if (carrier.outcome !== CarrierOutcome.OK) {
      // An earlier delivery may have booked the hold before it died: release it with the refusal.
      await this.#releaseLedgerHold(debit);
      return this.#settleClaim(debit, 'refused', OUTCOME_BY_CARRIER[carrier.outcome], amount, carrier.detail);
    }
    await this.#ledger.ensureAccount(payer, adapter.fundsCheckedInLedger ? 'subscriber' : 'carrier_clearing', amount.currency);
    await this.#ledger.ensureAccount(AccountIds.holds(amount.currency), 'holds', amount.currency);
    const booked = await this.#ledger.apply(reserveTransfer({ id: `reserve:${debitId}`, paymentId, currency: amount.currency, payerAccountId: payer, amountMinor: amount.amountMinor }));
    if (booked.outcome === 'insufficient-funds') {
      const released = await adapter.release(debitId, carrier.carrierRef, claimedAt(debit));
      if (released.outcome === CarrierOutcome.UNAVAILABLE) throw new CarrierUnavailableError(debitId, released.detail);
      return this.#settleClaim(debit, 'refused', DebitOutcome.DEBIT_OUTCOME_INSUFFICIENT_FUNDS, amount, '');
    }
    if (await this.#transferExists(`void:${debitId}`)) {
      // An earlier delivery refused this debit and released its ledger hold: the carrier must not keep
      // one either. Never settle "reserved" over a released hold.
      const released = await adapter.release(debitId, carrier.carrierRef, claimedAt(debit));
      if (released.outcome === CarrierOutcome.UNAVAILABLE) throw new CarrierUnavailableError(debitId, released.detail);
      return this.#settleClaim(debit, 'refused', DebitOutcome.DEBIT_OUTCOME_CARRIER_UNAVAILABLE, amount, 'released after an earlier refusal');
    }
    return this.#settleClaim(debit, 'reserved', DebitOutcome.DEBIT_OUTCOME_OK, amount, '');
  }

  /**
   * The wallet-first reserve (funding.ts): wallet -> holds, balance-checked in the ledger's
   * statement. False when the wallet fell short and the debit switched to the carrier.
   */
  async #reserveFromWallet(debit: DebitRow, amount: MoneyMinor, adapter: CarrierAdapter, wanted: FundingWanted): Promise<boolean> {
    await this.#ledger.ensureAccount(debit.payer_account_id, 'subscriber', amount.currency);
    await this.#ledger.ensureAccount(AccountIds.holds(amount.currency), 'holds', amount.currency);
    const booked = await this.#ledger.apply(reserveTransfer({ id: `reserve:${debit.debit_id}`, paymentId: debit.payment_id, currency: amount.currency, payerAccountId: debit.payer_account_id, amountMinor: amount.amountMinor }));
    if (booked.outcome === 'insufficient-funds') {
      if (!mayFallBackToCarrier(adapter, wanted)) {
        await this.#settleClaim(debit, 'refused', DebitOutcome.DEBIT_OUTCOME_INSUFFICIENT_FUNDS, amount, '');
        return true;
      }
      // Nothing was booked (the check and the debit are one statement): the carrier pays instead.
      await this.#o.pool.query(`UPDATE billing.debits SET funding = 'carrier', payer_account_id = $2, updated_at = now() WHERE debit_id = $1 AND state = 'reserving' AND funding = 'wallet'`, [
        debit.debit_id, adapter.payerAccountId(debit.operator_id, debit.msisdn),
      ]);
      return false;
    }
    if (await this.#transferExists(`void:${debit.debit_id}`)) {
      await this.#settleClaim(debit, 'refused', DebitOutcome.DEBIT_OUTCOME_CARRIER_UNAVAILABLE, amount, 'released after an earlier refusal');
      return true;
    }
    await this.#settleClaim(debit, 'reserved', DebitOutcome.DEBIT_OUTCOME_OK, amount, '');
    return true;
  }

  /** The carrier side of a debit's later steps: none for a wallet-funded one (funding.ts). */
  #stepsOf(debit: DebitRow) {
    return stepsFor(debit.funding, this.#o.adapterFor(this.#operator(debit.operator_id)));
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
    if (debit.state === 'reserving') throw new DebitBusyError(debitId); // its reserve is still in flight: retry shortly
    if (debit.state === 'captured') {
      const topUp = await this.#topUps.settle(request, debit, payeeAmount.amountMinor); // airtime: what became of it (idempotent)
      return this.#captureResult(debitId, debit.payment_id, DebitOutcome.DEBIT_OUTCOME_OK, { amountMinor: debit.captured_minor, currency: debit.currency }, '', topUp);
    }
    if (debit.state !== 'reserved' || amount.amountMinor > debit.amount_minor || amount.currency !== debit.currency) {
      return this.#captureResult(debitId, debit.payment_id, DebitOutcome.DEBIT_OUTCOME_INVALID_STATE, amount, `debit is ${debit.state}`);
    }
    const operator = this.#operator(debit.operator_id);
    const payeeOperatorId = request.merchantId ? '' : (request.payeeOperatorId ?? '');
    const payeeRefusal = payeeOperatorRefusal(this.#o.operators, payeeOperatorId, debit.currency);
    if (payeeRefusal) return this.#captureResult(debitId, debit.payment_id, DebitOutcome.DEBIT_OUTCOME_REJECTED, amount, payeeRefusal);
    // An earlier delivery may have captured and booked it before dying: do not charge the carrier again.
    if (!(await this.#transferExists(`capture:${debitId}`))) {
      const carrier = await this.#stepsOf(debit).capture(debitId, amount.amountMinor, debit.carrier_ref ?? undefined);
      if (carrier.outcome === CarrierOutcome.UNAVAILABLE) throw new CarrierUnavailableError(debitId, carrier.detail); // the payer confirmed: keep trying
      if (carrier.outcome !== CarrierOutcome.OK) return this.#captureResult(debitId, debit.payment_id, OUTCOME_BY_CARRIER[carrier.outcome], amount, carrier.detail);
      const airtime = this.#topUps.payee(request, debit); // airtime: the target operator's airtime account
      const payeeAccount = airtime?.accountId ?? (request.merchantId ? AccountIds.merchant(request.merchantId, debit.currency) : AccountIds.subscriber(required(request.payeeMsisdn, 'payeeMsisdn')));
      await this.#ledger.ensureAccount(payeeAccount, airtime?.kind ?? (request.merchantId ? 'merchant_payable' : 'subscriber'), debit.currency);
      await this.#ledger.ensureAccount(AccountIds.fees(debit.currency), 'fee_revenue', debit.currency);
      await this.#ledger.ensureAccount(AccountIds.operatorShare(operator.id), 'operator_share', debit.currency);
      const booked = await this.#ledger.apply(captureTransfer({
        id: `capture:${debitId}`, reserve: this.#reserveOf(debit), payeeAccountId: payeeAccount, payeeMinor: payeeAmount.amountMinor, feeMinor: fee.amountMinor, operatorShareMinor: share.amountMinor, operatorId: operator.id,
      }));
      if (booked.outcome === 'already-settled') return this.#captureResult(debitId, debit.payment_id, DebitOutcome.DEBIT_OUTCOME_INVALID_STATE, amount, 'reserve already settled');
    }
    const topUp = await this.#topUps.settle(request, debit, payeeAmount.amountMinor); // airtime (top-ups.ts): credit the line, or refund the payer's wallet
    await withTransaction(this.#o.pool, 'READ COMMITTED', async (client) => {
      await client.query(`UPDATE billing.debits SET state = 'captured', captured_minor = $2, payee = $3, updated_at = now() WHERE debit_id = $1 AND state = 'reserved'`, [
        debitId, amount.amountMinor.toString(), request.merchantId || request.payeeMsisdn || request.topUpMsisdn || '',
      ]);
      // A transfer to another operator's subscriber: the payer's operator owes the payee's (interop.ts),
      // when that operator collected the money: charged to the carrier account, or held in its own
      // wallet model. A carrier-billed payer's dialpay wallet was not collected by their operator.
      if (crossesOperators(debit.operator_id, payeeOperatorId) && (debit.funding === 'carrier' || debit.adapter === 'wallet')) {
        await bookInteropPosition(client, { debitId, paymentId: debit.payment_id, payerOperatorId: debit.operator_id, payeeOperatorId, currency: debit.currency, amountMinor: payeeAmount.amountMinor });
      }
      await this.#enqueueResult(client, Events.debitCaptureResult, 'capture', debitId, debit.payment_id, DebitOutcome.DEBIT_OUTCOME_OK, { captured: moneyToProto(amount), detail: '', ...topUp });
    });
  }

  async void(request: dialpay.v1.IDebitVoidRequested): Promise<void> {
    const debitId = required(request.debitId, 'debitId');
    let debit = await this.#load(debitId);
    if (!debit) {
      // Nothing reserved yet (a STOP overtook the reserve): leave a tombstone so the late reserve holds nothing.
      const tombstone = await this.#o.pool.query(
        `INSERT INTO billing.debits (debit_id, payment_id, operator_id, msisdn, currency, amount_minor, payer_account_id, adapter, state, detail)
         VALUES ($1, $2, '', '', '', 0, '', '', 'voided', 'voided before it was reserved') ON CONFLICT (debit_id) DO NOTHING`,
        [debitId, request.paymentId ?? ''],
      );
      if (tombstone.rowCount === 1) return this.#voidResult(debitId, request.paymentId ?? '', DebitOutcome.DEBIT_OUTCOME_OK, 'voided before it was reserved');
      debit = (await this.#load(debitId)) as DebitRow; // the reserve claimed it meanwhile
    }
    const paymentId = debit.payment_id;
    switch (debit.state) {
      case 'reserving':
        throw new DebitBusyError(debitId); // its reserve is in flight: release it once that settles
      case 'voided':
        return this.#voidResult(debitId, paymentId, DebitOutcome.DEBIT_OUTCOME_OK, '');
      case 'captured':
        return this.#voidResult(debitId, paymentId, DebitOutcome.DEBIT_OUTCOME_INVALID_STATE, 'debit is captured');
      case 'refused': {
        // Release at the carrier anyway: a reserve whose answer was lost may have gone through there.
        const carrier = await this.#stepsOf(debit).release(debitId, debit.carrier_ref ?? undefined, claimedAt(debit));
        if (carrier.outcome === CarrierOutcome.UNAVAILABLE) throw new CarrierUnavailableError(debitId, carrier.detail);
        // The carrier made a payment for it (carrier_ref) and will not cancel it, its status not showing
        // it released (the adapter answers OK for that): it may still hold money, so try again, then a person.
        if (carrier.outcome !== CarrierOutcome.OK && debit.carrier_ref) throw new CarrierUnavailableError(debitId, `release refused: ${carrier.detail}`);
        await this.#releaseLedgerHold(debit);
        return this.#voidResult(debitId, paymentId, DebitOutcome.DEBIT_OUTCOME_OK, 'debit was refused');
      }
      case 'reserved': {
        const carrier = await this.#stepsOf(debit).release(debitId, debit.carrier_ref ?? undefined, claimedAt(debit));
        if (carrier.outcome === CarrierOutcome.UNAVAILABLE) throw new CarrierUnavailableError(debitId, carrier.detail);
        // The carrier is the arbiter: if it will not release (it captured), neither do we.
        if (carrier.outcome !== CarrierOutcome.OK) return this.#voidResult(debitId, paymentId, DebitOutcome.DEBIT_OUTCOME_INVALID_STATE, carrier.detail);
        const booked = await this.#ledger.apply(voidTransfer(`void:${debitId}`, this.#reserveOf(debit)));
        if (booked.outcome === 'already-settled') return this.#voidResult(debitId, paymentId, DebitOutcome.DEBIT_OUTCOME_INVALID_STATE, 'reserve already settled');
        await withTransaction(this.#o.pool, 'READ COMMITTED', async (client) => {
          await client.query(`UPDATE billing.debits SET state = 'voided', detail = $2, updated_at = now() WHERE debit_id = $1 AND state = 'reserved'`, [debitId, request.reason ?? '']);
          await this.#enqueueResult(client, Events.debitVoidResult, 'void', debitId, paymentId, DebitOutcome.DEBIT_OUTCOME_OK, { detail: '' });
        });
        return;
      }
    }
  }

  /**
   * Gives back part of a captured merchant payment: claim the refund under the debit's lock
   * (never more than captured, in total), then the carrier (idempotent on the refund id), then
   * the ledger (merchant payable -> payer), then the result. A retry resumes where it stopped.
   */
  async refund(request: dialpay.v1.IDebitRefundRequested): Promise<void> {
    const refundId = required(request.refundId, 'refundId');
    const debitId = required(request.debitId, 'debitId');
    const amount = money(request.amount, 'amount');
    const paymentId = request.paymentId ?? '';
    const result = (outcome: DebitOutcomeValue, detail: string) =>
      withTransaction(this.#o.pool, 'READ COMMITTED', (client) => this.#enqueueRefundResult(client, refundId, debitId, paymentId, outcome, amount, detail));
    if (!request.merchantId) return result(DebitOutcome.DEBIT_OUTCOME_REJECTED, 'refunds are for merchant payments');
    const claim = await withTransaction(this.#o.pool, 'READ COMMITTED', async (client) => {
      const debit = (await client.query<DebitRow>('SELECT * FROM billing.debits WHERE debit_id = $1 FOR UPDATE', [debitId])).rows[0];
      if (!debit || debit.state !== 'captured' || debit.currency !== amount.currency) return { refuse: `debit is ${debit?.state ?? 'unknown'}` } as const;
      const existing = (await client.query<{ state: string; detail: string }>('SELECT state, detail FROM billing.refunds WHERE refund_id = $1', [refundId])).rows[0];
      if (existing?.state === 'refunded') return { done: true, debit } as const;
      if (existing?.state === 'refused') return { refuse: existing.detail } as const;
      if (!existing) {
        const { rows } = await client.query<{ total: string }>(`SELECT COALESCE(SUM(amount_minor), 0)::text AS total FROM billing.refunds WHERE debit_id = $1 AND state <> 'refused'`, [debitId]);
        const left = BigInt(debit.captured_minor) - BigInt(rows[0]?.total ?? '0');
        if (amount.amountMinor <= 0n || amount.amountMinor > left) return { refuse: `at most ${left} can be refunded` } as const;
        await client.query(`INSERT INTO billing.refunds (refund_id, debit_id, amount_minor, state) VALUES ($1, $2, $3, 'refunding')`, [refundId, debitId, amount.amountMinor.toString()]);
      }
      return { debit } as const;
    });
    if ('refuse' in claim) return result(DebitOutcome.DEBIT_OUTCOME_INVALID_STATE, claim.refuse ?? '');
    const { debit } = claim;
    if (!('done' in claim)) {
      if (!(await this.#transferExists(`refund:${refundId}`))) {
        const carrier = await this.#stepsOf(debit).refund(refundId, debitId, amount.amountMinor, debit.carrier_ref ?? undefined);
        if (carrier.outcome === CarrierOutcome.UNAVAILABLE) throw new CarrierUnavailableError(debitId, carrier.detail);
        if (carrier.outcome !== CarrierOutcome.OK) {
          await withTransaction(this.#o.pool, 'READ COMMITTED', async (client) => {
            await client.query(`UPDATE billing.refunds SET state = 'refused', detail = $2, updated_at = now() WHERE refund_id = $1 AND state = 'refunding'`, [refundId, carrier.detail]);
            await this.#enqueueRefundResult(client, refundId, debitId, paymentId, OUTCOME_BY_CARRIER[carrier.outcome], amount, carrier.detail);
          });
          return;
        }
        const payeeAccountId = AccountIds.merchant(request.merchantId, debit.currency);
        await this.#ledger.ensureAccount(payeeAccountId, 'merchant_payable', debit.currency);
        const booked = await this.#ledger.apply(refundTransfer({
          id: `refund:${refundId}`, paymentId: debit.payment_id, currency: debit.currency, amountMinor: amount.amountMinor,
          payeeAccountId, payerAccountId: debit.payer_account_id,
        }));
        // The carrier has paid it back: the books must follow. Anything else is retried, then reaches a person via the DLQ.
        if (booked.outcome !== 'applied' && booked.outcome !== 'duplicate') throw new Error(`refund ${refundId} could not be booked: ${booked.outcome}`);
      }
      await withTransaction(this.#o.pool, 'READ COMMITTED', (client) => client.query(`UPDATE billing.refunds SET state = 'refunded', updated_at = now() WHERE refund_id = $1`, [refundId]));
    }
    await result(DebitOutcome.DEBIT_OUTCOME_OK, '');
  }

  #enqueueRefundResult(client: pg.ClientBase, refundId: string, debitId: string, paymentId: string, outcome: DebitOutcomeValue, amount: MoneyMinor, detail: string): Promise<void> {
    return this.#enqueue(client, Events.debitRefundResult, `debit-refund-result:${refundId}:${outcome}`, paymentId, {
      refundId, debitId, paymentId, outcome, refunded: outcome === DebitOutcome.DEBIT_OUTCOME_OK ? moneyToProto(amount) : null, detail,
    });
  }

  #reserveOf(debit: DebitRow) {
    return { id: `reserve:${debit.debit_id}`, paymentId: debit.payment_id, currency: debit.currency, amountMinor: debit.amount_minor, payerAccountId: debit.payer_account_id };
  }

  async #transferExists(id: string): Promise<boolean> {
    return (await this.#ledger.transferAmount(id)) !== null;
  }

  /** Voids the ledger hold of a debit that ended refused, if an earlier delivery booked one. */
  async #releaseLedgerHold(debit: DebitRow): Promise<void> {
    if (debit.amount_minor <= 0n || !(await this.#transferExists(`reserve:${debit.debit_id}`))) return;
    await this.#ledger.apply(voidTransfer(`void:${debit.debit_id}`, this.#reserveOf(debit)));
  }

  /** Ends a claimed reserve: the debit's state and the result event commit together. */
  async #settleClaim(debit: DebitRow, state: 'reserved' | 'refused', outcome: DebitOutcomeValue, amount: MoneyMinor, detail: string): Promise<void> {
    const settled = await withTransaction(this.#o.pool, 'READ COMMITTED', async (client) => {
      const { rowCount } = await client.query(`UPDATE billing.debits SET state = $2, detail = $3, updated_at = now() WHERE debit_id = $1 AND state = 'reserving'`, [
        debit.debit_id, state, state === 'refused' ? `${outcome}:${detail}` : '',
      ]);
      if (rowCount === 0) return false; // settled by someone else (another delivery, the sweep): say what they decided
      await this.#enqueueReserveResult(client, debit.debit_id, debit.payment_id, outcome, amount, detail, debit.funding);
      return true;
    });
    if (settled) return;
    const now = (await this.#load(debit.debit_id)) as DebitRow;
    const actual = now.state === 'reserved' || now.state === 'captured' ? DebitOutcome.DEBIT_OUTCOME_OK : now.state === 'refused' ? outcomeOf(now.detail) : DebitOutcome.DEBIT_OUTCOME_REJECTED;
    await this.#reserveResult(debit.debit_id, debit.payment_id, actual, amount, now.detail, now.funding);
  }

  /**
   * Claims left in 'reserving' (their reserve kept failing and went to the dead-letter stream)
   * would hold money forever: release at the carrier and in the ledger, and refuse them.
   */
  async resolveStaleClaims(olderThanMs: number): Promise<number> {
    const { rows } = await this.#o.pool.query<DebitRow>(
      `SELECT * FROM billing.debits WHERE state = 'reserving' AND updated_at < now() - ($1::bigint * interval '1 millisecond') ORDER BY updated_at LIMIT 100`,
      [olderThanMs],
    );
    let resolved = 0;
    for (const debit of rows) {
      const operator = this.#o.operators.get(debit.operator_id);
      if (!operator) continue;
      const released = await stepsFor(debit.funding, this.#o.adapterFor(operator)).release(debit.debit_id, debit.carrier_ref ?? undefined, claimedAt(debit));
      if (released.outcome === CarrierOutcome.UNAVAILABLE) continue; // next sweep
      await this.#releaseLedgerHold(debit);
      await this.#settleClaim(debit, 'refused', DebitOutcome.DEBIT_OUTCOME_CARRIER_UNAVAILABLE, { amountMinor: debit.amount_minor, currency: debit.currency }, 'reserve never completed');
      resolved++;
    }
    return resolved;
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

  async #reserveResult(debitId: string, paymentId: string, outcome: DebitOutcomeValue, amount: MoneyMinor, detail: string, funding?: Funding): Promise<void> {
    await withTransaction(this.#o.pool, 'READ COMMITTED', (client) => this.#enqueueReserveResult(client, debitId, paymentId, outcome, amount, detail, funding));
  }

  #enqueueReserveResult(client: pg.ClientBase, debitId: string, paymentId: string, outcome: DebitOutcomeValue, amount: MoneyMinor, detail: string, funding?: Funding): Promise<void> {
    const ok = outcome === DebitOutcome.DEBIT_OUTCOME_OK;
    return this.#enqueueResult(client, Events.debitReserveResult, 'reserve', debitId, paymentId, outcome, {
      reserved: ok ? moneyToProto(amount) : null, detail, funding: ok && funding ? fundingToProto(funding) : null,
    });
  }

  async #captureResult(debitId: string, paymentId: string, outcome: DebitOutcomeValue, amount: MoneyMinor, detail: string, topUp: TopUpResult | null = null): Promise<void> {
    await withTransaction(this.#o.pool, 'READ COMMITTED', (client) =>
      this.#enqueueResult(client, Events.debitCaptureResult, 'capture', debitId, paymentId, outcome, {
        captured: outcome === DebitOutcome.DEBIT_OUTCOME_OK ? moneyToProto(amount) : null, detail, ...topUp,
      }));
  }

  async #voidResult(debitId: string, paymentId: string, outcome: DebitOutcomeValue, detail: string): Promise<void> {
    await withTransaction(this.#o.pool, 'READ COMMITTED', (client) =>
      this.#enqueueResult(client, Events.debitVoidResult, 'void', debitId, paymentId, outcome, { detail }));
  }

  /**
   * Result event ids name the debit, the step and the outcome: a repeated result is the same
   * event (deduplicated), and a different outcome is a different event, never silently dropped.
   */
  #enqueueResult<M extends { envelope?: dialpay.v1.IEnvelope | null; debitId?: string | null; paymentId?: string | null; outcome?: DebitOutcomeValue | null }>(
    client: pg.ClientBase, def: EventDef<M>, step: string, debitId: string, paymentId: string, outcome: DebitOutcomeValue, rest: Omit<M, 'envelope' | 'debitId' | 'paymentId' | 'outcome'>,
  ): Promise<void> {
    return this.#enqueue(client, def, `debit-${step}-result:${debitId}:${outcome}`, paymentId, { ...rest, debitId, paymentId, outcome } as unknown as Omit<M, 'envelope'>);
  }

  /** Result event ids derive from the debit id, so a re-emitted result is the same event. */
  async #enqueue<M extends { envelope?: dialpay.v1.IEnvelope | null }>(client: pg.ClientBase, def: EventDef<M>, eventId: string, paymentId: string, body: Omit<M, 'envelope'>): Promise<void> {
    const message = { ...body, envelope: newEnvelope({ producer: PRODUCER, eventId, paymentId, correlationId: paymentId }) } as M;
    await enqueueEvent(client, SCHEMA, def, message);
  }
}

function required(value: string | null | undefined, field: string): string {
  if (!value) throw new PermanentHandlerError(`${field} is missing`, { cause: new ContractError(field) });
  return value;
}

/** When the debit was claimed, in epoch ms, for the carrier's lookups (none of its reserves is older). */
function claimedAt(debit: DebitRow): number | undefined {
  const at = debit.created_at instanceof Date ? debit.created_at.getTime() : Date.parse(String(debit.created_at));
  return Number.isFinite(at) ? at : undefined;
}

/** The outcome a refused debit recorded in its detail ("<outcome>:<text>"). */
function outcomeOf(detail: string): DebitOutcomeValue {
  const code = Number(detail.split(':')[0]);
  return Number.isInteger(code) && code > 0 ? (code as DebitOutcomeValue) : DebitOutcome.DEBIT_OUTCOME_REJECTED;
}
