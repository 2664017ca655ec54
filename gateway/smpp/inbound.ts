// Messages from the operator: a subscriber's SMS (deliver_sm in client mode,
// submit_sm in server mode) or a delivery receipt. The PDU is answered only
// after JetStream acknowledged the event; if NATS is unreachable the answer is
// ESME_RX_T_APPN so the SMSC retries. Parts of a long message go to the KV
// bucket every replica shares (reassembly-store.ts), since the SMSC may send
// them on binds to different replicas; each is answered once it is stored
// there (a temporary error when the bucket cannot take it), and the part that
// completes the message is answered once the whole message is durable. A
// partial command never reaches payments. USSD (a PDU with
// ussd_service_op, for an operator with ussd config) is not an SMS: it goes to
// ussd/smpp-edge.ts and never to SMS_INBOUND. A receipt is answered once its
// notification is out (core NATS: no service reads it); its message is found
// in the sent log (sent-log.ts), whichever replica sent it.
import type { KV } from '@nats-io/kv';
import type { DurablePublish } from '../../runtime/nats/pubacks.js';
import type { OperatorConfig } from '../../runtime/config/index.js';
import type { Logger } from '../../runtime/log.js';
import { toE164 } from '../../runtime/msisdn.js';
import { Events, Notifications, newEnvelope, notify, publishEvent, type Notifier } from '../../runtime/nats/index.js';
import { bigIntToInt64, v1 } from '../../proto/index.js';
import { ESM_CLASS_RECEIPT, rawBytes, type Pdu } from './codec/pdu.js';
import { ESM_CLASS_UDHI, parseUdh } from './codec/segment.js';
import { decodeText } from './codec/text-codec.js';
import { REASSEMBLY_BODY_BYTES_MAX, reassemblyKey } from './reassembly.js';
import { SharedReassembly, type StoreOutcome } from './reassembly-store.js';
import { formatReceiptText, messageStateOf, normalizeMessageId, parseReceipt, type ParsedReceipt } from './codec/receipt.js';
import { CommandStatus } from './status.js';
import type { SmppMetrics } from './metrics.js';
import type { SmppSession } from './session.js';
import { UssdEdge } from '../ussd/smpp-edge.js';

export const PRODUCER = 'gateway';
const EXPIRE_SWEEP_MS = 500;
/** Lookups of a receipt's message: at once, after reading the stream, then after a pause each (its batch may be on the way). */
const RECEIPT_LOOKUP_RETRIES = 4;
const RECEIPT_LOOKUP_DELAY_MS = 100;
/** A receipt younger than this whose message we cannot find yet is sent back for a retry, not published bare. */
const RECEIPT_CORRELATION_GRACE_MS = 10 * 60_000;
/** esm_class message-type bits (SMPP 3.4, 5.2.12). */
const ESM_TYPE_MASK = 0x3c;
const ESM_TYPE_SME_ACKS = new Set([0x08, 0x10]);
const ESM_TYPE_INTERMEDIATE = 0x20;

const RECEIPT_STATE: Readonly<Record<ParsedReceipt['state'], number>> = {
  ENROUTE: v1.DeliveryState.DELIVERY_STATE_ENROUTE,
  DELIVERED: v1.DeliveryState.DELIVERY_STATE_DELIVERED,
  EXPIRED: v1.DeliveryState.DELIVERY_STATE_EXPIRED,
  DELETED: v1.DeliveryState.DELIVERY_STATE_DELETED,
  UNDELIVERABLE: v1.DeliveryState.DELIVERY_STATE_UNDELIVERABLE,
  ACCEPTED: v1.DeliveryState.DELIVERY_STATE_ACCEPTED,
  UNKNOWN: v1.DeliveryState.DELIVERY_STATE_UNKNOWN,
  REJECTED: v1.DeliveryState.DELIVERY_STATE_REJECTED,
};

/** Our message ids for the peer's submits in server mode: a per-process prefix and a counter, in hex. */
const MESSAGE_ID_PREFIX = Math.floor(Math.random() * 0xffff).toString(16).padStart(4, '0');
let messageCounter = 0;
function nextMessageId(): string {
  messageCounter = (messageCounter + 1) % Number.MAX_SAFE_INTEGER;
  return `${MESSAGE_ID_PREFIX}${messageCounter.toString(16).padStart(8, '0')}`;
}

/** Where a receipt finds its message: the sent log, or a stand-in in tests. */
export interface SentLookup {
  messageRefOf(operatorId: string, smscId: string): string | null;
  /** Reads what the SMS_SENT stream holds beyond what is in memory (sent-log.ts). */
  catchUp(notBeforeMs: number): Promise<void>;
}

interface Held {
  readonly session: SmppSession;
  readonly pdu: Pdu;
}

