// Messages to subscribers: an SmsOutbound event becomes one or more
// submit_sm (client mode) or deliver_sm (server mode) PDUs. Temporary errors
// and timeouts are retried on the operator's schedule; ESME_RTHROTTLED slows
// the link down; permanent errors end in a failed SmsSubmitResult notification.
// A message still refused for temporary reasons after the schedule, or with no
// bind up, waits out the outage: it goes back to JetStream (RetryLaterError, not
// a failure: gateway-sms-outbound has no max_deliver) and is delivered again
// after a growing, jittered wait (smpp.bindWaitDelayMsMin..Max) until the bind
// returns. Its own useful life bounds the wait: one handled past its
// expires_at_unix_ms (a challenge past its TTL) is dropped, acked and counted
// (dialpay_sms_outbound_expired_total), never sent; one that keeps its value (a
// receipt) waits up to smpp.bindWaitMaxMs from its publication, then its failures
// count toward the dead letters as before. Order per phone is kept only roughly:
// after the bind returns, a newer SMS may overtake one still in its wait (at most
// bindWaitDelayMsMax), as SMPP's several binds and the SMSC's queues may anyway;
// a challenge and its receipt cannot cross (the receipt needs the reply). A message
// the SMSC took whole is recorded with its SMSC ids in the SMS_SENT stream,
// many to one durable message (sent-log.ts), and acked after that write: its
// receipt finds it on any replica, and a redelivery after a crash is not sent
// again. It is also remembered in this process (SubmittedIds) before anything
// is written to NATS: when the write fails (nats-server down just then) and
// JetStream delivers the event again, it is acked without a second submit.
import type { OperatorConfig } from '../../runtime/config/index.js';
import type { Logger } from '../../runtime/log.js';
import {
  Events, Notifications, newEnvelope, notify, PermanentHandlerError, RetryLaterError, type Notifier,
} from '../../runtime/nats/index.js';
import { dialpay, enumValueName, int64ToBigInt, maskSecretSpans, v1 } from '../../proto/index.js';
import type { Pdu } from './codec/pdu.js';
import { splitForSubmit, type OutboundPart } from './codec/segment.js';
import { CommandStatus, SubmitDisposition, submitDisposition, statusName } from './status.js';
import { normalizeMessageId } from './codec/receipt.js';
import { PRODUCER } from './inbound.js';
import type { SentLog } from './sent-log.js';
import type { SmppMetrics } from './metrics.js';
import { backoffDelayMs } from './client-bind.js';
import { WaitingMessages } from './waiting.js';

/** How the gateway reaches one operator: a pool of client binds, or the operator's binds to us. */
export interface OperatorLink {
  /** True when at least one bind can carry traffic now. */
  ready(): boolean;
  /** Sends one part; rejects when no bind is up or the window and its queue are full. */
  send(fields: Record<string, unknown>): Promise<Pdu>;
  /** The peer answered ESME_RTHROTTLED. */
  throttled(): void;
}

export class NoLinkError extends Error {
  override readonly name = 'NoLinkError';
  constructor(readonly operatorId: string) {
    super(`no bind to operator ${operatorId} is up`);
  }
}

/**
 * No bind is up, or every attempt on the operator's schedule met a temporary refusal: the SMS waits
 * (nak'd with delayMs), not counted as a failed delivery. The reason is `no_bind` or `temporary`.
 */
export class SmscUnavailableError extends RetryLaterError {
  override readonly name = 'SmscUnavailableError';
  constructor(readonly operatorId: string, readonly reason: 'no_bind' | 'temporary', detail: string, delayMs: number) {
    super(`operator ${operatorId} cannot take SMS now (${detail}); waiting ${delayMs} ms`, delayMs);
  }
}

/** Every attempt on the operator's schedule met a temporary refusal (throttled, busy, timed out, link lost). */
export class SubmitRetriesExhaustedError extends Error {
  override readonly name = 'SubmitRetriesExhaustedError';
  constructor(readonly operatorId: string, readonly detail: string) {
    super(`submits to ${operatorId} still refused after the retry schedule (${detail}); redelivered later`);
  }
}

