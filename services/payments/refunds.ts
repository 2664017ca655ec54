// Refunds of a completed merchant payment: asked by the merchant (never more
// than captured minus refunded), carried out by billing, told to the payer
// and the merchant when billing answers.
import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { dialpay, moneyFromProtoOrNull, moneyToProto, unixMsToProto } from '../../proto/index.js';
import type { MerchantConfig } from '../../runtime/config/index.js';
import { Events } from '../../runtime/nats/index.js';
import { withTransaction } from '../../runtime/pg/index.js';
import { formatAmount } from '../../runtime/money.js';
import { PaymentState } from './state.js';
import { reply } from './replies.js';
import { merchantPayment, MERCHANT_STATUS } from './merchant-view.js';
import * as store from './store.js';
import * as merchantStore from './merchant-store.js';
import { payerOf, type PaymentRow, type RefundRow } from './rows.js';
import type { PaymentEngine } from './engine.js';
import { SMS_RECEIPT } from './sms-options.js';

const { DebitOutcome, MerchantError } = dialpay.v1;

function merchantRefund(refund: RefundRow, currency: string): dialpay.v1.IMerchantRefund {
  return {
    refundId: refund.refund_id, status: refund.state, amount: moneyToProto({ amountMinor: BigInt(refund.amount_minor), currency }),
    createdAtUnixMs: unixMsToProto(refund.created_at),
  };
}

/** Never more than captured minus refunded (pending refunds included), and only a completed payment. */
export async function refundForMerchant(
  e: PaymentEngine, client: pg.PoolClient, merchant: MerchantConfig, refund: dialpay.v1.IRefundPayment,
): Promise<dialpay.v1.IMerchantCommandReply> {
  const payment = await merchantStore.lockMerchantPayment(client, refund.paymentId ?? '', merchant.id);
  if (!payment) return { error: MerchantError.MERCHANT_ERROR_NOT_FOUND, detail: 'no such payment' };
  if (payment.state !== PaymentState.COMPLETED) {
    return { error: MerchantError.MERCHANT_ERROR_REFUSED,
      detail: `the payment is ${MERCHANT_STATUS[payment.state]}; only a completed payment can be refunded` };
  }
  const amount = moneyFromProtoOrNull(refund.amount);
  if (!amount) return { error: MerchantError.MERCHANT_ERROR_INVALID, detail: 'amount is not valid' };
  const refunded = await merchantStore.refundedMinor(client, payment.payment_id);
  const left = BigInt(payment.amount_minor) - refunded;
  if (amount.currency !== payment.currency || amount.amountMinor <= 0n || amount.amountMinor > left) {
    return { error: MerchantError.MERCHANT_ERROR_REFUSED, detail: `at most ${left} minor units of ${payment.currency} are left to refund` };
  }
  const refundId = randomUUID();
  const row = await merchantStore.insertRefund(client, refundId, payment.payment_id, amount.amountMinor);
  await e.emit(client, Events.debitRefundRequested, `${refundId}:refund`, payment.payment_id, {
    refundId, debitId: payment.payment_id, paymentId: payment.payment_id, amount: moneyToProto(amount), merchantId: merchant.id,
  });
  e.log.info({ paymentId: payment.payment_id, refundId }, 'refund requested');
  return { payment: merchantPayment(payment, refunded + amount.amountMinor), refund: merchantRefund(row, payment.currency) };
}

/** Billing gave the money back (or could not): tell the payer and the merchant. */
export async function onRefundResult(e: PaymentEngine, result: dialpay.v1.IDebitRefundResult): Promise<void> {
  const ok = result.outcome === DebitOutcome.DEBIT_OUTCOME_OK;
  await withTransaction(e.pool, 'READ COMMITTED', async (client) => {
    const refund = await merchantStore.endRefund(client, result.refundId ?? '', ok, result.detail ?? '');
    if (!refund) return; // a repeated result
    const payment = (await store.readPayment(client, refund.payment_id)) as PaymentRow;
    if (!ok) {
      e.log.warn({ paymentId: payment.payment_id, refundId: refund.refund_id, detail: result.detail }, 'refund refused by billing');
      return;
    }
    const lang = payment.language;
    const to = payerOf(payment);
    await e.sms(client, `${refund.refund_id}:refund-sms`, payment.payment_id, to, reply('refunded', lang, {
      amount: formatAmount(BigInt(refund.amount_minor), payment.currency, lang), payee: e.payeeName(payment),
      paymentRef: payment.payment_id.slice(0, 8).toUpperCase(),
      wallet: payment.funding === 'wallet' ? 'yes' : '',
    }), SMS_RECEIPT);
    await e.emit(client, Events.merchantEvent, `${refund.refund_id}:merchant:refunded`, payment.payment_id, {
      merchantId: payment.payee_id, type: 'payment.refunded',
      payment: merchantPayment(payment, await merchantStore.refundedMinor(client, payment.payment_id)),
      refund: merchantRefund(refund, payment.currency),
    });
  });
}
