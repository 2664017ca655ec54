import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { splitMerchantPayment, splitTransfer, assertSplit } from '../../../services/payments/fees.js';
import { checkLimits } from '../../../services/payments/limits.js';

describe('fees', () => {
  it('splits a payment: fixed + percentage (half up) fee, operator share (down), merchant the rest', () => {
    // 500.00 KES, 0.10 + 1.5% fee, 10% share: fee 7.60, share 50.00, merchant 442.40
    expect(splitMerchantPayment(50_000n, { fixedMinor: 10n, percentBps: 150 }, 1_000))
      .toEqual({ amountMinor: 50_000n, feeMinor: 760n, operatorShareMinor: 5_000n, payeeMinor: 44_240n });
    // 0.33 at 1.5% = 0.495 minor units -> rounds half up to 0; 0.34 -> 0.51 -> 1
    expect(splitMerchantPayment(33n, { fixedMinor: 0n, percentBps: 150 }, 0)?.feeMinor).toBe(0n);
    expect(splitMerchantPayment(34n, { fixedMinor: 0n, percentBps: 150 }, 0)?.feeMinor).toBe(1n);
    expect(splitMerchantPayment(100n, { fixedMinor: 0n, percentBps: 50 }, 0)?.feeMinor).toBe(1n); // exactly 0.5 goes up
    expect(splitMerchantPayment(19n, { fixedMinor: 0n, percentBps: 0 }, 1_000)?.operatorShareMinor).toBe(1n); // 1.9 goes down
  });

  it('refuses a payment whose fees would take it all', () => {
    expect(splitMerchantPayment(10n, { fixedMinor: 10n, percentBps: 0 }, 0)).toBeNull();
  });

  it('SEND moves the whole amount to the payee', () => {
    expect(splitTransfer(20_000n)).toEqual({ amountMinor: 20_000n, feeMinor: 0n, operatorShareMinor: 0n, payeeMinor: 20_000n });
  });

  it('always adds up to the amount, to the last minor unit (property)', () => {
    fc.assert(fc.property(fc.bigInt({ min: 1n, max: 10n ** 15n }), fc.bigInt({ min: 0n, max: 1_000n }),
      fc.integer({ min: 0, max: 5_000 }), fc.integer({ min: 0, max: 4_000 }), (amount, fixed, pct, share) => {
        const split = splitMerchantPayment(amount, { fixedMinor: fixed, percentBps: pct }, share);
        if (split) expect(split.feeMinor + split.operatorShareMinor + split.payeeMinor).toBe(amount);
      }));
  });

  it('crashes on a split that does not add up', () => {
    expect(() => assertSplit({ amountMinor: 100n, feeMinor: 1n, operatorShareMinor: 1n, payeeMinor: 99n })).toThrow(/does not add up/);
  });
});

describe('limits', () => {
  const tier = { perTransactionMaxMinor: 5_000n, dailyMaxMinor: 10_000n, monthlyMaxMinor: 20_000n };
  const none = { todayMinor: 0n, monthMinor: 0n, paymentsLastMinute: 0 };

  it('names the limit a payment would break', () => {
    expect(checkLimits(5_000n, tier, none, 5)).toEqual({ allowed: true });
    expect(checkLimits(5_001n, tier, none, 5)).toMatchObject({ allowed: false, limit: 'per-transaction', limitMinor: 5_000n });
    expect(checkLimits(2_000n, tier, { ...none, todayMinor: 9_000n }, 5)).toMatchObject({ allowed: false, limit: 'daily', remainingMinor: 1_000n });
    expect(checkLimits(2_000n, tier, { ...none, monthMinor: 19_000n }, 5)).toMatchObject({ allowed: false, limit: 'monthly', remainingMinor: 1_000n });
    expect(checkLimits(1n, tier, { ...none, paymentsLastMinute: 5 }, 5)).toMatchObject({ allowed: false, limit: 'velocity' });
  });

  it('never lets the day or the month exceed its cap (property)', () => {
    fc.assert(fc.property(fc.array(fc.bigInt({ min: 1n, max: 6_000n }), { maxLength: 50 }), (amounts) => {
      let today = 0n;
      for (const a of amounts) {
        if (checkLimits(a, tier, { todayMinor: today, monthMinor: today, paymentsLastMinute: 0 }, 100).allowed) today += a;
      }
      expect(today).toBeLessThanOrEqual(tier.dailyMaxMinor);
    }));
  });
});
