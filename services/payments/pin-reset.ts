// `dialpay pin reset`: customer care, having checked who is calling, clears a
// subscriber's PIN (and its lock). The subscriber chooses a new one at their
// next USSD dial, the first-use screen, and is told by SMS at once, so a reset
// they did not ask for does not go unnoticed. Until then payments above
// limits.pinRequiredAboveMinor use an SMS code, as for anyone with no PIN.
import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import type { Config } from '../../runtime/config/index.js';
import { Events } from '../../runtime/nats/index.js';
import { emitEvent, withTransaction } from '../../runtime/pg/index.js';
import { numberBelongsTo, toE164 } from '../../runtime/msisdn.js';
import { dialpay } from '../../proto/index.js';
import { reply } from './replies.js';
import { OUTBOX } from './outbox.js';
import type { Language } from '../../runtime/language.js';

export type PinResetResult =
  | { readonly kind: 'reset'; readonly msisdn: string; readonly wasLocked: boolean }
  | { readonly kind: 'unknown-subscriber'; readonly msisdn: string }
  /**
   * Payments wait for this PIN (or for their reserve, which may ask for it): a reset now would leave them
   * asking for a PIN that is gone. They end within limits.challengeTtlMs.
   */
  | { readonly kind: 'pin-challenges-open'; readonly msisdn: string; readonly count: number }
  | { readonly kind: 'bad-number' };

export async function resetPin(
  pool: pg.Pool, config: Config, operatorId: string, number: string,
): Promise<PinResetResult> {
  const operator = config.operators.find((o) => o.id === operatorId);
  if (!operator) throw new RangeError(`unknown operator "${operatorId}"`);
  const msisdn = toE164(number, operator.countryCallingCode);
  // Another operator's subscriber (by number range) is not this operator's to reset, nor to text through its link.
  if (!msisdn || !numberBelongsTo(operator, msisdn, config.operators)) return { kind: 'bad-number' };
  return withTransaction(pool, 'READ COMMITTED', async (client) => {
    // The same row lock a payment's commands take, so a reset never interleaves with a PIN check.
    const { rows } = await client.query<{ pin_locked: boolean; language: Language }>(
      'SELECT pin_locked, language FROM payments.subscribers WHERE msisdn = $1 FOR NO KEY UPDATE', [msisdn],
    );
    const subscriber = rows[0];
    if (!subscriber) return { kind: 'unknown-subscriber', msisdn };
    // Under the subscriber's lock no new PIN challenge can open meanwhile, and with no PIN none will.
    // Reserving ones too: their reserve result may open a PIN challenge with the PIN it read before the reset.
    const open = await client.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM payments.payments
       WHERE payer_msisdn = $1 AND (state = 'reserving' OR (state = 'challenged' AND challenge_method = 'pin'))`, [msisdn],
    );
    const count = open.rows[0]?.n ?? 0;
    if (count > 0) return { kind: 'pin-challenges-open', msisdn, count };
    await client.query(
      'UPDATE payments.subscribers SET pin_hash = NULL, pin_failures = 0, pin_locked = false, updated_at = now() WHERE msisdn = $1',
      [msisdn],
    );
    const eventId = `pin-reset:${randomUUID()}`;
    await emitEvent(client, OUTBOX, Events.smsOutbound, { eventId }, {
      messageRef: eventId,
      operatorId: operator.id,
      toMsisdn: msisdn,
      fromAddress: operator.shortCodes[0] as string,
      text: reply('pinReset', subscriber.language, { ussd: operator.ussd?.serviceCodes[0] ?? 'the USSD code' }),
      receiptRequested: true,
      priority: dialpay.v1.SmsPriority.SMS_PRIORITY_HIGH,
      // A security notice: it keeps its value however late (no expires_at_unix_ms).
      kind: dialpay.v1.SmsKind.SMS_KIND_NOTICE,
    });
    return { kind: 'reset', msisdn, wasLocked: subscriber.pin_locked };
  });
}
