// What the DLQ keeps of an outbound SMS: the spans its writer marked secret masked, the rest as it
// was. The gateway masks by the marks only, never by the wording.
import { expect, it } from 'vitest';
import { Events, newEnvelope } from '../../../runtime/nats/index.js';
import { redactCodesForDeadLetter } from '../../../gateway/smpp/outbound.js';

const sms = (text: string, secretSpans: { start: number; length: number }[] = []) =>
  Events.smsOutbound.type.encode({ envelope: newEnvelope({ producer: 'test' }), messageRef: 'r1', operatorId: 'op', toMsisdn: '254700000001', fromAddress: '384', text, secretSpans }).finish();
const decoded = (bytes: Uint8Array) => Events.smsOutbound.type.decode(bytes);
const spanOf = (text: string, secret: string) => ({ start: text.indexOf(secret), length: secret.length });

it('masks a reworded challenge by its marked span, whatever the wording', () => {
  const text = 'Votre code secret est le 90210833 — valable 2 min 🙂';
  const dead = decoded(redactCodesForDeadLetter(sms(text, [spanOf(text, '90210833')])));
  expect(dead.text).toBe('Votre code secret est le **** — valable 2 min 🙂');
  expect(dead.secretSpans).toEqual([{ start: 25, length: 4 }]);
  expect(dead).toMatchObject({ messageRef: 'r1', toMsisdn: '254700000001' });
  // After a non-BMP character: spans count UTF-16 code units.
  const emoji = '🙂🙂 code 4821 ok';
  expect(decoded(redactCodesForDeadLetter(sms(emoji, [spanOf(emoji, '4821')]))).text).toBe('🙂🙂 code **** ok');
});

it('keeps a text without marks as the very same bytes, even one that looks like a code', () => {
  const receipt = sms('Paid 150.00 KES to Duka (SHOP42). Fee 2.35 KES. Ref F211625B.');
  expect(redactCodesForDeadLetter(receipt)).toBe(receipt);
  const unmarked = sms('Reply YES 4821 within 2 min.');
  expect(redactCodesForDeadLetter(unmarked)).toBe(unmarked);
});

it('passes bytes that are not an SmsOutbound through unchanged', () => {
  const garbage = new Uint8Array([0xff, 0xff, 0xff]);
  expect(redactCodesForDeadLetter(garbage)).toBe(garbage);
});
