// Merchant payouts to wallets in a settlement window (issue 16): they come off the merchant's net
// like refunds, are counted on its line and in the CSV, and change nothing the operator owes or is owed.
import { describe, expect, it } from 'vitest';
import { batchCsv, settle, SettlementArithmeticError, type CaptureMovement, type Movement } from '../../../services/settlement/arithmetic.js';

const capture = (merchantId: string, grossMinor: bigint, feeMinor: bigint, operatorShareMinor: bigint): CaptureMovement => ({
  kind: 'capture', merchantId, currency: 'KES', grossMinor, feeMinor, operatorShareMinor, payeeMinor: grossMinor - feeMinor - operatorShareMinor,
});
const payout = (merchantId: string, amountMinor: bigint): Movement => ({ kind: 'payout', merchantId, currency: 'KES', amountMinor });

describe('settle with payouts', () => {
  it('takes payouts off the net and shows them on the line', () => {
    const withPayouts = settle('KES', [capture('SHOP42', 10_000n, 250n, 1_000n), payout('SHOP42', 3_000n), payout('SHOP42', 500n), capture('EVCHARGE', 2_000n, 40n, 200n)]);
    const without = settle('KES', [capture('SHOP42', 10_000n, 250n, 1_000n), capture('EVCHARGE', 2_000n, 40n, 200n)]);
    expect(withPayouts.merchants).toEqual([
      { merchantId: 'EVCHARGE', currency: 'KES', payments: 1, refunds: 0, grossMinor: 2_000n, refundsMinor: 0n, feesMinor: 40n, operatorShareMinor: 200n, netPayableMinor: 1_760n },
      { merchantId: 'SHOP42', currency: 'KES', payments: 1, refunds: 0, grossMinor: 10_000n, refundsMinor: 0n, feesMinor: 250n, operatorShareMinor: 1_000n, netPayableMinor: 5_250n, payouts: 2, payoutsMinor: 3_500n },
    ]);
    expect(withPayouts.operator).toEqual(without.operator); // ledger-only: no carrier collected or paid it
  });

  it('a window of payouts alone nets below zero (carried like refunds)', () => {
    expect(settle('KES', [payout('SHOP42', 700n)]).merchants[0]).toMatchObject({ payments: 0, payouts: 1, payoutsMinor: 700n, netPayableMinor: -700n });
  });

  it('refuses a payout that is not positive', () => {
    expect(() => settle('KES', [payout('SHOP42', 0n)])).toThrow(SettlementArithmeticError);
  });

  it('adds payouts columns to the CSV only for a window with payouts', () => {
    const csv = batchCsv('w1', settle('KES', [capture('SHOP42', 1_000n, 25n, 100n), payout('SHOP42', 300n), capture('EVCHARGE', 1_000n, 25n, 100n)]), { SHOP42: 575n });
    expect(csv.split('\n')).toEqual([
      'window,merchant_id,currency,payments,refunds,gross_minor,refunds_minor,fees_minor,operator_share_minor,net_payable_minor,payouts,payouts_minor,paid_out_minor',
      'w1,EVCHARGE,KES,1,0,1000,0,25,100,875,0,0,0',
      'w1,SHOP42,KES,1,0,1000,0,25,100,575,1,300,575',
      '',
    ]);
    expect(batchCsv('w1', settle('KES', [capture('SHOP42', 1_000n, 25n, 100n)])).split('\n')[0]).not.toMatch(/payouts/);
  });
});
