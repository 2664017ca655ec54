// Two-phase debits: reserve when the challenge is sent, capture on
// confirmation, void on expiry or cancel. Each step calls the carrier adapter
// (idempotent on the debit id), outside any transaction (but the rare release of a
// reserve the ledger then refused, made inside it before it settles), then writes everything
// else in ONE transaction: the debit locked, the ledger booked under an id derived
// from the debit id (so a redelivered request books nothing twice), the debit's
// state and its result event through the outbox. A reserve's claim commits before
// the carrier call, so a void arriving meanwhile finds it. Each step comes in
// phases (check, claim or read, carrier, book) that batches.ts runs for a whole
// batch: one claim or read statement, concurrent carrier calls, one shared commit.
import type pg from 'pg';
import { dialpay, fundingToProto, int64ToBigInt, moneyFromProto, moneyToProto, ContractError, type MoneyMinor } from '../../proto/index.js';
import type { OperatorConfig } from '../../runtime/config/index.js';
import type { Logger } from '../../runtime/log.js';
import { Events, PermanentHandlerError, type EventDef } from '../../runtime/nats/index.js';
import { emitEvent, withTransaction, type OutboxWriter } from '../../runtime/pg/index.js';
import { named, query } from '../../runtime/pg/named.js';
import { claimedAt, lockDebit, lockDebitsIn, updateDebitAtCommit, type DebitRow } from './debit-rows.js';
import { Ledger } from './ledger/store.js';
import { AccountIds, AGENT_ID, captureTransfer, refundTransfer, reserveTransfer, voidTransfer, type AccountKind } from './ledger/rules.js';
import { CarrierOutcome, type CarrierAdapter, type CarrierOutcomeValue, type CarrierResult } from './adapters/types.js';
import { TopUps, type TopUpResult } from './top-ups.js';
import { bookInteropPosition, crossesOperators, payeeOperatorRefusal } from './interop.js';
import { CLAIMS_SQL, claimFunding, fundingWanted, ledgerFunded, ledgerPayerAccount, mayFallBackToCarrier, stepsFor, type Funding, type FundingWanted } from './funding.js';
import { subscriberBalance } from './wallet-balance.js';
import { availableBalance, lockPayable } from './payable.js';

const { DebitOutcome } = dialpay.v1;
type DebitOutcomeValue = dialpay.v1.DebitOutcome;
export type { DebitRow } from './debit-rows.js';
export const PRODUCER = 'billing';
const CLAIMS = named('billing.claimReserves', CLAIMS_SQL);
const SCHEMA = 'billing';
/** Billing's outbox: results to payments, credits' results. */
export const OUTBOX: OutboxWriter = { schema: SCHEMA, producer: PRODUCER };

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

/** A reserve request read: refused at once (unknown operator, another currency), or to be claimed. */
export type ReserveCheck = ReserveRefusal | ClaimCheck;

interface ReserveRefusal {
  readonly kind: 'refuse';
  readonly request: dialpay.v1.IDebitReserveRequested;
  readonly debitId: string;
  readonly paymentId: string;
  readonly amount: MoneyMinor;
  readonly outcome: DebitOutcomeValue;
  readonly detail: string;
}

export interface ClaimCheck {
  readonly kind: 'claim';
  readonly request: dialpay.v1.IDebitReserveRequested;
  readonly debitId: string;
  readonly paymentId: string;
  readonly amount: MoneyMinor;
  readonly operator: OperatorConfig;
  readonly adapter: CarrierAdapter;
  readonly msisdn: string;
  readonly wanted: FundingWanted;
  /** A cash-in's agent, whose float pays ('agent-float'); '' otherwise. */
  readonly agentId: string;
}

/** A reserve after its claim: the claimed row (new, or as an earlier delivery left it). */
export type ReserveClaim = ReserveRefusal | { readonly kind: 'claimed'; readonly check: ClaimCheck; readonly debit: DebitRow };

/** A reserve ready to book: what the carrier answered, null when it was not asked (wallet-funded, already settled). */
export type ReserveBooking = (ReserveRefusal & { readonly carrier: null }) | { readonly kind: 'claimed'; readonly check: ClaimCheck; readonly debit: DebitRow; readonly carrier: CarrierResult | null };

export interface CaptureCheck {
  readonly request: dialpay.v1.IDebitCaptureRequested;
  readonly debitId: string;
  readonly amount: MoneyMinor;
  readonly payeeAmount: MoneyMinor;
  readonly fee: MoneyMinor;
  readonly share: MoneyMinor;
  /** The payee's operator for a transfer to a subscriber; '' for a merchant. */
  readonly payeeOperatorId: string;
  /** A cash-in's cap: the most the payee's wallet may hold after the credit; null for none. */
  readonly payeeWalletMax: bigint | null;
}

/** A capture that must check the payee's wallet against a cap under its row's lock: batches.ts runs it alone. */
export function capsPayeeWallet(request: dialpay.v1.IDebitCaptureRequested): boolean {
  if (!request.payeeMsisdn || !request.payeeWalletMax) return false;
  try {
    return int64ToBigInt(request.payeeWalletMax.amountMinor as Parameters<typeof int64ToBigInt>[0]) !== 0n; // unset or zero: no cap
  } catch {
    return true; // unreadable: checkCapture refuses it, alone
  }
}

/** The capture's refusal detail when the payee's wallet would go over its cap (DEBIT_OUTCOME_REJECTED). */
export const WALLET_BALANCE_MAX = 'wallet-balance-max';

/** A capture ready to book: the state it was read in (null: no such debit) and the carrier's answer, when asked. */
export interface CapturePlan {
  readonly check: CaptureCheck;
  readonly seen: DebitRow['state'] | null;
  readonly carrier: CarrierResult | null;
}

export interface VoidPlan {
  readonly request: dialpay.v1.IDebitVoidRequested;
  readonly debitId: string;
  readonly seen: DebitRow['state'] | null;
  readonly carrier: CarrierResult | null;
}

/** A refund after its claim: the debit when the carrier is to refund it, null when the claim answered already. */
export interface RefundClaim {
  readonly request: dialpay.v1.IDebitRefundRequested;
  readonly refundId: string;
  readonly debitId: string;
  readonly paymentId: string;
  readonly amount: MoneyMinor;
  readonly debit: DebitRow | null;
}

export interface RefundPlan extends RefundClaim {
  readonly carrier: CarrierResult | null;
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

