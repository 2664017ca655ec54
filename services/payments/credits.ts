// Credits (issue 16): an operator's deposit or a merchant's payout into a
// subscriber's dialpay wallet, with no payer to confirm it. payments opens the
// record (payments.credits) and asks billing to book it (CreditRequested,
// credit.proto) through the outbox in the same transaction; billing books one
// transfer or refuses with nothing moved; its CreditResult ends the record,
// tells the subscriber by SMS and, for a payout, the merchant by webhook.
// The APIs wait briefly for that answer (gateway/merchant-api/server.ts).
import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { dialpay, moneyFromProtoOrNull, moneyToProto, unixMsFromProto, unixMsToProto } from '../../proto/index.js';
import type { MerchantConfig, OperatorConfig } from '../../runtime/config/index.js';
import { maskMsisdn, maskMsisdnsInText } from '../../runtime/log.js';
import { formatAmount } from '../../runtime/money.js';
import { numberBelongsTo, toE164 } from '../../runtime/msisdn.js';
import { Events } from '../../runtime/nats/index.js';
import { withTransaction } from '../../runtime/pg/index.js';
import { operatorScope, withIdempotencyKey } from './api-idempotency.js';
import { payerOfMerchant } from './merchant-checks.js';
import { readOperatorAgent, topUpAgentFloat } from './operator-agents.js';
import { setOperatorBlock, setOperatorKycTier } from './operator-subscribers.js';
import { decodeCursor, encodeCursor } from './merchant-view.js';
import { reply } from './replies.js';
import { requestCredit, walletMaxOf } from './credit-requests.js';
import * as store from './store.js';
import * as creditStore from './credits-store.js';
import type { CreditFailure, CreditRow, CreditSource, CreditState } from './credits-store.js';
import type { PaymentEngine } from './engine.js';
import { SMS_RECEIPT } from './sms-options.js';
import { reversedPaymentOf } from './reversal-rules.js';
import { onReversalResult } from './reversal-results.js';

const { CreditOutcome, MerchantError } = dialpay.v1;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const REFERENCE_CHARS_MAX = 40;
/** Payouts per page of GET /v1/payouts. */
const PAGE_DEFAULT = 50;
const PAGE_MAX = 200;

type Refusal = { error: dialpay.v1.MerchantError; detail: string };
type Opened = { row: CreditRow } | Refusal;

interface CreditAsk {
  source: CreditSource;
  operator: OperatorConfig;
  merchant: MerchantConfig | null;
  msisdn: string;
  amount: { amountMinor: bigint; currency: string };
  reference: string;
  scope: string;
  key: string;
  bodyHash: Buffer;
}

/**
 * The credit this Idempotency-Key opened, however long ago (api_requests forgets after a day; credits
 * keep their key): the same body gets it, another body is a conflict; null when the key opened none.
 * Asked before any check of the body, so a body refused by those checks never takes the key over
 * from the body that opened the credit (withIdempotencyKey stores a refusal's reply under the key).
 */
async function creditOfKey(client: pg.PoolClient, scope: string, idem: { key: string; bodyHash: Buffer }): Promise<Opened | null> {
  const prior = await creditStore.creditByKey(client, scope, idem.key);
  if (!prior) return null;
  return prior.body_sha256.equals(idem.bodyHash) ? { row: prior }
    : { error: MerchantError.MERCHANT_ERROR_IDEMPOTENCY_CONFLICT, detail: 'this Idempotency-Key was used with another body' };
}

/**
 * The record and the request to billing, in the caller's transaction (which holds the Idempotency-Key;
 * creditOfKey found no credit under it).
 */
