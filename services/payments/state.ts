// The payment state machine, pure. One switch over the states decides the
// next state and the actions the shell must take (in one transaction, through
// the outbox). Money moves only through these actions, and only as:
//
//   RESERVING  --reserve ok-->      CHALLENGED --right code/PIN--> CAPTURING --capture ok--> COMPLETED
//      |                               | wrong x max, expiry, STOP       |
//      +--reserve refused--> FAILED    +--> FAILED (+ void the reserve)  +--capture refused--> FAILED (+ void)
//
// A merchant's request is checked against the payer's limits again when they consent (it did
// not count while unanswered): CHALLENGED --over a limit--> FAILED (+ void).
//
// A charge under an active mandate skips the challenge: RESERVING --reserve ok--> CAPTURING.
//
// A manual-capture payment (a metered service: reserve the most, charge what was used) stops
// between consent and capture:
//   CHALLENGED --right code/PIN--> AUTHORIZED --merchant captures--> CAPTURING
//                                      +--authorization expires, or STOP--> FAILED (+ void)

export const PaymentState = {
  RESERVING: 'reserving',
  CHALLENGED: 'challenged',
  AUTHORIZED: 'authorized',
  CAPTURING: 'capturing',
  COMPLETED: 'completed',
  FAILED: 'failed',
} as const;
export type PaymentStateValue = (typeof PaymentState)[keyof typeof PaymentState];

export const FailureReason = {
  LIMIT: 'limit',
  INSUFFICIENT_FUNDS: 'insufficient-funds',
  EXPIRED: 'expired',
  WRONG_CODE: 'wrong-code',
  CANCELLED: 'cancelled',
  UNKNOWN_PAYEE: 'unknown-payee',
  CARRIER_ERROR: 'carrier-error',
  PIN_LOCKED: 'pin-locked',
  /** A cash-in billing refused at capture: the payee's wallet would pass its KYC tier's cap. */
  WALLET_BALANCE_MAX: 'wallet-balance-max',
} as const;
export type FailureReasonValue = (typeof FailureReason)[keyof typeof FailureReason];

export type PaymentInput =
  | { readonly kind: 'reserve-result'; readonly ok: boolean; readonly insufficientFunds: boolean; readonly preauthorized?: boolean }
  | { readonly kind: 'answer'; readonly correct: boolean; readonly attemptsMax: number; readonly manualCapture?: boolean }
  | { readonly kind: 'merchant-capture' }
  /** The payer consented to a merchant's request, but it no longer fits their limits. */
  | { readonly kind: 'over-limit' }
  | { readonly kind: 'expired' }
  | { readonly kind: 'stop' }
  /** topUpRefunded: airtime whose top-up the operator refused after the capture (refunded to the payer's wallet). */
  | { readonly kind: 'capture-result'; readonly ok: boolean; readonly topUpRefunded?: boolean; readonly walletBalanceMax?: boolean };

export type PaymentAction =
  | { readonly kind: 'challenge' }
  | { readonly kind: 'capture' }
  | { readonly kind: 'authorize' }
  | { readonly kind: 'void' }
  | { readonly kind: 'receipts'; readonly topUpRefunded?: boolean }
  | { readonly kind: 'retry-prompt'; readonly attemptsLeft: number }
  | { readonly kind: 'fail'; readonly reason: FailureReasonValue };

export interface PaymentSnapshot {
  readonly state: PaymentStateValue;
  readonly challengeAttempts: number;
}

export interface Transition {
  readonly state: PaymentStateValue;
  readonly challengeAttempts: number;
  readonly actions: readonly PaymentAction[];
}

/** No change: the input does not apply in this state (a late or repeated event). */
const stay = (p: PaymentSnapshot): Transition => ({ state: p.state, challengeAttempts: p.challengeAttempts, actions: [] });

