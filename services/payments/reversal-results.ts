// Billing's answer to a reversal (reversals.ts): the outcome appended to payments.reversal_outcomes,
// and, when money moved, both parties told by SMS in their language: the payer what came back (and
// of how much, when the payee had spent part of it), the payee what was taken from their wallet and why.
// A refusal (the wallet emptied meanwhile, a bad request) tells nobody: care reads it.
import { dialpay, moneyFromProtoOrNull } from '../../proto/index.js';
import type { Language } from '../../runtime/language.js';
import { formatAmount } from '../../runtime/money.js';
import { maskMsisdn, maskMsisdnsInText } from '../../runtime/log.js';
import { withTransaction } from '../../runtime/pg/index.js';
import type pg from 'pg';
import type { PaymentEngine } from './engine.js';
import { reply } from './replies.js';
import * as store from './store.js';
import { paymentRef, reversalOutcome } from './reversal-rules.js';
import { insertOutcome, readReversal, type ReversalView } from './reversals-store.js';
import { SMS_RECEIPT } from './sms-options.js';

export async function onReversalResult(e: PaymentEngine, paymentId: string, result: dialpay.v1.ICreditResult): Promise<void> {
  await withTransaction(e.pool, 'READ COMMITTED', async (client) => {
    const reversal = await readReversal(client, paymentId);
    if (!reversal) {
      e.log.warn({ paymentId }, 'reversal result for a reversal we never asked');
      return;
    }
    const ok = result.outcome === dialpay.v1.CreditOutcome.CREDIT_OUTCOME_OK;
    const credited = moneyFromProtoOrNull(result.credited);
    const reversedMinor = ok && credited && credited.currency === reversal.currency ? credited.amountMinor : 0n;
    if (ok && (reversedMinor <= 0n || reversedMinor > reversal.askedMinor)) {
      // Billing never books more than asked, nor nothing as OK: a bug to see, not an outcome to record.
      throw new Error(`reversal of ${paymentId}: billing booked ${credited?.amountMinor} ${credited?.currency} of ${reversal.askedMinor}`);
    }
    const outcome = reversalOutcome(reversal.askedMinor, reversedMinor);
    if (!(await insertOutcome(client, paymentId, outcome, reversedMinor, result.detail ?? ''))) return; // a repeated result
    const log = { paymentId, outcome, reversedMinor: String(reversedMinor), payer: maskMsisdn(reversal.payerMsisdn) };
    if (outcome === 'refused') {
      e.log.warn({ ...log, detail: maskMsisdnsInText(result.detail ?? '') }, 'reversal refused by billing; nothing moved');
      return;
    }
    await tellBoth(e, client, reversal, reversedMinor);
    e.log.info(log, 'transfer reversed');
  });
}

async function tellBoth(e: PaymentEngine, client: pg.ClientBase, reversal: ReversalView, reversedMinor: bigint): Promise<void> {
  const operator = e.operators.get(reversal.operatorId);
  if (!operator) {
    e.log.warn({ paymentId: reversal.paymentId, operatorId: reversal.operatorId }, 'reversal of an operator no longer configured: no SMS');
    return;
  }
  const ref = paymentRef(reversal.paymentId);
  const languageOf = async (msisdn: string): Promise<Language> => (await store.readLanguage(client, msisdn)) ?? operator.defaultLanguage;
  const to = (msisdn: string) => ({ operatorId: operator.id, msisdn, shortCode: operator.shortCodes[0] as string });
  const amount = (minor: bigint, language: Language) => formatAmount(minor, reversal.currency, language);
  const payerLanguage = await languageOf(reversal.payerMsisdn);
  const partial = reversedMinor < reversal.askedMinor;
  await e.sms(client, `reversal:${reversal.paymentId}:payer-sms`, reversal.paymentId, to(reversal.payerMsisdn),
    reply(partial ? 'reversalReturnedPartial' : 'reversalReturned', payerLanguage, {
      amount: amount(reversedMinor, payerLanguage), asked: amount(reversal.askedMinor, payerLanguage), ref,
      payee: `+${reversal.payeeMsisdn}`,
    }), SMS_RECEIPT);
  const payeeLanguage = await languageOf(reversal.payeeMsisdn);
  await e.sms(client, `reversal:${reversal.paymentId}:payee-sms`, reversal.paymentId, to(reversal.payeeMsisdn),
    reply('reversalTaken', payeeLanguage, { amount: amount(reversedMinor, payeeLanguage), ref }), SMS_RECEIPT);
}