export interface InboundOptions {
  readonly operator: OperatorConfig;
  /** Durable publishes: the connection's PubAckMux (nats.publisher), or a JetStreamClient. */
  readonly js: DurablePublish;
  /** Where receipts are notified (core NATS). */
  readonly nc: Notifier;
  readonly sent: SentLookup;
  /** The sms_parts bucket: parts of long messages, shared by the replicas. */
  readonly parts: Pick<KV, 'get' | 'put' | 'purge'>;
  readonly publishTimeoutMs: number;
  readonly log: Logger;
  readonly metrics: SmppMetrics;
  /** Server mode: where a receipt for the peer's submit goes (a bind that may receive), or null. */
  readonly receiptSession?: (submittedOn: SmppSession) => SmppSession | null;
  /** The operator's USSD edge; null when it has no ussd config (its PDUs are then plain SMS). */
  readonly ussd?: UssdEdge | null;
}

export class InboundHandler {
  readonly #o: InboundOptions;
  readonly #parts: SharedReassembly;
  readonly #sweep: NodeJS.Timeout;
  /** Inbound PDUs being published, per session: a peer ignoring our window is told to slow down. */
  readonly #inFlight = new WeakMap<SmppSession, number>();

  constructor(options: InboundOptions) {
    this.#o = options;
    const smpp = options.operator.smpp;
    this.#parts = new SharedReassembly({
      kv: options.parts,
      operatorId: options.operator.id,
      limits: { partsMax: smpp.reassemblyPartsMax, bodyBytesMax: REASSEMBLY_BODY_BYTES_MAX, timeoutMs: smpp.reassemblyTimeoutMs },
      messagesMax: smpp.reassemblyMessagesMax,
      // The claimer publishes (publishTimeoutMs at most) and then marks it: a claim older than twice that was abandoned.
      publishGraceMs: 2 * options.publishTimeoutMs,
      log: options.log,
      metrics: options.metrics,
    });
    options.metrics.reassemblyPartsExpired.inc({ operator: options.operator.id }, 0);
    this.#sweep = setInterval(() => {
      this.#parts
        .sweep(Date.now())
        .catch((err: unknown) => this.#o.log.warn({ err, operator: this.#o.operator.id },
          'reassembly sweep could not reach the KV bucket; trying again'))
        .finally(() => this.#gauge());
    }, EXPIRE_SWEEP_MS);
    this.#sweep.unref();
  }

  /**
   * Stops sweeping. No part is held here: each was answered when it was stored, and the other replicas (or the bucket's TTL)
   * time out what is left.
   */
  close(): void {
    clearInterval(this.#sweep);
    this.#parts.clear();
    this.#gauge();
  }

  /** Handles deliver_sm (client mode) or submit_sm (server mode) carrying a subscriber's message or a receipt. */
  handle(session: SmppSession, pdu: Pdu, bindId: string): void {
    if (this.#o.ussd && UssdEdge.isUssd(pdu)) {
      // Interactive and answered at once, with its own in-flight bound: not part of the SMS window.
      this.#o.ussd.handle(session, pdu, bindId);
      return;
    }
    const inFlight = this.#inFlight.get(session) ?? 0;
    if (inFlight >= this.#o.operator.smpp.windowSize) {
      session.respond(pdu, pdu.command === 'submit_sm' ? CommandStatus.ESME_RTHROTTLED : CommandStatus.ESME_RX_T_APPN);
      return;
    }
    const messageType = Number(pdu.esm_class ?? 0) & ESM_TYPE_MASK;
    if (pdu.command === 'deliver_sm' && ESM_TYPE_SME_ACKS.has(messageType)) {
      session.respond(pdu, CommandStatus.ESME_ROK); // an SME acknowledgement, not a subscriber's words
      return;
    }
    const isReceipt = pdu.command === 'deliver_sm'
      && (messageType === ESM_CLASS_RECEIPT || messageType === ESM_TYPE_INTERMEDIATE || pdu.receipted_message_id !== undefined);
    this.#inFlight.set(session, inFlight + 1);
    const work = isReceipt ? this.#receipt(session, pdu) : this.#message(session, pdu, bindId);
    work
      .catch((err: unknown) => {
        this.#o.log.error({ err, bind: bindId }, 'inbound PDU handling failed');
        session.respond(pdu, CommandStatus.ESME_RX_T_APPN);
      })
      .finally(() => this.#inFlight.set(session, (this.#inFlight.get(session) ?? 1) - 1));
  }

  async #message(session: SmppSession, pdu: Pdu, bindId: string): Promise<void> {
    const { operator } = this.#o;
    const destination = String(pdu.destination_addr ?? '');
    if (!operator.shortCodes.includes(destination)) {
      session.respond(pdu, CommandStatus.ESME_RINVDSTADR);
      return;
    }
    const from = toE164(String(pdu.source_addr ?? ''), operator.countryCallingCode, Number(pdu.source_addr_ton ?? 0));
    if (!from) {
      session.respond(pdu, CommandStatus.ESME_RINVSRCADR);
      return;
    }
    const dataCoding = Number(pdu.data_coding ?? 0);
    const payload = pdu.message_payload !== undefined ? rawBytes(pdu.message_payload) : rawBytes(pdu.short_message);
    let body = payload;
    let concat: { reference: number; total: number; seq: number } | null = null;
    if (Number(pdu.esm_class ?? 0) & ESM_CLASS_UDHI) {
      const parsed = parseUdh(payload);
      if (!parsed) {
        session.respond(pdu, CommandStatus.ESME_RINVMSGLEN);
        return;
      }
      body = parsed.body;
      concat = parsed.concat;
    } else if (pdu.sar_msg_ref_num !== undefined) {
      concat = { reference: Number(pdu.sar_msg_ref_num), total: Number(pdu.sar_total_segments), seq: Number(pdu.sar_segment_seqnum) };
      if (!Number.isInteger(concat.total) || !Number.isInteger(concat.seq)) {
        session.respond(pdu, CommandStatus.ESME_RX_P_APPN); // SAR reference without its total or number
        return;
      }
    }
    const held: Held = { session, pdu };
    if (!concat) {
      await this.#publishMessage([held], from, destination, decodeText(body, dataCoding), bindId);
      return;
    }
    if (concat.total === 1 && concat.seq === 1) {
      await this.#publishMessage([held], from, destination, decodeText(body, dataCoding), bindId);
      return;
    }
    let result: StoreOutcome;
    try {
      const key = reassemblyKey(operator.id, from, destination, concat.reference, concat.total);
      result = await this.#parts.add(key, { total: concat.total, seq: concat.seq, dataCoding, body });
    } catch (err) {
      this.#o.log.warn({ err, bind: bindId }, 'message part not stored: the reassembly bucket is unreachable; asking the SMSC to retry');
      this.#answer([held], CommandStatus.ESME_RX_T_APPN);
      return;
    } finally {
      this.#gauge();
    }
    switch (result.kind) {
      case 'stored':
        this.#answer([held], CommandStatus.ESME_ROK); // durable in the bucket: whichever replica gets the last part completes it
        return;
      case 'retry-later':
        this.#answer([held], CommandStatus.ESME_RX_T_APPN);
        return;
      case 'rejected':
        this.#answer([held], CommandStatus.ESME_RX_P_APPN);
        return;
      case 'publish':
        if (await this.#publishMessage([held], from, destination, decodeText(result.body, result.dataCoding), bindId, result.eventId)) {
          await result.published();
        }
        return;
    }
  }

  /** Publishes one SMS and answers its PDUs; true when it is durable. `eventId`: a long message's, fixed when its last part was stored. */
  async #publishMessage(
    parts: readonly Held[], from: string, to: string, text: string, bindId: string, eventId?: string,
  ): Promise<boolean> {
    const message = {
      envelope: newEnvelope({ producer: PRODUCER, eventId }),
      operatorId: this.#o.operator.id,
      fromMsisdn: from,
      toAddress: to,
      text,
      smscMessageId: '',
      bindId,
    };
    try {
      await publishEvent(this.#o.js, Events.smsInbound, message, { timeoutMs: this.#o.publishTimeoutMs });
      this.#answer(parts, CommandStatus.ESME_ROK);
      return true;
    } catch (err) {
      this.#o.log.warn({ err, bind: bindId, eventId: message.envelope.eventId }, 'inbound SMS not durable; asking the SMSC to retry');
      this.#answer(parts, CommandStatus.ESME_RX_T_APPN);
      return false;
    }
  }

  async #receipt(session: SmppSession, pdu: Pdu): Promise<void> {
    const { operator, log, metrics } = this.#o;
    const bytes = pdu.message_payload !== undefined ? rawBytes(pdu.message_payload) : rawBytes(pdu.short_message);
    const text = decodeText(bytes, Number(pdu.data_coding ?? 0));
    const receipt = parseReceipt({
      receiptedMessageId: pdu.receipted_message_id as string | undefined,
      messageState: pdu.message_state as number | undefined,
      networkErrorCode: Buffer.isBuffer(pdu.network_error_code) ? pdu.network_error_code : undefined,
      text,
    });
    if (!receipt) {
      // No message id at all: it can be matched to nothing. Acknowledge so the SMSC does not retry forever.
      log.warn({ operator: operator.id }, 'delivery receipt without a message id; acknowledged and dropped');
      metrics.receipts.inc({ operator: operator.id, state: 'unparsed' });
      session.respond(pdu, CommandStatus.ESME_ROK);
      return;
    }
    const smscId = normalizeMessageId(receipt.messageId, operator.smpp.receiptIdFormat);
    const messageRef = await this.#messageRefOf(smscId);
    // From the submit, not the delivery: a handset off for hours gets a late receipt whose record is
    // long out of the index, and retrying that one would only loop until the grace ran out.
    const submittedAtMs = receipt.submittedAtUnixMs ?? receipt.doneAtUnixMs;
    if (!messageRef && (submittedAtMs === null || Date.now() - submittedAtMs < RECEIPT_CORRELATION_GRACE_MS)) {
      // Our record of the submit may not be written yet: let the SMSC retry rather than lose the link for good.
      session.respond(pdu, CommandStatus.ESME_RX_T_APPN);
      return;
    }
    const notified = notify(this.#o.nc, Notifications.deliveryReceipt, {
      // Derived id: an SMSC that repeats a receipt does not produce a second event.
      envelope: newEnvelope({
        producer: PRODUCER, eventId: `dlr-${operator.id}-${Buffer.from(smscId).toString('hex')}-${receipt.state}`,
        correlationId: messageRef || undefined,
      }),
      messageRef,
      operatorId: operator.id,
      smscMessageId: smscId,
      state: RECEIPT_STATE[receipt.state],
      errorCode: receipt.errorCode,
      submittedAtUnixMs: bigIntToInt64(BigInt(receipt.submittedAtUnixMs ?? 0)),
      doneAtUnixMs: bigIntToInt64(BigInt(receipt.doneAtUnixMs ?? 0)),
    });
    if (!notified) {
      // NATS closed: nothing could hear it. The SMSC retries the receipt later.
      session.respond(pdu, CommandStatus.ESME_RX_T_APPN);
      return;
    }
    metrics.receipts.inc({ operator: operator.id, state: receipt.state });
    if (!messageRef) {
      // Older than the sent index keeps (or sent before SMS_SENT existed): counted, not lost silently.
      metrics.receiptsUncorrelated.inc({ operator: operator.id });
      log.warn({ operator: operator.id, smscMessageId: smscId }, 'old receipt for a message no replica remembers; notified without it');
    }
    session.respond(pdu, CommandStatus.ESME_ROK);
  }

  /** The message an SMSC id belongs to, or '' when no replica's record has it (yet). */
  async #messageRefOf(smscId: string): Promise<string> {
    const { operator, sent } = this.#o;
    const arrivedAtMs = Date.now();
    // The receipt can overtake the record (resp and receipt close together, sent by another replica).
    for (let i = 0; i < RECEIPT_LOOKUP_RETRIES; i++) {
      const ref = sent.messageRefOf(operator.id, smscId);
      if (ref !== null) return ref;
      if (i === 0) await sent.catchUp(arrivedAtMs);
      else if (i + 1 < RECEIPT_LOOKUP_RETRIES) await new Promise((r) => setTimeout(r, RECEIPT_LOOKUP_DELAY_MS));
    }
    return '';
  }

  #answer(parts: readonly Held[], status: number): void {
    for (const { session, pdu } of parts) {
      if (session.closed) continue;
      if (pdu.command !== 'submit_sm' || status !== CommandStatus.ESME_ROK) {
        session.respond(pdu, status);
        continue;
      }
      // Server mode: the peer submitted; it gets our message id and, if it asked, a receipt.
      const messageId = nextMessageId();
      session.respond(pdu, status, { message_id: messageId });
      if (Number(pdu.registered_delivery ?? 0) & 0x01) this.#sendReceipt(session, pdu, messageId);
    }
  }

  #sendReceipt(session: SmppSession, submit: Pdu, messageId: string): void {
    const target = this.#o.receiptSession ? this.#o.receiptSession(session) : session;
    if (!target) {
      this.#o.log.warn({ operator: this.#o.operator.id }, 'receipt requested but no receiver bind to send it on');
      return;
    }
    const now = Date.now();
    const text = formatReceiptText({ messageId, state: 'DELIVERED', submittedAtUnixMs: now, doneAtUnixMs: now, errorCode: '0', text: '' });
    target
      .request('deliver_sm', {
        source_addr: submit.destination_addr,
        destination_addr: submit.source_addr,
        esm_class: ESM_CLASS_RECEIPT,
        data_coding: 0,
        short_message: Buffer.from(text, 'latin1'),
        receipted_message_id: messageId,
        message_state: messageStateOf('DELIVERED'),
      })
      .catch((err: unknown) => this.#o.log.warn({ err, operator: this.#o.operator.id }, 'receipt to peer not acknowledged'));
  }

  #gauge(): void {
    this.#o.metrics.reassemblyMessages.set({ operator: this.#o.operator.id }, this.#parts.size);
  }
}