export function transition(payment: PaymentSnapshot, input: PaymentInput): Transition {
  switch (payment.state) {
    case PaymentState.RESERVING:
      if (input.kind === 'reserve-result') {
        // Under an active mandate the payer consented in advance: no challenge, capture at once.
        if (input.ok && input.preauthorized) return { state: PaymentState.CAPTURING, challengeAttempts: 0, actions: [{ kind: 'capture' }] };
        if (input.ok) return { state: PaymentState.CHALLENGED, challengeAttempts: 0, actions: [{ kind: 'challenge' }] };
        const reason = input.insufficientFunds ? FailureReason.INSUFFICIENT_FUNDS : FailureReason.CARRIER_ERROR;
        // A refused reserve holds nothing, but void anyway: an unanswered reserve may have gone through at the carrier.
        return { state: PaymentState.FAILED, challengeAttempts: 0, actions: [{ kind: 'void' }, { kind: 'fail', reason }] };
      }
      if (input.kind === 'stop') return { state: PaymentState.FAILED, challengeAttempts: 0, actions: [{ kind: 'void' }, { kind: 'fail', reason: FailureReason.CANCELLED }] };
      // The carrier never answered the reserve: give up and release whatever it may hold.
      if (input.kind === 'expired') return { state: PaymentState.FAILED, challengeAttempts: 0, actions: [{ kind: 'void' }, { kind: 'fail', reason: FailureReason.CARRIER_ERROR }] };
      return stay(payment);
    case PaymentState.CHALLENGED:
      switch (input.kind) {
        case 'answer': {
          if (input.correct && input.manualCapture) return { state: PaymentState.AUTHORIZED, challengeAttempts: payment.challengeAttempts, actions: [{ kind: 'authorize' }] };
          if (input.correct) return { state: PaymentState.CAPTURING, challengeAttempts: payment.challengeAttempts, actions: [{ kind: 'capture' }] };
          const attempts = payment.challengeAttempts + 1;
          if (attempts >= input.attemptsMax) {
            return { state: PaymentState.FAILED, challengeAttempts: attempts, actions: [{ kind: 'void' }, { kind: 'fail', reason: FailureReason.WRONG_CODE }] };
          }
          return { state: PaymentState.CHALLENGED, challengeAttempts: attempts, actions: [{ kind: 'retry-prompt', attemptsLeft: input.attemptsMax - attempts }] };
        }
        case 'expired':
          return { state: PaymentState.FAILED, challengeAttempts: payment.challengeAttempts, actions: [{ kind: 'void' }, { kind: 'fail', reason: FailureReason.EXPIRED }] };
        case 'over-limit':
          return { state: PaymentState.FAILED, challengeAttempts: payment.challengeAttempts, actions: [{ kind: 'void' }, { kind: 'fail', reason: FailureReason.LIMIT }] };
        case 'stop':
          return { state: PaymentState.FAILED, challengeAttempts: payment.challengeAttempts, actions: [{ kind: 'void' }, { kind: 'fail', reason: FailureReason.CANCELLED }] };
        default:
          return stay(payment);
      }
    case PaymentState.AUTHORIZED:
      if (input.kind === 'merchant-capture') return { state: PaymentState.CAPTURING, challengeAttempts: payment.challengeAttempts, actions: [{ kind: 'capture' }] };
      // The merchant never charged: release the hold.
      if (input.kind === 'expired') return { state: PaymentState.FAILED, challengeAttempts: payment.challengeAttempts, actions: [{ kind: 'void' }, { kind: 'fail', reason: FailureReason.EXPIRED }] };
      // STOP ends any standing authorisation (DESIGN.md): what was not captured is not taken.
      if (input.kind === 'stop') return { state: PaymentState.FAILED, challengeAttempts: payment.challengeAttempts, actions: [{ kind: 'void' }, { kind: 'fail', reason: FailureReason.CANCELLED }] };
      return stay(payment);
    case PaymentState.CAPTURING:
      if (input.kind === 'capture-result') {
        if (input.ok) return { state: PaymentState.COMPLETED, challengeAttempts: payment.challengeAttempts, actions: [{ kind: 'receipts', ...(input.topUpRefunded ? { topUpRefunded: true } : {}) }] };
        const reason = input.walletBalanceMax ? FailureReason.WALLET_BALANCE_MAX : FailureReason.CARRIER_ERROR;
        return { state: PaymentState.FAILED, challengeAttempts: payment.challengeAttempts, actions: [{ kind: 'void' }, { kind: 'fail', reason }] };
      }
      return stay(payment); // confirmed: STOP or expiry no longer undo it
    case PaymentState.COMPLETED:
    case PaymentState.FAILED:
      return stay(payment);
  }
}
