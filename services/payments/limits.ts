// Spending limits per MSISDN, by KYC tier, and velocity. Pure: the caller
// supplies what the subscriber already spent; the rule says which limit, if
// any, this payment would break, so the reply can name it.

export interface TierLimits {
  readonly perTransactionMaxMinor: bigint;
  readonly dailyMaxMinor: bigint;
  readonly monthlyMaxMinor: bigint;
}

export interface SpendingSoFar {
  /** Reserved or captured today (UTC day), pending payments included so none can slip past the cap. */
  readonly todayMinor: bigint;
  readonly monthMinor: bigint;
  readonly paymentsLastMinute: number;
}

export const LimitKind = { PER_TRANSACTION: 'per-transaction', DAILY: 'daily', MONTHLY: 'monthly', VELOCITY: 'velocity' } as const;
export type LimitKindValue = (typeof LimitKind)[keyof typeof LimitKind];

export type LimitDecision =
  | { readonly allowed: true }
  | { readonly allowed: false; readonly limit: LimitKindValue; readonly limitMinor: bigint; readonly remainingMinor: bigint };

export function checkLimits(amountMinor: bigint, tier: TierLimits, spent: SpendingSoFar, paymentsPerMinuteMax: number): LimitDecision {
  if (amountMinor <= 0n) throw new RangeError('amount must be positive');
  if (amountMinor > tier.perTransactionMaxMinor) {
    return { allowed: false, limit: LimitKind.PER_TRANSACTION,
      limitMinor: tier.perTransactionMaxMinor, remainingMinor: tier.perTransactionMaxMinor };
  }
  if (spent.todayMinor + amountMinor > tier.dailyMaxMinor) {
    return { allowed: false, limit: LimitKind.DAILY,
      limitMinor: tier.dailyMaxMinor, remainingMinor: max0(tier.dailyMaxMinor - spent.todayMinor) };
  }
  if (spent.monthMinor + amountMinor > tier.monthlyMaxMinor) {
    return { allowed: false, limit: LimitKind.MONTHLY,
      limitMinor: tier.monthlyMaxMinor, remainingMinor: max0(tier.monthlyMaxMinor - spent.monthMinor) };
  }
  if (spent.paymentsLastMinute >= paymentsPerMinuteMax) {
    return { allowed: false, limit: LimitKind.VELOCITY, limitMinor: 0n, remainingMinor: 0n };
  }
  return { allowed: true };
}

function max0(value: bigint): bigint {
  return value > 0n ? value : 0n;
}
