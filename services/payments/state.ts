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
// A risk hold (holds.ts): nothing reserved, no challenge; customer care decides.
//   RESERVING --billing's risk hold--> HELD --care releases--> RESERVING (asked again, not screened again)
//   (open(): a velocity rule fires)     +--care rejects, or not reviewed in time--> FAILED (+ void)
//
// A manual-capture payment (a metered service: reserve the most, charge what was used) stops
// between consent and capture:
//   CHALLENGED --right code/PIN--> AUTHORIZED --merchant captures--> CAPTURING
//                                      +--authorization expires, or STOP--> FAILED (+ void)

export const PaymentState = {
  RESERVING: 'reserving',
  /** Held by a risk rule for customer care: nothing reserved, no challenge sent (holds.ts). */
  HELD: 'held',
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
  /** A held payment customer care rejected. */
  RISK_REJECTED: 'risk-rejected',
  /** A held payment customer care did not review within risk.holdTtlMs. */
  HOLD_EXPIRED: 'hold-expired',
} as const;
export type FailureReasonValue = (typeof FailureReason)[keyof typeof FailureReason];

export type PaymentInput =
  | { readonly kind: 'reserve-result'; readonly ok: boolean; readonly insufficientFunds: boolean; readonly preauthorized?: boolean }
  /** Billing declined to reserve: risk rule `rule` failed (DEBIT_OUTCOME_RISK_HOLD). */
  | { readonly kind: 'risk-hold'; readonly rule: string }
  /** Customer care's decision on a held payment. */
  | { readonly kind: 'care-release' }
  | { readonly kind: 'care-reject' }
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
  /** Open a care case and tell the payer the payment is on hold (holds.ts). */
  | { readonly kind: 'hold'; readonly rule: string }
  /** Ask billing to reserve again, its risk checks cleared by care. */
  | { readonly kind: 'reserve' }
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
/** Failed for `reason`, releasing whatever is held. */
const fail = (challengeAttempts: number, reason: FailureReasonValue): Transition => ({
  state: PaymentState.FAILED, challengeAttempts, actions: [{ kind: 'void' }, { kind: 'fail', reason }],
});

export function transition(payment: PaymentSnapshot, input: PaymentInput): Transition {
  switch (payment.state) {
    case PaymentState.RESERVING: return fromReserving(payment, input);
    case PaymentState.HELD: return fromHeld(payment, input);
    case PaymentState.CHALLENGED: return fromChallenged(payment, input);
    case PaymentState.AUTHORIZED: return fromAuthorized(payment, input);
    case PaymentState.CAPTURING: return fromCapturing(payment, input);
    case PaymentState.COMPLETED:
    case PaymentState.FAILED:
      return stay(payment);
  }
}

function fromReserving(payment: PaymentSnapshot, input: PaymentInput): Transition {
  // Billing reserved nothing: no void, no challenge; care decides.
  if (input.kind === 'risk-hold') return { state: PaymentState.HELD, challengeAttempts: 0, actions: [{ kind: 'hold', rule: input.rule }] };
  if (input.kind === 'reserve-result') {
    // Under an active mandate the payer consented in advance: no challenge, capture at once.
    if (input.ok && input.preauthorized) return { state: PaymentState.CAPTURING, challengeAttempts: 0, actions: [{ kind: 'capture' }] };
    if (input.ok) return { state: PaymentState.CHALLENGED, challengeAttempts: 0, actions: [{ kind: 'challenge' }] };
    const reason = input.insufficientFunds ? FailureReason.INSUFFICIENT_FUNDS : FailureReason.CARRIER_ERROR;
    // A refused reserve holds nothing, but void anyway: an unanswered reserve may have gone through at the carrier.
    return fail(0, reason);
  }
  if (input.kind === 'stop') return fail(0, FailureReason.CANCELLED);
  // The carrier never answered the reserve: give up and release whatever it may hold.
  if (input.kind === 'expired') return fail(0, FailureReason.CARRIER_ERROR);
  return stay(payment);
}

function fromHeld(payment: PaymentSnapshot, input: PaymentInput): Transition {
  if (input.kind === 'care-release') return { state: PaymentState.RESERVING, challengeAttempts: 0, actions: [{ kind: 'reserve' }] };
  // Nothing is reserved, but the void makes the failure final at billing (a tombstone: no late reserve can take the debit id).
  if (input.kind === 'care-reject') return fail(0, FailureReason.RISK_REJECTED);
  if (input.kind === 'expired') return fail(0, FailureReason.HOLD_EXPIRED);
  // STOP does not end a hold: the case stays with care, who may be talking to the line's real owner.
  return stay(payment);
}

function fromChallenged(payment: PaymentSnapshot, input: PaymentInput): Transition {
  const { challengeAttempts } = payment;
  switch (input.kind) {
    case 'answer': {
      if (input.correct && input.manualCapture) {
        return { state: PaymentState.AUTHORIZED, challengeAttempts, actions: [{ kind: 'authorize' }] };
      }
      if (input.correct) return { state: PaymentState.CAPTURING, challengeAttempts, actions: [{ kind: 'capture' }] };
      const attempts = challengeAttempts + 1;
      if (attempts >= input.attemptsMax) return fail(attempts, FailureReason.WRONG_CODE);
      return {
        state: PaymentState.CHALLENGED, challengeAttempts: attempts,
        actions: [{ kind: 'retry-prompt', attemptsLeft: input.attemptsMax - attempts }],
      };
    }
    case 'expired':
      return fail(challengeAttempts, FailureReason.EXPIRED);
    case 'over-limit':
      return fail(challengeAttempts, FailureReason.LIMIT);
    case 'stop':
      return fail(challengeAttempts, FailureReason.CANCELLED);
    default:
      return stay(payment);
  }
}

function fromAuthorized(payment: PaymentSnapshot, input: PaymentInput): Transition {
  const { challengeAttempts } = payment;
  if (input.kind === 'merchant-capture') return { state: PaymentState.CAPTURING, challengeAttempts, actions: [{ kind: 'capture' }] };
  // The merchant never charged: release the hold.
  if (input.kind === 'expired') return fail(challengeAttempts, FailureReason.EXPIRED);
  // STOP ends any standing authorisation (DESIGN.md): what was not captured is not taken.
  if (input.kind === 'stop') return fail(challengeAttempts, FailureReason.CANCELLED);
  return stay(payment);
}

function fromCapturing(payment: PaymentSnapshot, input: PaymentInput): Transition {
  if (input.kind !== 'capture-result') return stay(payment); // confirmed: STOP or expiry no longer undo it
  const { challengeAttempts } = payment;
  if (input.ok) {
    return {
      state: PaymentState.COMPLETED, challengeAttempts,
      actions: [{ kind: 'receipts', ...(input.topUpRefunded ? { topUpRefunded: true } : {}) }],
    };
  }
  return fail(challengeAttempts, input.walletBalanceMax ? FailureReason.WALLET_BALANCE_MAX : FailureReason.CARRIER_ERROR);
}
