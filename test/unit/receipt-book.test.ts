// The harness counts receipts per phone and payment reference: the 8-character reference repeats
// across payments at load (two payments 06B0A236-…), and that must not read as a doubled receipt.
import { describe, expect, it } from 'vitest';
import { ReceiptBook, receiptKey } from '../../load-tests/harness/invariants.js';

describe('ReceiptBook', () => {
  it('counts two payments that share a reference once each, by the phone each receipt went to', () => {
    const book = new ReceiptBook();
    book.note('Paid 1.00 KES to +254700000002. Fee 0.00 KES. Ref 06B0A236', 'a', '254700000001');
    book.note('Paid 1.00 KES to +254700000004. Fee 0.00 KES. Ref 06B0A236', 'b', '254700000003');
    expect(book.payer.get(receiptKey('254700000001', '06b0a236'))).toBe(1);
    expect(book.payer.get(receiptKey('+254700000003', '06B0A236'))).toBe(1);
    expect(book.copiesOf('payer', receiptKey('254700000001', '06B0A236'))).toEqual([]);
  });

  it('still sees the same receipt twice on one phone, with the SMSC id of each copy', () => {
    const book = new ReceiptBook();
    book.note('Received 1.00 KES from +254700000001. Ref 0A1B2C3D', 'first', '254700000002');
    book.note('Received 1.00 KES from +254700000001. Ref 0A1B2C3D', 'second', '254700000002');
    const key = receiptKey('254700000002', '0A1B2C3D');
    expect(book.payee.get(key)).toBe(2);
    expect(book.copiesOf('payee', key)).toEqual(['first', 'second']);
  });
});
