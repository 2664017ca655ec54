// Spending limits per MSISDN, by KYC tier, and velocity. Pure: the caller
// supplies what the subscriber already spent; the rule says which limit, if
// any, this payment would break, so the reply can name it.
import type { Config } from '../../runtime/config/index.js';

/**
 * A subscriber's KYC tier's limits. One we do not know yet (no row) is tier 0, as its row will be
 * (payments.subscribers' default); a tier the config does not list falls back to the first listed.
 */
export function tierOf(config: Pick<Config, 'limits'>, kycTier: number | undefined): Config['limits']['tiers'][number] {
  const tiers = config.limits.tiers;
  const tier = kycTier ?? 0;
  return tiers.find((t) => t.tier === tier) ?? (tiers[0] as Config['limits']['tiers'][number]);
}

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
