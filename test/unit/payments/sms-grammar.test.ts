import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { parseSmsCommand, COMMAND_TEXT_LENGTH_MAX, type GrammarContext } from '../../../services/payments/sms-grammar.js';
import { formatAmount, parseAmount } from '../../../runtime/money.js';

const KE: GrammarContext = { currency: 'KES', countryCallingCode: '254', defaultLanguage: 'en' };
const SN: GrammarContext = { currency: 'XOF', countryCallingCode: '221', defaultLanguage: 'fr' };

describe('amounts', () => {
  it('reads major units with the currency decimals, either separator', () => {
    expect(parseAmount('500', 'KES')).toBe(50_000n);
    expect(parseAmount('5.50', 'KES')).toBe(550n);
    expect(parseAmount('5,5', 'KES')).toBe(550n);
    expect(parseAmount('1500', 'XOF')).toBe(1_500n);
  });

  it('refuses what it would have to guess', () => {
    for (const bad of ['0', '0.00', '-5', '5.', '.5', '1,500', '5.555', '1e3', '5 00', '', '١٢٣', '999999999999999']) {
      expect(parseAmount(bad, 'KES'), bad).toBeNull();
    }
    expect(parseAmount('5.5', 'XOF')).toBeNull(); // XOF has no minor unit
  });

  it('formats for subscribers in their language', () => {
    expect(formatAmount(150_050n, 'KES')).toBe('1,500.50 KES');
    expect(formatAmount(150_050n, 'KES', 'fr')).toBe('1 500,50 KES');
    expect(formatAmount(4_200n, 'XOF', 'fr')).toBe('4 200 XOF');
  });

  it('round-trips every amount it formats (property)', () => {
    // Up to 12 major digits: the parser refuses longer amounts by design.
    fc.assert(fc.property(fc.bigInt({ min: 1n, max: 10n ** 12n - 1n }), fc.constantFrom('KES', 'XOF'), (minor, currency) => {
      const text = formatAmount(minor, currency).split(' ')[0]!.replace(/,/g, '');
      expect(parseAmount(text, currency)).toBe(minor);
    }));
  });
});