async function openCredit(e: PaymentEngine, client: pg.PoolClient, ask: CreditAsk): Promise<Opened> {
  const { amountMinor, currency } = ask.amount;
  // The subscriber may be unknown to us yet: tier 0's cap. Over it on its own: refused now; whether
  // the balance plus this fits, billing decides under the wallet's lock.
  const walletMaxMinor = await walletMaxOf(e, client, ask.msisdn);
  if (walletMaxMinor !== null && amountMinor > walletMaxMinor) {
    return { error: MerchantError.MERCHANT_ERROR_REFUSED, detail: "the subscriber's wallet cannot hold this amount" };
  }
  const creditId = randomUUID();
  const row = await creditStore.insertCredit(client, {
    creditId, source: ask.source, operatorId: ask.operator.id, merchantId: ask.merchant?.id ?? null, msisdn: ask.msisdn,
    currency, amountMinor, reference: ask.reference, scope: ask.scope, key: ask.key, bodyHash: ask.bodyHash,
  });
  await requestCredit(client, row, walletMaxMinor, `${creditId}:credit`);
  e.log.info({ creditId, source: ask.source, operatorId: ask.operator.id, merchantId: ask.merchant?.id, msisdn: maskMsisdn(ask.msisdn) },
    'credit requested');
  return { row };
}

function checkedReference(reference: string | null | undefined): string | null {
  const text = reference ?? '';
  return text.length <= REFERENCE_CHARS_MAX ? text : null;
}

/** POST /v1/payouts, under its Idempotency-Key (merchant-commands.ts). */
export async function createPayout(
  e: PaymentEngine, client: pg.PoolClient, merchant: MerchantConfig, create: dialpay.v1.ICreatePayout,
  idem: { key: string; bodyHash: Buffer },
): Promise<dialpay.v1.IMerchantCommandReply> {
  const prior = await creditOfKey(client, merchant.id, idem);
  if (prior) return 'row' in prior ? { payout: merchantPayout(prior.row) } : prior;
  const limits = merchant.payouts;
  if (!limits) return { error: MerchantError.MERCHANT_ERROR_FORBIDDEN, detail: 'payouts are not enabled for this merchant' };
  const amount = moneyFromProtoOrNull(create.amount);
  if (!amount || amount.amountMinor <= 0n) return { error: MerchantError.MERCHANT_ERROR_INVALID, detail: 'amount must be positive' };
  const reference = checkedReference(create.reference);
  if (reference === null) {
    return { error: MerchantError.MERCHANT_ERROR_INVALID, detail: `reference is at most ${REFERENCE_CHARS_MAX} characters` };
  }
  // The subscriber's operator must be one this merchant is served by, in this currency.
  const payee = payerOfMerchant(e, merchant, create.msisdn ?? '', amount.currency);
  if (!payee) {
    return { error: MerchantError.MERCHANT_ERROR_REFUSED,
      detail: 'the number is not on an operator this merchant is served by, in this currency' };
  }
  if (amount.amountMinor > limits.perPayoutMaxMinor) {
    return { error: MerchantError.MERCHANT_ERROR_LIMIT_EXCEEDED, detail: `at most ${limits.perPayoutMaxMinor} minor units per payout` };
  }
  // One merchant's payouts one at a time until commit, so two cannot both fit under the day's limit.
  await creditStore.lockMerchantPayouts(client, merchant.id);
  const today = await creditStore.payoutsTodayMinor(client, merchant.id, amount.currency);
  if (today + amount.amountMinor > limits.perDayMaxMinor) {
    const leftMinor = limits.perDayMaxMinor - today < 0n ? 0n : limits.perDayMaxMinor - today;
    return { error: MerchantError.MERCHANT_ERROR_LIMIT_EXCEEDED,
      detail: `at most ${limits.perDayMaxMinor} minor units of payouts a day (UTC); ${leftMinor} left today` };
  }
  const opened = await openCredit(e, client, {
    source: 'merchant-payout', operator: payee.operator, merchant, msisdn: payee.msisdn, amount, reference,
    scope: merchant.id, key: idem.key, bodyHash: idem.bodyHash,
  });
  return 'row' in opened ? { payout: merchantPayout(opened.row) } : opened;
}

export async function readPayout(
  e: PaymentEngine, merchant: MerchantConfig, payoutId: string,
): Promise<dialpay.v1.IMerchantCommandReply> {
  const row = UUID.test(payoutId) ? await creditStore.readCredit(e.pool, payoutId, { merchantId: merchant.id }) : undefined;
  return row ? { payout: merchantPayout(row) } : { error: MerchantError.MERCHANT_ERROR_NOT_FOUND, detail: 'no such payout' };
}

