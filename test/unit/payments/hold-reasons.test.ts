// What a held payment's SMS gives as the reason: each rule that can hold a payment (risk-rules.ts, and
// billing's SIM-swap outcomes) has its own phrase in both languages; any other reads as a security check.
import { expect, it } from 'vitest';
import { holdReason } from '../../../services/payments/holds.js';

const RULES = ['distinct-payees', 'new-payee', 'merchant-spike', 'sim-swap', 'sim-swap-unavailable'];

it('every rule that holds payments has its own phrase, in English and French, none the fallback', () => {
  const fallback = { en: holdReason('no-such-rule', 'en'), fr: holdReason('no-such-rule', 'fr') };
  expect(fallback).toEqual({ en: 'a security check', fr: 'un controle de securite' });
  for (const lang of ['en', 'fr'] as const) {
    const phrases = RULES.map((r) => holdReason(r, lang));
    expect(new Set(phrases).size).toBe(RULES.length);
    expect(phrases).not.toContain(fallback[lang]);
  }
  expect(holdReason('sim-swap-unavailable', 'en')).toBe('your operator could not confirm your SIM card just now');
});
