// Airtime bought through dialpay, for the payer's own line or another: a payment whose payee is
// the line (payee_kind 'airtime'). The payer confirms it like any payment; at capture billing moves
// the money to the airtime account of the line's operator and has that operator top the line up
// (services/billing/top-ups.ts). This module is payments' side: whether it is offered, what the
// capture asks for, and the SMS that follow (a refused top-up leaves the money in the payer's
// dialpay wallet, and they are told).
import type pg from 'pg';
import { moneyToProto } from '../../proto/index.js';
import type { OperatorConfig } from '../../runtime/config/index.js';
import { offersAirtime } from '../../runtime/airtime.js';
import { formatAmount } from '../../runtime/money.js';
import { operatorForNumber, isE164 } from '../../runtime/msisdn.js';
import { Notifications } from '../../runtime/nats/index.js';
import type { Language } from '../../runtime/language.js';
import * as store from './store.js';
import { payerOf, type PaymentRow } from './rows.js';
import type { PaymentEngine } from './engine.js';
import { SMS_NOTICE, SMS_RECEIPT } from './sms-options.js';
import { payeeReceiptRoute } from './transfers.js';
import { refusalText } from './refusals.js';

type Args = Readonly<Record<string, string>>;
const T = {
  receipt: {
    en: (a: Args) => `Airtime ${a.amount} for ${a.target} bought. Fee ${a.fee}. Ref ${a.paymentRef}.`,
    fr: (a: Args) => `Credit de ${a.amount} achete pour ${a.target}. Frais ${a.fee}. Ref ${a.paymentRef}.`,
  },
  received: {
    en: (a: Args) => `You received ${a.amount} airtime from ${a.payer}. Ref ${a.paymentRef}.`,
    fr: (a: Args) => `Vous avez recu ${a.amount} de credit de ${a.payer}. Ref ${a.paymentRef}.`,
  },
  refunded: {
    en: (a: Args) => `Airtime ${a.amount} for ${a.target} failed: the operator refused the top-up. `
      + `The ${a.amount} is in your dialpay wallet. Ref ${a.paymentRef}.`,
    fr: (a: Args) => `Le credit de ${a.amount} pour ${a.target} a echoue: l operateur a refuse la recharge. `
      + `Les ${a.amount} sont dans votre portefeuille dialpay. Ref ${a.paymentRef}.`,
  },
} as const satisfies Record<string, Record<Language, (a: Args) => string>>;

export function airtimeText(key: keyof typeof T, language: Language, args: Args = {}): string {
  return T[key][language](args);
}

/** The operator of the line to top up, from the number's range (operators' numberRanges). */
export function airtimeOperatorOf(e: PaymentEngine, _payerOperatorId: string, target: string): OperatorConfig | undefined {
  return operatorForNumber(e.config.operators, target) ?? undefined;
}

/** Why airtime for `target` cannot be bought here (an SMS or END text), or null when it can. Nothing is reserved before this says yes. */
export function airtimeRefusal(e: PaymentEngine, payerOperator: OperatorConfig, target: string, language: Language): string | null {
  if (!isE164(target)) return refusalText('airtime_bad_number', language, { target });
  const operator = airtimeOperatorOf(e, payerOperator.id, target);
  if (!operator || !offersAirtime(operator) || !offersAirtime(payerOperator)) return refusalText('airtime_not_offered', language);
  // No rate table: the line's airtime is sold in its operator's currency only.
  if (operator.currency !== payerOperator.currency) {
    return refusalText('airtime_other_currency', language, { target: `+${target}`, currency: payerOperator.currency });
  }
  return null;
}

/** What the capture of an airtime payment tells billing: the line, and its operator. */
export function airtimeCapture(e: PaymentEngine, payment: PaymentRow): { topUpMsisdn: string; topUpOperatorId: string } {
  const topUpOperatorId = airtimeOperatorOf(e, payment.operator_id, payment.payee_id)?.id ?? payment.operator_id;
  return { topUpMsisdn: payment.payee_id, topUpOperatorId };
}

export function airtimePayeeName(target: string, language: Language | undefined): string {
  return language === 'fr' ? `credit pour +${target}` : `airtime for +${target}`;
}

/**
 * The capture is done: the payer's receipt names the line and the amount, and another line is
 * told it received airtime. A top-up the operator refused was refunded to the payer's wallet by
 * billing: the payer is told so, and the line is told nothing.
 */
export async function airtimeReceipts(
  e: PaymentEngine, client: pg.PoolClient, payment: PaymentRow, refundedToWallet: boolean,
): Promise<void> {
  const id = payment.payment_id;
  const lang = payment.language;
  const to = payerOf(payment);
  const money = (amountMinor: bigint) => moneyToProto({ amountMinor, currency: payment.currency });
  e.notify(client, Notifications.paymentCompleted, `${id}:completed`, id,
    { paymentId: id, amount: money(payment.amount_minor), fee: money(payment.fee_minor), transferId: `capture:${id}` });
  const paymentRef = id.slice(0, 8).toUpperCase();
  const amount = formatAmount(payment.payee_minor, payment.currency, lang);
  const target = `+${payment.payee_id}`;
  if (refundedToWallet) {
    e.log.warn({ paymentId: id }, 'airtime top-up refused; the payer was refunded to their wallet');
    return e.sms(client, `${id}:airtime-refunded`, id, to, airtimeText('refunded', lang, { amount, target, paymentRef }), SMS_NOTICE);
  }
  const fee = formatAmount(payment.fee_minor, payment.currency, lang);
  await e.sms(client, `${id}:receipt-payer`, id, to, airtimeText('receipt', lang, { amount, target, fee, paymentRef }), SMS_RECEIPT);
  if (payment.payee_id === payment.payer_msisdn) return;
  // Through the line's own operator's link, as a transfer's payee receipt (transfers.ts).
  const lineOperatorId = airtimeOperatorOf(e, payment.operator_id, payment.payee_id)?.id ?? null;
  const route = payeeReceiptRoute({ ...payment, payee_operator_id: lineOperatorId }, e.operators);
  const targetLang = (await store.payeeLanguage(client, payment)) ?? route.defaultLanguage;
  const received = formatAmount(payment.payee_minor, payment.currency, targetLang);
  await e.sms(client, `${id}:receipt-payee`, id, route.to,
    airtimeText('received', targetLang, { amount: received, payer: `+${payment.payer_msisdn}`, paymentRef }), SMS_RECEIPT);
}