export async function listPayouts(
  e: PaymentEngine, merchant: MerchantConfig, list: dialpay.v1.IListPayouts,
): Promise<dialpay.v1.IMerchantCommandReply> {
  const limit = Math.min(Math.max(list.limit || PAGE_DEFAULT, 1), PAGE_MAX);
  const state = list.status || null;
  if (state !== null && !['pending', 'completed', 'failed'].includes(state)) {
    return { error: MerchantError.MERCHANT_ERROR_INVALID, detail: `unknown status "${state}"` };
  }
  const cursor = list.cursor ? decodeCursor(list.cursor) : null;
  if (list.cursor && (!cursor || !UUID.test(cursor.paymentId))) {
    return { error: MerchantError.MERCHANT_ERROR_INVALID, detail: 'cursor is not one we gave out' };
  }
  const fromMs = unixMsFromProto(list.fromUnixMs);
  const toMs = unixMsFromProto(list.toUnixMs) || Date.now() + 1;
  const rows = await creditStore.merchantPayoutsPage(e.pool,
    { merchantId: merchant.id, fromMs, toMs, state: state as CreditState | null, cursor, rowsMax: limit + 1 });
  const page = rows.slice(0, limit);
  const last = page[page.length - 1];
  return {
    payouts: page.map(merchantPayout),
    nextCursor: rows.length > limit && last ? encodeCursor({ createdAtIso: last.cursor_at, paymentId: last.credit_id }) : '',
  };
}

/** The operator API's calls: deposits here, agents' floats in operator-agents.ts, subscribers in operator-subscribers.ts. */
export async function onOperatorCommand(
  e: PaymentEngine, request: dialpay.v1.IOperatorCommandRequest,
): Promise<dialpay.v1.IOperatorCommandReply> {
  const operator = e.operators.get(request.operatorId ?? '');
  if (!operator) return { error: MerchantError.MERCHANT_ERROR_NOT_FOUND, detail: 'unknown operator' };
  if (request.getDeposit) {
    const id = request.getDeposit.depositId ?? '';
    const row = UUID.test(id) ? await creditStore.readCredit(e.pool, id, { operatorId: operator.id }) : undefined;
    return row ? { deposit: operatorDeposit(row) } : { error: MerchantError.MERCHANT_ERROR_NOT_FOUND, detail: 'no such deposit' };
  }
  if (request.getAgent) return readOperatorAgent(e, operator, request.getAgent.agentId ?? '');
  if (request.topUpAgentFloat) return topUpAgentFloat(e, operator, request, request.topUpAgentFloat);
  if (request.setKycTier) return setOperatorKycTier(e, operator, request.setKycTier);
  if (request.setSubscriberBlock) return setOperatorBlock(e, operator, request, request.setSubscriberBlock);
  const create = request.createDeposit;
  if (!create) return { error: MerchantError.MERCHANT_ERROR_INVALID, detail: 'no command' };
  const scope = operatorScope(operator.id);
  const key = request.idempotencyKey ?? '';
  return withIdempotencyKey(e.pool, scope, key, request.bodySha256, dialpay.v1.OperatorCommandReply,
    (client, bodyHash) => createDeposit(e, client, operator, create, { scope, key, bodyHash }));
}