  /**
   * The merchant API's GET /v1/balance, per currency: the available balance (payable.ts), what a
   * payout may take now: the payable less refunds claimed and not yet booked.
   */
  async merchantBalance(request: dialpay.v1.IMerchantBalanceRequest): Promise<dialpay.v1.IMerchantBalanceReply> {
    const merchantId = request.merchantId ?? '';
    const balances: dialpay.v1.IMoney[] = [];
    for (const currency of await this.#ledger.accountCurrencies(`merchant:${merchantId}:`)) {
      balances.push(moneyToProto({ amountMinor: (await availableBalance(this.#o.pool, merchantId, currency)).availableMinor, currency }));
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

  /** The service's pool: batch runners (batches.ts) share one transaction on it (inOneTransaction). */
  get pool(): pg.Pool {
    return this.#o.pool;
  }

  /**
   * One reserve on its own: the claim (committed before the carrier is called, so a void that
   * arrives meanwhile finds it), the carrier for a carrier-funded debit, then one transaction
   * that books the ledger, settles the claim and enqueues the result (bookReserve).
   */
  async reserve(request: dialpay.v1.IDebitReserveRequested): Promise<void> {
    // Twice at most: a wallet that fell short switches the debit to the carrier once.
    for (let round = 0; round < 2; round++) {
      const check = this.checkReserve(request);
      const claim = check.kind === 'refuse' ? check : await this.#claimOne(check);
      if ((await this.bookReserve(await this.reserveAtCarrier(claim))) === 'done') return;
    }
    throw new Error(`reserve of ${request.debitId ?? ''}: the wallet fell short after the debit switched to the carrier`);
  }

  /** A reserve request read and checked; a refusal needs no claim and no carrier. Throws when a required field is missing. */
  checkReserve(request: dialpay.v1.IDebitReserveRequested): ReserveCheck {
    const debitId = required(request.debitId, 'debitId');
    const paymentId = required(request.paymentId, 'paymentId');
    const amount = money(request.amount, 'amount');
    const refuse = (detail: string): ReserveCheck => ({ kind: 'refuse', request, debitId, paymentId, amount, outcome: DebitOutcome.DEBIT_OUTCOME_REJECTED, detail });
    const operator = this.#o.operators.get(request.operatorId ?? '');
    if (!operator) return refuse(`unknown operator ${request.operatorId}`);
    if (operator.currency !== amount.currency) return refuse(`operator bills in ${operator.currency}`);
    const adapter = this.#o.adapterFor(operator);
    const msisdn = required(request.msisdn, 'msisdn');
    const wanted = fundingWanted(request.funding);
    const agentId = wanted === 'agent-float' ? (request.agentId ?? '') : '';
    if (wanted === 'agent-float' && !AGENT_ID.test(agentId)) return refuse(`agent-float funding needs an agent id, not ${JSON.stringify(agentId)}`);
    return { kind: 'claim', request, debitId, paymentId, amount, operator, adapter, msisdn, wanted, agentId };
  }

  /**
   * Claims the debits ('reserving') in one statement, each with its funding decided in the
   * statement (the wallet first: funding.ts's CLAIMS_SQL), and answers every claimed row: new or left by an earlier
   * delivery. A row claimed by a concurrent statement that committed meanwhile may be missing.
   */
  async claimReserves(checks: readonly ClaimCheck[]): Promise<Map<string, DebitRow>> {
    const unique = [...new Map(checks.map((c) => [c.debitId, c])).values()].sort((a, b) => (a.debitId < b.debitId ? -1 : 1));
    const column = <T>(f: (c: ClaimCheck) => T) => unique.map(f);
    const { rows } = await query<DebitRow>(this.#o.pool, CLAIMS, [
      column((c) => c.debitId), column((c) => c.paymentId), column((c) => c.operator.id), column((c) => c.msisdn), column((c) => c.amount.currency),
      column((c) => c.amount.amountMinor.toString()), column((c) => c.adapter.payerAccountId(c.operator.id, c.msisdn)), column((c) => c.adapter.name),
      column((c) => claimFunding(c.adapter, c.wanted)), column((c) => ledgerPayerAccount(c.wanted, c.msisdn, c.agentId)),
    ]);
    return new Map(rows.map((r) => [r.debit_id, r]));
  }

  async #claimOne(check: ClaimCheck): Promise<ReserveClaim> {
    // A second look finds a row a concurrent claim committed after the first statement's snapshot.
    for (let attempt = 0; attempt < 2; attempt++) {
      const debit = (await this.claimReserves([check])).get(check.debitId);
      if (debit) return { kind: 'claimed', check, debit };
    }
    throw new Error(`debit ${check.debitId} was neither claimed nor found`);
  }

  /**
   * The carrier's part of a claimed reserve, outside any transaction: a carrier-funded debit still
   * 'reserving' is reserved at the carrier (idempotent on the debit id). Throws while the carrier's
   * answer is unknown: the claim stays and the reserve is delivered again.
   */
  async reserveAtCarrier(claim: ReserveClaim): Promise<ReserveBooking> {
    if (claim.kind === 'refuse' || claim.debit.state !== 'reserving' || ledgerFunded(claim.debit.funding)) return { ...claim, carrier: null };
    const { check, debit } = claim;
    const carrier = await check.adapter.reserve({
      debitId: check.debitId, msisdn: check.msisdn, currency: check.amount.currency, amountMinor: check.amount.amountMinor, description: check.request.description ?? '', claimedAtMs: claimedAt(debit),
    });
    // The carrier may hold it (an answer lost, its status unknown): not a refusal. The claim stays
    // 'reserving' with the carrier's reference, and the reserve is delivered again (then the stale-claim sweep releases it).
    if (carrier.outcome === CarrierOutcome.UNAVAILABLE && carrier.uncertain) {
      if (carrier.carrierRef) await this.#keepCarrierRef(check.debitId, carrier.carrierRef);
      throw new CarrierUnavailableError(check.debitId, carrier.detail);
    }
    return { ...claim, carrier };
  }

  async #keepCarrierRef(debitId: string, carrierRef: string): Promise<void> {
    await withTransaction(this.#o.pool, 'READ COMMITTED', (client) => client.query('UPDATE billing.debits SET carrier_ref = $2 WHERE debit_id = $1', [debitId, carrierRef]));
  }

  /**
   * Everything a reserve writes after its claim, in one transaction: the debit locked, the ledger
   * hold (balance-checked in the same statement), the claim settled, the result enqueued.
   * 'again': the wallet fell short and the debit switched to the carrier; reserve it again.
   */
  async bookReserve(booking: ReserveBooking): Promise<'done' | 'again'> {
    if (booking.kind === 'refuse') {
      await this.#refuse(booking.request, booking.amount, booking.outcome, booking.detail);
      return 'done';
    }
    const { check, carrier } = booking;
    const amount = check.amount;
    const decided = await withTransaction(this.#o.pool, 'READ COMMITTED', async (client): Promise<'done' | 'again' | 'release-insufficient' | 'release-relapse'> => {
      const debit = await lockDebit(client, check.debitId);
      if (!debit) throw new Error(`debit ${check.debitId} vanished after its claim`);
      if (debit.state !== 'reserving') {
        await this.#enqueueStateResult(client, debit, amount); // settled by someone else (another delivery, the sweep, a void first): say what they decided
        return 'done';
      }
      if (ledgerFunded(debit.funding)) return this.#bookLedgerReserve(client, debit, check);
      if (!carrier) return 'again'; // the claim was read as wallet-funded and has switched since
      const carrierRef = carrier.carrierRef ?? null;
      if (carrier.outcome !== CarrierOutcome.OK) {
        // An earlier delivery may have booked the hold before it died: release it with the refusal.
        await this.#releaseLedgerHoldIn(client, debit);
        await this.#settleIn(client, debit, 'refused', OUTCOME_BY_CARRIER[carrier.outcome], amount, carrier.detail, carrierRef);
        return 'done';
      }
      await this.#ledger.ensureAccountsIn(client, [
        { id: debit.payer_account_id, kind: check.adapter.fundsCheckedInLedger ? 'subscriber' : 'carrier_clearing', currency: amount.currency },
        { id: AccountIds.holds(amount.currency), kind: 'holds', currency: amount.currency },
      ]);
      const [booked] = await this.#ledger.applyIn(client, [reserveTransfer({ id: `reserve:${debit.debit_id}`, paymentId: debit.payment_id, currency: amount.currency, payerAccountId: debit.payer_account_id, amountMinor: amount.amountMinor })]);
      const release = booked?.outcome === 'insufficient-funds' ? 'release-insufficient'
        // An earlier delivery refused this debit and released its ledger hold: the carrier must not keep one either.
        : booked?.outcome === 'duplicate' && (await this.#ledger.transferAmount(`void:${debit.debit_id}`, client)) !== null ? 'release-relapse'
        : null;
      if (release) {
        if (carrierRef) await client.query('UPDATE billing.debits SET carrier_ref = $2 WHERE debit_id = $1', [debit.debit_id, carrierRef]);
        return release;
      }
      await this.#settleIn(client, debit, 'reserved', DebitOutcome.DEBIT_OUTCOME_OK, amount, '', carrierRef);
      return 'done';
    });
    if (decided !== 'release-insufficient' && decided !== 'release-relapse') return decided;
    // Never settle "reserved" over a hold the ledger refused or released: release at the carrier first, then refuse.
    const released = await check.adapter.release(check.debitId, carrier?.carrierRef, claimedAt(booking.debit));
    if (released.outcome === CarrierOutcome.UNAVAILABLE) throw new CarrierUnavailableError(check.debitId, released.detail);
    const [outcome, detail] = decided === 'release-insufficient'
      ? [DebitOutcome.DEBIT_OUTCOME_INSUFFICIENT_FUNDS, '']
      : [DebitOutcome.DEBIT_OUTCOME_CARRIER_UNAVAILABLE, 'released after an earlier refusal'];
    await this.#settleOrReport(check.debitId, outcome, amount, detail);
    return 'done';
  }

  /**
   * A ledger-funded reserve (funding.ts): wallet -> holds, or an agent's float -> holds for a
   * cash-in, balance-checked in the ledger's statement (short: refused, nothing moved).
   */
  async #bookLedgerReserve(client: pg.ClientBase, debit: DebitRow, check: ClaimCheck): Promise<'done' | 'again'> {
    const amount = check.amount;
    await this.#ledger.ensureAccountsIn(client, [
      // A float never funded starts at zero here: the reserve is then refused for funds.
      { id: debit.payer_account_id, kind: debit.funding === 'agent-float' ? 'agent_float' : 'subscriber', currency: amount.currency },
      { id: AccountIds.holds(amount.currency), kind: 'holds', currency: amount.currency },
    ]);
    const [booked] = await this.#ledger.applyIn(client, [reserveTransfer({ id: `reserve:${debit.debit_id}`, paymentId: debit.payment_id, currency: amount.currency, payerAccountId: debit.payer_account_id, amountMinor: amount.amountMinor })]);
    if (booked?.outcome === 'insufficient-funds') {
      if (!mayFallBackToCarrier(check.adapter, check.wanted)) {
        await this.#settleIn(client, debit, 'refused', DebitOutcome.DEBIT_OUTCOME_INSUFFICIENT_FUNDS, amount, '', null);
        return 'done';
      }
      // Nothing was booked (the check and the debit are one statement): the carrier pays instead.
      await client.query(`UPDATE billing.debits SET funding = 'carrier', payer_account_id = $2, updated_at = now() WHERE debit_id = $1 AND state = 'reserving' AND funding = 'wallet'`, [
        debit.debit_id, check.adapter.payerAccountId(debit.operator_id, debit.msisdn),
      ]);
      return 'again';
    }
    if (booked?.outcome === 'duplicate' && (await this.#ledger.transferAmount(`void:${debit.debit_id}`, client)) !== null) {
      await this.#settleIn(client, debit, 'refused', DebitOutcome.DEBIT_OUTCOME_CARRIER_UNAVAILABLE, amount, 'released after an earlier refusal', null);
      return 'done';
    }
    await this.#settleIn(client, debit, 'reserved', DebitOutcome.DEBIT_OUTCOME_OK, amount, '', null);
    return 'done';
  }

  /** The carrier side of a debit's later steps: none for a wallet-funded one (funding.ts). */
  #stepsOf(debit: DebitRow) {
    return stepsFor(debit.funding, this.#o.adapterFor(this.#operator(debit.operator_id)));
  }

  /**
   * The debits with these ids, read in one statement, for the carrier steps of a capture or void.
   * Read, not remembered: another replica may have captured or voided one since this process
   * reserved it, and the carrier must not be asked to release a captured debit (or the reverse).
   */
  async peekDebits(debitIds: readonly string[]): Promise<Map<string, DebitRow>> {
    const found = new Map<string, DebitRow>();
    const { rows } = await this.#o.pool.query<DebitRow>('SELECT * FROM billing.debits WHERE debit_id = ANY ($1::text[])', [[...new Set(debitIds)]]);
    for (const row of rows) found.set(row.debit_id, row);
    return found;
  }

  /**
   * One capture on its own: the debit read, the carrier's capture, then one transaction (bookCapture).
   * An airtime capture keeps its own path: its top-up is a carrier call after the capture is booked.
   */
  async capture(request: dialpay.v1.IDebitCaptureRequested): Promise<void> {
    if (request.topUpMsisdn) return this.#captureAirtime(request);
    const check = this.checkCapture(request);
    const debit = (await this.peekDebits([check.debitId])).get(check.debitId) ?? null;
    await this.bookCapture(await this.captureAtCarrier(check, debit));
  }

  /** A capture request read and checked. Throws (for good) when its parts do not add up. */
  checkCapture(request: dialpay.v1.IDebitCaptureRequested): CaptureCheck {
    const debitId = required(request.debitId, 'debitId');
    const amount = money(request.amount, 'amount');
    const payeeAmount = money(request.payeeAmount, 'payeeAmount');
    const fee = request.fee ? money(request.fee, 'fee') : { amountMinor: 0n, currency: amount.currency };
    const share = request.operatorShare ? money(request.operatorShare, 'operatorShare') : { amountMinor: 0n, currency: amount.currency };
    if (payeeAmount.amountMinor + fee.amountMinor + share.amountMinor !== amount.amountMinor) {
      throw new PermanentHandlerError(`capture of ${debitId}: payee, fee and share do not add up to the amount`);
    }
    const payeeOperatorId = request.merchantId ? '' : (request.payeeOperatorId ?? '');
    if (request.payeeAgentId !== null && request.payeeAgentId !== undefined && request.payeeAgentId !== '' && !AGENT_ID.test(request.payeeAgentId)) {
      throw new PermanentHandlerError(`capture of ${debitId}: payee agent id ${JSON.stringify(request.payeeAgentId)} is not [A-Z0-9-]{2,32}`);
    }
    let payeeWalletMax: bigint | null = null;
    if (capsPayeeWallet(request)) {
      const cap = money(request.payeeWalletMax, 'payeeWalletMax');
      if (cap.currency !== amount.currency || cap.amountMinor < 0n) throw new PermanentHandlerError(`capture of ${debitId}: wallet cap ${cap.amountMinor} ${cap.currency} for a capture in ${amount.currency}`);
      payeeWalletMax = cap.amountMinor;
    }
    return { request, debitId, amount, payeeAmount, fee, share, payeeOperatorId, payeeWalletMax };
  }

  /** Why this debit cannot be captured as asked, or null. */
  #captureRefusal(check: CaptureCheck, debit: DebitRow): { outcome: DebitOutcomeValue; detail: string } | null {
    if (debit.state !== 'reserved' || check.amount.amountMinor > debit.amount_minor || check.amount.currency !== debit.currency) {
      return { outcome: DebitOutcome.DEBIT_OUTCOME_INVALID_STATE, detail: `debit is ${debit.state}` };
    }
    const payeeRefusal = payeeOperatorRefusal(this.#o.operators, check.payeeOperatorId, debit.currency);
    return payeeRefusal ? { outcome: DebitOutcome.DEBIT_OUTCOME_REJECTED, detail: payeeRefusal } : null;
  }

  /**
   * The carrier's capture, outside any transaction, for a debit read as 'reserved' (idempotent on
   * the debit id). Throws while its reserve is in flight or the carrier does not answer: the payer
   * confirmed, so JetStream delivers it again.
   */
  async captureAtCarrier(check: CaptureCheck, debit: DebitRow | null): Promise<CapturePlan> {
    if (!debit || debit.state !== 'reserved') {
      if (debit?.state === 'reserving') throw new DebitBusyError(check.debitId); // its reserve is still in flight: retry shortly
      return { check, seen: debit?.state ?? null, carrier: null };
    }
    if (this.#captureRefusal(check, debit)) return { check, seen: debit.state, carrier: null };
    const carrier = await this.#stepsOf(debit).capture(check.debitId, check.amount.amountMinor, debit.carrier_ref ?? undefined);
    if (carrier.outcome === CarrierOutcome.UNAVAILABLE) throw new CarrierUnavailableError(check.debitId, carrier.detail);
    return { check, seen: debit.state, carrier };
  }

  /** Everything a capture writes, in one transaction: the debit locked, the ledger capture, the debit captured, the position, the result. */
  async bookCapture(plan: CapturePlan): Promise<void> {
    const { check } = plan;
    const { debitId, amount } = check;
    const busy = await withTransaction(this.#o.pool, 'READ COMMITTED', async (client): Promise<boolean> => {
      const result = (debit: DebitRow | null, outcome: DebitOutcomeValue, captured: MoneyMinor, detail: string) =>
        this.#enqueueCaptureResult(client, debitId, debit?.payment_id ?? check.request.paymentId ?? '', outcome, captured, detail);
      const debit = plan.seen === null ? null : await lockDebit(client, debitId);
      if (!debit) {
        await result(null, DebitOutcome.DEBIT_OUTCOME_INVALID_STATE, amount, 'no such debit');
        return false;
      }
      if (debit.state === 'captured') {
        await result(debit, DebitOutcome.DEBIT_OUTCOME_OK, { amountMinor: debit.captured_minor, currency: debit.currency }, '');
        return false;
      }
      const refusal = this.#captureRefusal(check, debit);
      if (refusal) {
        await result(debit, refusal.outcome, amount, refusal.detail);
        return false;
      }
      if (!plan.carrier) return true; // read before its reserve settled: the carrier has not captured it yet
      if (plan.carrier.outcome !== CarrierOutcome.OK) {
        await result(debit, OUTCOME_BY_CARRIER[plan.carrier.outcome], amount, plan.carrier.detail);
        return false;
      }
      const operator = this.#operator(debit.operator_id);
      const payee = payeeOf(check.request, debit.currency);
      await this.#ledger.ensureAccountsIn(client, [
        { id: payee.accountId, kind: payee.kind, currency: debit.currency },
        { id: AccountIds.fees(debit.currency), kind: 'fee_revenue', currency: debit.currency },
        { id: AccountIds.operatorShare(operator.id), kind: 'operator_share', currency: debit.currency },
      ]);
      const transfer = captureTransfer({
        id: `capture:${debitId}`, reserve: this.#reserveOf(debit), payeeAccountId: payee.accountId, payeeMinor: check.payeeAmount.amountMinor, feeMinor: check.fee.amountMinor, operatorShareMinor: check.share.amountMinor, operatorId: operator.id,
      });
      // A cash-in's cap, under the wallet row's lock (held until COMMIT): over it, nothing is credited and the hold stays for the void.
      if (check.payeeWalletMax !== null && payee.kind === 'subscriber' && (await this.#walletAfter(client, transfer.postings.map((p) => p.accountId), payee.accountId, check.payeeAmount.amountMinor)) > check.payeeWalletMax) {
        await result(debit, DebitOutcome.DEBIT_OUTCOME_REJECTED, amount, WALLET_BALANCE_MAX);
        return false;
      }
      const [booked] = await this.#ledger.applyIn(client, [transfer]);
      if (booked?.outcome === 'already-settled') {
        await result(debit, DebitOutcome.DEBIT_OUTCOME_INVALID_STATE, amount, 'reserve already settled');
        return false;
      }
      await this.#markCapturedIn(client, debit, check, null);
      return false;
    });
    if (busy) throw new DebitBusyError(debitId);
  }

