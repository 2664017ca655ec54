// Exact decimal amounts: minor units to the API's decimal text and back, never through a float.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { decimalToMinor, JsonDecimal, minorToDecimal, parseJsonNumbersAsText, stringifyWithDecimals } from '../../../runtime/decimal-amount.js';

describe('minorToDecimal', () => {
  it('writes by the currency exponent', () => {
    expect(minorToDecimal(1234n, 'KES')).toBe('12.34');
    expect(minorToDecimal(5n, 'KES')).toBe('0.05');
    expect(minorToDecimal(0n, 'KES')).toBe('0.00');
    expect(minorToDecimal(500n, 'XOF')).toBe('500');
    expect(minorToDecimal(-5n, 'KES')).toBe('-0.05');
    expect(minorToDecimal(9_007_199_254_740_993n, 'KES')).toBe('90071992547409.93'); // beyond a double's exact integers
  });
  it('refuses an unknown currency', () => {
    expect(() => minorToDecimal(1n, 'ZZZ')).toThrow(/unknown currency/);
  });
});

describe('decimalToMinor', () => {
  it('reads exactly', () => {
    expect(decimalToMinor('12.34', 'KES')).toBe(1234n);
    expect(decimalToMinor('12.5', 'KES')).toBe(1250n);
    expect(decimalToMinor('12', 'KES')).toBe(1200n);
    expect(decimalToMinor('12.500', 'KES')).toBe(1250n);
    expect(decimalToMinor('0.1', 'KES')).toBe(10n);
    expect(decimalToMinor('1e3', 'XOF')).toBe(1000n);
    expect(decimalToMinor('1.5E1', 'KES')).toBe(1500n);
    expect(decimalToMinor('-0.05', 'KES')).toBe(-5n);
  });
  it('reads at most 15 digits before the point', () => {
    expect(decimalToMinor('999999999999999', 'XOF')).toBe(999_999_999_999_999n);
    expect(decimalToMinor('1000000000000000', 'XOF')).toBeNull();
    expect(decimalToMinor('1e15', 'KES')).toBeNull();
  });
  it('refuses a part of a minor unit and text that is no number', () => {
    expect(decimalToMinor('12.345', 'KES')).toBeNull();
    expect(decimalToMinor('0.5', 'XOF')).toBeNull();
    expect(decimalToMinor('1e-3', 'KES')).toBeNull();
    for (const bad of ['', '1.', '.5', '1,5', '12 KES', 'NaN', '0x10', '1e']) expect(decimalToMinor(bad, 'KES')).toBeNull();
  });
  it('round-trips every amount in every exponent (property)', () => {
    fc.assert(fc.property(fc.bigInt({ min: -(10n ** 15n - 1n), max: 10n ** 15n - 1n }), fc.constantFrom('KES', 'XOF', 'EUR'), (minor, currency) => {
      expect(decimalToMinor(minorToDecimal(minor, currency), currency)).toBe(minor);
    }));
  });
  it('reads the same value however the literal is written (property)', () => {
    fc.assert(fc.property(fc.bigInt({ min: 0n, max: 10n ** 15n }), fc.nat(4), (minor, zeros) => {
      const text = minorToDecimal(minor, 'KES') + '0'.repeat(zeros);
      expect(decimalToMinor(text, 'KES')).toBe(minor);
      expect(decimalToMinor(`${minor}e-2`, 'KES')).toBe(minor);
    }));
  });
});

describe('JSON with exact numbers', () => {
  it('writes a decimal as a JSON number literal and reads numbers back as text', () => {
    const text = stringifyWithDecimals({ a: new JsonDecimal('0.10'), b: 'x"\\0.3', c: [new JsonDecimal('90071992547409.93')] });
    expect(text).toBe('{"a":0.10,"b":"x\\"\\\\0.3","c":[90071992547409.93]}');
    expect(JSON.parse(text).a).toBe(0.1);
    expect(parseJsonNumbersAsText(text)).toEqual({ a: '0.10', b: 'x"\\0.3', c: ['90071992547409.93'] });
    expect(parseJsonNumbersAsText('{"n":-1.5e3,"t":true,"z":null,"s":"1 2"}')).toEqual({ n: '-1.5e3', t: true, z: null, s: '1 2' });
    // A string cannot pass itself off as a number.
    expect(JSON.parse(stringifyWithDecimals({ s: '\u0000dec:1.5', t: 'x:1.5' }))).toEqual({ s: '\u0000dec:1.5', t: 'x:1.5' });
  });
  it('round-trips any amount through JSON text (property)', () => {
    fc.assert(fc.property(fc.bigInt({ min: 1n, max: 10n ** 17n - 1n }), fc.string(), (minor, s) => {
      const text = stringifyWithDecimals({ s, amount: new JsonDecimal(minorToDecimal(minor, 'KES')) });
      const back = parseJsonNumbersAsText(text) as { s: string; amount: string };
      expect(back.s).toBe(s);
      expect(decimalToMinor(back.amount, 'KES')).toBe(minor);
    }));
  });
});
