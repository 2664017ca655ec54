// Transfers between subscribers, on one operator or across two: whose number
// the payee's is (the operators' number ranges, runtime/msisdn.ts), what the
// payer is told when a transfer cannot be made, and where the payee's receipt
// goes. Pure: config and rows in, decisions out; the engine does the I/O.
//
// A transfer is refused before anything is reserved when the payee's number is
// in no operator's ranges, is the payer's own, or is on an operator that bills
// in another currency (there are no rate tables). Otherwise the payer's
// operator is debited and the payee's wallet (subscriber:<msisdn>) credited;
// billing books the inter-operator position when the two operators differ.
// Number portability is not modelled: a ported number belongs to the operator
// whose range holds it (a portability lookup would go in operatorForNumber).
import type { OperatorConfig } from '../../runtime/config/index.js';
import { formatAmount } from '../../runtime/money.js';
import { operatorForNumber } from '../../runtime/msisdn.js';
import type { Language } from '../../runtime/language.js';
import { reply } from './replies.js';
import { refusalText } from './refusals.js';
import type { Destination, PaymentRow } from './rows.js';

export const TransferRefusal = {
  SELF: 'self',
  NO_OPERATOR: 'no-operator',
  OTHER_CURRENCY: 'other-currency',
} as const;
export type TransferRefusalValue = (typeof TransferRefusal)[keyof typeof TransferRefusal];

export type TransferRoute =
  | { readonly ok: true; readonly payeeOperator: OperatorConfig }
  | { readonly ok: false; readonly refusal: TransferRefusalValue; readonly payeeOperator: OperatorConfig | null };

/** Where a transfer from `payerMsisdn` on `payerOperator` to `payeeMsisdn` (E.164 digits) goes, or why it cannot. */
export function routeTransfer(
  operators: readonly OperatorConfig[], payerOperator: OperatorConfig, payerMsisdn: string, payeeMsisdn: string,
): TransferRoute {
  const payeeOperator = operatorForNumber(operators, payeeMsisdn);
  if (payeeMsisdn === payerMsisdn) return { ok: false, refusal: TransferRefusal.SELF, payeeOperator };
  if (!payeeOperator) return { ok: false, refusal: TransferRefusal.NO_OPERATOR, payeeOperator: null };
  if (payeeOperator.currency !== payerOperator.currency) {
    return { ok: false, refusal: TransferRefusal.OTHER_CURRENCY, payeeOperator };
  }
  return { ok: true, payeeOperator };
}

/** What the payer reads when a transfer is refused; nothing was reserved. */
export function transferRefusalText(
  route: Extract<TransferRoute, { ok: false }>, payeeMsisdn: string, payerOperator: OperatorConfig, language: Language,
): string {
  switch (route.refusal) {
    case TransferRefusal.SELF:
      return refusalText('self_transfer', language);
    case TransferRefusal.NO_OPERATOR:
      return refusalText('payee_no_network', language, { payee: `+${payeeMsisdn}` });
    case TransferRefusal.OTHER_CURRENCY:
      return refusalText('payee_other_currency', language, {
        payee: `+${payeeMsisdn}`, operator: route.payeeOperator?.name ?? '', theirs: route.payeeOperator?.currency ?? '',
        ours: payerOperator.currency,
      });
  }
}

/**
 * Where the payee's receipt goes and in which language by default: through the payee's
 * operator's link, from its first short code. A payment from before number ranges (no payee
 * operator recorded) goes the way it always did, through the payer's operator.
 */
export function payeeReceiptRoute(
  payment: Pick<PaymentRow, 'operator_id' | 'short_code' | 'payee_id' | 'payee_operator_id'>,
  operators: ReadonlyMap<string, OperatorConfig>,
): { to: Destination; defaultLanguage: Language } {
  const payer = operators.get(payment.operator_id);
  const payee = payment.payee_operator_id ? operators.get(payment.payee_operator_id) : undefined;
  if (!payee || payee.id === payment.operator_id) {
    return {
      to: { operatorId: payment.operator_id, msisdn: payment.payee_id, shortCode: payment.short_code },
      defaultLanguage: payer?.defaultLanguage ?? 'en',
    };
  }
  return {
    to: { operatorId: payee.id, msisdn: payment.payee_id, shortCode: payee.shortCodes[0] as string },
    defaultLanguage: payee.defaultLanguage,
  };
}

/** The payee's receipt: what arrived and from whom, in the payee's language. */
export function payeeReceiptText(
  payment: Pick<PaymentRow, 'payee_minor' | 'currency' | 'payer_msisdn'>, paymentRef: string, language: Language,
): string {
  return reply('receiptPayee', language, {
    amount: formatAmount(payment.payee_minor, payment.currency, language), payer: `+${payment.payer_msisdn}`, paymentRef,
  });
}
