// A reply to a challenge by SMS: a one-time code (a payment's or a mandate's)
// or the PIN. What kind of answer it is is decided first (answers.ts); it is
// then compared with that kind of secret only, and a wrong one counts against
// that kind only (code-guesses.ts for codes, pin.ts for the PIN).
import type pg from 'pg';
import { maskMsisdn } from '../../runtime/log.js';
import type { Language } from '../../runtime/language.js';
import type { SmsCommand } from './sms-grammar.js';
import { isCodeLocked, recordWrongAnswer, type CodeGuessState } from './code-guesses.js';
import { answerKind, AnswerKind } from './answers.js';
import { reply } from './replies.js';
import { hashCode } from './challenge.js';
import { checkPin } from './pin.js';
import { activateMandate, wrongMandateCode } from './mandates.js';
import * as store from './store.js';
import { lockPendingMandates } from './merchant-store.js';
import type { MandateRow, PaymentRow, SubscriberRow } from './rows.js';
import { stopIfPayerBlocked } from './blocks.js';
import type { PaymentEngine } from './engine.js';
import { agentSuspendedSince } from './cash.js';

/** Open challenges a confirmation code is matched against. */
const OPEN_CHALLENGES_MAX = 20;

type Say = (text: string) => Promise<void>;

/** Called under the subscriber's lock. */
export async function answerChallenge(
  e: PaymentEngine, client: pg.PoolClient, subscriber: SubscriberRow, command: Extract<SmsCommand, { kind: 'confirm' | 'pin' }>, say: Say,
): Promise<void> {
  const rows = await store.lockOpenChallenges(client, subscriber.msisdn, OPEN_CHALLENGES_MAX);
  // None pending (read with the subscriber's row): no statement to find none.
  const mandates = subscriber.mandate_pending === false ? []
    : await lockPendingMandates(client, subscriber.msisdn, OPEN_CHALLENGES_MAX);
  const language = command.kind === 'confirm' ? command.language : subscriber.language;
  const pinRows = rows.filter((p) => p.challenge_method === 'pin');
  const codeRows = rows.filter((p) => p.challenge_method === 'code');
  const digits = command.kind === 'confirm' ? command.code : command.pin;
  const kind = answerKind(command.kind, { pin: pinRows.length, code: codeRows.length + mandates.length });
  switch (kind) {
    case AnswerKind.NOTHING_OPEN:
      return say(reply('noPendingPayment', language));
    case AnswerKind.NO_PIN_CHALLENGE:
      return say(reply('noPinPending', language));
    case AnswerKind.CODE:
      return answerCode(e, client, subscriber, codeRows, mandates, digits, language, say);
    case AnswerKind.PIN:
      return answerPin(e, client, subscriber, pinRows, digits, language, say);
  }
}

/**
 * A code answer: compared with the open codes only; a wrong one is one wrong code for the subscriber
 * and one attempt on the newest code challenge.
 */
async function answerCode(
  e: PaymentEngine, client: pg.PoolClient, subscriber: SubscriberRow, codeRows: PaymentRow[], mandates: MandateRow[],
  code: string, language: Language, say: Say,
): Promise<void> {
  const now = Date.now();
  const guesses: CodeGuessState = {
    wrongAtMs: subscriber.code_wrong_at.map((d) => d.getTime()), lockedUntilMs: subscriber.code_locked_until?.getTime() ?? null,
  };
  // Locked out: no code is compared at all, a right one included (else the lockout would still answer guesses).
  if (isCodeLocked(guesses, now)) return say(codesLockedText(guesses.lockedUntilMs as number, now, language));
  const mandate = mandates.find((m) => m.code_hash === hashCode(m.mandate_id, code));
  if (mandate) return say(await activateMandate(e, client, mandate, language));
  const byCode = codeRows.find((p) => p.challenge_code_hash === hashCode(p.payment_id, code));
  if (byCode) return consent(e, client, subscriber, byCode);
  // No code matched: one wrong answer, however many codes it was compared with (bounded by the open-request bounds).
  const limits = e.config.limits;
  const outcome = recordWrongAnswer(guesses, now, {
    wrongAnswersMax: limits.wrongAnswersPerSubscriberMax, windowMs: limits.wrongAnswersWindowMs, lockoutMs: limits.codeLockoutMs,
  });
  const { wrongAtMs, lockedUntilMs } = outcome.state;
  await store.setCodeGuesses(client, subscriber.msisdn, wrongAtMs.map((ms) => new Date(ms)),
    lockedUntilMs === null ? null : new Date(lockedUntilMs));
  if (outcome.locked) {
    e.log.warn({ msisdn: maskMsisdn(subscriber.msisdn), openCodes: codeRows.length + mandates.length },
      'too many wrong codes: confirmations by code locked');
    e.metrics?.codeLocked(client);
    return say(codesLockedText(outcome.lockedUntilMs, now, language));
  }
  // A code names its payment (above); a wrong one counts on the newest code challenge, a mandate's when no payment's is open.
  const newest = codeRows[0];
  if (newest) return e.step(client, newest, { kind: 'answer', correct: false, attemptsMax: limits.pinAttemptsMax });
  return say(await wrongMandateCode(e, client, mandates[0] as MandateRow, language)); // answerKind said a code challenge is open
}

/** A PIN answer: compared with the PIN only, never with a code; a wrong one counts toward the PIN lock and on its challenge. */
async function answerPin(
  e: PaymentEngine, client: pg.PoolClient, subscriber: SubscriberRow, pinRows: PaymentRow[], pin: string, language: Language, say: Say,
): Promise<void> {
  // A PIN names no payment: with several PIN challenges open it could confirm one the payer did
  // not mean (a merchant's request that arrived just before). Ask them to settle one at a time.
  if (pinRows.length > 1) return say(reply('severalWaiting', language, { count: String(pinRows.length) }));
  const challenge = pinRows[0] as PaymentRow; // answerKind said a PIN challenge is open
  if (subscriber.pin_locked) return e.step(client, challenge, { kind: 'stop' });
  const checked = await checkPin(e, client, subscriber, pin);
  if (checked.kind === 'ok') return consent(e, client, subscriber, challenge);
  await e.step(client, challenge, { kind: 'answer', correct: false, attemptsMax: e.config.limits.pinAttemptsMax });
}

/**
 * A right answer. A merchant's request did not count against the payer's limits while it
 * waited, so it is checked now, with what the payer spent meanwhile; velocity is not (a
 * consent is not a new attempt).
 */
async function consent(e: PaymentEngine, client: pg.PoolClient, subscriber: SubscriberRow, payment: PaymentRow): Promise<void> {
  if (await stopIfPayerBlocked(e, client, subscriber, payment)) return;
  // cash.ts: nothing moves once the agent is suspended
  if (await agentSuspendedSince(client, payment)) return e.step(client, payment, { kind: 'stop' });
  if (payment.channel === 'api' && !payment.consented) {
    const spent = await store.spentSoFar(client, subscriber.msisdn);
    const decision = e.checkPayerLimits(subscriber, BigInt(payment.amount_minor), { ...spent, paymentsLastMinute: 0 });
    if (!decision.allowed) return e.step(client, payment, { kind: 'over-limit' });
  }
  await e.step(client, payment, {
    kind: 'answer', correct: true, attemptsMax: e.config.limits.pinAttemptsMax, manualCapture: payment.capture_mode === 'manual',
  });
}

function codesLockedText(lockedUntilMs: number, nowMs: number, language: Language): string {
  return reply('codesLocked', language, { minutes: String(Math.max(1, Math.ceil((lockedUntilMs - nowMs) / 60_000))) });
}
