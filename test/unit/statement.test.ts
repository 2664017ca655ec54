// The mini statement's one formatter (runtime/statement.ts), shared by the SMS
// BAL reply and the USSD menu: date first, money in with a plus, money out
// with a minus, a number shown with its "+", a merchant id as it is.
import { describe, expect, it } from 'vitest';
import { statementLine, statementLines } from '../../runtime/statement.js';
import { bigIntToInt64, moneyToProto } from '../../proto/index.js';

const at = bigIntToInt64(BigInt(Date.UTC(2026, 11, 3, 12, 0)));
const line = (amountMinor: bigint, counterparty: string, paymentId = 'p') => ({ paymentId, amount: moneyToProto({ amountMinor, currency: 'KES' }), atUnixMs: at, counterparty });

describe('statement lines', () => {
  it('signs money in and out, in the subscriber language', () => {
    expect(statementLine(line(2_000n, '254700000003'), 'KES', 'en')).toBe('03/12 +20.00 KES +254700000003');
    expect(statementLine(line(-150_050n, 'SHOP42'), 'KES', 'en')).toBe('03/12 -1,500.50 KES SHOP42');
    expect(statementLine(line(-150_050n, 'SHOP42'), 'KES', 'fr')).toBe('03/12 -1 500,50 KES SHOP42');
  });

  it('reads an agent counterparty as a deposit (money in) or a withdrawal (money out), with the reference', () => {
    expect(statementLine(line(5_000n, 'agent:AG1001', 'ab12cd34-0000-4000-8000-000000000000'), 'KES', 'en')).toBe('03/12 +50.00 KES Deposit, agent AG1001, Ref AB12CD34');
    expect(statementLine(line(-5_100n, 'agent:AG1001', 'ef56ab78-0000'), 'KES', 'en')).toBe('03/12 -51.00 KES Withdrawal, agent AG1001, Ref EF56AB78');
    expect(statementLine(line(-5_100n, 'agent:AG1001', 'ef56ab78-0000'), 'KES', 'fr')).toBe('03/12 -51,00 KES Retrait, agent AG1001, Ref EF56AB78');
    expect(statementLine(line(5_000n, 'agent:AG1001', 'ab12cd34'), 'KES', 'fr')).toBe('03/12 +50,00 KES Depot, agent AG1001, Ref AB12CD34');
  });

  it('keeps the order it is given (newest first, from billing) and reads no lines as none', () => {
    expect(statementLines([line(1n, 'A'), line(-2n, 'B')], 'KES', 'en')).toEqual(['03/12 +0.01 KES A', '03/12 -0.02 KES B']);
    expect(statementLines(undefined, 'KES', 'en')).toEqual([]);
  });
});
