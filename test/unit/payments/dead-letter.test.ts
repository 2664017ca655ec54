// What the DLQ keeps of a subscriber's SMS: confirmations and bare PINs masked, the rest as it was.
import { expect, it } from 'vitest';
import { Events, newEnvelope } from '../../../runtime/nats/index.js';
import { maskSmsSecrets } from '../../../services/payments/sms-grammar.js';
import { maskInboundSmsForDeadLetter } from '../../../services/payments/dead-letter.js';

it('masks the code of a confirmation, in English and French, however it is typed', () => {
  expect(maskSmsSecrets('YES 4821')).toBe('YES ****');
  expect(maskSmsSecrets('oui 90210833')).toBe('oui ****');
  expect(maskSmsSecrets('  Yes   4821 ')).toBe('  Yes   **** ');
  expect(maskSmsSecrets('YES4821')).toBe('YES****');
  expect(maskSmsSecrets('YES 48 21')).toBe('YES **** ****'); // a mistyped code is still most of one
  expect(maskSmsSecrets('YES 482')).toBe('YES ****'); // too short to parse, still masked
});

it('masks a bare PIN or code, also one with separators or of the wrong length', () => {
  expect(maskSmsSecrets('3579')).toBe('****');
  expect(maskSmsSecrets(' 3579\n')).toBe(' ****\n');
  expect(maskSmsSecrets('35 79')).toBe('**** ****');
  expect(maskSmsSecrets('357')).toBe('****');
  expect(maskSmsSecrets('1234567')).toBe('****');
});

it('leaves commands without secrets as they are', () => {
  for (const text of ['PAY SHOP42 500 ref', 'SEND 0712345678 200', 'BAL', 'SOLDE', 'STOP', 'HELP', 'YESTERDAY 12', 'LANG FR', '']) {
    expect(maskSmsSecrets(text)).toBe(text);
  }
});

const sms = (text: string) => Events.smsInbound.type.encode({ envelope: newEnvelope({ producer: 'test' }), operatorId: 'safaricom-ke', fromMsisdn: '254700000123', toAddress: '384', text, smscMessageId: 'm1', bindId: 'b0' }).finish();

it('masks the text inside an SmsInbound and keeps every other field', () => {
  const original = Events.smsInbound.type.decode(sms('3579'));
  const masked = Events.smsInbound.type.decode(maskInboundSmsForDeadLetter(Events.smsInbound.type.encode(original).finish()));
  expect(masked.text).toBe('****');
  expect({ ...masked, text: original.text }).toEqual(original);
  expect(Events.smsInbound.type.decode(maskInboundSmsForDeadLetter(sms('YES 4821'))).text).toBe('YES ****');
});

it('passes an SMS with nothing to hide, and bytes that are not an SmsInbound, through as the very same bytes', () => {
  const pay = sms('PAY SHOP42 500 ref');
  expect(maskInboundSmsForDeadLetter(pay)).toBe(pay);
  const garbage = new Uint8Array([0xff, 0xff, 0xff]);
  expect(maskInboundSmsForDeadLetter(garbage)).toBe(garbage);
});
