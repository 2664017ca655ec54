// The mini statement's lines as subscribers read them, one formatter for the
// SMS BAL reply and the USSD menu: "DD/MM +20.00 KES +254700000003", money in
// with a plus, money out with a minus, the counterparty a merchant id or a
// number; an agent's ("agent:AG1001" from billing) reads as a deposit (cash-in)
// or a withdrawal (cash-out) at that agent, with the payment's reference; an operator's deposit
// ("deposit:<operator>") or a merchant's payout ("payout:<merchant>") reads as money in from
// them, with the caller's own reference (billing puts it in paymentId); a reversal ("reversal:") as
// "Reversal, Ref <the reversed transfer's reference>", in or out. Pure.
import { moneyFromProto, unixMsFromProto, type dialpay } from '../proto/index.js';
import { formatAmount } from './money.js';
import type { Language } from './language.js';

export function statementLine(line: dialpay.v1.IStatementLine, currency: string, language: Language): string {
  const at = new Date(unixMsFromProto(line.atUnixMs));
  const date = `${String(at.getUTCDate()).padStart(2, '0')}/${String(at.getUTCMonth() + 1).padStart(2, '0')}`;
  const amountMinor = moneyFromProto(line.amount).amountMinor;
  const amount = `${amountMinor > 0n ? '+' : ''}${formatAmount(amountMinor, currency, language)}`;
  const counterparty = line.counterparty ?? '';
  const agent = /^agent:(.+)$/.exec(counterparty)?.[1];
  if (agent) {
    const what = AGENT_MOVEMENT[language][amountMinor > 0n ? 'in' : 'out'];
    return `${date} ${amount} ${what}, agent ${agent}, Ref ${paymentRef(line.paymentId ?? '')}`;
  }
  const credit = /^(deposit|payout|reversal):(.*)$/.exec(counterparty);
  if (credit) {
    const reference = line.paymentId ?? '';
    const movement = CREDIT_MOVEMENT[language][credit[1] as 'deposit' | 'payout' | 'reversal'];
    return `${date} ${amount} ${movement}${credit[2] ? `, ${credit[2]}` : ''}${reference ? `, Ref ${reference}` : ''}`;
  }
  const who = /^\d+$/.test(counterparty) ? `+${counterparty}` : counterparty;
  return `${date} ${amount} ${who}`;
}

/** An operator's deposit, a merchant's payout and a reversal, as the subscriber reads them. */
const CREDIT_MOVEMENT = {
  en: { deposit: 'Deposit', payout: 'Payout', reversal: 'Reversal' },
  fr: { deposit: 'Depot', payout: 'Versement', reversal: 'Annulation' },
} as const;

/** Cash-in and cash-out at an agent, as the subscriber reads them. */
const AGENT_MOVEMENT = { en: { in: 'Deposit', out: 'Withdrawal' }, fr: { in: 'Depot', out: 'Retrait' } } as const;

/** The reference receipts name a payment by: the first 8 characters of its id, upper case. */
function paymentRef(paymentId: string): string {
  return paymentId.slice(0, 8).toUpperCase();
}

export function statementLines(
  lines: readonly dialpay.v1.IStatementLine[] | null | undefined, currency: string, language: Language,
): string[] {
  return (lines ?? []).map((l) => statementLine(l, currency, language));
}

/** A balance reply as the BAL SMS and the USSD menu show it: its amounts formatted, and the mini statement. */
export interface BalanceView {
  /** What the subscriber's balance is: the carrier account's, else (a wallet-model operator's account is the wallet) the wallet's. */
  readonly shown: string;
  /** The carrier account's balance; null when there is none. */
  readonly balance: string | null;
  /** The dialpay wallet's; null when there is none. */
  readonly wallet: string | null;
  /** The carrier did not answer: `balance` is not the current one. */
  readonly carrierUnavailable: boolean;
  /** The mini statement, one movement an entry (statementLine). */
  readonly lines: string[];
}

/** Billing's balance reply, in the operator's currency and the subscriber's language; null when it has nothing to show. */
export function balanceView(reply: dialpay.v1.IBalanceReply | null, currency: string, language: Language): BalanceView | null {
  const shown = reply?.balance ?? reply?.wallet;
  if (!reply || !reply.available || !shown) return null;
  const amount = (m: dialpay.v1.IMoney | null | undefined) => (m ? formatAmount(moneyFromProto(m).amountMinor, currency, language) : null);
  return {
    shown: amount(shown) as string, balance: amount(reply.balance), wallet: amount(reply.wallet),
    carrierUnavailable: reply.carrierUnavailable ?? false, lines: statementLines(reply.lines, currency, language),
  };
}
