// DEP/DEPOT (an agent's cash-in) and WITHDRAW/RETRAIT (a subscriber's cash-out): the grammar only.
import { describe, expect, it } from 'vitest';
import { maskSmsSecrets, parseSmsCommand, type GrammarContext } from '../../../services/payments/sms-grammar.js';

const KE: GrammarContext = { currency: 'KES', countryCallingCode: '254', defaultLanguage: 'en' };
const SN: GrammarContext = { currency: 'XOF', countryCallingCode: '221', defaultLanguage: 'fr' };

describe('DEP and DEPOT', () => {
  it('reads the number (normalised like SEND) then the amount, in the keyword\'s language', () => {
    expect(parseSmsCommand('DEP 0712345678 500', KE)).toEqual({ kind: 'deposit', language: 'en', payeeMsisdn: '254712345678', amountMinor: 50_000n });
    expect(parseSmsCommand('dep  +254712345678   20.50', KE)).toEqual({ kind: 'deposit', language: 'en', payeeMsisdn: '254712345678', amountMinor: 2_050n });
    expect(parseSmsCommand('DEPOSIT 712345678 5', KE)).toMatchObject({ kind: 'deposit', payeeMsisdn: '254712345678', amountMinor: 500n });
    expect(parseSmsCommand('depot 771234567 5000', { ...SN, defaultLanguage: 'en' })).toEqual({ kind: 'deposit', language: 'fr', payeeMsisdn: '221771234567', amountMinor: 5_000n });
    expect(parseSmsCommand('DÉPÔT 771234567 5000', SN)).toMatchObject({ kind: 'deposit', language: 'fr' });
  });

  it('refuses what it would have to guess', () => {
    expect(parseSmsCommand('DEP', KE)).toMatchObject({ kind: 'invalid', reason: 'missing-argument' });
    expect(parseSmsCommand('DEP 0712345678', KE)).toMatchObject({ kind: 'invalid', reason: 'missing-argument' });
    expect(parseSmsCommand('DEP 0712 345 678 500', KE)).toMatchObject({ kind: 'invalid' });
    expect(parseSmsCommand('DEP 12ab 500', KE)).toMatchObject({ kind: 'invalid', reason: 'bad-msisdn' });
    expect(parseSmsCommand('DEP 0712345678 5.555', KE)).toMatchObject({ kind: 'invalid', reason: 'bad-amount' });
    expect(parseSmsCommand('DEP 0712345678 -5', KE)).toMatchObject({ kind: 'invalid', reason: 'bad-amount' });
  });
});

describe('WITHDRAW and RETRAIT', () => {
  it('reads the agent (upper-cased) then the amount', () => {
    expect(parseSmsCommand('WITHDRAW AG1001 500', KE)).toEqual({ kind: 'withdraw', language: 'en', agentId: 'AG1001', amountMinor: 50_000n });
    expect(parseSmsCommand('withdraw ag-7  12.5', KE)).toEqual({ kind: 'withdraw', language: 'en', agentId: 'AG-7', amountMinor: 1_250n });
    expect(parseSmsCommand('Retrait AG1001 2500', { ...SN, defaultLanguage: 'en' })).toEqual({ kind: 'withdraw', language: 'fr', agentId: 'AG1001', amountMinor: 2_500n });
  });

  it('refuses a bad agent id, a bad or missing amount, and extra words', () => {
    expect(parseSmsCommand('WITHDRAW AG1001', KE)).toMatchObject({ kind: 'invalid', reason: 'missing-argument' });
    expect(parseSmsCommand('WITHDRAW AG_1001 500', KE)).toMatchObject({ kind: 'invalid', reason: 'bad-agent' });
    expect(parseSmsCommand('WITHDRAW A 500', KE)).toMatchObject({ kind: 'invalid', reason: 'bad-agent' });
    expect(parseSmsCommand(`WITHDRAW ${'A'.repeat(33)} 500`, KE)).toMatchObject({ kind: 'invalid', reason: 'bad-agent' });
    expect(parseSmsCommand('WITHDRAW 500 AG1001', KE)).toMatchObject({ kind: 'invalid', reason: 'bad-amount' }); // amount first: not guessed
    expect(parseSmsCommand('WITHDRAW AG1001 500 now', KE)).toMatchObject({ kind: 'invalid' });
  });
});

it('keeps DEP and WITHDRAW as typed for a replay (no secret in them), and still masks a PIN', () => {
  expect(maskSmsSecrets('DEP 0712345678 500', KE)).toBe('DEP 0712345678 500');
  expect(maskSmsSecrets('RETRAIT AG1001 2500', SN)).toBe('RETRAIT AG1001 2500');
  expect(maskSmsSecrets('4821', KE)).toBe('****');
});
