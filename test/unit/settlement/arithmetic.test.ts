// Settlement arithmetic: sums of per-payment rounded parts, refunds in the
// window they happen in, empty windows, and a batch that always adds up.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { batchCsv, operatorCsv, settle, SettlementArithmeticError, type CaptureMovement, type Movement } from '../../../services/settlement/arithmetic.js';
import { splitMerchantPayment } from '../../../services/payments/fees.js';

const capture = (merchantId: string, grossMinor: bigint, feeMinor: bigint, operatorShareMinor: bigint): CaptureMovement => ({
  kind: 'capture', merchantId, currency: 'KES', grossMinor, feeMinor, operatorShareMinor, payeeMinor: grossMinor - feeMinor - operatorShareMinor,
});
const refund = (merchantId: string, refundMinor: bigint): Movement => ({ kind: 'refund', merchantId, currency: 'KES', refundMinor });
const airtime = (amountMinor: bigint): Movement => ({ kind: 'airtime', currency: 'KES', amountMinor });
const airtimeRefund = (amountMinor: bigint): Movement => ({ kind: 'airtime_refund', currency: 'KES', amountMinor });

describe('settle', () => {
  it('sums per merchant and per operator', () => {
    const batch = settle('KES', [capture('SHOP42', 50_000n, 760n, 5_000n), capture('SHOP42', 10_000n, 160n, 1_000n), capture('EVCHARGE', 2_000n, 40n, 200n), refund('SHOP42', 3_000n)]);
    expect(batch.merchants).toEqual([
      { merchantId: 'EVCHARGE', currency: 'KES', payments: 1, refunds: 0, grossMinor: 2_000n, refundsMinor: 0n, feesMinor: 40n, operatorShareMinor: 200n, netPayableMinor: 1_760n },
      { merchantId: 'SHOP42', currency: 'KES', payments: 2, refunds: 1, grossMinor: 60_000n, refundsMinor: 3_000n, feesMinor: 920n, operatorShareMinor: 6_000n, netPayableMinor: 50_080n },
    ]);
    expect(batch.operator).toEqual({ currency: 'KES', owesMinor: 59_000n, owedMinor: 6_200n, airtimeOwedMinor: 0n });
  });

  it('an empty window is an empty batch, not an error', () => {
    expect(settle('KES', [])).toEqual({ merchants: [], operator: { currency: 'KES', owesMinor: 0n, owedMinor: 0n, airtimeOwedMinor: 0n } });
    expect(batchCsv('safaricom-ke/2026-11-20', settle('KES', []))).toBe('window,merchant_id,currency,payments,refunds,gross_minor,refunds_minor,fees_minor,operator_share_minor,net_payable_minor\n');
  });

  it('a refund in a later window comes off that window, which may then owe the merchant less than nothing', () => {
    const monday = settle('KES', [capture('SHOP42', 10_000n, 160n, 1_000n)]);
    const tuesday = settle('KES', [refund('SHOP42', 10_000n)]);
    expect(monday.merchants[0]?.netPayableMinor).toBe(8_840n);
    expect(tuesday.merchants[0]).toMatchObject({ payments: 0, refunds: 1, netPayableMinor: -10_000n });
    // Over both days the merchant keeps nothing and pays the fee and share of a payment it refunded in full.
    expect((monday.merchants[0]?.netPayableMinor ?? 0n) + (tuesday.merchants[0]?.netPayableMinor ?? 0n)).toBe(-1_160n);
  });

  it('never re-rounds: the batch is the exact sum of each payment\'s rounded fee and share', () => {
    const schedule = { id: 'standard', fixedMinor: 10n, percentBps: 150 };
    fc.assert(fc.property(fc.array(fc.bigInt({ min: 1_000n, max: 10_000_000n }), { maxLength: 50 }), (amounts) => {
      const movements = amounts.map((a) => {
        const split = splitMerchantPayment(a, schedule, 1_000);
        if (!split) throw new Error('unexpected');
        return capture('SHOP42', split.amountMinor, split.feeMinor, split.operatorShareMinor);
      });
      const batch = settle('KES', movements);
      const line = batch.merchants[0];
      if (amounts.length === 0) {
        expect(batch.merchants).toEqual([]);
        return;
      }
      expect(line?.grossMinor).toBe(amounts.reduce((s, a) => s + a, 0n));
      // Every minor unit is somewhere: merchant, fees or the operator.
      expect((line?.netPayableMinor ?? 0n) + (line?.feesMinor ?? 0n) + (line?.operatorShareMinor ?? 0n)).toBe(line?.grossMinor);
    }));
  });

  it('refuses movements that are not ours to pay out', () => {
    expect(() => settle('KES', [{ ...capture('SHOP42', 1_000n, 10n, 100n), currency: 'XOF' }])).toThrow(SettlementArithmeticError);
    expect(() => settle('KES', [{ ...capture('SHOP42', 1_000n, 10n, 100n), payeeMinor: 900n }])).toThrow(/do not add up/);
    expect(() => settle('KES', [refund('SHOP42', 0n)])).toThrow(SettlementArithmeticError);
  });

  it('writes a CSV with amounts in minor units', () => {
    expect(batchCsv('w1', settle('KES', [capture('SHOP42', 1_000n, 25n, 100n)])).split('\n')[1]).toBe('w1,SHOP42,KES,1,0,1000,0,25,100,875');
  });

  it('owes the operator the window\'s airtime less the top-ups it refused, beside its share, and pays no merchant for it', () => {
    const batch = settle('KES', [capture('SHOP42', 10_000n, 160n, 1_000n), airtime(5_000n), airtime(2_000n), airtimeRefund(2_000n)]);
    expect(batch.operator).toEqual({ currency: 'KES', owesMinor: 10_000n, owedMinor: 1_000n, airtimeOwedMinor: 5_000n });
    expect(batch.merchants.map((l) => l.merchantId)).toEqual(['SHOP42']);
    // A refusal of an earlier window's top-up comes off this window, which may then owe less than nothing.
    expect(settle('KES', [airtimeRefund(3_000n)]).operator.airtimeOwedMinor).toBe(-3_000n);
    expect(() => settle('KES', [airtime(0n)])).toThrow(SettlementArithmeticError);
    expect(() => settle('KES', [{ kind: 'airtime_refund', currency: 'XOF', amountMinor: 1n }])).toThrow(SettlementArithmeticError);
  });

  it('a wallet-funded payment pays the merchant but is not money the carrier collected, nor is its refund one the carrier paid back', () => {
    const batch = settle('KES', [
      capture('SHOP42', 10_000n, 160n, 1_000n),
      { ...capture('SHOP42', 4_000n, 70n, 400n), walletFunded: true },
      { kind: 'refund', merchantId: 'SHOP42', currency: 'KES', refundMinor: 1_000n, walletFunded: true },
      refund('SHOP42', 500n),
    ]);
    expect(batch.merchants[0]).toMatchObject({
      payments: 2, refunds: 2, grossMinor: 14_000n, refundsMinor: 1_500n, netPayableMinor: 8_840n + 3_530n - 1_500n,
    });
    expect(batch.operator).toEqual({ currency: 'KES', owesMinor: 10_000n - 500n, owedMinor: 1_400n, airtimeOwedMinor: 0n });
  });

  it('what the carrier collected includes its captures that paid no merchant (airtime, a transfer to a wallet)', () => {
    const batch = settle('KES', [capture('SHOP42', 10_000n, 160n, 1_000n), { kind: 'collected', currency: 'KES', amountMinor: 3_000n }, airtime(3_000n), airtimeRefund(3_000n)]);
    // The refused top-up went back to the wallet, not through the carrier: the carrier still collected it.
    expect(batch.operator).toEqual({ currency: 'KES', owesMinor: 13_000n, owedMinor: 1_000n, airtimeOwedMinor: 0n });
    expect(batch.merchants).toHaveLength(1);
    expect(() => settle('KES', [{ kind: 'collected', currency: 'KES', amountMinor: 0n }])).toThrow(SettlementArithmeticError);
  });

  it('writes the operator\'s line as CSV: owes, owed, airtime owed and, once booked, airtime settled', () => {
    const batch = settle('KES', [capture('SHOP42', 1_000n, 25n, 100n), airtime(300n)]);
    expect(operatorCsv('w1', 'safaricom-ke', batch)).toBe('window,operator_id,currency,owes_minor,owed_minor,airtime_owed_minor\nw1,safaricom-ke,KES,1000,100,300\n');
    expect(operatorCsv('w1', 'safaricom-ke', batch, 300n).split('\n')[1]).toBe('w1,safaricom-ke,KES,1000,100,300,300');
  });
});