export interface OutboundOptions {
  readonly operators: ReadonlyMap<string, OperatorConfig>;
  readonly links: ReadonlyMap<string, OperatorLink>;
  /** Where submit results are notified (core NATS). */
  readonly nc: Notifier;
  /** The durable record of what the SMSCs took, shared by the replicas. */
  readonly sent: SentLog;
  readonly log: Logger;
  readonly metrics: SmppMetrics;
  /** Events submitted whole, acked again without a submit; default SUBMITTED_IDS_MAX / SUBMITTED_IDS_TTL_MS. */
  readonly submitted?: SubmittedIds;
  /** The messages waiting out an outage, for the gauge; default a fresh set. */
  readonly waiting?: WaitingMessages;
}

/** The kind label of an SmsOutbound: "challenge", "receipt", ...; "unspecified" for an older publisher's. */
export function smsKindLabel(kind: dialpay.v1.SmsKind | null | undefined): string {
  const name = enumValueName(v1.SmsKind, kind ?? 0);
  return name ? name.replace(/^SMS_KIND_/, '').toLowerCase() : 'unspecified';
}

/** Unix ms after which the SMS is useless; 0 when it keeps its value. */
export function expiresAtMsOf(message: dialpay.v1.ISmsOutbound): number {
  return unixMsOf(message.expiresAtUnixMs);
}

/** An int64 instant in Unix ms as a number; 0 when absent, negative or not a safe integer (unusable). */
function unixMsOf(value: Parameters<typeof int64ToBigInt>[0]): number {
  try {
    return Math.max(0, Number(int64ToBigInt(value)));
  } catch {
    return 0;
  }
}

/**
 * How long, and how many, SmsOutbound event ids the gateway remembers as submitted. At least the
 * consumer's ack wait and SMS_OUTBOUND's duplicate window (edge.ts raises the time to those):
 * a redelivery after a lost ack or nak, or a relay's re-publish after a lost PubAck, comes within them.
 * About 300 bytes an entry: 100,000 is some 30 MB at most.
 */
export const SUBMITTED_IDS_MAX = 100_000;
export const SUBMITTED_IDS_TTL_MS = 10 * 60_000;

/**
 * SmsOutbound events this process submitted whole (every part accepted by the SMSC), with the
 * SMSC's ids, for a bounded time and number, oldest dropped first. In memory: it covers the
 * NATS side failing under a live gateway; a gateway that died after the submit relies on the
 * SMS_SENT record (or sends again, SMPP's at-least-once, when it died before the record's write).
 */
export class SubmittedIds {
  readonly #entries = new Map<string, { readonly smscIds: readonly string[]; readonly atMs: number }>();
  constructor(readonly submittedIdsMax: number, readonly submittedIdsTtlMs: number, private readonly nowMs: () => number = Date.now) {
    if (submittedIdsMax < 1 || submittedIdsTtlMs < 1) throw new RangeError('submittedIdsMax and submittedIdsTtlMs must be positive');
  }

  get size(): number {
    return this.#entries.size;
  }

  remember(eventId: string, smscIds: readonly string[]): void {
    const now = this.nowMs();
    this.#entries.delete(eventId);
    this.#entries.set(eventId, { smscIds: [...smscIds], atMs: now });
    this.#expire(now);
    // Map keeps insertion order: the first entries are the oldest.
    for (const oldest of this.#entries.keys()) {
      if (this.#entries.size <= this.submittedIdsMax) break;
      this.#entries.delete(oldest);
    }
  }

  /** The SMSC ids of an event submitted within the TTL, or null. */
  get(eventId: string): readonly string[] | null {
    const entry = this.#entries.get(eventId);
    if (!entry) return null;
    if (this.nowMs() - entry.atMs >= this.submittedIdsTtlMs) {
      this.#entries.delete(eventId);
      return null;
    }
    return entry.smscIds;
  }

  #expire(now: number): void {
    for (const [id, entry] of this.#entries) {
      if (now - entry.atMs < this.submittedIdsTtlMs) break;
      this.#entries.delete(id);
    }
  }
}

type PartOutcome = { readonly accepted: true; readonly messageId: string }
  | { readonly accepted: false; readonly status: dialpay.v1.SubmitStatus; readonly commandStatus: number; readonly detail: string };

export class OutboundSubmitter {
  readonly #o: OutboundOptions;
  readonly #submitted: SubmittedIds;
  readonly #waiting: WaitingMessages;
  #reference = Math.floor(Math.random() * 0xffff);

