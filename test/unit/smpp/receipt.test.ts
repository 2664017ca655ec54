import { describe, expect, it } from 'vitest';
import { formatReceiptText, normalizeMessageId, parseReceipt, parseReceiptDate } from '../../../gateway/smpp/codec/receipt.js';

describe('receipt parsing', () => {
  it('reads the SMPP 3.4 appendix B text with 10-digit dates', () => {
    const r = parseReceipt({ text: 'id:0123456789 sub:001 dlvrd:001 submit date:2611211030 done date:2611211031 stat:DELIVRD err:000 text:PAY SHOP42 500' });
    expect(r).toEqual({ messageId: '0123456789', state: 'DELIVERED', errorCode: '000', submittedAtUnixMs: Date.UTC(2026, 10, 21, 10, 30), doneAtUnixMs: Date.UTC(2026, 10, 21, 10, 31) });
  });

  it('reads 12-digit dates, a capitalised Text:, and odd spacing', () => {
    const r = parseReceipt({ text: 'id:A1B2 sub:001 dlvrd:000 submit date:261121103005 done date:261121103107 stat:UNDELIV err:034 Text:hello' });
    expect(r?.state).toBe('UNDELIVERABLE');
    expect(r?.errorCode).toBe('034');
    expect(r?.doneAtUnixMs).toBe(Date.UTC(2026, 10, 21, 10, 31, 7));
    expect(parseReceipt({ text: 'id: 77  sub:1 dlvrd:1 submit date:2611211030 done date:2611211030 stat: EXPIRED err:0' })?.messageId).toBe('77');
  });

  it('prefers the TLVs over the text', () => {
    const r = parseReceipt({ receiptedMessageId: 'ff01', messageState: 2, networkErrorCode: Buffer.from([3, 0x00, 0x22]), text: 'id:other stat:UNDELIV' });
    expect(r).toMatchObject({ messageId: 'ff01', state: 'DELIVERED', errorCode: '3:34' });
  });

  it('returns null for text that is not a receipt', () => {
    expect(parseReceipt({ text: 'PAY SHOP42 500' })).toBeNull();
    expect(parseReceipt({ text: 'id:1 stat:WHATEVER' })?.state).toBe('UNKNOWN'); // an id with an odd stat: still tells its message something
    expect(parseReceiptDate('2613451030')).not.toBeNull(); // month 13 rolls over in Date.UTC; still a number
    expect(parseReceiptDate('26112110')).toBeNull();
  });

  it('normalises hex and decimal ids per operator so submit and receipt ids meet', () => {
    expect(normalizeMessageId('1A2B', 'hex')).toBe('6699');
    expect(normalizeMessageId('0006699', 'decimal')).toBe('6699');
    expect(normalizeMessageId(' AbC-1 ', 'as-is')).toBe('abc-1');
    expect(normalizeMessageId('not-hex', 'hex')).toBe('not-hex');
  });

  it('formats the receipts we send in server mode so that our own parser and others read them', () => {
    const text = formatReceiptText({ messageId: '42', state: 'DELIVERED', submittedAtUnixMs: Date.UTC(2026, 0, 2, 3, 4), doneAtUnixMs: Date.UTC(2026, 0, 2, 3, 5), errorCode: '0', text: 'hello' });
    expect(text).toBe('id:42 sub:001 dlvrd:001 submit date:2601020304 done date:2601020305 stat:DELIVRD err:000 text:hello');
    expect(parseReceipt({ text })?.state).toBe('DELIVERED');
  });
});
