// What the DLQ keeps of a subscriber's SMS: every digit masked unless the text is a PAY, SEND or AIRTIME a
// replay needs (or a command without digits), the rest as it was.
import fc from 'fast-check';
import { expect, it } from 'vitest';
import { Events, newEnvelope } from '../../../runtime/nats/index.js';
import { maskSmsSecrets as maskIn, parseSmsCommand, type GrammarContext } from '../../../services/payments/sms-grammar.js';
import { inboundSmsDeadLetterMasker } from '../../../services/payments/dead-letter.js';

const KE: GrammarContext = { currency: 'KES', countryCallingCode: '254', defaultLanguage: 'en' };
const maskSmsSecrets = (text: string) => maskIn(text, KE);
const maskInboundSmsForDeadLetter = inboundSmsDeadLetterMasker([{ id: 'safaricom-ke', currency: 'KES', countryCallingCode: '254' }]);

it('masks the code of a confirmation, in English and French, however it is typed', () => {
  expect(maskSmsSecrets('YES 4821')).toBe('YES ****');
  expect(maskSmsSecrets('oui 90210833')).toBe('oui ****');
  expect(maskSmsSecrets('  Yes   4821 ')).toBe('  Yes   **** ');
  expect(maskSmsSecrets('YES4821')).toBe('YES****');
  expect(maskSmsSecrets('YES 48 21')).toBe('YES **** ****'); // a mistyped code is still most of one
  expect(maskSmsSecrets('YES 482')).toBe('YES ****'); // too short to parse, still masked
});

it('masks the code of a confirmation typed with punctuation, or in pieces', () => {
  expect(maskSmsSecrets('Yes, 4821')).toBe('Yes, ****');
  expect(maskSmsSecrets('YES:4821')).toBe('YES:****');
  expect(maskSmsSecrets('yes-4821')).toBe('yes-****');
  expect(maskSmsSecrets('YES 48 21')).toBe('YES **** ****');
  expect(maskSmsSecrets('OUI: 4821')).toBe('OUI: ****');
  expect(maskSmsSecrets('"oui" 4 8 2 1')).toBe('"oui" **** **** **** ****');
  expect(maskSmsSecrets(' ...Yes!! 4821 thanks')).toBe(' ...Yes!! **** thanks');
});

// Every keyword the grammar reads as a confirmation, as a subscriber might type it.
const CONFIRM_WORDS = ['YES', 'OUI'].flatMap((k) => [k, k.toLowerCase(), k[0] + k.slice(1).toLowerCase()]);
const SEPARATORS = ['', ' ', '  ', ',', ', ', ':', ': ', '-', ' - ', '.', ';', '!', '\n', '\t', '/', '=', '#', '*'];

it('never lets a code\'s digits survive after a confirm keyword, whatever separates them (property)', () => {
  const code = fc.stringMatching(/^\d{1,8}$/);
  const split = fc.array(fc.constantFrom('', ' ', '-', '.', ' '), { minLength: 0, maxLength: 8 });
  const lead = fc.constantFrom('', ' ', '  ', '"', '\'', '(', '-', '*', '> ');
  const trail = fc.constantFrom('', ' ', '.', '!', ' thanks', ' merci', ' 2');
  fc.assert(fc.property(lead, fc.constantFrom(...CONFIRM_WORDS), fc.constantFrom(...SEPARATORS), code, split, trail,
    (before, keyword, separator, digits, gaps, after) => {
      // The code typed in pieces: a gap after some of its digits.
      const typed = [...digits].map((d, i) => d + (gaps[i] ?? '')).join('');
      const masked = maskSmsSecrets(`${before}${keyword}${separator}${typed}${after}`);
      expect(masked).not.toMatch(/\d/);
      expect(masked.startsWith(`${before}${keyword}`)).toBe(true);
    }), { numRuns: 2_000 });
});

