// The risk rules (services/payments/risk-rules.ts): which apply to a payment (so only their facts are
// fetched), and whether each holds it given its facts.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  allowedWithoutFacts, holds, payeeKey, rulesFor, type RiskRulesConfig, type ScreenedPayment,
} from '../../../services/payments/risk-rules.js';

const payment = (over: Partial<ScreenedPayment> = {}): ScreenedPayment =>
  ({ amountMinor: 500_000n, currency: 'KES', payeeKind: 'subscriber', payeeId: '254700000001', ...over });
const ALL: RiskRulesConfig = {
  distinctPayees: { max: 3, windowMs: 3_600_000 },
  newPayeeAmountMinor: { KES: 100_000n },
  merchantSpike: { windowMs: 3_600_000, minPayments: 10, refundRatioMaxBps: 3_000, failureRatioMaxBps: 5_000 },
};

describe('risk rules: which apply', () => {
  it('none configured: none apply and none allow (nothing fetched, nothing counted)', () => {
    expect(rulesFor({}, payment())).toEqual([]);
    expect(allowedWithoutFacts({}, payment())).toEqual([]);
  });

  it('new-payee applies above its amount for the payment\'s currency only; at or below it, it allows without a fact', () => {
    expect(rulesFor(ALL, payment({ amountMinor: 100_001n }))).toContain('new-payee');
    expect(rulesFor(ALL, payment({ amountMinor: 100_000n }))).not.toContain('new-payee');
    expect(allowedWithoutFacts(ALL, payment({ amountMinor: 100_000n }))).toEqual(['new-payee']);
    expect(rulesFor(ALL, payment({ currency: 'XOF', amountMinor: 10n ** 12n }))).not.toContain('new-payee');
    expect(allowedWithoutFacts(ALL, payment({ currency: 'XOF' }))).toEqual([]);
  });

  it('merchant-spike applies to a merchant payee only; distinct-payees to any', () => {
    expect(rulesFor(ALL, payment({ payeeKind: 'merchant', payeeId: 'SHOP42' }))).toEqual(['new-payee', 'distinct-payees', 'merchant-spike']);
    expect(rulesFor(ALL, payment())).toEqual(['new-payee', 'distinct-payees']);
    expect(rulesFor(ALL, payment({ payeeKind: 'agent', payeeId: 'AG1', amountMinor: 1n }))).toEqual(['distinct-payees']);
  });
});

describe('risk rules: decisions', () => {
  it('new-payee holds a payee never paid before, allows one paid before', () => {
    expect(holds(ALL, payment(), { rule: 'new-payee', paidBefore: false })).toBe(true);
    expect(holds(ALL, payment(), { rule: 'new-payee', paidBefore: true })).toBe(false);
  });

  it('distinct-payees counts this payee unless it is among the recent ones, and holds past max', () => {
    const me = payment();
    const others = ['subscriber:254700000002', 'merchant:SHOP42', 'agent:AG1'];
    expect(holds(ALL, me, { rule: 'distinct-payees', recentPayees: others.slice(0, 2) })).toBe(false); // 3rd of max 3
    expect(holds(ALL, me, { rule: 'distinct-payees', recentPayees: others })).toBe(true); // 4th
    expect(holds(ALL, me, { rule: 'distinct-payees', recentPayees: [...others.slice(0, 2), payeeKey('subscriber', me.payeeId)] }))
      .toBe(false); // paying one of the 3 again
  });

  it('merchant-spike needs its minimum sample, then holds past either share (integer shares, strictly above)', () => {
    const shop = payment({ payeeKind: 'merchant', payeeId: 'SHOP42' });
    const spike = (payments: number, failed: number, refunded: number) => holds(ALL, shop, { rule: 'merchant-spike', payments, failed, refunded });
    expect(spike(9, 9, 9)).toBe(false); // under minPayments
    expect(spike(10, 5, 3)).toBe(false); // exactly 50 % failed, 30 % refunded: at the thresholds
    expect(spike(10, 6, 0)).toBe(true);
    expect(spike(10, 0, 4)).toBe(true);
  });

  it('distinct-payees agrees with counting the set by hand (property)', () => {
    const key = fc.constantFrom('subscriber:1', 'subscriber:2', 'merchant:A', 'merchant:B', 'agent:X', 'subscriber:254700000001');
    fc.assert(fc.property(fc.uniqueArray(key, { maxLength: 6 }), fc.integer({ min: 1, max: 6 }), (recent, max) => {
      const config: RiskRulesConfig = { distinctPayees: { max, windowMs: 60_000 } };
      const all = new Set([...recent, payeeKey('subscriber', '254700000001')]);
      expect(holds(config, payment(), { rule: 'distinct-payees', recentPayees: recent })).toBe(all.size > max);
    }), { numRuns: 500 });
  });

  it('merchant-spike never holds below its sample and always holds when every payment failed above it (property)', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 1_000 }), fc.integer({ min: 0, max: 9_999 }), (payments, bps) => {
      const config: RiskRulesConfig = {
        merchantSpike: { windowMs: 60_000, minPayments: 10, refundRatioMaxBps: bps, failureRatioMaxBps: bps },
      };
      const shop = payment({ payeeKind: 'merchant', payeeId: 'SHOP42' });
      expect(holds(config, shop, { rule: 'merchant-spike', payments, failed: payments, refunded: 0 })).toBe(payments >= 10);
    }), { numRuns: 500 });
  });
});
