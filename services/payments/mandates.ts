// Mandates: a merchant's standing authorisation, capped per period. It starts
// pending, only the subscriber's code makes it active, STOP revokes it, and a
// charge inside the cap needs no new confirmation (a receipt as always).
import { randomInt, randomUUID } from 'node:crypto';
import type pg from 'pg';
import { dialpay, markSecrets, moneyFromProtoOrNull } from '../../proto/index.js';
import type { MerchantConfig } from '../../runtime/config/index.js';
import { Events } from '../../runtime/nats/index.js';
import { formatAmount } from '../../runtime/money.js';
import type { Language } from '../../runtime/language.js';
import { reply } from './replies.js';
import { merchantMandate, merchantPayment } from './merchant-view.js';
import { hashCode } from './challenge.js';
import { MERCHANT_REFUSAL, merchantRequestRefused, payerOfMerchant } from './merchant-checks.js';
import * as store from './store.js';
import * as merchantStore from './merchant-store.js';
import type { MandateRow, PaymentRow } from './rows.js';
import type { PaymentEngine } from './engine.js';
import { timeBound } from './sms-options.js';

const MerchantError = dialpay.v1.MerchantError;

/** A pending mandate past its confirmation time reads as expired. */
function mandateStatus(mandate: MandateRow): string {
  return mandate.state === 'pending' && mandate.expires_at.getTime() <= Date.now() ? 'expired' : mandate.state;
}

export function periodWord(period: string, language: Language): string {
  const words: Record<string, Record<Language, string>> = {
    day: { en: 'day', fr: 'jour' }, week: { en: 'week', fr: 'semaine' }, month: { en: 'month', fr: 'mois' },
  };
  return words[period]?.[language] ?? period;
}

export async function mandateView(db: pg.ClientBase | pg.Pool, mandate: MandateRow): Promise<dialpay.v1.IMerchantMandate> {
  return merchantMandate(mandate, mandateStatus(mandate), await merchantStore.chargedThisPeriod(db, mandate));
}

export function tellMerchantOfMandate(
  engine: PaymentEngine, client: pg.ClientBase, mandate: MandateRow, type: 'mandate.activated' | 'mandate.revoked',
): Promise<void> {
  return mandateView(client, mandate).then((view) => engine.emit(client, Events.merchantEvent,
    `${mandate.mandate_id}:merchant:${type}`, '', { merchantId: mandate.merchant_id, type, mandate: view }));
}

/** STOP: every pending or active mandate of the payer ends, each merchant told. Returns how many. */
export async function revokeMandatesOf(engine: PaymentEngine, client: pg.PoolClient, msisdn: string): Promise<number> {
  const revoked = await merchantStore.revokeMandates(client, msisdn);
  for (const mandate of revoked) await tellMerchantOfMandate(engine, client, mandate, 'mandate.revoked');
  return revoked.length;
}

/** The right code for a pending mandate: active from now; the text that tells the subscriber so. */
export async function activateMandate(
  engine: PaymentEngine, client: pg.PoolClient, mandate: MandateRow, language: Language,
): Promise<string> {
  const active = await merchantStore.activateMandate(client, mandate.mandate_id);
  await tellMerchantOfMandate(engine, client, active, 'mandate.activated');
  return reply('mandateActive', language, {
    payee: engine.payeeName({ payee_kind: 'merchant', payee_id: mandate.merchant_id }),
    cap: formatAmount(BigInt(mandate.cap_minor), mandate.currency, language), period: periodWord(mandate.period, language),
  });
}

/** A wrong code counted on a pending mandate: declined after the attempts allowed; the reply text. */
export async function wrongMandateCode(
  engine: PaymentEngine, client: pg.PoolClient, m: MandateRow, language: Language,
): Promise<string> {
  const attemptsMax = engine.config.limits.pinAttemptsMax;
  const attempts = m.attempts + 1;
  await merchantStore.setMandateAttempts(client, m.mandate_id, attempts, attempts >= attemptsMax ? 'declined' : 'pending');
  return attempts >= attemptsMax ? reply('mandateDeclined', language)
    : reply('retry', language, { left: String(attemptsMax - attempts) });
}