it('keeps the digits of PAY and SEND texts, which a replay needs (property)', () => {
  const amount = fc.integer({ min: 1, max: 10_000_000 });
  fc.assert(fc.property(fc.constantFrom('PAY SHOP42', 'pay shop42', 'PAYER SHOP42', 'SEND 0712345678', 'ENVOYER 0712345678'), amount, (command, value) => {
    const text = `${command} ${value}`;
    expect(maskSmsSecrets(text)).toBe(text);
  }));
});

it('masks a code or PIN whatever words come with it: misspelt, after it, or in a sentence', () => {
  expect(maskSmsSecrets('4821 yes')).toBe('**** yes');
  expect(maskSmsSecrets('YS 4821')).toBe('YS ****');
  expect(maskSmsSecrets('YESS 4821')).toBe('YESS ****');
  expect(maskSmsSecrets('PIN 4821')).toBe('PIN ****');
  expect(maskSmsSecrets('my code is 4821')).toBe('my code is ****');
  expect(maskSmsSecrets('PAY 4821')).toBe('PAY ****'); // not a PAY the parser accepts: no replay needs it
  expect(maskSmsSecrets('BAL 4821')).toBe('BAL ****');
  expect(maskSmsSecrets('code ٤٨٢١')).toBe('code ****'); // digits of another script
});

it('lets no digit survive in any text that does not parse as PAY, SEND or AIRTIME (property)', () => {
  const word = fc.constantFrom('YES', 'yes', 'YS', 'YESS', 'OUI', 'PIN', 'code', 'my', 'is', 'PAY', 'SEND', 'AIRTIME', 'CREDIT', 'BAL', 'HELP', 'STOP', 'LANG', 'EN', 'SHOP42', 'ok', '+', ',', '.', '-');
  const digits = fc.stringMatching(/^\d{1,10}$/);
  const token = fc.oneof(word, digits, fc.string({ maxLength: 6 }));
  const text = fc.oneof(
    fc.array(token, { maxLength: 6 }).chain((tokens) => fc.constantFrom(...[' ', '', ',', '\n', ': '].map((sep) => tokens.join(sep)))),
    fc.string({ maxLength: 40 }),
  );
  fc.assert(fc.property(text, (t) => {
    const kind = parseSmsCommand(t, KE).kind;
    fc.pre(kind !== 'pay' && kind !== 'send' && kind !== 'airtime');
    expect(maskSmsSecrets(t)).not.toMatch(/\p{Nd}/u);
  }), { numRuns: 5_000 });
});

it('keeps an AIRTIME command as typed: its digits are the amount and the number a replay needs', () => {
  expect(maskSmsSecrets('AIRTIME 50 0712345678')).toBe('AIRTIME 50 0712345678');
  expect(maskSmsSecrets('AIRTIME 4821 is my code')).toBe('AIRTIME **** is my code'); // not a command: masked
});

it('masks a bare PIN or code, also one with separators or of the wrong length', () => {
  expect(maskSmsSecrets('3579')).toBe('****');
  expect(maskSmsSecrets(' 3579\n')).toBe(' ****\n');
  expect(maskSmsSecrets('35 79')).toBe('**** ****');
  expect(maskSmsSecrets('357')).toBe('****');
  expect(maskSmsSecrets('1234567')).toBe('****');
});

it('leaves commands without secrets as they are', () => {
  for (const text of ['PAY SHOP42 500 ref', 'SEND 0712345678 200', 'SEND +254712345678 200', 'payer shop42 12.50', 'BAL', 'SOLDE', 'STOP', 'HELP', 'LANG FR', '']) {
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
  expect(Events.smsInbound.type.decode(maskInboundSmsForDeadLetter(sms('4821 yes'))).text).toBe('**** yes');
  // An operator not configured: its texts cannot be parsed in its context, so nothing is kept.
  const unknown = Events.smsInbound.type.encode({ ...Events.smsInbound.type.decode(pay), operatorId: 'gone' }).finish();
  expect(Events.smsInbound.type.decode(maskInboundSmsForDeadLetter(unknown)).text).toBe('PAY SHOP**** **** ref');
  const garbage = new Uint8Array([0xff, 0xff, 0xff]);
  expect(maskInboundSmsForDeadLetter(garbage)).toBe(garbage);
});
