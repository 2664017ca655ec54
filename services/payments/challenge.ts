// The engine's 'challenge' action, per channel: an SMS with a one-time code
// or a PIN request, or (USSD, whose PIN was checked before the reserve) the
// menu's confirmation screen.
import { createHash, randomInt } from 'node:crypto';
import type pg from 'pg';
import { bigIntToInt64, dialpay, moneyToProto } from '../../proto/index.js';
import { Notifications } from '../../runtime/nats/index.js';
import { formatAmount } from '../../runtime/money.js';
import { PaymentState } from './state.js';
import { reply } from './replies.js';
import * as store from './store.js';
import { payerOf, type PaymentRow } from './rows.js';
import type { PaymentEngine } from './engine.js';
import { sourceText } from './funding.js';
import { cashChallengeText } from './cash.js';

const { ChallengeMethod } = dialpay.v1;

/** A one-time code is only ever compared by hash; it is salted with the payment id. */
export function hashCode(paymentId: string, code: string): string {
  return createHash('sha256').update(`${paymentId}:${code}`).digest('hex');
}

export async function sendChallenge(engine: PaymentEngine, client: pg.PoolClient, payment: PaymentRow): Promise<void> {
  if (payment.channel === 'ussd') return awaitUssdConsent(engine, client, payment);
  const id = payment.payment_id;
  const lang = payment.language;
  const limits = engine.config.limits;
  const subscriber = await store.readSubscriber(client, payment.payer_msisdn);
  // A cash-in is always confirmed by the agent's PIN (cash.ts refused to open one without).
  const usePin = payment.agent_id !== null || (payment.amount_minor > limits.pinRequiredAboveMinor && !!subscriber?.pin_hash && !subscriber.pin_locked);
  const code = String(randomInt(1_000, 10_000));
  const ttlMs = payment.confirm_ttl_ms ?? limits.challengeTtlMs;
  await store.setChallenge(client, id, usePin ? 'pin' : 'code', usePin ? null : hashCode(id, code), ttlMs);
  const minutes = String(Math.max(1, Math.round(ttlMs / 60_000)));
  const fee = formatAmount(payment.fee_minor, payment.currency, lang);
  engine.notify(client, Notifications.paymentChallenged, `${id}:challenged`, id, {
    paymentId: id, method: usePin ? ChallengeMethod.CHALLENGE_METHOD_PIN : ChallengeMethod.CHALLENGE_METHOD_ONE_TIME_CODE,
    expiresAtUnixMs: bigIntToInt64(BigInt(Date.now() + ttlMs)),
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
    : reply('challengeCode', lang, { amount: asked, payee, fee, minutes, code, reference: payment.reference, source }));
  return engine.sms(client, `${id}:challenge-sms`, id, payerOf(payment), text, true);
}

/** A USSD payment's PIN was checked before the reserve; its challenge is the confirmation screen, not an SMS. */
async function awaitUssdConsent(engine: PaymentEngine, client: pg.PoolClient, payment: PaymentRow): Promise<void> {
  const id = payment.payment_id;
  const ttlMs = engine.config.limits.challengeTtlMs;
  await store.setUssdChallenge(client, id, ttlMs);
  engine.notify(client, Notifications.paymentChallenged, `${id}:challenged`, id, {
    paymentId: id, method: ChallengeMethod.CHALLENGE_METHOD_PIN, expiresAtUnixMs: bigIntToInt64(BigInt(Date.now() + ttlMs)),
    amount: moneyToProto({ amountMinor: payment.amount_minor, currency: payment.currency }),
    fee: moneyToProto({ amountMinor: payment.fee_minor, currency: payment.currency }),
  });
  // Confirm was pressed before the carrier answered: that was the consent.
  if (payment.consented) {
    await engine.step(client, { ...payment, state: PaymentState.CHALLENGED, challenge_attempts: 0, challenge_method: 'ussd' }, { kind: 'answer', correct: true, attemptsMax: engine.config.limits.pinAttemptsMax });
  }
}
