// Fees, booked with the payment. Pure. The payer is debited exactly the amount
// they typed; the split of that amount is:
//
//   merchant   = amount - fee - operatorShare
//   fee        = fixedMinor + percentage part   (dialpay's revenue)
//   operatorShare = amount * revenueShareBps / 10_000, rounded down
//
// Rounding: the fee's percentage part rounds half up (0.5 minor units and
// above go up), the operator's share rounds down; the merchant gets the exact
// remainder, so the parts always add up to the amount, to the last minor unit.
// Transfers between subscribers (SEND) carry no merchant fee and no share.

export interface FeeSchedule {
  readonly fixedMinor: bigint;
  readonly percentBps: number;
}

export interface PaymentSplit {
  readonly amountMinor: bigint;
  readonly feeMinor: bigint;
  readonly operatorShareMinor: bigint;
  readonly payeeMinor: bigint;
}

const BPS_SCALE = 10_000n;

/** Half-up division of non-negative integers. */
function divideHalfUp(numerator: bigint, denominator: bigint): bigint {
  return (numerator * 2n + denominator) / (denominator * 2n);
}

/** The split of a merchant payment, or null when fees would take the whole amount. */
export function splitMerchantPayment(amountMinor: bigint, schedule: FeeSchedule, revenueShareBps: number): PaymentSplit | null {
  if (amountMinor <= 0n) throw new RangeError('amount must be positive');
  if (schedule.percentBps < 0 || schedule.percentBps > 10_000 || revenueShareBps < 0 || revenueShareBps > 10_000) {
    throw new RangeError('basis points out of range');
  }
  const feeMinor = schedule.fixedMinor + divideHalfUp(amountMinor * BigInt(schedule.percentBps), BPS_SCALE);
  const operatorShareMinor = (amountMinor * BigInt(revenueShareBps)) / BPS_SCALE;
  const payeeMinor = amountMinor - feeMinor - operatorShareMinor;
  if (payeeMinor <= 0n) return null;
  const split = { amountMinor, feeMinor, operatorShareMinor, payeeMinor };
  assertSplit(split);
  return split;
}

/**
 * A cash-out at an agent (WITHDRAW): the fee is on top, so the agent's float receives exactly the
 * amount asked for and the wallet pays amount + fee. The fee (the operator's cashOutFeeScheduleId;
 * none: no fee) is split like a merchant payment's revenue: the operator's revenueShareBps of it,
 * rounded down, is the operator's share, the rest dialpay's.
 */
export function splitCashOut(amountMinor: bigint, schedule: FeeSchedule | null, revenueShareBps: number): PaymentSplit {
  if (amountMinor <= 0n) throw new RangeError('amount must be positive');
  if ((schedule && (schedule.percentBps < 0 || schedule.percentBps > 10_000)) || revenueShareBps < 0 || revenueShareBps > 10_000) {
    throw new RangeError('basis points out of range');
  }
  const totalFeeMinor = schedule ? schedule.fixedMinor + divideHalfUp(amountMinor * BigInt(schedule.percentBps), BPS_SCALE) : 0n;
  const operatorShareMinor = (totalFeeMinor * BigInt(revenueShareBps)) / BPS_SCALE;
  const split = {
    amountMinor: amountMinor + totalFeeMinor, feeMinor: totalFeeMinor - operatorShareMinor, operatorShareMinor, payeeMinor: amountMinor,
  };
  assertSplit(split);
  return split;
}

export function splitTransfer(amountMinor: bigint): PaymentSplit {
  if (amountMinor <= 0n) throw new RangeError('amount must be positive');
  return { amountMinor, feeMinor: 0n, operatorShareMinor: 0n, payeeMinor: amountMinor };
}

/** The parts add up to the amount and none is negative: a broken split is a bug, so it crashes. */
export function assertSplit(split: PaymentSplit): void {
  const { amountMinor, feeMinor, operatorShareMinor, payeeMinor } = split;
  if (feeMinor < 0n || operatorShareMinor < 0n || payeeMinor <= 0n || feeMinor + operatorShareMinor + payeeMinor !== amountMinor) {
    throw new Error(`payment split does not add up: ${JSON.stringify(split, (_k, v) => (typeof v === 'bigint' ? v.toString() : v))}`);
  }
}
