// Money for people: amounts as subscribers type them, in major units ("500", "5.50", "5,50"),
// to bigint minor units. Pure. Never guesses: "1,500" for a 2-decimal
// currency is refused rather than read as 1.5 or 1500.
import type { Language } from './language.js';

/** ISO 4217 minor-unit digits for the currencies we serve. */
export const CURRENCY_DECIMALS: Readonly<Record<string, number>> = { KES: 2, XOF: 0, UGX: 0, TZS: 2, GHS: 2, NGN: 2, EUR: 2, USD: 2 };

/** Digits before the separator; 12 keeps every amount far below int64 and any real limit. */
const MAJOR_DIGITS_MAX = 12;

export function currencyDecimals(currency: string): number {
  const decimals = CURRENCY_DECIMALS[currency];
  if (decimals === undefined) throw new RangeError(`unknown currency ${currency}`);
  return decimals;
}

/** Parses a positive amount; null when it is not one, in this currency. */
export function parseAmount(text: string, currency: string): bigint | null {
  const decimals = currencyDecimals(currency);
  const match = /^(\d{1,12})(?:[.,](\d+))?$/.exec(text);
  if (!match) return null;
  const [, major, fraction = ''] = match as unknown as [string, string, string | undefined];
  if (major.length > MAJOR_DIGITS_MAX || fraction.length > decimals) return null;
  if (text.includes('.') || text.includes(',')) {
    if (fraction.length === 0) return null;
  }
  const minor = BigInt(major) * 10n ** BigInt(decimals) + BigInt(fraction.padEnd(decimals, '0') || '0');
  return minor > 0n ? minor : null;
}

/** Formats minor units for a subscriber: "1,500.50 KES" style in EN, "1 500,50 XOF" in FR. */
export function formatAmount(amountMinor: bigint, currency: string, language: Language = 'en'): string {
  const decimals = currencyDecimals(currency);
  const negative = amountMinor < 0n;
  const abs = negative ? -amountMinor : amountMinor;
  const scale = 10n ** BigInt(decimals);
  const major = (abs / scale).toString().replace(/\B(?=(\d{3})+(?!\d))/g, language === 'fr' ? ' ' : ',');
  const fraction = decimals > 0 ? `${language === 'fr' ? ',' : '.'}${(abs % scale).toString().padStart(decimals, '0')}` : '';
  return `${negative ? '-' : ''}${major}${fraction} ${currency}`;
}
