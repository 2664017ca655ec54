// The mini statement's lines as subscribers read them, one formatter for the
// SMS BAL reply and the USSD menu: "DD/MM +20.00 KES +254700000003", money in
// with a plus, money out with a minus, the counterparty a merchant id or a
// number. Pure.
import { int64ToBigInt, moneyFromProto, type dialpay } from '../proto/index.js';
import { formatAmount } from './money.js';

export function statementLine(line: dialpay.v1.IStatementLine, currency: string, language: 'en' | 'fr'): string {
  const at = new Date(Number(int64ToBigInt(line.atUnixMs)));
  const date = `${String(at.getUTCDate()).padStart(2, '0')}/${String(at.getUTCMonth() + 1).padStart(2, '0')}`;
  const amountMinor = moneyFromProto(line.amount).amountMinor;
  const amount = `${amountMinor > 0n ? '+' : ''}${formatAmount(amountMinor, currency, language)}`;
  const who = /^\d+$/.test(line.counterparty ?? '') ? `+${line.counterparty}` : (line.counterparty ?? '');
  return `${date} ${amount} ${who}`;
}

export function statementLines(lines: readonly dialpay.v1.IStatementLine[] | null | undefined, currency: string, language: 'en' | 'fr'): string[] {
  return (lines ?? []).map((l) => statementLine(l, currency, language));
}
