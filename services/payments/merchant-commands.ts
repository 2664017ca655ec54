// The merchant API's calls: the gateway checked the key; this keeps the rules
// and the idempotency (one Idempotency-Key, one reply, stored in the same
// transaction as what the call changed).
import type pg from 'pg';
import { dialpay, moneyFromProtoOrNull, unixMsFromProto } from '../../proto/index.js';
import type { MerchantConfig } from '../../runtime/config/index.js';
import { splitMerchantPayment } from './fees.js';
import { merchantRequestTtlMs } from './merchant-requests.js';
import { PaymentState } from './state.js';
import { decodeCursor, encodeCursor, merchantPayment, statesOf, MERCHANT_STATUS } from './merchant-view.js';
import { MERCHANT_REFUSAL, merchantRequestRefused, payerOfMerchant } from './merchant-checks.js';
import { chargeMandate, createMandate, mandateView } from './mandates.js';
import { refundForMerchant } from './refunds.js';
import { withIdempotencyKey } from './api-idempotency.js';
import { createPayout, listPayouts, readPayout } from './credits.js';
import * as store from './store.js';
import * as merchantStore from './merchant-store.js';
import type { PaymentRow } from './rows.js';
import type { PaymentEngine } from './engine.js';

const MerchantError = dialpay.v1.MerchantError;
/** Payments per page of GET /v1/payments. */
const MERCHANT_PAGE_DEFAULT = 50;
const MERCHANT_PAGE_MAX = 200;

export async function onMerchantCommand(
  e: PaymentEngine, request: dialpay.v1.IMerchantCommandRequest,
): Promise<dialpay.v1.IMerchantCommandReply> {
  const merchant = e.merchants.get(request.merchantId ?? '');
  if (!merchant) return { error: MerchantError.MERCHANT_ERROR_NOT_FOUND, detail: 'unknown merchant' };
  if (request.getPayment) {
    const row = await merchantStore.merchantPaymentWithRefunds(e.pool, request.getPayment.paymentId ?? '', merchant.id);
    return row ? { payment: merchantPayment(row, BigInt(row.refunded_minor)) }
      : { error: MerchantError.MERCHANT_ERROR_NOT_FOUND, detail: 'no such payment' };
  }
  if (request.listPayments) return listForMerchant(e, merchant, request.listPayments);
  if (request.getMandate) {
    const found = await merchantStore.readMandate(e.pool, request.getMandate.mandateId ?? '', merchant.id);
    return found ? { mandate: await mandateView(e.pool, found) }
      : { error: MerchantError.MERCHANT_ERROR_NOT_FOUND, detail: 'no such mandate' };
  }
  if (request.getPayout) return readPayout(e, merchant, request.getPayout.payoutId ?? '');
  if (request.listPayouts) return listPayouts(e, merchant, request.listPayouts);
  const {
    createPaymentRequest: create, capturePayment: capture, refundPayment: refund,
    createMandate: newMandate, chargeMandate: charge, createPayout: payout,
  } = request;
  if (!create && !capture && !refund && !newMandate && !charge && !payout) {
    return { error: MerchantError.MERCHANT_ERROR_INVALID, detail: 'no command' };
  }
  const key = request.idempotencyKey ?? '';
  return withIdempotencyKey(e.pool, merchant.id, key, request.bodySha256, dialpay.v1.MerchantCommandReply, (client, bodyHash) =>
    create ? createForMerchant(e, client, merchant, create)
      : capture ? captureForMerchant(e, client, merchant, capture)
        : refund ? refundForMerchant(e, client, merchant, refund)
          : newMandate ? createMandate(e, client, merchant, newMandate)
            : payout ? createPayout(e, client, merchant, payout, { key, bodyHash })
              : chargeMandate(e, client, merchant, charge as dialpay.v1.IChargeMandate));
}

async function createForMerchant(
  e: PaymentEngine, client: pg.PoolClient, merchant: MerchantConfig, create: dialpay.v1.ICreatePaymentRequest,
): Promise<dialpay.v1.IMerchantCommandReply> {
  const amount = moneyFromProtoOrNull(create.amount);
  if (!amount) return { error: MerchantError.MERCHANT_ERROR_INVALID, detail: 'amount is not valid' };
  const payer = payerOfMerchant(e, merchant, create.msisdn ?? '', amount.currency);
  if (!payer) {
    return { error: MerchantError.MERCHANT_ERROR_REFUSED,
      detail: 'the number is not on an operator this merchant is served by, in this currency' };
  }
  const { operator, msisdn } = payer;
  if (amount.amountMinor <= 0n) return { error: MerchantError.MERCHANT_ERROR_INVALID, detail: 'amount must be positive' };
  const subscriber = await store.lockSubscriber(client, msisdn, operator.defaultLanguage);
  if (amount.amountMinor > e.config.limits.pinRequiredAboveMinor && subscriber.pin_locked) {
    return { error: MerchantError.MERCHANT_ERROR_REFUSED, detail: MERCHANT_REFUSAL };
  }
  const refused = await merchantRequestRefused(e, client, msisdn, merchant.id);
  if (refused) return refused;
  const opened = await e.open(client, subscriber, operator, {
    payee: { kind: 'merchant', id: merchant.id }, amountMinor: amount.amountMinor, reference: create.reference ?? '',
    language: subscriber.language, channel: 'api', shortCode: operator.shortCodes[0] as string, requestId: null,
    description: create.description ?? '',
    confirmTtlMs: merchantRequestTtlMs(create.expiresInSeconds ?? 0, e.config.limits.challengeTtlMs),
    manualCapture: create.manualCapture === true,
  });
  // The payer's own reasons (their remaining limit, say) are theirs: the merchant gets a stable one.
  if (!opened.ok) return { error: MerchantError.MERCHANT_ERROR_REFUSED, detail: MERCHANT_REFUSAL };
  const row = (await store.readPayment(client, opened.paymentId)) as PaymentRow;
  return { payment: merchantPayment(row) };
}

