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
// The steps live in debit-reserves.ts, debit-captures.ts, debit-voids.ts and
// debit-refunds.ts; this service is their one entry point.
import type pg from 'pg';
import { moneyToProto, type dialpay } from '../../proto/index.js';
import { withTransaction } from '../../runtime/pg/index.js';
import { lockDebitsIn, type DebitRow } from './debit-rows.js';
import type { Ledger } from './ledger/store.js';
import { TopUps } from './top-ups.js';
import { subscriberBalance } from './wallet-balance.js';
import { availableBalance } from './payable.js';
import { peekDebits, type DebitContext, type DebitServiceOptions } from './debit-context.js';
import {
  bookReserve, checkReserve, claimReserves, reserveAtCarrier, reserveOne, resolveStaleClaims,
  type ClaimCheck, type ReserveBooking, type ReserveCheck, type ReserveClaim,
} from './debit-reserves.js';
import { screenSimSwaps } from './debit-screens.js';
import { bookCapture, captureAtCarrier, captureOne, checkCapture, type CaptureCheck, type CapturePlan } from './debit-captures.js';
import { bookVoid, voidAtCarrier, voidOne, type VoidPlan } from './debit-voids.js';
import { bookRefund, claimRefund, refundAtCarrier, refundOne, type RefundClaim, type RefundPlan } from './debit-refunds.js';

export class DebitService {
  readonly #ctx: DebitContext;

  constructor(options: DebitServiceOptions) {
    this.#ctx = { ...options, topUps: new TopUps(options) };
  }

  /**
   * The merchant API's GET /v1/balance, per currency: the available balance (payable.ts), what a
   * payout may take now: the payable less refunds claimed and not yet booked.
   */
  async merchantBalance(request: dialpay.v1.IMerchantBalanceRequest): Promise<dialpay.v1.IMerchantBalanceReply> {
    const merchantId = request.merchantId ?? '';
    const balances: dialpay.v1.IMoney[] = [];
    for (const currency of await this.#ctx.ledger.accountCurrencies(`merchant:${merchantId}:`)) {
      const { availableMinor } = await availableBalance(this.#ctx.pool, merchantId, currency);
      balances.push(moneyToProto({ amountMinor: availableMinor, currency }));
    }
    return { available: true, balances };
  }

  /** BAL and the USSD menu: the wallet, the carrier's balance and the mini statement (wallet-balance.ts). */
  async balance(request: dialpay.v1.IBalanceRequest): Promise<dialpay.v1.IBalanceReply> {
    const operator = this.#ctx.operators.get(request.operatorId ?? '');
    if (!operator) return { available: false };
    const { pool, ledger } = this.#ctx;
    return subscriberBalance({ pool, ledger, adapter: this.#ctx.adapterFor(operator) }, operator, request);
  }

  get ledger(): Ledger {
    return this.#ctx.ledger;
  }

  /** The service's pool: batch runners (batches.ts) share one transaction on it (inOneTransaction). */
  get pool(): pg.Pool {
    return this.#ctx.pool;
  }

  /** One reserve on its own: claim, carrier, book (debit-reserves.ts). */
  reserve(request: dialpay.v1.IDebitReserveRequested): Promise<void> {
    return reserveOne(this.#ctx, request);
  }

  checkReserve(request: dialpay.v1.IDebitReserveRequested): ReserveCheck {
    return checkReserve(this.#ctx, request);
  }

  /** The SIM-swap checks a batch's reserves ask for, before their claim (debit-reserves.ts). */
  screenSimSwaps(checks: readonly ReserveCheck[]): Promise<ReserveCheck[]> {
    return screenSimSwaps(this.#ctx, checks);
  }

  claimReserves(checks: readonly ClaimCheck[]): Promise<Map<string, DebitRow>> {
    return claimReserves(this.#ctx, checks);
  }

  reserveAtCarrier(claim: ReserveClaim): Promise<ReserveBooking> {
    return reserveAtCarrier(this.#ctx, claim);
  }

  bookReserve(booking: ReserveBooking): Promise<'done' | 'again'> {
    return bookReserve(this.#ctx, booking);
  }

  /** Claims a reserve never completed (left 'reserving'): released at the carrier and in the ledger, and refused. */
  resolveStaleClaims(olderThanMs: number): Promise<number> {
    return resolveStaleClaims(this.#ctx, olderThanMs);
  }

  /** The debits with these ids, read in one statement, for the carrier steps of a capture or void (debit-context.ts). */
  peekDebits(debitIds: readonly string[]): Promise<Map<string, DebitRow>> {
    return peekDebits(this.#ctx.pool, debitIds);
  }

  /** One capture on its own: read, carrier, book (debit-captures.ts). */
  capture(request: dialpay.v1.IDebitCaptureRequested): Promise<void> {
    return captureOne(this.#ctx, request);
  }

  checkCapture(request: dialpay.v1.IDebitCaptureRequested): CaptureCheck {
    return checkCapture(request);
  }

  captureAtCarrier(check: CaptureCheck, debit: DebitRow | null): Promise<CapturePlan> {
    return captureAtCarrier(this.#ctx, check, debit);
  }

  bookCapture(plan: CapturePlan): Promise<void> {
    return bookCapture(this.#ctx, plan);
  }

  /** One void on its own: read, carrier, book (debit-voids.ts). */
  void(request: dialpay.v1.IDebitVoidRequested): Promise<void> {
    return voidOne(this.#ctx, request);
  }

  voidAtCarrier(request: dialpay.v1.IDebitVoidRequested, debit: DebitRow | null): Promise<VoidPlan> {
    return voidAtCarrier(this.#ctx, request, debit);
  }

  bookVoid(plan: VoidPlan): Promise<void> {
    return bookVoid(this.#ctx, plan);
  }

  /** One refund on its own: claim, carrier, book (debit-refunds.ts). */
  refund(request: dialpay.v1.IDebitRefundRequested): Promise<void> {
    return refundOne(this.#ctx, request);
  }

  claimRefund(request: dialpay.v1.IDebitRefundRequested): Promise<RefundClaim> {
    return claimRefund(this.#ctx, request);
  }

  refundAtCarrier(claim: RefundClaim): Promise<RefundPlan> {
    return refundAtCarrier(this.#ctx, claim);
  }

  bookRefund(plan: RefundPlan): Promise<void> {
    return bookRefund(this.#ctx, plan);
  }

  /** Locks a batch's debits up front in the shared transaction its units join (debit-rows.ts). */
  async lockDebits(debitIds: readonly string[]): Promise<void> {
    await withTransaction(this.#ctx.pool, 'READ COMMITTED', (client) => lockDebitsIn(client, debitIds));
  }
}
