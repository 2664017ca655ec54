// What the dead-letter stream keeps of a subscriber's SMS: the payments-sms-inbound consumer's
// deadLetterData hook. The DLQ keeps letters for 30 days, far past the step that needed the secret.
import { Events } from '../../runtime/nats/index.js';
import { maskSmsSecrets } from './sms-grammar.js';

/**
 * An SmsInbound with a confirmation's code or a bare PIN masked (see maskSmsSecrets); the rest as
 * it was, so a person can still see who sent what and why it failed. A replayed letter then reads
 * as "YES ****": the subscriber is asked to start again, as after an expired code. Bytes that do not
 * decode pass unchanged (they were never readable as a text).
 */
export function maskInboundSmsForDeadLetter(data: Uint8Array): Uint8Array {
  let sms;
  try {
    sms = Events.smsInbound.type.decode(data);
  } catch {
    return data;
  }
  const text = sms.text ?? '';
  const masked = maskSmsSecrets(text);
  if (masked === text) return data;
  return Events.smsInbound.type.encode({ ...sms, text: masked }).finish();
}
