// What the dead-letter stream keeps of a subscriber's SMS: the payments-sms-inbound consumer's
// deadLetterData hook. The DLQ keeps letters for 30 days, far past the step that needed the secret.
import { Events } from '../../runtime/nats/index.js';
import { SECRET_MASK, maskSmsSecrets, type GrammarContext } from './sms-grammar.js';

/** What the parser needs of an operator to read its subscribers' texts (config.operators[]). */
export interface OperatorGrammar {
  readonly id: string;
  readonly currency: string;
  readonly countryCallingCode: string;
}

/**
 * The deadLetterData hook: an SmsInbound with every digit masked unless its text parses as PAY or
 * SEND (or a command without digits) for the operator it came through (see maskSmsSecrets); the
 * rest as it was, so a person can still see who sent what and why it failed. A replayed letter then
 * reads as "YES ****": the subscriber is asked to start again, as after an expired code. A text from
 * an operator not configured is masked whole. Bytes that do not decode pass unchanged (they were
 * never readable as a text).
 */
export function inboundSmsDeadLetterMasker(operators: readonly OperatorGrammar[]): (data: Uint8Array) => Uint8Array {
  const contexts = new Map<string, GrammarContext>(operators.map((o) =>
    [o.id, { currency: o.currency, countryCallingCode: o.countryCallingCode, defaultLanguage: 'en' }]));
  return (data) => {
    let sms;
    try {
      sms = Events.smsInbound.type.decode(data);
    } catch {
      return data;
    }
    const text = sms.text ?? '';
    const context = contexts.get(sms.operatorId ?? '');
    const masked = context ? maskSmsSecrets(text, context) : text.replace(/\p{Nd}+/gu, SECRET_MASK);
    if (masked === text) return data;
    return Events.smsInbound.type.encode({ ...sms, text: masked }).finish();
  };
}
