// The payments schema's rows as the service reads them, and the shapes the
// channels hand to the engine. Types and pure accessors only: no I/O here.
import type { Language } from '../../runtime/language.js';
import type { PaymentStateValue } from './state.js';

export interface PaymentRow {
  payment_id: string;
  operator_id: string;
  short_code: string;
  payer_msisdn: string;
  payee_kind: 'merchant' | 'subscriber' | 'airtime' | 'agent';
  payee_id: string;
  currency: string;
  amount_minor: bigint;
  fee_minor: bigint;
  operator_share_minor: bigint;
  payee_minor: bigint;
  reference: string;
  language: Language;
  state: PaymentStateValue;
  challenge_method: 'code' | 'pin' | 'ussd' | null;
  challenge_code_hash: string | null;
  challenge_attempts: number;
  channel: 'sms' | 'ussd' | 'api';
  consented: boolean;
  expires_at: Date | null;
  failure_reason: string | null;
  description: string;
  confirm_ttl_ms: number | null;
  created_at: Date;
  updated_at: Date;
  capture_mode: 'automatic' | 'manual';
  authorized_minor: bigint | null;
  authorization_expires_at: Date | null;
  mandate_id: string | null;
  /** A cash-in (cash.ts): the agent whose float pays; payer_msisdn is the agent's line. Null otherwise. */
  agent_id: string | null;
  /** A cash-in: the most the payee's wallet may hold after it (their KYC tier's walletBalanceMaxMinor); null: no cap. */
  payee_wallet_max_minor: bigint | null;
  /** A transfer's payee's operator (from the number's range); null for merchants and older rows. */
  payee_operator_id: string | null;
  /** Where the money comes from: promised (USSD) or learnt from billing's reserve; null until then. */
  funding: Funding | null;
  /** Read with the row by store.lockPayment only (undefined elsewhere): the payer's PIN can answer a challenge. */
  payer_pin_ready?: boolean;
  /** Read with the row by store.lockPayment only (undefined elsewhere): a subscriber payee's language, null when unknown. */
  payee_language?: Language | null;
}

/** The payer's dialpay wallet or their carrier account (billing's funding.ts decides). */
import type { Funding } from '../../proto/index.js';
export type { Funding };

export interface SubscriberRow {
  msisdn: string;
  language: Language;
  kyc_tier: number;
  pin_hash: string | null;
  pin_failures: number;
  pin_locked: boolean;
  code_wrong_at: Date[];
  code_locked_until: Date | null;
  /** Since when customer care has blocked the line (blocks.ts): nothing may leave it; null: not blocked. */
  blocked_at: Date | null;
  /** Read with the row by store.lockSubscriber only (undefined elsewhere): a mandate waits for this payer's code. */
  mandate_pending?: boolean;
}

export interface MandateRow {
  mandate_id: string;
  merchant_id: string;
  operator_id: string;
  payer_msisdn: string;
  currency: string;
  cap_minor: string;
  period: 'day' | 'week' | 'month';
  reference: string;
  description: string;
  state: 'pending' | 'active' | 'declined' | 'expired' | 'revoked';
  code_hash: string | null;
  attempts: number;
  expires_at: Date;
  created_at: Date;
}

export interface RefundRow {
  refund_id: string;
  payment_id: string;
  amount_minor: string;
  state: 'pending' | 'completed' | 'failed';
  created_at: Date;
}

/** For airtime, id is the line to top up (the payer's own, or another); for an agent (a cash-out), the agent's id. */
export type Payee = { readonly kind: 'merchant' | 'subscriber' | 'airtime' | 'agent'; readonly id: string };

/** Where an SMS to the payer goes: their operator, their number, the short code they used. */
export type Destination = { operatorId: string; msisdn: string; shortCode: string };

/** The payer's SMS destination for this payment. */
export function payerOf(payment: PaymentRow): Destination {
  return { operatorId: payment.operator_id, msisdn: payment.payer_msisdn, shortCode: payment.short_code };
}

export interface PaymentSpec {
  readonly payee: Payee;
  readonly amountMinor: bigint;
  readonly reference: string;
  readonly language: Language;
  readonly channel: 'sms' | 'ussd' | 'api';
  readonly shortCode: string;
  /** The channel's idempotency key (a USSD hop), or null. */
  readonly requestId: string | null;
  /** Merchant API only: shown to the merchant, and how long the payer has to confirm. */
  readonly description?: string;
  readonly confirmTtlMs?: number | null;
  /** Merchant API: the amount is the most authorized; the merchant captures what was used. */
  readonly manualCapture?: boolean;
  /** A charge under this active mandate: consent was given in advance, no challenge. */
  readonly mandateId?: string | null;
  /** A transfer: the payee's operator, found from the number (transfers.ts). */
  readonly payeeOperatorId?: string | null;
  /** The source the payer was promised (the USSD confirmation screen); absent: wallet if it covers, else carrier. */
  readonly funding?: Funding | null;
  /** A cash-in (cash.ts): the agent whose float pays (funding 'agent-float'), and the payee's wallet cap. */
  readonly agentId?: string | null;
  readonly payeeWalletMaxMinor?: bigint | null;
  /**
   * A cash payment from USSD (cash.ts): what the paying account held when billing was asked just
   * before (the wallet for a cash-out, the float for a cash-in); one it cannot cover is refused
   * before anything is reserved. Absent or null: not known, billing's reserve decides.
   */
  readonly balanceBeforeMinor?: bigint | null;
}
