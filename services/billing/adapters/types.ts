// A carrier adapter: how money is taken from a subscriber's carrier account.
// Every call is idempotent on its id, which the adapter passes to the carrier
// as its client correlator, so a retry after a timeout never charges twice.

export const CarrierOutcome = {
  OK: 'ok',
  INSUFFICIENT_FUNDS: 'insufficient-funds',
  ACCOUNT_NOT_FOUND: 'account-not-found',
  /** Temporary: the carrier did not answer or said "try later". Safe to retry. */
  UNAVAILABLE: 'unavailable',
  /** Permanent refusal (barred line, fraud block). */
  REJECTED: 'rejected',
} as const;
export type CarrierOutcomeValue = (typeof CarrierOutcome)[keyof typeof CarrierOutcome];

export interface CarrierResult {
  readonly outcome: CarrierOutcomeValue;
  readonly detail: string;
  /**
   * The carrier's own id for what a reserve made (CAMARA's paymentId), when it is not our debit
   * id: billing keeps it on the debit and hands it back to capture, release and refund.
   */
  readonly carrierRef?: string;
  /**
   * With UNAVAILABLE: the carrier may have done it (its answer was lost and the status could not be
   * learnt), so nothing may be concluded from this call: ask again later, never settle it refused.
   */
  readonly uncertain?: true;
}

export interface ReserveRequest {
  readonly debitId: string;
  readonly msisdn: string;
  readonly currency: string;
  readonly amountMinor: bigint;
  readonly description: string;
  /** When billing first claimed this debit (epoch ms): no payment for it can be older, so a lookup starts there. */
  readonly claimedAtMs?: number;
}

/** Airtime credited to a line by the operator's top-up interface; idempotent on topUpId. */
export interface TopUpRequest {
  readonly topUpId: string;
  readonly msisdn: string;
  readonly currency: string;
  readonly amountMinor: bigint;
}

export interface CarrierAdapter {
  readonly name: 'wallet' | 'http' | 'simulator';
  /**
   * The ledger account the money leaves from: the subscriber's wallet when the
   * balance lives in our ledger, else the operator's clearing account (the
   * carrier holds the subscriber's money and owes us what it collects).
   */
  payerAccountId(operatorId: string, msisdn: string): string;
  /** Whether our ledger checks the payer's funds (wallet) or the carrier does (everything else). */
  readonly fundsCheckedInLedger: boolean;
  reserve(request: ReserveRequest): Promise<CarrierResult>;
  /** carrierRef: what the reserve answered in CarrierResult.carrierRef, when billing has it. */
  capture(debitId: string, amountMinor: bigint, carrierRef?: string): Promise<CarrierResult>;
  /**
   * claimedAtMs: when billing claimed the debit (epoch ms); without a carrierRef the adapter looks
   * for the reserve from there on, and only then may it conclude that nothing is held.
   */
  release(debitId: string, carrierRef?: string, claimedAtMs?: number): Promise<CarrierResult>;
  /** Gives back part of a captured debit to the subscriber; idempotent on refundId. */
  refund(refundId: string, debitId: string, amountMinor: bigint, carrierRef?: string): Promise<CarrierResult>;
  /** The subscriber's spendable balance as the carrier sees it, or null when it cannot say. */
  balance(operatorId: string, msisdn: string, currency: string): Promise<bigint | null>;
  /**
   * Credits airtime to a line, idempotent on topUpId; after a timeout it asks the status before
   * concluding. Absent when the operator has no top-up interface: dialpay then offers no airtime.
   */
  readonly topUp?: (request: TopUpRequest) => Promise<CarrierResult>;
}
