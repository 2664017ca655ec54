// Cash-out's fee on top, and a cash-in refused at capture for the payee's wallet cap: pure parts of cash.ts.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { splitCashOut } from '../../../services/payments/fees.js';
import { FailureReason, PaymentState, transition } from '../../../services/payments/state.js';
import { maskedNumber } from '../../../services/payments/cash.js';
import { cashInFailedReply } from '../../../services/payments/refusals.js';

describe('splitCashOut', () => {
  it('puts the fee on top: the agent gets the amount, the wallet pays amount + fee, the operator its share of the fee', () => {
    // 500.00 with 10.00 + 1% = 15.00 fee; 10% of the fee (1.50) is the operator's.
    expect(splitCashOut(50_000n, { fixedMinor: 1_000n, percentBps: 100 }, 1_000))
      .toEqual({ amountMinor: 51_500n, feeMinor: 1_350n, operatorShareMinor: 150n, payeeMinor: 50_000n });
    // No schedule: no fee.
    expect(splitCashOut(50_000n, null, 1_000)).toEqual({ amountMinor: 50_000n, feeMinor: 0n, operatorShareMinor: 0n, payeeMinor: 50_000n });
    expect(() => splitCashOut(0n, null, 0)).toThrow(RangeError);
  });

  it('always adds up, and the payee gets exactly the amount (property)', () => {
    fc.assert(fc.property(fc.bigInt({ min: 1n, max: 10n ** 14n }), fc.bigInt({ min: 0n, max: 100_000n }),
      fc.integer({ min: 0, max: 10_000 }), fc.integer({ min: 0, max: 10_000 }), (amount, fixed, bps, share) => {
        const split = splitCashOut(amount, { fixedMinor: fixed, percentBps: bps }, share);
        expect(split.payeeMinor).toBe(amount);
        expect(split.feeMinor + split.operatorShareMinor + split.payeeMinor).toBe(split.amountMinor);
        expect(split.feeMinor >= 0n && split.operatorShareMinor >= 0n).toBe(true);
      }));
  });
});

it('a capture refused for the wallet cap fails the payment with its own reason, and voids the hold', () => {
  const next = transition({ state: PaymentState.CAPTURING, challengeAttempts: 0 }, { kind: 'capture-result', ok: false, walletBalanceMax: true });
  expect(next).toEqual({ state: PaymentState.FAILED, challengeAttempts: 0, actions: [{ kind: 'void' }, { kind: 'fail', reason: FailureReason.WALLET_BALANCE_MAX }] });
  const other = transition({ state: PaymentState.CAPTURING, challengeAttempts: 0 }, { kind: 'capture-result', ok: false });
  expect(other.actions).toContainEqual({ kind: 'fail', reason: FailureReason.CARRIER_ERROR });
});

it('tells the agent its float is short, not "insufficient balance", and masks numbers in receipts', () => {
  expect(cashInFailedReply(FailureReason.INSUFFICIENT_FUNDS, 50_000n, 'KES', '+254712345678', 'en')).toBe('Deposit of 500.00 KES to +254712345678 failed: float too low. Nothing was moved.');
  expect(cashInFailedReply(FailureReason.WALLET_BALANCE_MAX, 500n, 'XOF', '+221771234567', 'fr')).toBe('Depot de 500 XOF pour +221771234567 echoue: le portefeuille de l abonne depasserait sa limite. Rien n a ete deplace.');
  expect(maskedNumber('254712345678')).toBe('+2547******78');
});