async function createDeposit(
  e: PaymentEngine, client: pg.PoolClient, operator: OperatorConfig, create: dialpay.v1.ICreateDeposit,
  idem: { scope: string; key: string; bodyHash: Buffer },
): Promise<dialpay.v1.IOperatorCommandReply> {
  const prior = await creditOfKey(client, idem.scope, idem);
  if (prior) return 'row' in prior ? { deposit: operatorDeposit(prior.row) } : prior;
  const amount = moneyFromProtoOrNull(create.amount);
  if (!amount || amount.amountMinor <= 0n) return { error: MerchantError.MERCHANT_ERROR_INVALID, detail: 'amount must be positive' };
  if (amount.currency !== operator.currency) {
    return { error: MerchantError.MERCHANT_ERROR_INVALID, detail: `this operator's currency is ${operator.currency}` };
  }
  const reference = checkedReference(create.reference);
  if (reference === null) {
    return { error: MerchantError.MERCHANT_ERROR_INVALID, detail: `reference is at most ${REFERENCE_CHARS_MAX} characters` };
  }
  // Only the operator's own subscribers: its number ranges.
  const msisdn = toE164(create.msisdn ?? '', operator.countryCallingCode);
  if (!msisdn || !numberBelongsTo(operator, msisdn, e.config.operators)) {
    return { error: MerchantError.MERCHANT_ERROR_REFUSED, detail: "the number is not in this operator's ranges" };
  }
  const opened = await openCredit(e, client, { source: 'operator-deposit', operator, merchant: null, msisdn, amount, reference, ...idem });
  return 'row' in opened ? { deposit: operatorDeposit(opened.row) } : opened;
}

const FAILURE_OF: Readonly<Record<number, CreditFailure>> = {
  [CreditOutcome.CREDIT_OUTCOME_INSUFFICIENT_FUNDS]: 'insufficient-balance',
  [CreditOutcome.CREDIT_OUTCOME_WALLET_BALANCE_MAX]: 'wallet-balance-max',
};

/** Billing booked the credit (or refused it, nothing moved): end the record, tell the subscriber and the merchant. */
export async function onCreditResult(e: PaymentEngine, result: dialpay.v1.ICreditResult): Promise<void> {
  const creditId = result.creditId ?? '';
  const reversed = reversedPaymentOf(creditId);
  if (reversed !== null) return onReversalResult(e, reversed, result);
  if (!UUID.test(creditId)) {
    e.log.warn({ creditId }, 'credit result for an id we never made');
    return;
  }
  const ok = result.outcome === CreditOutcome.CREDIT_OUTCOME_OK;
  const failure = ok ? null : FAILURE_OF[result.outcome ?? 0] ?? 'rejected';
  await withTransaction(e.pool, 'READ COMMITTED', async (client) => {
    const row = await creditStore.endCredit(client, creditId, failure);
    if (!row) return; // a repeated result (or one for a credit we do not have)
    const operator = e.operators.get(row.operator_id);
    const merchant = row.merchant_id ? e.merchants.get(row.merchant_id) : undefined;
    if (ok && operator) {
      const language = (await store.readLanguage(client, row.msisdn)) ?? operator.defaultLanguage;
      const from = merchant ? merchant.name : operator.name;
      const to = { operatorId: operator.id, msisdn: row.msisdn, shortCode: operator.shortCodes[0] as string };
      await e.sms(client, `${creditId}:credit-sms`, '', to, reply('creditReceived', language, {
        amount: formatAmount(BigInt(row.amount_minor), row.currency, language), from,
        ref: row.reference || creditId.slice(0, 8).toUpperCase(),
      }), SMS_RECEIPT);
    }
    if (!ok) {
      const detail = maskMsisdnsInText(result.detail ?? '');
      e.log.warn({ creditId, source: row.source, failure, detail }, 'credit refused by billing; nothing moved');
    }
    if (row.source === 'merchant-payout' && row.merchant_id) {
      await e.emit(client, Events.merchantEvent, `${creditId}:merchant:payout.${row.state}`, '', {
        merchantId: row.merchant_id, type: `payout.${row.state}`, payout: merchantPayout(row),
      });
    }
  });
}

function creditView(row: CreditRow) {
  return {
    status: row.state,
    amount: moneyToProto({ amountMinor: BigInt(row.amount_minor), currency: row.currency }),
    msisdn: `+${row.msisdn}`,
    reference: row.reference,
    failureReason: row.failure ?? '',
    createdAtUnixMs: unixMsToProto(row.created_at),
    updatedAtUnixMs: unixMsToProto(row.updated_at),
  };
}

export function merchantPayout(row: CreditRow): dialpay.v1.IMerchantPayout {
  return { payoutId: row.credit_id, ...creditView(row) };
}

export function operatorDeposit(row: CreditRow): dialpay.v1.IOperatorDeposit {
  return { depositId: row.credit_id, ...creditView(row) };
}
