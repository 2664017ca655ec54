import { describe, expect, it } from 'vitest';
import { AccountIds, assertBalanced, captureTransfer, refundTransfer, reserveTransfer, voidTransfer, LedgerInvariantError } from '../../../services/billing/ledger/rules.js';

const reserve = { id: 'r1', paymentId: 'p1', currency: 'KES', amountMinor: 1_000n, payerAccountId: AccountIds.subscriber('254700000001') };

describe('ledger rules', () => {
  it('builds balanced reserve, capture and void transfers', () => {
    const r = reserveTransfer({ id: 'r1', paymentId: 'p1', currency: 'KES', payerAccountId: reserve.payerAccountId, amountMinor: 1_000n });
    expect(r.postings).toEqual([{ accountId: reserve.payerAccountId, amountMinor: -1_000n }, { accountId: 'holds:KES', amountMinor: 1_000n }]);
    const c = captureTransfer({ id: 'c1', reserve, payeeAccountId: 'merchant:SHOP42', payeeMinor: 700n, feeMinor: 20n, operatorShareMinor: 80n, operatorId: 'op' });
    expect(c.postings).toEqual([
      { accountId: 'holds:KES', amountMinor: -1_000n },
      { accountId: 'merchant:SHOP42', amountMinor: 700n },
      { accountId: 'fees:KES', amountMinor: 20n },
      { accountId: 'operator:op', amountMinor: 80n },
      { accountId: reserve.payerAccountId, amountMinor: 200n },
    ]);
    expect(voidTransfer('v1', reserve).postings.reduce((s, p) => s + p.amountMinor, 0n)).toBe(0n);
  });

  it('a refund moves money from the payee back to the payer, balanced', () => {
    const r = refundTransfer({ id: 'refund:x', paymentId: 'p1', currency: 'KES', amountMinor: 300n, payeeAccountId: AccountIds.merchant('SHOP42', 'KES'), payerAccountId: reserve.payerAccountId });
    expect(r.kind).toBe('refund');
    expect(r.postings).toEqual([{ accountId: 'merchant:SHOP42:KES', amountMinor: -300n }, { accountId: reserve.payerAccountId, amountMinor: 300n }]);
  });

  it('refuses to capture more than was reserved, or nothing', () => {
    expect(() => captureTransfer({ id: 'c2', reserve, payeeAccountId: 'm', payeeMinor: 1_001n, feeMinor: 0n, operatorShareMinor: 0n, operatorId: 'op' })).toThrow(LedgerInvariantError);
    expect(() => captureTransfer({ id: 'c3', reserve, payeeAccountId: 'm', payeeMinor: 0n, feeMinor: 0n, operatorShareMinor: 0n, operatorId: 'op' })).toThrow(LedgerInvariantError);
  });

  it('asserts the double-entry rule on any transfer', () => {
    const base = { id: 't', kind: 'transfer' as const, reserveId: null, paymentId: 'p', currency: 'KES', amountMinor: 5n };
    expect(() => assertBalanced({ ...base, postings: [{ accountId: 'a', amountMinor: -5n }, { accountId: 'b', amountMinor: 4n }] })).toThrow(/sum to -1/);
    expect(() => assertBalanced({ ...base, postings: [{ accountId: 'a', amountMinor: -5n }] })).toThrow(/two postings/);
    expect(() => assertBalanced({ ...base, postings: [{ accountId: 'a', amountMinor: 0n }, { accountId: 'b', amountMinor: 0n }] })).toThrow(/zero posting/);
    expect(() => assertBalanced({ ...base, amountMinor: 6n, postings: [{ accountId: 'a', amountMinor: -5n }, { accountId: 'b', amountMinor: 5n }] })).toThrow(/credits 5/);
  });
});
