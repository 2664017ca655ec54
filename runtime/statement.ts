// The mini statement's lines as subscribers read them, one formatter for the
// SMS BAL reply and the USSD menu: "DD/MM +20.00 KES +254700000003", money in
// with a plus, money out with a minus, the counterparty a merchant id or a
// number; an agent's ("agent:AG1001" from billing) reads as a deposit (cash-in)
// or a withdrawal (cash-out) at that agent, with the payment's reference; an operator's deposit
// ("deposit:<operator>") or a merchant's payout ("payout:<merchant>") reads as money in from
// them, with the caller's own reference (billing puts it in paymentId). Pure.
import { int64ToBigInt, moneyFromProto, type dialpay } from '../proto/index.js';
import { formatAmount } from './money.js';
import type { Language } from './language.js';

export function statementLine(line: dialpay.v1.IStatementLine, currency: string, language: Language): string {
  const at = new Date(Number(int64ToBigInt(line.atUnixMs)));
  const date = `${String(at.getUTCDate()).padStart(2, '0')}/${String(at.getUTCMonth() + 1).padStart(2, '0')}`;
  const amountMinor = moneyFromProto(line.amount).amountMinor;
  const amount = `${amountMinor > 0n ? '+' : ''}${formatAmount(amountMinor, currency, language)}`;
  const counterparty = line.counterparty ?? '';
  const agent = /^agent:(.+)$/.exec(counterparty)?.[1];
  if (agent) {
    const what = AGENT_MOVEMENT[language][amountMinor > 0n ? 'in' : 'out'];
    return `${date} ${amount} ${what}, agent ${agent}, Ref ${paymentRef(line.paymentId ?? '')}`;
  }
  const credit = /^(deposit|payout):(.+)$/.exec(counterparty);
  if (credit) {
    const reference = line.paymentId ?? '';
    return `${date} ${amount} ${CREDIT_MOVEMENT[language][credit[1] as 'deposit' | 'payout']}, ${credit[2]}${reference ? `, Ref ${reference}` : ''}`;
  }
  const who = /^\d+$/.test(counterparty) ? `+${counterparty}` : counterparty;
  return `${date} ${amount} ${who}`;
}

/** An operator's deposit and a merchant's payout into the wallet, as the subscriber reads them. */
const CREDIT_MOVEMENT = { en: { deposit: 'Deposit', payout: 'Payout' }, fr: { deposit: 'Depot', payout: 'Versement' } } as const;

/** Cash-in and cash-out at an agent, as the subscriber reads them. */
const AGENT_MOVEMENT = { en: { in: 'Deposit', out: 'Withdrawal' }, fr: { in: 'Depot', out: 'Retrait' } } as const;

/** The reference receipts name a payment by: the first 8 characters of its id, upper case. */
function paymentRef(paymentId: string): string {
  return paymentId.slice(0, 8).toUpperCase();
}

export function statementLines(lines: readonly dialpay.v1.IStatementLine[] | null | undefined, currency: string, language: Language): string[] {
  return (lines ?? []).map((l) => statementLine(l, currency, language));
}