  constructor(options: OutboundOptions) {
    this.#o = options;
    this.#submitted = options.submitted ?? new SubmittedIds(SUBMITTED_IDS_MAX, SUBMITTED_IDS_TTL_MS);
    this.#waiting = options.waiting ?? new WaitingMessages();
  }

  /** deliveryCount: 1 on the first delivery; a later one may follow a crash past the submit. */
  async handle(message: dialpay.v1.ISmsOutbound, deliveryCount = 1): Promise<void> {
    const arrivedAtMs = Date.now();
    const { operators, links, sent, log } = this.#o;
    const operator = operators.get(message.operatorId ?? '');
    const link = links.get(message.operatorId ?? '');
    if (!operator || !link) throw new PermanentHandlerError(`unknown operator ${message.operatorId}`);
    const messageRef = message.messageRef || (message.envelope?.eventId as string);
    const eventId = message.envelope?.eventId || messageRef;
    // Submitted whole by this process, but the record did not reach NATS (or the ack did not): a
    // repeat of the same event. Not sent again; the record is written again (idempotent).
    const submittedIds = this.#submitted.get(eventId);
    if (submittedIds) {
      this.#o.metrics.outboundDuplicates.inc({ operator: operator.id });
      log.debug({ eventId, messageRef, deliveredAgain: true }, 'sms already submitted; not sent again');
      await sent.record({ messageRef, operatorId: operator.id, smscIds: submittedIds });
      this.#notifyResult(message, messageRef, { accepted: true, messageId: '' }, submittedIds, 1);
      return;
    }
    // Recorded as sent by a replica (this one before a restart, or one that died past the record's
    // write): not sent twice. A redelivery not in memory reads the stream's newest batches first.
    let recorded = sent.smscIdsOf(messageRef);
    if (!recorded && deliveryCount > 1) {
      await sent.catchUp(arrivedAtMs);
      recorded = sent.smscIdsOf(messageRef);
    }
    if (recorded) {
      this.#o.metrics.outboundDuplicates.inc({ operator: operator.id });
      log.debug({ eventId, messageRef, deliveryCount }, 'sms recorded as sent; not sent again');
      this.#notifyResult(message, messageRef, { accepted: true, messageId: '' }, recorded, 1);
      return;
    }
    // Past its useful life (a challenge whose TTL ran out while the SMSC was away): sending it now
    // would only confuse. Acked unsent; the log line names it, never its text.
    const kind = smsKindLabel(message.kind);
    const expiresAtMs = expiresAtMsOf(message);
    if (expiresAtMs > 0 && arrivedAtMs >= expiresAtMs) {
      this.#waiting.done(eventId);
      this.#o.metrics.outboundExpired.inc({ operator: operator.id, kind });
      log.info({ eventId, messageRef, operator: operator.id, kind, expiredMsAgo: arrivedAtMs - expiresAtMs, deliveryCount },
        'outbound sms past its useful life: dropped unsent');
      return;
    }
    if (!link.ready()) throw this.#wait(operator, message, eventId,
      { reason: 'no_bind', detail: 'no bind is up', deliveryCount, expiresAtMs, fallback: new NoLinkError(operator.id) });
    let parts: OutboundPart[];
    try {
      this.#reference = (this.#reference + 1) & 0xffff;
      parts = splitForSubmit(message.text ?? '', operator.smpp.splitMode, this.#reference);
    } catch (err) {
      this.#notifyResult(message, messageRef,
        { accepted: false, status: v1.SubmitStatus.SUBMIT_STATUS_REJECTED, commandStatus: 0, detail: (err as Error).message }, [], 0);
      return;
    }
    const ids: string[] = [];
    let attempts = 0;
    for (const part of parts) {
      const { outcome, attemptCount } = await this.#sendPart(operator, link, message, part);
      attempts += attemptCount;
      // Temporary: nak, and JetStream delivers the message again on the consumer's schedule. A long
      // message whose first parts went out is sent whole again: at least once, as SMPP allows. Not
      // resumed from the first part missing: the parts of the next delivery carry a new
      // concatenation reference, and a handset joins parts of one reference only.
      if (!outcome.accepted && outcome.status === v1.SubmitStatus.SUBMIT_STATUS_RETRIES_EXHAUSTED) {
        throw this.#wait(operator, message, eventId, { reason: 'temporary', detail: outcome.detail, deliveryCount, expiresAtMs,
          fallback: new SubmitRetriesExhaustedError(operator.id, outcome.detail) });
      }
      if (!outcome.accepted) {
        this.#waiting.done(eventId);
        this.#notifyResult(message, messageRef, outcome, ids, attempts);
        return;
      }
      ids.push(outcome.messageId);
    }
    // Every part accepted: remembered before any write to NATS, which may fail (nats-server down).
    this.#submitted.remember(eventId, ids);
    this.#waiting.done(eventId);
    log.debug({ messageRef, parts: parts.length }, 'sms submitted');
    // Acked only once the record is durable: a redelivery after a crash from here finds it.
    await sent.record({ messageRef, operatorId: operator.id, smscIds: ids });
    this.#notifyResult(message, messageRef, { accepted: true, messageId: '' }, ids, attempts);
  }

  /**
   * The SMSC cannot take the SMS now: a wait (SmscUnavailableError) while the SMS is useful, the
   * next growing and jittered from the delivery count and never past the SMS's expiry (so it is
   * dropped on time); `fallback`, an ordinary failure, once an SMS that keeps its value has waited
   * smpp.bindWaitMaxMs since its publication.
   */
  #wait(
    operator: OperatorConfig, message: dialpay.v1.ISmsOutbound, eventId: string,
    w: { reason: 'no_bind' | 'temporary'; detail: string; deliveryCount: number; expiresAtMs: number; fallback: Error },
  ): Error {
    const smpp = operator.smpp;
    const now = Date.now();
    const publishedAtMs = unixMsOf(message.envelope?.occurredAtUnixMs) || now;
    if (w.expiresAtMs === 0 && now - publishedAtMs >= smpp.bindWaitMaxMs) {
      this.#waiting.done(eventId);
      return w.fallback;
    }
    let delayMs = backoffDelayMs(Math.max(0, w.deliveryCount - 1), smpp.bindWaitDelayMsMin, smpp.bindWaitDelayMsMax);
    // Delivered again just after its expiry, to be dropped and counted then rather than later.
    if (w.expiresAtMs > 0) delayMs = Math.max(1, Math.min(delayMs, w.expiresAtMs - now + 1));
    this.#waiting.waits(eventId, operator.id, delayMs);
    return new SmscUnavailableError(operator.id, w.reason, w.detail, delayMs);
  }

  async #sendPart(
    operator: OperatorConfig, link: OperatorLink, message: dialpay.v1.ISmsOutbound, part: OutboundPart,
  ): Promise<{ outcome: PartOutcome; attemptCount: number }> {
    const { metrics, log } = this.#o;
    const delays = operator.smpp.submitRetryDelaysMs;
    const fields: Record<string, unknown> = {
      source_addr_ton: 0,
      source_addr_npi: 0,
      source_addr: message.fromAddress || operator.shortCodes[0],
      dest_addr_ton: 1,
      dest_addr_npi: 1,
      destination_addr: message.toMsisdn,
      esm_class: part.esmClass,
      data_coding: part.dataCoding,
      priority_flag: message.priority === v1.SmsPriority.SMS_PRIORITY_HIGH ? 1 : 0,
      registered_delivery: operator.smpp.registeredDelivery && message.receiptRequested ? 1 : 0,
      short_message: part.shortMessage,
      ...(part.messagePayload ? { message_payload: part.messagePayload } : {}),
      ...(part.sar
        ? { sar_msg_ref_num: part.sar.refNum, sar_total_segments: part.sar.totalSegments, sar_segment_seqnum: part.sar.seqNum }
        : {}),
    };
    let last: PartOutcome = {
      accepted: false, status: v1.SubmitStatus.SUBMIT_STATUS_RETRIES_EXHAUSTED, commandStatus: 0, detail: 'not sent',
    };
    for (let attempt = 0; attempt <= delays.length; attempt++) {
      if (attempt > 0) await new Promise((r) => setTimeout(r, delays[attempt - 1]));
      const started = performance.now();
      try {
        const resp = await link.send(fields);
        metrics.submitResponseSeconds.observe({ operator: operator.id }, (performance.now() - started) / 1000);
        switch (submitDisposition(resp.command_status)) {
          case SubmitDisposition.ACCEPTED:
            return {
              outcome: { accepted: true, messageId: normalizeMessageId(String(resp.message_id ?? ''), operator.smpp.submitIdFormat) },
              attemptCount: attempt + 1,
            };
          case SubmitDisposition.PERMANENT:
            return {
              outcome: { accepted: false, status: v1.SubmitStatus.SUBMIT_STATUS_REJECTED,
                commandStatus: resp.command_status, detail: statusName(resp.command_status) },
              attemptCount: attempt + 1,
            };
          case SubmitDisposition.THROTTLED:
            link.throttled();
            break;
          case SubmitDisposition.RETRY:
            break;
        }
        last = { accepted: false, status: v1.SubmitStatus.SUBMIT_STATUS_RETRIES_EXHAUSTED,
          commandStatus: resp.command_status, detail: statusName(resp.command_status) };
        metrics.submitRetries.inc({ operator: operator.id, reason: statusName(resp.command_status) });
      } catch (err) {
        // Timeout, closed session, full window, no bind: temporary. A timed-out submit, or one
        // in flight when the link closed, may have reached the SMSC: resending is SMPP's at-least-once.
        last = { accepted: false, status: v1.SubmitStatus.SUBMIT_STATUS_RETRIES_EXHAUSTED,
          commandStatus: CommandStatus.ESME_ROK, detail: (err as Error).message };
        metrics.submitRetries.inc({ operator: operator.id, reason: (err as Error).name });
      }
      log.debug({ operator: operator.id, attempt, detail: last.accepted ? '' : last.detail }, 'submit attempt failed');
      // The link went down: the rest of the schedule would only hold this handler's slot; the wait takes over.
      if (!link.ready()) return { outcome: last, attemptCount: attempt + 1 };
    }
    return { outcome: last, attemptCount: delays.length + 1 };
  }

  /** At most once, on core NATS: no service reads it; the durable record is the SMS_SENT batch. */
  #notifyResult(
    message: dialpay.v1.ISmsOutbound, messageRef: string, outcome: PartOutcome, ids: readonly string[], attempts: number,
  ): void {
    notify(this.#o.nc, Notifications.smsSubmitResult, {
      envelope: newEnvelope({ producer: PRODUCER, eventId: `submit-${messageRef}`,
        correlationId: message.envelope?.correlationId || undefined, paymentId: message.envelope?.paymentId || undefined }),
      messageRef,
      operatorId: message.operatorId,
      status: outcome.accepted ? v1.SubmitStatus.SUBMIT_STATUS_ACCEPTED : outcome.status,
      smscMessageIds: [...ids],
      commandStatus: outcome.accepted ? 0 : outcome.commandStatus,
      errorDetail: outcome.accepted ? '' : outcome.detail,
      attemptCount: attempts,
    });
  }
}

