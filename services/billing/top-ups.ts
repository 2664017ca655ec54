// Airtime: after a capture whose payee is a line to top up (DebitCaptureRequested.top_up_msisdn),
// the captured money sits in the airtime account of that line's operator (what we owe the operator
// for the airtime it credits), and the operator's top-up interface credits the line, idempotent on
// a top-up id derived from the debit id. The operator refusing it after the capture moves the money
// on to the payer's dialpay wallet (a second transfer, so the ledger shows both). A top-up the
// operator did not answer is retried like every carrier call: the handler throws, JetStream
// redelivers, and the capture (already booked) is not repeated.
import type { DebitServiceOptions } from './debit-context.js';
import type pg from 'pg';
import { dialpay } from '../../proto/index.js';
import type { OperatorConfig } from '../../runtime/config/index.js';
import type { Logger } from '../../runtime/log.js';
import { maskMsisdn } from '../../runtime/log.js';
import { PermanentHandlerError } from '../../runtime/nats/index.js';
import { offersAirtime } from '../../runtime/airtime.js';
import type { Ledger } from './ledger/store.js';
import { AccountIds, airtimeRefundTransfer, type AccountKind } from './ledger/rules.js';
import { CarrierOutcome, type CarrierAdapter, type CarrierResult, type TopUpRequest } from './adapters/types.js';

const { TopUpOutcome } = dialpay.v1;

/** What the debit service has: top-ups run inside its capture. */
export type TopUpsOptions = DebitServiceOptions;

/** The debit being captured, as far as a top-up needs it. */
export interface CapturedDebit {
  readonly debit_id: string;
  readonly payment_id: string;
  readonly operator_id: string;
  /** The payer. */
  readonly msisdn: string;
  readonly currency: string;
}

export interface TopUpResult {
  readonly topUp: dialpay.v1.TopUpOutcome;
  readonly topUpDetail: string;
}

/** The top-up of a debit: one per debit, so the operator credits the line once whatever the redeliveries. */
export const topUpIdOf = (debitId: string): string => `topup:${debitId}`;
const refundIdOf = (debitId: string): string => `airtime-refund:${debitId}`;

export class TopUps {
  readonly #o: TopUpsOptions;

  constructor(options: TopUpsOptions) {
    this.#o = options;
  }

  /** For an airtime capture, its payee: the target operator's airtime account. Null for any other payee. */
  payee(request: dialpay.v1.IDebitCaptureRequested, debit: CapturedDebit): { accountId: string; kind: AccountKind } | null {
    if (!request.topUpMsisdn) return null;
    return { accountId: AccountIds.airtime(this.#targetOperator(request, debit).id, debit.currency), kind: 'airtime_payable' };
  }

  /**
   * After the capture is booked: top the line up, or, when the operator refuses, refund the payer's
   * wallet. Null for a capture that is not airtime. Throws (for a redelivery) while the operator does
   * not answer.
   */
  async settle(
    request: dialpay.v1.IDebitCaptureRequested, debit: CapturedDebit, amountMinor: bigint,
  ): Promise<TopUpResult | null> {
    const msisdn = request.topUpMsisdn;
    if (!msisdn) return null;
    const refundId = refundIdOf(debit.debit_id);
    if ((await this.#o.ledger.transferAmount(refundId)) !== null) {
      return { topUp: TopUpOutcome.TOP_UP_OUTCOME_REFUNDED_TO_WALLET, topUpDetail: 'top-up refused earlier' };
    }
    const operator = this.#targetOperator(request, debit);
    const topUp = this.#o.adapterFor(operator).topUp;
    const answer: CarrierResult = topUp
      ? await topUp({ topUpId: topUpIdOf(debit.debit_id), msisdn, currency: debit.currency, amountMinor } satisfies TopUpRequest)
      : { outcome: CarrierOutcome.REJECTED, detail: `operator ${operator.id} has no top-up interface` };
    if (answer.outcome === CarrierOutcome.UNAVAILABLE) throw new TopUpUnavailableError(debit.debit_id, answer.detail);
    if (answer.outcome === CarrierOutcome.OK) return { topUp: TopUpOutcome.TOP_UP_OUTCOME_CREDITED, topUpDetail: '' };
    this.#o.log.warn({ paymentId: debit.payment_id, target: maskMsisdn(msisdn), operatorId: operator.id, detail: answer.detail },
      'top-up refused after capture; refunding the payer to their wallet');
    const airtimeAccountId = AccountIds.airtime(operator.id, debit.currency);
    const walletAccountId = AccountIds.subscriber(debit.msisdn);
    await this.#o.ledger.ensureAccount(walletAccountId, 'subscriber', debit.currency);
    const booked = await this.#o.ledger.apply(airtimeRefundTransfer({
      id: refundId, paymentId: debit.payment_id, currency: debit.currency, amountMinor, airtimeAccountId, walletAccountId,
    }));
    // The operator kept nothing: the books must say the payer has it. Anything else is retried, then reaches a person via the DLQ.
    if (booked.outcome !== 'applied' && booked.outcome !== 'duplicate') {
      throw new Error(`airtime refund ${refundId} could not be booked: ${booked.outcome}`);
    }
    return { topUp: TopUpOutcome.TOP_UP_OUTCOME_REFUNDED_TO_WALLET, topUpDetail: answer.detail };
  }

  /** The operator of the line to top up: as payments named it, else the payer's. */
  #targetOperator(request: dialpay.v1.IDebitCaptureRequested, debit: CapturedDebit): OperatorConfig {
    const id = request.topUpOperatorId || debit.operator_id;
    const operator = this.#o.operators.get(id);
    if (!operator) throw new PermanentHandlerError(`top-up for an operator not configured: ${id}`);
    return operator;
  }
}

/**
 * Said at start: an operator that offers airtime (operators[].topUp) through an adapter with no
 * topUp would take every airtime payment and refund it to the wallet.
 */
export function warnAboutMissingTopUps(
  operators: Iterable<OperatorConfig>, adapterFor: (operator: OperatorConfig) => CarrierAdapter, log: Logger,
): void {
  for (const operator of operators) {
    if (offersAirtime(operator) && !adapterFor(operator).topUp) {
      log.warn({ operatorId: operator.id, billingAdapter: operator.billingAdapter },
        'operator offers airtime but its adapter cannot top up: every airtime payment will be refunded to the payer wallet');
    }
  }
}

/** The operator's top-up interface did not answer: the capture handler throws, JetStream redelivers later. */
export class TopUpUnavailableError extends Error {
  override readonly name = 'TopUpUnavailableError';
  constructor(readonly debitId: string, detail: string) {
    super(`top-up unavailable for debit ${debitId}: ${detail}`);
  }
}