describe('SMS grammar', () => {
  it('parses AIRTIME and CREDIT: the amount, then an optional number; anything unclear is invalid', () => {
    expect(parseSmsCommand('AIRTIME 50', KE)).toEqual({ kind: 'airtime', language: 'en', amountMinor: 5_000n, targetMsisdn: null });
    expect(parseSmsCommand('airtime  20.50 0712345678', KE)).toEqual({ kind: 'airtime', language: 'en', amountMinor: 2_050n, targetMsisdn: '254712345678' });
    expect(parseSmsCommand('credit 500 771234567', SN)).toEqual({ kind: 'airtime', language: 'fr', amountMinor: 500n, targetMsisdn: '221771234567' });
    expect(parseSmsCommand('CRÉDIT 500', { ...SN, defaultLanguage: 'en' })).toMatchObject({ kind: 'airtime', language: 'fr' });
    expect(parseSmsCommand('AIRTIME', KE)).toMatchObject({ kind: 'invalid', reason: 'missing-argument' });
    expect(parseSmsCommand('AIRTIME 0712345678 50', KE)).toMatchObject({ kind: 'invalid' }); // number first: not guessed
    expect(parseSmsCommand('AIRTIME abc', KE)).toMatchObject({ kind: 'invalid', reason: 'bad-amount' });
    expect(parseSmsCommand('AIRTIME 50 12ab', KE)).toMatchObject({ kind: 'invalid', reason: 'bad-msisdn' });
    expect(parseSmsCommand('AIRTIME 50 0712 345 678', KE)).toMatchObject({ kind: 'invalid', reason: 'bad-msisdn' });
  });

  it('parses PAY in English and French, any case and spacing', () => {
    expect(parseSmsCommand('PAY SHOP42 500 inv 7', KE)).toEqual({ kind: 'pay', language: 'en', merchantCode: 'SHOP42', amountMinor: 50_000n, reference: 'inv 7' });
    expect(parseSmsCommand('  pay   shop42\t5.50 ', KE)).toEqual({ kind: 'pay', language: 'en', merchantCode: 'SHOP42', amountMinor: 550n, reference: '' });
    expect(parseSmsCommand('Payer EVCHARGE 2500', SN)).toEqual({ kind: 'pay', language: 'fr', merchantCode: 'EVCHARGE', amountMinor: 2_500n, reference: '' });
  });

  it('parses SEND with numbers normalised to E.164 for the operator country', () => {
    expect(parseSmsCommand('SEND 0712345678 200', KE)).toEqual({ kind: 'send', language: 'en', payeeMsisdn: '254712345678', amountMinor: 20_000n });
    expect(parseSmsCommand('send +254712345678 200', KE)).toMatchObject({ payeeMsisdn: '254712345678' });
    expect(parseSmsCommand('ENVOYER 770000001 1000', SN)).toMatchObject({ kind: 'send', language: 'fr', payeeMsisdn: '221770000001', amountMinor: 1_000n });
  });

  it('parses the one-word commands and LANG', () => {
    expect(parseSmsCommand('bal', KE)).toEqual({ kind: 'balance', language: 'en' });
    expect(parseSmsCommand('SOLDE', KE)).toEqual({ kind: 'balance', language: 'fr' });
    expect(parseSmsCommand('aide', KE)).toEqual({ kind: 'help', language: 'fr' });
    expect(parseSmsCommand('STOP', SN)).toEqual({ kind: 'stop', language: 'fr' }); // STOP is both: the saved language answers
    expect(parseSmsCommand('lang fr', KE)).toEqual({ kind: 'language', language: 'fr' });
    expect(parseSmsCommand('LANGUE EN', SN)).toEqual({ kind: 'language', language: 'en' });
  });

  it('parses confirmations: YES/OUI with a code, or a bare PIN', () => {
    expect(parseSmsCommand('YES 4821', KE)).toEqual({ kind: 'confirm', language: 'en', code: '4821' });
    expect(parseSmsCommand('oui 482193', KE)).toEqual({ kind: 'confirm', language: 'fr', code: '482193' });
    expect(parseSmsCommand(' 1234 ', KE)).toEqual({ kind: 'pin', pin: '1234' });
  });

  it('answers everything else with a reason, in the right language', () => {
    const cases: [string, GrammarContext, string, string][] = [
      ['', KE, 'empty', 'en'],
      ['hello', SN, 'unknown-command', 'fr'],
      ['PAY SHOP42', KE, 'missing-argument', 'en'],
      ['PAYER SHOP42 cinq', KE, 'bad-amount', 'fr'],
      ['PAY SHOP42 1,500', KE, 'bad-amount', 'en'],
      ['PAY S 5', KE, 'bad-merchant', 'en'],
      ['PAY SHOP!42 5', KE, 'bad-merchant', 'en'],
      ['SEND 12 200', KE, 'bad-msisdn', 'en'],
      ['SEND 0712 345 678 200', KE, 'bad-amount', 'en'],
      ['YES', KE, 'missing-argument', 'en'],
      ['YES 12', KE, 'bad-code', 'en'],
      ['YES 1234 5678', KE, 'bad-code', 'en'],
      ['LANG DE', KE, 'bad-language', 'en'],
      ['BAL now', KE, 'unknown-command', 'en'],
      [`PAY SHOP42 5 ${'r'.repeat(41)}`, KE, 'too-long', 'en'],
      ['x'.repeat(COMMAND_TEXT_LENGTH_MAX + 1), KE, 'too-long', 'en'],
    ];
    for (const [text, context, reason, language] of cases) {
      expect(parseSmsCommand(text, context), text.slice(0, 40)).toEqual({ kind: 'invalid', language, reason });
    }
  });

  it('never throws and never invents money, whatever arrives (property)', () => {
    fc.assert(fc.property(fc.string({ maxLength: 200 }), (text) => {
      const command = parseSmsCommand(text, KE);
      if (command.kind === 'pay' || command.kind === 'send') {
        expect(command.amountMinor).toBeGreaterThan(0n);
        expect(text.toUpperCase()).toMatch(/PAY|SEND|ENVOYER/);
      }
    }), { numRuns: 2_000 });
  });

  it('parses every well-formed PAY it is given back to the same parts (property)', () => {
    const code = fc.stringMatching(/^[A-Z][A-Z0-9]{1,10}$/);
    const ref = fc.array(fc.stringMatching(/^[a-z0-9]{1,6}$/), { maxLength: 3 });
    fc.assert(fc.property(code, fc.bigInt({ min: 1n, max: 10n ** 9n }), ref, fc.constantFrom('PAY', 'pay', 'Payer'), (merchant, minor, words, keyword) => {
      const amount = `${minor / 100n}.${(minor % 100n).toString().padStart(2, '0')}`;
      const command = parseSmsCommand(`${keyword}  ${merchant.toLowerCase()} ${amount} ${words.join(' ')}`, KE);
      expect(command).toEqual({ kind: 'pay', language: keyword === 'Payer' ? 'fr' : 'en', merchantCode: merchant, amountMinor: minor, reference: words.join(' ') });
    }));
  });
});
