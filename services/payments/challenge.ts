// The engine's 'challenge' action, per channel: an SMS with a one-time code
// or a PIN request, or (USSD, whose PIN was checked before the reserve) the
// menu's confirmation screen.
import { createHash, randomInt } from 'node:crypto';
import type pg from 'pg';
import { dialpay, markSecrets, moneyToProto, unixMsToProto, type SecretText } from '../../proto/index.js';
import { Notifications } from '../../runtime/nats/index.js';
import { formatAmount } from '../../runtime/money.js';
import { PaymentState } from './state.js';
import { reply } from './replies.js';
import * as store from './store.js';
import { payerOf, type PaymentRow } from './rows.js';
import type { PaymentEngine } from './engine.js';
import { timeBound } from './sms-options.js';
import { sourceText } from './funding.js';
import { cashChallengeText } from './cash.js';
import type { Language } from '../../runtime/language.js';

const { ChallengeMethod } = dialpay.v1;

/** A one-time code is only ever compared by hash; it is salted with the payment id. */
export function hashCode(paymentId: string, code: string): string {
  return createHash('sha256').update(`${paymentId}:${code}`).digest('hex');
}

/** A challenge decided before the step writes: its columns go in the step's one UPDATE (store.setState), its code in the SMS. */
export interface PreparedChallenge extends store.ChallengeColumns {
  /** The one-time code the SMS carries; null for a PIN or USSD challenge. */
  readonly code: string | null;
}

/** Which challenge the payment gets, and its code (hashed for the row): before the state is written, so one statement writes both. */
export async function prepareChallenge(engine: PaymentEngine, client: pg.PoolClient, payment: PaymentRow): Promise<PreparedChallenge> {
  const limits = engine.config.limits;
  if (payment.channel === 'ussd') return { method: 'ussd', codeHash: null, ttlMs: limits.challengeTtlMs, code: null };
  const ttlMs = payment.confirm_ttl_ms ?? limits.challengeTtlMs;
  // A cash-in is always confirmed by the agent's PIN (cash.ts refused to open one without).
  if (payment.agent_id !== null || (payment.amount_minor > limits.pinRequiredAboveMinor && (await store.payerPinReady(client, payment)))) {
    return { method: 'pin', codeHash: null, ttlMs, code: null };
  }
  const code = String(randomInt(1_000, 10_000));
  return { method: 'code', codeHash: hashCode(payment.payment_id, code), ttlMs, code };
}

/** The engine's 'challenge' action, once the step wrote `challenge` (prepareChallenge) with the state. */
export async function sendChallenge(
  engine: PaymentEngine, client: pg.PoolClient, payment: PaymentRow, challenge: PreparedChallenge,
): Promise<void> {
  if (payment.channel === 'ussd') return awaitUssdConsent(engine, client, payment, challenge.ttlMs);
  const id = payment.payment_id;
  const lang = payment.language;
  const { ttlMs, code } = challenge;
  const usePin = challenge.method === 'pin';
  const minutes = String(Math.max(1, Math.round(ttlMs / 60_000)));
  const fee = formatAmount(payment.fee_minor, payment.currency, lang);
  engine.notify(client, Notifications.paymentChallenged, `${id}:challenged`, id, {
    paymentId: id, method: usePin ? ChallengeMethod.CHALLENGE_METHOD_PIN : ChallengeMethod.CHALLENGE_METHOD_ONE_TIME_CODE,
    expiresAtUnixMs: unixMsToProto(Date.now() + ttlMs),
    amount: moneyToProto({ amountMinor: payment.amount_minor, currency: payment.currency }),
    fee: moneyToProto({ amountMinor: payment.fee_minor, currency: payment.currency }),
  });
  const amount = formatAmount(payment.amount_minor, payment.currency, lang);
  const payee = engine.payeeName(payment);
  // A manual capture asks consent for the most it may cost; the fee shown is on that most.
  const asked = payment.capture_mode === 'manual' ? `${lang === 'fr' ? 'jusqu a' : 'up to'} ${amount}` : amount;
  const source = sourceText(payment.funding, engine.operators.get(payment.operator_id)?.name ?? '', lang);
  const text = (await cashChallengeText(engine, client, payment, usePin ? null : code, minutes)) ?? (usePin
    ? reply('challengePin', lang, { amount: asked, payee, fee, minutes, source })
    : codeChallengeText(lang, { amount: asked, payee, fee, minutes, reference: payment.reference, source }, code ?? ''));
  // Useless once the challenge expired (the row's expiry is this TTL from the step's now()).
  return engine.sms(client, `${id}:challenge-sms`, id, payerOf(payment), text,
    timeBound(dialpay.v1.SmsKind.SMS_KIND_CHALLENGE, Date.now() + ttlMs));
}

/** A payment's challenge by one-time code, the code marked secret (SmsOutbound.secret_spans) for the gateway to mask. */
export function codeChallengeText(
  lang: Language, args: { amount: string; payee: string; fee: string; minutes: string; reference: string; source: string }, code: string,
): SecretText {
  return markSecrets((secret) => reply('challengeCode', lang, { ...args, code: secret(code) }));
}

/** A USSD payment's PIN was checked before the reserve; its challenge is the confirmation screen, not an SMS. */
async function awaitUssdConsent(engine: PaymentEngine, client: pg.PoolClient, payment: PaymentRow, ttlMs: number): Promise<void> {
  const id = payment.payment_id;
  engine.notify(client, Notifications.paymentChallenged, `${id}:challenged`, id, {
    paymentId: id, method: ChallengeMethod.CHALLENGE_METHOD_PIN, expiresAtUnixMs: unixMsToProto(Date.now() + ttlMs),
    amount: moneyToProto({ amountMinor: payment.amount_minor, currency: payment.currency }),
    fee: moneyToProto({ amountMinor: payment.fee_minor, currency: payment.currency }),
  });
  // Confirm was pressed before the carrier answered: that was the consent.
  if (payment.consented) {
    await engine.step(client, { ...payment, state: PaymentState.CHALLENGED, challenge_attempts: 0, challenge_method: 'ussd' },
      { kind: 'answer', correct: true, attemptsMax: engine.config.limits.pinAttemptsMax });
  }
}
