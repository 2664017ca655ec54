// What each outbound SMS is for and how long it is useful (SmsOutbound's kind and
// expires_at_unix_ms in sms.proto). A time-bound text (a challenge, a retry prompt)
// carries its challenge's expiry, so the gateway drops it rather than send a dead
// code after an SMSC outage; receipts, notices and replies keep their value.
import { bigIntToInt64, dialpay, type SecretText } from '../../proto/index.js';
import type { Destination } from './rows.js';

const { SmsKind, SmsPriority } = dialpay.v1;

export interface SmsOptions {
  readonly kind: dialpay.v1.SmsKind;
  /** Sent before receipts and bulk (priority_flag). */
  readonly urgent?: boolean;
  /** Unix ms after which the text is useless (its challenge's expiry); absent: it keeps its value. */
  readonly expiresAtMs?: number;
}

/** A completed movement of money: the subscriber's record. */
export const SMS_RECEIPT: SmsOptions = { kind: SmsKind.SMS_KIND_RECEIPT };
/** A state change the subscriber must learn of (authorized, failed, refunded to the wallet, PIN reset). */
export const SMS_NOTICE: SmsOptions = { kind: SmsKind.SMS_KIND_NOTICE };
/** The answer to the subscriber's own text. */
export const SMS_REPLY: SmsOptions = { kind: SmsKind.SMS_KIND_REPLY };

/** A challenge (one-time code or PIN request) or its retry prompt: useless once the challenge expired. */
export function timeBound(kind: dialpay.v1.SmsKind, expiresAtMs: number | null | undefined): SmsOptions {
  return { kind, urgent: true, ...(expiresAtMs ? { expiresAtMs } : {}) };
}

/**
 * SmsOutbound's fields for one SMS: delivery receipt asked, priority, kind and expiry, and where the
 * text holds a secret (a one-time code, marked by markSecrets) for the gateway to mask.
 */
export function smsOutboundBody(
  eventId: string, to: Destination, text: string | SecretText, options: SmsOptions,
): Omit<dialpay.v1.ISmsOutbound, 'envelope'> {
  const body = typeof text === 'string' ? { text, secretSpans: [] } : text;
  return {
    messageRef: eventId, operatorId: to.operatorId, toMsisdn: to.msisdn, fromAddress: to.shortCode,
    text: body.text, secretSpans: [...body.secretSpans], receiptRequested: true,
    priority: options.urgent ? SmsPriority.SMS_PRIORITY_HIGH : SmsPriority.SMS_PRIORITY_NORMAL,
    kind: options.kind,
    expiresAtUnixMs: bigIntToInt64(BigInt(Math.max(0, Math.trunc(options.expiresAtMs ?? 0)))),
  };
}