/** A mandate starts pending: the subscriber gets an SMS with a code, and only their YES makes it active. */
export async function createMandate(
  engine: PaymentEngine, client: pg.PoolClient, merchant: MerchantConfig, create: dialpay.v1.ICreateMandate,
): Promise<dialpay.v1.IMerchantCommandReply> {
  const cap = moneyFromProtoOrNull(create.cap);
  if (!cap) return { error: MerchantError.MERCHANT_ERROR_INVALID, detail: 'cap is not valid' };
  const period = create.period ?? '';
  if (cap.amountMinor <= 0n || !['day', 'week', 'month'].includes(period)) {
    return { error: MerchantError.MERCHANT_ERROR_INVALID, detail: 'cap must be positive and period one of day, week, month' };
  }
  const payer = payerOfMerchant(engine, merchant, create.msisdn ?? '', cap.currency);
  if (!payer) {
    return { error: MerchantError.MERCHANT_ERROR_REFUSED,
      detail: 'the number is not on an operator this merchant is served by, in this currency' };
  }
  const subscriber = await store.lockSubscriber(client, payer.msisdn, payer.operator.defaultLanguage);
  // A pending mandate is an open challenge like a payment request: the same bounds.
  const refused = await merchantRequestRefused(engine, client, payer.msisdn, merchant.id);
  if (refused) return refused;
  const mandateId = randomUUID();
  const code = String(randomInt(1_000, 10_000));
  const ttlMs = engine.config.limits.challengeTtlMs;
  const row = await merchantStore.insertMandate(client, {
    mandateId, merchantId: merchant.id, operatorId: payer.operator.id, msisdn: payer.msisdn, currency: cap.currency,
    capMinor: cap.amountMinor, period, reference: create.reference ?? '', description: create.description ?? '',
    codeHash: hashCode(mandateId, code), ttlMs,
  });
  const lang = subscriber.language;
  const to = { operatorId: payer.operator.id, msisdn: payer.msisdn, shortCode: payer.operator.shortCodes[0] as string };
  await engine.sms(client, `${mandateId}:mandate-sms`, '', to, markSecrets((secret) => reply('mandateAsk', lang, {
    payee: engine.payeeName({ payee_kind: 'merchant', payee_id: merchant.id }), cap: formatAmount(cap.amountMinor, cap.currency, lang),
    period: periodWord(period, lang), reference: create.reference ?? '', code: secret(code),
    minutes: String(Math.max(1, Math.round(ttlMs / 60_000))),
  })), timeBound(dialpay.v1.SmsKind.SMS_KIND_CHALLENGE, row.expires_at.getTime()));
  return { mandate: await mandateView(client, row) };
}

/** A charge inside an active mandate's cap for this period: no new confirmation, a receipt as always. */
export async function chargeMandate(
  engine: PaymentEngine, client: pg.PoolClient, merchant: MerchantConfig, charge: dialpay.v1.IChargeMandate,
): Promise<dialpay.v1.IMerchantCommandReply> {
  const found = await merchantStore.readMandate(client, charge.mandateId ?? '', merchant.id);
  if (!found) return { error: MerchantError.MERCHANT_ERROR_NOT_FOUND, detail: 'no such mandate' };
  const operator = engine.operators.get(found.operator_id);
  if (!operator) return { error: MerchantError.MERCHANT_ERROR_REFUSED, detail: 'the mandate\'s operator is no longer served' };
  // Same lock order as STOP (subscriber, then mandate), so a revocation and a charge never cross.
  const subscriber = await store.lockSubscriber(client, found.payer_msisdn, operator.defaultLanguage);
  const mandate = await merchantStore.lockMandate(client, found.mandate_id);
  if (mandate.state !== 'active') {
    return { error: MerchantError.MERCHANT_ERROR_REFUSED, detail: `the mandate is ${mandateStatus(mandate)}, not active` };
  }
  const amount = moneyFromProtoOrNull(charge.amount);
  if (!amount) return { error: MerchantError.MERCHANT_ERROR_INVALID, detail: 'amount is not valid' };
  const charged = await merchantStore.chargedThisPeriod(client, mandate);
  if (amount.currency !== mandate.currency || amount.amountMinor <= 0n || charged + amount.amountMinor > BigInt(mandate.cap_minor)) {
    const leftMinor = BigInt(mandate.cap_minor) - charged;
    return { error: MerchantError.MERCHANT_ERROR_REFUSED,
      detail: `at most ${leftMinor} minor units of ${mandate.currency} are left in this ${mandate.period}` };
  }
  const opened = await engine.open(client, subscriber, operator, {
    payee: { kind: 'merchant', id: merchant.id }, amountMinor: amount.amountMinor, reference: charge.reference || mandate.reference,
    language: subscriber.language, channel: 'api', shortCode: operator.shortCodes[0] as string, requestId: null,
    description: mandate.description, mandateId: mandate.mandate_id,
  });
  // The payer's own reasons (their remaining limit, say) are theirs: the merchant gets a stable one.
  if (!opened.ok) return { error: MerchantError.MERCHANT_ERROR_REFUSED, detail: MERCHANT_REFUSAL };
  const row = (await store.readPayment(client, opened.paymentId)) as PaymentRow;
  return { payment: merchantPayment(row) };
}