  /**
   * The wallet's balance after a credit of creditMinor, read under its row's lock: the
   * transfer's balance-checked accounts locked in id order, as apply_transfers locks them.
   */
  async #walletAfter(client: pg.ClientBase, accountIds: readonly string[], walletId: string, creditMinor: bigint): Promise<bigint> {
    const { rows } = await client.query<{ id: string; balance_minor: string }>(
      'SELECT id, balance_minor::text FROM billing.accounts WHERE id = ANY ($1::text[]) AND balance_minor IS NOT NULL ORDER BY id FOR UPDATE', [[...new Set(accountIds)]],
    );
    return BigInt(rows.find((r) => r.id === walletId)?.balance_minor ?? '0') + creditMinor;
  }

  /** The debit captured, the interop position, the result: in the caller's transaction. */
  async #markCapturedIn(client: pg.ClientBase, debit: DebitRow, check: CaptureCheck, topUp: TopUpResult | null): Promise<void> {
    const { request, amount, payeeOperatorId } = check;
    const payee = request.payeeAgentId ? AccountIds.agentFloat(request.payeeAgentId) : (request.merchantId || request.payeeMsisdn || request.topUpMsisdn || '');
    updateDebitAtCommit(client, { debitId: debit.debit_id, state: 'captured', capturedMinor: amount.amountMinor, payee });
    // A transfer to another operator's subscriber: the payer's operator owes the payee's (interop.ts),
    // when that operator collected the money: charged to the carrier account, or held in its own
    // wallet model. A carrier-billed payer's dialpay wallet was not collected by their operator, nor an agent's float.
    if (crossesOperators(debit.operator_id, payeeOperatorId) && debit.funding !== 'agent-float' && (debit.funding === 'carrier' || debit.adapter === 'wallet')) {
      await bookInteropPosition(client, { debitId: debit.debit_id, paymentId: debit.payment_id, payerOperatorId: debit.operator_id, payeeOperatorId, currency: debit.currency, amountMinor: check.payeeAmount.amountMinor });
    }
    await this.#enqueueCaptureResult(client, debit.debit_id, debit.payment_id, DebitOutcome.DEBIT_OUTCOME_OK, amount, '', topUp);
  }

  /**
   * An airtime capture: the carrier's capture, the ledger capture into the target operator's
   * airtime account, then the top-up (a carrier call, so after that commits), then the debit
   * captured with what became of the top-up. A retry resumes where it stopped.
   */
  async #captureAirtime(request: dialpay.v1.IDebitCaptureRequested): Promise<void> {
    const check = this.checkCapture(request);
    const { debitId, amount } = check;
    const debit = (await this.peekDebits([debitId])).get(debitId) ?? null;
    if (!debit) return this.#captureResult(debitId, request.paymentId ?? '', DebitOutcome.DEBIT_OUTCOME_INVALID_STATE, amount, 'no such debit');
    if (debit.state === 'reserving') throw new DebitBusyError(debitId);
    if (debit.state === 'captured') {
      const topUp = await this.#topUps.settle(request, debit, check.payeeAmount.amountMinor); // what became of it (idempotent)
      return this.#captureResult(debitId, debit.payment_id, DebitOutcome.DEBIT_OUTCOME_OK, { amountMinor: debit.captured_minor, currency: debit.currency }, '', topUp);
    }
    const refusal = this.#captureRefusal(check, debit);
    if (refusal) return this.#captureResult(debitId, debit.payment_id, refusal.outcome, amount, refusal.detail);
    // An earlier delivery may have captured and booked it before dying: do not charge the carrier again.
    if ((await this.#ledger.transferAmount(`capture:${debitId}`)) === null) {
      const carrier = await this.#stepsOf(debit).capture(debitId, amount.amountMinor, debit.carrier_ref ?? undefined);
      if (carrier.outcome === CarrierOutcome.UNAVAILABLE) throw new CarrierUnavailableError(debitId, carrier.detail);
      if (carrier.outcome !== CarrierOutcome.OK) return this.#captureResult(debitId, debit.payment_id, OUTCOME_BY_CARRIER[carrier.outcome], amount, carrier.detail);
      const payee = this.#topUps.payee(request, debit) as NonNullable<ReturnType<TopUps['payee']>>; // the target operator's airtime account
      const operator = this.#operator(debit.operator_id);
      const refused = await withTransaction(this.#o.pool, 'READ COMMITTED', async (client) => {
        const locked = await lockDebit(client, debitId);
        if (locked?.state !== 'reserved') return `debit is ${locked?.state ?? 'unknown'}`;
        await this.#ledger.ensureAccountsIn(client, [
          { id: payee.accountId, kind: payee.kind, currency: debit.currency },
          { id: AccountIds.fees(debit.currency), kind: 'fee_revenue', currency: debit.currency },
          { id: AccountIds.operatorShare(operator.id), kind: 'operator_share', currency: debit.currency },
        ]);
        const [booked] = await this.#ledger.applyIn(client, [captureTransfer({
          id: `capture:${debitId}`, reserve: this.#reserveOf(debit), payeeAccountId: payee.accountId, payeeMinor: check.payeeAmount.amountMinor, feeMinor: check.fee.amountMinor, operatorShareMinor: check.share.amountMinor, operatorId: operator.id,
        })]);
        return booked?.outcome === 'already-settled' ? 'reserve already settled' : null;
      });
      if (refused) return this.#captureResult(debitId, debit.payment_id, DebitOutcome.DEBIT_OUTCOME_INVALID_STATE, amount, refused);
    }
    const topUp = await this.#topUps.settle(request, debit, check.payeeAmount.amountMinor); // airtime (top-ups.ts): credit the line, or refund the payer's wallet
    await withTransaction(this.#o.pool, 'READ COMMITTED', async (client) => {
      await lockDebit(client, debitId);
      await this.#markCapturedIn(client, debit, check, topUp);
    });
  }

  /** One void on its own: the debit read, the carrier's release, then one transaction (bookVoid). */
  async void(request: dialpay.v1.IDebitVoidRequested): Promise<void> {
    const debitId = required(request.debitId, 'debitId');
    const debit = (await this.peekDebits([debitId])).get(debitId) ?? null;
    await this.bookVoid(await this.voidAtCarrier(request, debit));
  }

  /**
   * The carrier's release, outside any transaction, for a debit read as reserved or refused
   * (idempotent on the debit id). Throws while its reserve is in flight or the carrier does not answer.
   */
  async voidAtCarrier(request: dialpay.v1.IDebitVoidRequested, debit: DebitRow | null): Promise<VoidPlan> {
    const debitId = required(request.debitId, 'debitId');
    if (!debit || (debit.state !== 'reserved' && debit.state !== 'refused')) {
      if (debit?.state === 'reserving') throw new DebitBusyError(debitId); // its reserve is in flight: release it once that settles
      return { request, debitId, seen: debit?.state ?? null, carrier: null };
    }
    // A refused debit is released at the carrier anyway: a reserve whose answer was lost may have gone through there.
    const carrier = await this.#stepsOf(debit).release(debitId, debit.carrier_ref ?? undefined, claimedAt(debit));
    if (carrier.outcome === CarrierOutcome.UNAVAILABLE) throw new CarrierUnavailableError(debitId, carrier.detail);
    // The carrier made a payment for it (carrier_ref) and will not cancel it, its status not showing
    // it released (the adapter answers OK for that): it may still hold money, so try again, then a person.
    if (debit.state === 'refused' && carrier.outcome !== CarrierOutcome.OK && debit.carrier_ref) throw new CarrierUnavailableError(debitId, `release refused: ${carrier.detail}`);
    return { request, debitId, seen: debit.state, carrier };
  }

  /** Everything a void writes, in one transaction: the debit locked (or its tombstone), the ledger release, the state, the result. */
  async bookVoid(plan: VoidPlan): Promise<void> {
    const { request, debitId } = plan;
    const busy = await withTransaction(this.#o.pool, 'READ COMMITTED', async (client): Promise<boolean> => {
      const result = (paymentId: string, outcome: DebitOutcomeValue, detail: string) =>
        this.#enqueueResult(client, Events.debitVoidResult, 'void', debitId, paymentId, outcome, { detail });
      if (plan.seen === null) {
        // Nothing reserved yet (a STOP overtook the reserve): leave a tombstone so the late reserve holds nothing.
        const tombstone = await client.query(
          `INSERT INTO billing.debits (debit_id, payment_id, operator_id, msisdn, currency, amount_minor, payer_account_id, adapter, state, detail)
           VALUES ($1, $2, '', '', '', 0, '', '', 'voided', 'voided before it was reserved') ON CONFLICT (debit_id) DO NOTHING`,
          [debitId, request.paymentId ?? ''],
        );
        if (tombstone.rowCount === 1) await result(request.paymentId ?? '', DebitOutcome.DEBIT_OUTCOME_OK, 'voided before it was reserved');
        return tombstone.rowCount !== 1; // the reserve claimed it meanwhile: void it once that settles
      }
      const debit = await lockDebit(client, debitId);
      if (!debit) throw new Error(`debit ${debitId} vanished`);
      const paymentId = debit.payment_id;
      switch (debit.state) {
        case 'reserving':
          return true;
        case 'voided':
          await result(paymentId, DebitOutcome.DEBIT_OUTCOME_OK, '');
          return false;
        case 'captured':
          await result(paymentId, DebitOutcome.DEBIT_OUTCOME_INVALID_STATE, 'debit is captured');
          return false;
        case 'refused':
          // Read in another state (a remembered 'reserved' gone stale): its carrier step took the wrong branch; again, reading it.
          if (!plan.carrier || plan.seen !== 'refused') return true;
          await this.#releaseLedgerHoldIn(client, debit);
          await result(paymentId, DebitOutcome.DEBIT_OUTCOME_OK, 'debit was refused');
          return false;
        case 'reserved': {
          if (!plan.carrier || plan.seen !== 'reserved') return true;
          // The carrier is the arbiter: if it will not release (it captured), neither do we.
          if (plan.carrier.outcome !== CarrierOutcome.OK) {
            await result(paymentId, DebitOutcome.DEBIT_OUTCOME_INVALID_STATE, plan.carrier.detail);
            return false;
          }
          const [booked] = await this.#ledger.applyIn(client, [voidTransfer(`void:${debitId}`, this.#reserveOf(debit))]);
          if (booked?.outcome === 'already-settled') {
            await result(paymentId, DebitOutcome.DEBIT_OUTCOME_INVALID_STATE, 'reserve already settled');
            return false;
          }
          updateDebitAtCommit(client, { debitId, state: 'voided', detail: request.reason ?? '' });
          await result(paymentId, DebitOutcome.DEBIT_OUTCOME_OK, '');
          return false;
        }
      }
    });
    if (busy) throw new DebitBusyError(debitId);
  }

  /**
   * Gives back part of a captured merchant payment: claim the refund under the debit's lock
   * (never more than captured, in total), then the carrier (idempotent on the refund id), then
   * one transaction: the ledger (merchant payable -> payer), the refund's state, the result.
   */
  async refund(request: dialpay.v1.IDebitRefundRequested): Promise<void> {
    const claim = await this.claimRefund(request);
    await this.bookRefund(await this.refundAtCarrier(claim));
  }

  /** The refund claimed under the debit's lock, in one transaction; a refusal or a refund already made answers there. */
  async claimRefund(request: dialpay.v1.IDebitRefundRequested): Promise<RefundClaim> {
    const refundId = required(request.refundId, 'refundId');
    const debitId = required(request.debitId, 'debitId');
    const amount = money(request.amount, 'amount');
    const paymentId = request.paymentId ?? '';
    const ids = { request, refundId, debitId, paymentId, amount };
    return withTransaction(this.#o.pool, 'READ COMMITTED', async (client): Promise<RefundClaim> => {
      const answer = async (outcome: DebitOutcomeValue, detail: string): Promise<RefundClaim> => {
        await this.#enqueueRefundResult(client, refundId, debitId, paymentId, outcome, amount, detail);
        return { ...ids, debit: null };
      };
      if (!request.merchantId) return answer(DebitOutcome.DEBIT_OUTCOME_REJECTED, 'refunds are for merchant payments');
      const debit = await lockDebit(client, debitId);
      if (!debit || debit.state !== 'captured' || debit.currency !== amount.currency) return answer(DebitOutcome.DEBIT_OUTCOME_INVALID_STATE, `debit is ${debit?.state ?? 'unknown'}`);
      // Not between a payout's balance check and its commit (payable.ts): a refund claimed now counts against the available balance.
      await lockPayable(client, request.merchantId, debit.currency, 'shared');
      const existing = (await client.query<{ state: string; detail: string }>('SELECT state, detail FROM billing.refunds WHERE refund_id = $1', [refundId])).rows[0];
      if (existing?.state === 'refunded') return answer(DebitOutcome.DEBIT_OUTCOME_OK, '');
      if (existing?.state === 'refused') return answer(DebitOutcome.DEBIT_OUTCOME_INVALID_STATE, existing.detail);
      if (!existing) {
        const { rows } = await client.query<{ total: string }>(`SELECT COALESCE(SUM(amount_minor), 0)::text AS total FROM billing.refunds WHERE debit_id = $1 AND state <> 'refused'`, [debitId]);
        const left = BigInt(debit.captured_minor) - BigInt(rows[0]?.total ?? '0');
        if (amount.amountMinor <= 0n || amount.amountMinor > left) return answer(DebitOutcome.DEBIT_OUTCOME_INVALID_STATE, `at most ${left} can be refunded`);
        await client.query(`INSERT INTO billing.refunds (refund_id, debit_id, amount_minor, state) VALUES ($1, $2, $3, 'refunding')`, [refundId, debitId, amount.amountMinor.toString()]);
      }
      return { ...ids, debit };
    });
  }

  /** The carrier's refund of a claimed refund, outside any transaction (idempotent on the refund id). */
  async refundAtCarrier(claim: RefundClaim): Promise<RefundPlan> {
    if (!claim.debit) return { ...claim, carrier: null };
    const carrier = await this.#stepsOf(claim.debit).refund(claim.refundId, claim.debitId, claim.amount.amountMinor, claim.debit.carrier_ref ?? undefined);
    if (carrier.outcome === CarrierOutcome.UNAVAILABLE) throw new CarrierUnavailableError(claim.debitId, carrier.detail);
    return { ...claim, carrier };
  }

  /** Everything a refund writes after the carrier, in one transaction: the ledger, the refund's state, the result. */
  async bookRefund(plan: RefundPlan): Promise<void> {
    const { refundId, debitId, paymentId, amount, debit, carrier } = plan;
    if (!debit || !carrier) return; // answered in its claim
    await withTransaction(this.#o.pool, 'READ COMMITTED', async (client) => {
      if (carrier.outcome !== CarrierOutcome.OK) {
        await client.query(`UPDATE billing.refunds SET state = 'refused', detail = $2, updated_at = now() WHERE refund_id = $1 AND state = 'refunding'`, [refundId, carrier.detail]);
        await this.#enqueueRefundResult(client, refundId, debitId, paymentId, OUTCOME_BY_CARRIER[carrier.outcome], amount, carrier.detail);
        return;
      }
      const payeeAccountId = AccountIds.merchant(plan.request.merchantId ?? '', debit.currency);
      await this.#ledger.ensureAccountsIn(client, [{ id: payeeAccountId, kind: 'merchant_payable', currency: debit.currency }]);
      const [booked] = await this.#ledger.applyIn(client, [refundTransfer({
        id: `refund:${refundId}`, paymentId: debit.payment_id, currency: debit.currency, amountMinor: amount.amountMinor,
        payeeAccountId, payerAccountId: debit.payer_account_id,
      })]);
      // The carrier has paid it back: the books must follow. Anything else is retried, then reaches a person via the DLQ.
      if (booked?.outcome !== 'applied' && booked?.outcome !== 'duplicate') throw new Error(`refund ${refundId} could not be booked: ${booked?.outcome}`);
      await client.query(`UPDATE billing.refunds SET state = 'refunded', updated_at = now() WHERE refund_id = $1`, [refundId]);
      await this.#enqueueRefundResult(client, refundId, debitId, paymentId, DebitOutcome.DEBIT_OUTCOME_OK, amount, '');
    });
  }

  #enqueueRefundResult(client: pg.ClientBase, refundId: string, debitId: string, paymentId: string, outcome: DebitOutcomeValue, amount: MoneyMinor, detail: string): Promise<void> {
    return this.#enqueue(client, Events.debitRefundResult, `debit-refund-result:${refundId}:${outcome}`, paymentId, {
      refundId, debitId, paymentId, outcome, refunded: outcome === DebitOutcome.DEBIT_OUTCOME_OK ? moneyToProto(amount) : null, detail,
    });
  }

  #reserveOf(debit: DebitRow) {
    return { id: `reserve:${debit.debit_id}`, paymentId: debit.payment_id, currency: debit.currency, amountMinor: debit.amount_minor, payerAccountId: debit.payer_account_id };
  }

  /** Locks a batch's debits up front in the shared transaction its units join (debit-rows.ts). */
  async lockDebits(debitIds: readonly string[]): Promise<void> {
    await withTransaction(this.#o.pool, 'READ COMMITTED', (client) => lockDebitsIn(client, debitIds));
  }

  /** Voids the ledger hold of a debit that ended refused, if an earlier delivery booked one; in the caller's transaction. */
  async #releaseLedgerHoldIn(client: pg.ClientBase, debit: DebitRow): Promise<void> {
    if (debit.amount_minor <= 0n || (await this.#ledger.transferAmount(`reserve:${debit.debit_id}`, client)) === null) return;
    await this.#ledger.applyIn(client, [voidTransfer(`void:${debit.debit_id}`, this.#reserveOf(debit))]);
  }

  /** Ends a claim the caller has locked in 'reserving': its state and result, in the caller's transaction. */
  async #settleIn(client: pg.ClientBase, debit: DebitRow, state: 'reserved' | 'refused', outcome: DebitOutcomeValue, amount: MoneyMinor, detail: string, carrierRef: string | null): Promise<void> {
    updateDebitAtCommit(client, { debitId: debit.debit_id, state, detail: state === 'refused' ? `${outcome}:${detail}` : '', carrierRef });
    await this.#enqueueReserveResult(client, debit.debit_id, debit.payment_id, outcome, amount, detail, debit.funding);
  }

  /** Refuses a claim still 'reserving' (after its hold is released at the carrier), or says what became of it. */
  async #settleOrReport(debitId: string, outcome: DebitOutcomeValue, amount: MoneyMinor, detail: string): Promise<boolean> {
    return withTransaction(this.#o.pool, 'READ COMMITTED', async (client) => {
      const debit = await lockDebit(client, debitId);
      if (!debit) return false;
      if (debit.state !== 'reserving') {
        await this.#enqueueStateResult(client, debit, amount);
        return false;
      }
      await this.#releaseLedgerHoldIn(client, debit);
      await this.#settleIn(client, debit, 'refused', outcome, amount, detail, null);
      return true;
    });
  }

  /** The reserve result a debit's settled state stands for. */
  #enqueueStateResult(client: pg.ClientBase, debit: DebitRow, amount: MoneyMinor): Promise<void> {
    switch (debit.state) {
      case 'reserved':
      case 'captured':
        return this.#enqueueReserveResult(client, debit.debit_id, debit.payment_id, DebitOutcome.DEBIT_OUTCOME_OK, amount, '', debit.funding);
      case 'refused':
        return this.#enqueueReserveResult(client, debit.debit_id, debit.payment_id, outcomeOf(debit.detail), amount, debit.detail);
      default: // voided (cancelled by STOP or expiry before this reserve arrived): hold nothing
        return this.#enqueueReserveResult(client, debit.debit_id, debit.payment_id, DebitOutcome.DEBIT_OUTCOME_REJECTED, amount, 'cancelled before it was reserved');
    }
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
      await this.#settleOrReport(debit.debit_id, DebitOutcome.DEBIT_OUTCOME_CARRIER_UNAVAILABLE, { amountMinor: debit.amount_minor, currency: debit.currency }, 'reserve never completed');
      resolved++;
    }
    return resolved;
  }

  #operator(id: string): OperatorConfig {
    const operator = this.#o.operators.get(id);
    if (!operator) throw new PermanentHandlerError(`debit for an operator no longer configured: ${id}`);
    return operator;
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

  #enqueueReserveResult(client: pg.ClientBase, debitId: string, paymentId: string, outcome: DebitOutcomeValue, amount: MoneyMinor, detail: string, funding?: Funding): Promise<void> {
    const ok = outcome === DebitOutcome.DEBIT_OUTCOME_OK;
    return this.#enqueueResult(client, Events.debitReserveResult, 'reserve', debitId, paymentId, outcome, {
      reserved: ok ? moneyToProto(amount) : null, detail, funding: ok && funding ? fundingToProto(funding) : null,
    });
  }

  async #captureResult(debitId: string, paymentId: string, outcome: DebitOutcomeValue, amount: MoneyMinor, detail: string, topUp: TopUpResult | null = null): Promise<void> {
    await withTransaction(this.#o.pool, 'READ COMMITTED', (client) => this.#enqueueCaptureResult(client, debitId, paymentId, outcome, amount, detail, topUp));
  }

  #enqueueCaptureResult(client: pg.ClientBase, debitId: string, paymentId: string, outcome: DebitOutcomeValue, amount: MoneyMinor, detail: string, topUp: TopUpResult | null = null): Promise<void> {
    return this.#enqueueResult(client, Events.debitCaptureResult, 'capture', debitId, paymentId, outcome, {
      captured: outcome === DebitOutcome.DEBIT_OUTCOME_OK ? moneyToProto(amount) : null, detail, ...topUp,
    });
  }

  /**
   * Result event ids name the debit, the step and the outcome: a repeated result is the same
   * event (deduplicated), and a different outcome is a different event, never silently dropped.
   */
  #enqueueResult<M extends { envelope?: dialpay.v1.IEnvelope | null; debitId?: string | null; paymentId?: string | null; outcome?: DebitOutcomeValue | null }>(
    client: pg.ClientBase, def: EventDef<M>, step: string, debitId: string, paymentId: string, outcome: DebitOutcomeValue, rest: Omit<M, 'envelope' | 'debitId' | 'paymentId' | 'outcome'>,
  ): Promise<void> {
    return this.#enqueue(client, def, `debit-${step}-result:${debitId}:${outcome}`, paymentId, { ...rest, debitId, paymentId, outcome } as Omit<M, 'envelope'>);
  }

  /** Result event ids derive from the debit id, so a re-emitted result is the same event. */
  async #enqueue<M extends { envelope?: dialpay.v1.IEnvelope | null }>(client: pg.ClientBase, def: EventDef<M>, eventId: string, paymentId: string, body: Omit<M, 'envelope'>): Promise<void> {
    await emitEvent(client, OUTBOX, def, { eventId, paymentId, correlationId: paymentId }, body);
  }
}

function required(value: string | null | undefined, field: string): string {
  if (!value) throw new PermanentHandlerError(`${field} is missing`, { cause: new ContractError(field) });
  return value;
}

/** Where a capture's payee amount goes: a merchant's payable, an agent's float (cash-out) or a subscriber's wallet. */
function payeeOf(request: dialpay.v1.IDebitCaptureRequested, currency: string): { accountId: string; kind: AccountKind } {
  if (request.merchantId) return { accountId: AccountIds.merchant(request.merchantId, currency), kind: 'merchant_payable' };
  if (request.payeeAgentId) return { accountId: AccountIds.agentFloat(request.payeeAgentId), kind: 'agent_float' };
  return { accountId: AccountIds.subscriber(required(request.payeeMsisdn, 'payeeMsisdn')), kind: 'subscriber' };
}

/** The outcome a refused debit recorded in its detail ("<outcome>:<text>"). */
function outcomeOf(detail: string): DebitOutcomeValue {
  const code = Number(detail.split(':')[0]);
  return Number.isInteger(code) && code > 0 ? (code as DebitOutcomeValue) : DebitOutcome.DEBIT_OUTCOME_REJECTED;
}
