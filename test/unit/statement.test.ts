// The mini statement's one formatter (runtime/statement.ts), shared by the SMS
// BAL reply and the USSD menu: date first, money in with a plus, money out
// with a minus, a number shown with its "+", a merchant id as it is.
import { describe, expect, it } from 'vitest';
import { statementLine, statementLines } from '../../runtime/statement.js';
import { bigIntToInt64, moneyToProto } from '../../proto/index.js';

const at = bigIntToInt64(BigInt(Date.UTC(2026, 11, 3, 12, 0)));
const line = (amountMinor: bigint, counterparty: string) => ({ paymentId: 'p', amount: moneyToProto({ amountMinor, currency: 'KES' }), atUnixMs: at, counterparty });

describe('statement lines', () => {
  it('signs money in and out, in the subscriber language', () => {
    expect(statementLine(line(2_000n, '254700000003'), 'KES', 'en')).toBe('03/12 +20.00 KES +254700000003');
    expect(statementLine(line(-150_050n, 'SHOP42'), 'KES', 'en')).toBe('03/12 -1,500.50 KES SHOP42');
    expect(statementLine(line(-150_050n, 'SHOP42'), 'KES', 'fr')).toBe('03/12 -1 500,50 KES SHOP42');
  });

  it('keeps the order it is given (newest first, from billing) and reads no lines as none', () => {
    expect(statementLines([line(1n, 'A'), line(-2n, 'B')], 'KES', 'en')).toEqual(['03/12 +0.01 KES A', '03/12 -0.02 KES B']);
    expect(statementLines(undefined, 'KES', 'en')).toEqual([]);
  });
});
