// What the DLQ keeps of an outbound SMS: the one-time code masked, the rest as it was.
import { expect, it } from 'vitest';
import { Events, newEnvelope } from '../../../runtime/nats/index.js';
import { redactCodesForDeadLetter } from '../../../gateway/smpp/outbound.js';

const sms = (text: string) => Events.smsOutbound.type.encode({ envelope: newEnvelope({ producer: 'test' }), messageRef: 'r1', operatorId: 'op', toMsisdn: '254700000001', fromAddress: '384', text }).finish();
const textOf = (bytes: Uint8Array) => Events.smsOutbound.type.decode(bytes).text;

it('masks YES/OUI codes and keeps everything else', () => {
  expect(textOf(redactCodesForDeadLetter(sms('Pay 1500.00 KES to Duka (SHOP42)? Reply YES 4821 within 2 min.')))).toBe('Pay 1500.00 KES to Duka (SHOP42)? Reply YES **** within 2 min.');
  expect(textOf(redactCodesForDeadLetter(sms('Payer 500 XOF ? Repondez OUI 90210833 sous 2 min.')))).toBe('Payer 500 XOF ? Repondez OUI **** sous 2 min.');
  const receipt = sms('Paid 150.00 KES to Duka (SHOP42). Fee 2.35 KES. Ref F211625B.');
  expect(redactCodesForDeadLetter(receipt)).toBe(receipt); // nothing to hide: the very same bytes
  const envelope = Events.smsOutbound.type.decode(redactCodesForDeadLetter(sms('YES 1234')));
  expect(envelope).toMatchObject({ messageRef: 'r1', toMsisdn: '254700000001', text: 'YES ****' });
});

it('passes bytes that are not an SmsOutbound through unchanged', () => {
  const garbage = new Uint8Array([0xff, 0xff, 0xff]);
  expect(redactCodesForDeadLetter(garbage)).toBe(garbage);
});
