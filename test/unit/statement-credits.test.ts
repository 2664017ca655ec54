// The mini statement's lines for credits (issue 16): billing names an operator's deposit
// "deposit:<operator>" and a merchant's payout "payout:<merchant>", with the caller's reference in
// paymentId; both read as money in from them, the reference whole.
import { describe, expect, it } from 'vitest';
import { statementLine } from '../../runtime/statement.js';
import { bigIntToInt64, moneyToProto } from '../../proto/index.js';

const at = bigIntToInt64(BigInt(Date.UTC(2026, 11, 3, 12, 0)));
const line = (amountMinor: bigint, counterparty: string, paymentId: string) => ({ paymentId, amount: moneyToProto({ amountMinor, currency: 'KES' }), atUnixMs: at, counterparty });

describe('statement lines for credits', () => {
  it('reads a deposit and a payout as money in, with the whole reference', () => {
    expect(statementLine(line(50_000n, 'deposit:Safaricom', 'SALARY-2026-11'), 'KES', 'en')).toBe('03/12 +500.00 KES Deposit, Safaricom, Ref SALARY-2026-11');
    expect(statementLine(line(1_250n, 'payout:EV Charge Ltd', 'REFUND-77'), 'KES', 'en')).toBe('03/12 +12.50 KES Payout, EV Charge Ltd, Ref REFUND-77');
    expect(statementLine(line(1_250n, 'payout:EV Charge Ltd', 'R-77'), 'KES', 'fr')).toBe('03/12 +12,50 KES Versement, EV Charge Ltd, Ref R-77');
    expect(statementLine(line(50_000n, 'deposit:Orange', ''), 'KES', 'fr')).toBe('03/12 +500,00 KES Depot, Orange');
  });
});

describe('statement lines for reversals', () => {
  it('reads a reversal as money back for the payer and money out for the payee, with the transfer\'s reference', () => {
    expect(statementLine(line(2_000n, 'reversal:', '1A2B3C4D'), 'KES', 'en')).toBe('03/12 +20.00 KES Reversal, Ref 1A2B3C4D');
    expect(statementLine(line(-2_000n, 'reversal:', '1A2B3C4D'), 'KES', 'en')).toBe('03/12 -20.00 KES Reversal, Ref 1A2B3C4D');
    expect(statementLine(line(-500n, 'reversal:', '1A2B3C4D'), 'KES', 'fr')).toBe('03/12 -5,00 KES Annulation, Ref 1A2B3C4D');
  });
});
