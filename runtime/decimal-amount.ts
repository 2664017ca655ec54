// Exact decimal amounts for APIs that write money in major units ("12.50"), to
// and from bigint minor units, by the currency's ISO 4217 exponent
// (runtime/money.ts). Pure string arithmetic: a value never passes through a
// float. Also JSON helpers for APIs that carry such amounts as JSON numbers
// (CAMARA's `amount: number`): the number is written and read as its literal
// text, so 0.1 stays exactly 0.1.
import { randomUUID } from 'node:crypto';
import { currencyDecimals } from './money.js';

/** Digits before the point we accept when reading: far beyond any real amount, well inside int64 minor units. */
const MAJOR_DIGITS_MAX = 15;

/** 1234n KES -> "12.34"; 500n XOF -> "500"; -5n KES -> "-0.05". */
export function minorToDecimal(amountMinor: bigint, currency: string): string {
  const decimals = currencyDecimals(currency);
  const negative = amountMinor < 0n;
  const digits = (negative ? -amountMinor : amountMinor).toString().padStart(decimals + 1, '0');
  const major = digits.slice(0, digits.length - decimals);
  const fraction = digits.slice(digits.length - decimals);
  return `${negative ? '-' : ''}${major}${decimals > 0 ? `.${fraction}` : ''}`;
}

/**
 * "12.34" KES -> 1234n. Accepts fewer fraction digits than the exponent ("12.5"), and more only
 * when the extra ones are zeros ("12.500"); an exponent form ("1e3") too, as JSON allows it.
 * null when the text is not an amount this currency can hold exactly.
 */
export function decimalToMinor(text: string, currency: string): bigint | null {
  const decimals = currencyDecimals(currency);
  const match = /^(-?)(\d+)(?:\.(\d+))?(?:[eE]([+-]?\d{1,3}))?$/.exec(text);
  if (!match) return null;
  const [, sign, intPart, fracPart = '', expPart] = match as unknown as [string, string, string, string | undefined, string | undefined];
  // Shift the point by the exponent, in the digit string.
  let digits = intPart + fracPart;
  let point = intPart.length + Number(expPart ?? '0');
  if (point < 0) {
    digits = '0'.repeat(-point) + digits;
    point = 0;
  }
  if (point > digits.length) digits = digits.padEnd(point, '0');
  const major = digits.slice(0, point).replace(/^0+(?=\d)/, '') || '0';
  const fraction = digits.slice(point);
  if (major.length > MAJOR_DIGITS_MAX) return null;
  if (/[^0]/.test(fraction.slice(decimals))) return null; // a part of a minor unit
  const minor = BigInt(major + fraction.slice(0, decimals).padEnd(decimals, '0'));
  return sign === '-' ? -minor : minor;
}

/** A number to be written into JSON as this exact literal. */
export class JsonDecimal {
  constructor(readonly literal: string) {
    if (!/^-?(0|[1-9]\d*)(\.\d+)?$/.test(literal)) throw new RangeError(`not a JSON number: ${literal}`);
  }
}

/** JSON.stringify, with every JsonDecimal written as its literal (a JSON number). */
export function stringifyWithDecimals(value: unknown): string {
  // A marker no string in the value can forge: it holds a fresh random nonce.
  const nonce = randomUUID().replace(/-/g, '');
  const text = JSON.stringify(value, (_key, v: unknown) => (v instanceof JsonDecimal ? `${nonce}:${v.literal}` : v));
  return text.replace(new RegExp(`"${nonce}:(-?[0-9.]+)"`, 'g'), '$1');
}

/**
 * JSON.parse, with every number kept as its literal text (a string), so an amount can be read
 * exactly with decimalToMinor. Strings are left as they are.
 */
export function parseJsonNumbersAsText(text: string): unknown {
  let out = '';
  let i = 0;
  while (i < text.length) {
    const c = text[i] as string;
    if (c === '"') {
      let j = i + 1;
      while (j < text.length && text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      out += text.slice(i, j + 1);
      i = j + 1;
    } else if (c === '-' || (c >= '0' && c <= '9')) {
      const m = /^-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?/.exec(text.slice(i, i + 400));
      if (!m) throw new SyntaxError(`bad number at ${i}`);
      out += `"${m[0]}"`;
      i += m[0].length;
    } else {
      out += c;
      i++;
    }
  }
  return JSON.parse(out);
}
