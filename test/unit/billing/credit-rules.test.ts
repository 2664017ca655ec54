// Credits' ledger rules (issue 16): an operator's deposit and a merchant's payout are each one
// balanced move into the subscriber's wallet, of kind 'credit', under credit:<credit_id>.
import { describe, expect, it } from 'vitest';
import { ACCOUNT_READERS, creditTransferId, LedgerInvariantError, operatorDepositTransfer, payoutTransfer } from '../../../services/billing/ledger/rules.js';

const CREDIT = '0b7c9a52-1f3e-4c1d-9a0e-2d5f6a7b8c9d';

describe('credit rules', () => {
  it('books a deposit funding:<operator> -> subscriber:<msisdn> under credit:<credit_id>', () => {
    const t = operatorDepositTransfer({ creditId: CREDIT, operatorId: 'orange-sn', msisdn: '221771234567', currency: 'XOF', amountMinor: 50_000n });
    expect(t).toMatchObject({ id: `credit:${CREDIT}`, kind: 'credit', reserveId: null, paymentId: CREDIT, currency: 'XOF', amountMinor: 50_000n });
    expect(t.postings).toEqual([{ accountId: 'funding:orange-sn', amountMinor: -50_000n }, { accountId: 'subscriber:221771234567', amountMinor: 50_000n }]);
    expect(creditTransferId(CREDIT)).toBe(t.id);
  });

  it('books a payout merchant:<merchant>:<currency> -> subscriber:<msisdn>', () => {
    const t = payoutTransfer({ creditId: CREDIT, merchantId: 'SHOP42', msisdn: '254700000001', currency: 'KES', amountMinor: 1_234n });
    expect(t).toMatchObject({ id: `credit:${CREDIT}`, kind: 'credit', currency: 'KES', amountMinor: 1_234n });
    expect(t.postings).toEqual([{ accountId: 'merchant:SHOP42:KES', amountMinor: -1_234n }, { accountId: 'subscriber:254700000001', amountMinor: 1_234n }]);
  });

  it('refuses nothing, less than nothing, and a credit id that cannot name a transfer', () => {
    const ok = { creditId: CREDIT, merchantId: 'SHOP42', msisdn: '254700000001', currency: 'KES', amountMinor: 1n };
    expect(() => payoutTransfer({ ...ok, amountMinor: 0n })).toThrow(LedgerInvariantError);
    expect(() => payoutTransfer({ ...ok, amountMinor: -5n })).toThrow(LedgerInvariantError);
    expect(() => payoutTransfer({ ...ok, creditId: '' })).toThrow(LedgerInvariantError);
    expect(() => operatorDepositTransfer({ ...ok, operatorId: 'orange-sn', creditId: 'a:b' })).toThrow(LedgerInvariantError);
    expect(() => operatorDepositTransfer({ ...ok, operatorId: 'orange-sn', creditId: 'x'.repeat(65) })).toThrow(LedgerInvariantError);
  });

  it('names the credits among the readers of the accounts they debit', () => {
    expect(ACCOUNT_READERS.merchant_payable.readBy).toMatch(/payouts/);
    expect(ACCOUNT_READERS.operator_funding.readBy).toMatch(/deposits/);
  });
});
