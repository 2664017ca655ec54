// The subscriber's PIN: checking one against the locked subscriber row (three
// wrong ones lock it) and setting a new one from the USSD menu.
import type pg from 'pg';
import { dialpay } from '../../proto/index.js';
import { maskMsisdn } from '../../runtime/log.js';
import { hashSecret, verifySecret } from '../../runtime/secrets.js';
import * as store from './store.js';
import type { SubscriberRow } from './rows.js';
import type { PaymentEngine } from './engine.js';

const Outcome = dialpay.v1.CommandOutcome;

export type PinCheck = { kind: 'ok' } | { kind: 'wrong'; attemptsLeft: number } | { kind: 'locked' };

/** Four digits, not one digit four times: the first thing anyone tries. */
export function isAcceptablePin(pin: string): boolean {
  return /^\d{4}$/.test(pin) && !/^(\d)\1{3}$/.test(pin);
}

/** Checks a PIN against the locked subscriber row; a wrong one counts toward the lock, a right one clears the count. */
export async function checkPin(
  engine: PaymentEngine, client: pg.PoolClient, subscriber: SubscriberRow, pin: string,
): Promise<PinCheck> {
  if (subscriber.pin_locked) return { kind: 'locked' };
  const attemptsMax = engine.config.limits.pinAttemptsMax;
  // No PIN to match (reset by customer care while a PIN challenge was opening): wrong, but it must
  // not lock a PIN the subscriber has yet to choose. The payment's own attempts still end it.
  if (subscriber.pin_hash === null) return { kind: 'wrong', attemptsLeft: attemptsMax - subscriber.pin_failures };
  const correct = await verifySecret(pin, subscriber.pin_hash);
  const failures = correct ? 0 : subscriber.pin_failures + 1;
  if (failures !== subscriber.pin_failures) {
    await store.setPinFailures(client, subscriber.msisdn, failures, failures >= attemptsMax);
  }
  if (correct) return { kind: 'ok' };
  return failures >= attemptsMax ? { kind: 'locked' } : { kind: 'wrong', attemptsLeft: attemptsMax - failures };
}

export async function setPin(
  engine: PaymentEngine, client: pg.PoolClient, subscriber: SubscriberRow, command: dialpay.v1.ISetPin,
): Promise<dialpay.v1.ISubscriberCommandReply> {
  const newPin = command.newPin ?? '';
  if (!isAcceptablePin(newPin)) return { outcome: Outcome.COMMAND_OUTCOME_REFUSED };
  if (subscriber.pin_hash !== null) {
    const check = await checkPin(engine, client, subscriber, command.currentPin ?? '');
    if (check.kind === 'locked') return { outcome: Outcome.COMMAND_OUTCOME_PIN_LOCKED };
    if (check.kind === 'wrong') return { outcome: Outcome.COMMAND_OUTCOME_WRONG_PIN, attemptsLeft: check.attemptsLeft };
  }
  // Not locked here: a set PIN was just checked, and one with no PIN before can hold no lock.
  await store.setPinHash(client, subscriber.msisdn, await hashSecret(newPin));
  engine.log.info({ msisdn: maskMsisdn(subscriber.msisdn) }, 'PIN set');
  return { outcome: Outcome.COMMAND_OUTCOME_OK, hasPin: true };
}
