// What a step's actions do (engine.ts step): each one an SMS, an event or a
// notification through the engine, in the transaction that wrote the state.
import type pg from 'pg';
import { dialpay, moneyToProto } from '../../proto/index.js';
import { Events, Notifications } from '../../runtime/nats/index.js';
import { formatAmount } from '../../runtime/money.js';
import type { PaymentAction } from './state.js';
import { reply } from './replies.js';
import { failedReply } from './refusals.js';
import { sendChallenge, type PreparedChallenge } from './challenge.js';
import { failureCode } from './failure-codes.js';
import { airtimeReceipts } from './airtime.js';
import { payeeReceiptRoute, payeeReceiptText } from './transfers.js';
import * as store from './store.js';
import { SMS_NOTICE, SMS_RECEIPT, timeBound } from './sms-options.js';
import { cashFailedText, cashReceipts, isCashPayment } from './cash.js';
import { payerOf, type PaymentRow } from './rows.js';
import type { PaymentEngine } from './engine.js';
import { holdPayment, requestReserveAgain } from './holds.js';

const { ChallengeMethod, SmsKind } = dialpay.v1;

/** One action of a step whose state (and the row columns the actions need: `challenge`, an authorisation's expiry) is written. */
export async function runAction(
  engine: PaymentEngine, client: pg.PoolClient, payment: PaymentRow, action: PaymentAction, attempts: number,
  challenge: PreparedChallenge | null,
): Promise<void> {
  const id = payment.payment_id;
  const to = payerOf(payment);
  const lang = payment.language;
  switch (action.kind) {
    case 'challenge':
      if (!challenge) throw new Error('a challenge action without its prepared challenge');
      return sendChallenge(engine, client, payment, challenge);
    case 'hold':
      await holdPayment(engine, client, payment, action.rule);
      return;
    case 'reserve':
      return requestReserveAgain(engine, client, payment);
    case 'authorize': {
      // Consent for up to the amount: the hold stays until the merchant captures or it expires (its expiry written with the state).
      engine.notify(client, Notifications.paymentConfirmed, `${id}:confirmed`, id, { paymentId: id, method: confirmedBy(payment) });
      const amount = formatAmount(payment.amount_minor, payment.currency, lang);
      return engine.sms(client, `${id}:authorized-sms`, id, to,
        reply('authorized', lang, { amount, payee: engine.payeeName(payment) }), SMS_NOTICE);
    }
    case 'capture':
      // A manual capture was confirmed when it was authorized; this is the merchant's capture.
      if (payment.capture_mode !== 'manual') {
        engine.notify(client, Notifications.paymentConfirmed, `${id}:confirmed`, id, { paymentId: id, method: confirmedBy(payment) });
      }
      return engine.requestCapture(client, payment, `${id}:capture`);
    case 'void':
      return engine.emit(client, Events.debitVoidRequested, `${id}:void`, id,
        { debitId: id, paymentId: id, reason: 'payment not completed' });
    case 'receipts':
      return payment.payee_kind === 'airtime'
        ? airtimeReceipts(engine, client, payment, action.topUpRefunded === true) : completionReceipts(engine, client, payment);
    case 'retry-prompt':
      // Useful only while its challenge is open: it expires with it.
      return engine.sms(client, `${id}:retry-${attempts}`, id, to, reply('retry', lang, { left: String(action.attemptsLeft) }),
        timeBound(SmsKind.SMS_KIND_RETRY_PROMPT, payment.expires_at?.getTime()));
    case 'fail':
      engine.notify(client, Notifications.paymentFailed, `${id}:failed`, id,
        { paymentId: id, reason: failureCode(action.reason), detail: action.reason });
      await engine.tellMerchant(client, payment, 'failed', action.reason);
      return engine.sms(client, `${id}:failed-sms`, id, to,
        cashFailedText(payment, action.reason) ?? failedReply(action.reason, payment.amount_minor, payment.currency, lang), SMS_NOTICE);
  }
}

/** A payment (not airtime) completed: PaymentCompleted, the merchant's event, and the receipts. */
async function completionReceipts(engine: PaymentEngine, client: pg.PoolClient, payment: PaymentRow): Promise<void> {
  const id = payment.payment_id;
  const lang = payment.language;
  const to = payerOf(payment);
  engine.notify(client, Notifications.paymentCompleted, `${id}:completed`, id, {
    paymentId: id, amount: moneyToProto({ amountMinor: payment.amount_minor, currency: payment.currency }),
    fee: moneyToProto({ amountMinor: payment.fee_minor, currency: payment.currency }), transferId: `capture:${id}`,
  });
  await engine.tellMerchant(client, payment, 'completed', null);
  const ref = id.slice(0, 8).toUpperCase();
  if (isCashPayment(payment)) return cashReceipts(engine, client, payment, ref);
  const amount = formatAmount(payment.amount_minor, payment.currency, lang);
  const fee = formatAmount(payment.fee_minor, payment.currency, lang);
  await engine.sms(client, `${id}:receipt-payer`, id, to,
    reply('receiptPayer', lang, { amount, payee: engine.payeeName(payment), fee, paymentRef: ref }), SMS_RECEIPT);
  if (payment.payee_kind === 'subscriber') {
    // Through the payee's operator's link; a payee we have not heard from yet reads that operator's language.
    const payee = payeeReceiptRoute(payment, engine.operators);
    const payeeLang = (await store.payeeLanguage(client, payment)) ?? payee.defaultLanguage;
    await engine.sms(client, `${id}:receipt-payee`, id, payee.to, payeeReceiptText(payment, ref, payeeLang), SMS_RECEIPT);
  }
}

function confirmedBy(payment: PaymentRow): dialpay.v1.ChallengeMethod {
  return payment.challenge_method === 'pin' ? ChallengeMethod.CHALLENGE_METHOD_PIN : ChallengeMethod.CHALLENGE_METHOD_ONE_TIME_CODE;
}