/** Manual capture: the amount used, at most what the payer authorized; the split is taken on it, the rest released. */
async function captureForMerchant(
  e: PaymentEngine, client: pg.PoolClient, merchant: MerchantConfig, capture: dialpay.v1.ICapturePayment,
): Promise<dialpay.v1.IMerchantCommandReply> {
  const payment = await merchantStore.lockMerchantPayment(client, capture.paymentId ?? '', merchant.id);
  if (!payment) return { error: MerchantError.MERCHANT_ERROR_NOT_FOUND, detail: 'no such payment' };
  if (payment.capture_mode !== 'manual') {
    return { error: MerchantError.MERCHANT_ERROR_REFUSED, detail: 'this payment is captured automatically' };
  }
  if (payment.state !== PaymentState.AUTHORIZED) {
    return { error: MerchantError.MERCHANT_ERROR_REFUSED, detail: `the payment is ${MERCHANT_STATUS[payment.state]}, not authorized` };
  }
  if (!payment.authorization_expires_at || payment.authorization_expires_at.getTime() <= Date.now()) {
    return { error: MerchantError.MERCHANT_ERROR_REFUSED, detail: 'the authorization has expired' };
  }
  const amount = moneyFromProtoOrNull(capture.amount);
  if (!amount) return { error: MerchantError.MERCHANT_ERROR_INVALID, detail: 'amount is not valid' };
  const authorizedMinor = BigInt(payment.authorized_minor ?? payment.amount_minor);
  if (amount.currency !== payment.currency || amount.amountMinor <= 0n || amount.amountMinor > authorizedMinor) {
    return { error: MerchantError.MERCHANT_ERROR_REFUSED,
      detail: `capture between 1 and ${authorizedMinor} minor units of ${payment.currency}` };
  }
  const schedule = e.config.feeSchedules.find((f) => f.id === merchant.feeScheduleId);
  const operator = e.operators.get(payment.operator_id);
  const split = schedule && operator ? splitMerchantPayment(amount.amountMinor, schedule, operator.revenueShareBps) : null;
  if (!split) {
    return { error: MerchantError.MERCHANT_ERROR_REFUSED, detail: 'this amount is too small to capture after fees' };
  }
  const captured = await merchantStore.setCapturedSplit(client, payment.payment_id, split);
  await e.step(client, captured, { kind: 'merchant-capture' });
  return { payment: merchantPayment({ ...captured, state: PaymentState.CAPTURING }) };
}

async function listForMerchant(
  e: PaymentEngine, merchant: MerchantConfig, list: dialpay.v1.IListPayments,
): Promise<dialpay.v1.IMerchantCommandReply> {
  const limit = Math.min(Math.max(list.limit || MERCHANT_PAGE_DEFAULT, 1), MERCHANT_PAGE_MAX);
  const states = list.status ? statesOf(list.status) : null;
  if (list.status && !states) {
    return { error: MerchantError.MERCHANT_ERROR_INVALID, detail: `unknown status "${list.status}"` };
  }
  const cursor = list.cursor ? decodeCursor(list.cursor) : null;
  if (list.cursor && !cursor) {
    return { error: MerchantError.MERCHANT_ERROR_INVALID, detail: 'cursor is not one we gave out' };
  }
  const fromMs = unixMsFromProto(list.fromUnixMs);
  const toMs = unixMsFromProto(list.toUnixMs) || Date.now() + 1;
  const rows = await merchantStore.merchantPaymentsPage(e.pool, {
    merchantId: merchant.id, fromMs, toMs, states, cursor, rowsMax: limit + 1,
  });
  const page = rows.slice(0, limit);
  const last = page[page.length - 1];
  return {
    payments: page.map((row) => merchantPayment(row, BigInt(row.refunded_minor))),
    nextCursor: rows.length > limit && last ? encodeCursor({ createdAtIso: last.cursor_at, paymentId: last.payment_id }) : '',
  };
}