/** Client mode: round-robin over the operator's bound binds. */
export function clientLink(
  binds: readonly { state: string; canSubmit: boolean; submit(fields: Record<string, unknown>): Promise<Pdu>; throttled(): void }[],
): OperatorLink {
  let next = 0;
  const bound = () => binds.filter((b) => b.state === 'bound' && b.canSubmit);
  return {
    ready: () => bound().length > 0,
    send: (fields) => {
      const up = bound();
      if (up.length === 0) return Promise.reject(new Error('no bound bind'));
      const bind = up[next++ % up.length] as (typeof up)[number];
      return bind.submit(fields);
    },
    throttled: () => binds.forEach((b) => b.throttled()),
  };
}

/**
 * An outbound SMS as the dead-letter stream keeps it: every span its writer marked secret (a
 * one-time code) masked, so the 30-day DLQ holds no working secret. A code is dead two minutes after
 * it was sent anyway; a replayed challenge then asks the subscriber to start again. Bytes that do
 * not decode pass as they are.
 */
export function redactCodesForDeadLetter(data: Uint8Array): Uint8Array {
  try {
    const sms = Events.smsOutbound.type.decode(data);
    if (!sms.secretSpans?.length) return data;
    const masked = maskSecretSpans(sms.text ?? '', sms.secretSpans);
    return Events.smsOutbound.type.encode({ ...sms, text: masked.text, secretSpans: [...masked.secretSpans] }).finish();
  } catch {
    return data;
  }
}
