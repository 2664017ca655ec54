// A reversal's ledger rule (issue 19): one balanced move from the payee's wallet back to the payer's,
// of kind 'reversal', under reversal:<payment_id> so a payment is reversed at most once.
import { describe, expect, it } from 'vitest';
import { LedgerInvariantError, reversalTransfer, reversalTransferId } from '../../../services/billing/ledger/rules.js';

const PAYMENT = '0b7c9a52-1f3e-4c1d-9a0e-2d5f6a7b8c9d';
const ok = { paymentId: PAYMENT, payeeMsisdn: '254700000002', payerMsisdn: '254700000001', currency: 'KES', amountMinor: 500n };

describe('reversal rule', () => {
  it('books subscriber:<payee> -> subscriber:<payer> under reversal:<payment_id>, linked to the payment', () => {
    const t = reversalTransfer(ok);
    expect(t).toMatchObject({ id: `reversal:${PAYMENT}`, kind: 'reversal', reserveId: null, paymentId: PAYMENT, currency: 'KES', amountMinor: 500n });
    expect(t.postings).toEqual([{ accountId: 'subscriber:254700000002', amountMinor: -500n }, { accountId: 'subscriber:254700000001', amountMinor: 500n }]);
    expect(reversalTransferId(PAYMENT)).toBe(t.id);
  });

  it('refuses nothing, a payment id that is not one, and a wallet paying itself', () => {
    expect(() => reversalTransfer({ ...ok, amountMinor: 0n })).toThrow(LedgerInvariantError);
    expect(() => reversalTransfer({ ...ok, paymentId: 'abc' })).toThrow(LedgerInvariantError);
    expect(() => reversalTransfer({ ...ok, payerMsisdn: ok.payeeMsisdn })).toThrow(LedgerInvariantError);
  });
});
