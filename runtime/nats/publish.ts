// Typed, deduplicated publishing: the envelope's event id is the Nats-Msg-Id,
// so a re-publish after a crash is dropped by the stream.
import { randomUUID } from 'node:crypto';
import { headers as natsHeaders } from '@nats-io/transport-node';
import type { DurablePublish } from './pubacks.js';
import { replyMuxFor } from './reply-mux.js';
import Long from 'long';
import type { Envelope } from '../../proto/index.js';
import type { NatsConnection } from '@nats-io/transport-node';
import type { EventDef, EventMessage, RequestDef } from './events.js';
import { PublishError } from './errors.js';

export const HEADER_EVENT_TYPE = 'Dialpay-Event-Type';

export interface EnvelopeFields {
  readonly producer: string;
  readonly correlationId?: string;
  readonly paymentId?: string;
  /** Set only when an event id must be derived from a business key (idempotent re-emit). */
  readonly eventId?: string;
  readonly occurredAtUnixMs?: number;
}

export function newEnvelope(fields: EnvelopeFields): Envelope {
  const eventId = fields.eventId ?? randomUUID();
  return {
    eventId,
    occurredAtUnixMs: Long.fromNumber(fields.occurredAtUnixMs ?? Date.now()),
    correlationId: fields.correlationId ?? eventId,
    paymentId: fields.paymentId ?? '',
    producer: fields.producer,
  };
}

/** The event id of a message, asserting the envelope contract every publisher must keep. */
export function eventIdOf(message: EventMessage): string {
  const eventId = message.envelope?.eventId;
  if (!eventId) throw new TypeError('event has no envelope.eventId');
  return eventId;
}

export interface PublishResult {
  readonly streamSequence: number;
  /** True when the stream had already stored this event id: nothing new was written. */
  readonly duplicate: boolean;
}

export function encodeEvent<M extends EventMessage>(def: EventDef<M>, message: M): Uint8Array {
  return def.type.encode(message).finish();
}

/** Publishes through `js`: a JetStreamClient, or the connection's PubAckMux on hot paths. */
export async function publishEncoded(
  js: DurablePublish,
  subject: string,
  typeName: string,
  eventId: string,
  payload: Uint8Array,
  timeoutMs: number,
): Promise<PublishResult> {
  const h = natsHeaders();
  h.set(HEADER_EVENT_TYPE, typeName);
  try {
    const ack = await js.publish(subject, payload, { msgID: eventId, timeout: timeoutMs, headers: h });
    return { streamSequence: ack.seq, duplicate: ack.duplicate };
  } catch (cause) {
    throw new PublishError(subject, eventId, { cause });
  }
}

export async function publishEvent<M extends EventMessage>(
  js: DurablePublish,
  def: EventDef<M>,
  message: M,
  options: { timeoutMs: number },
): Promise<PublishResult> {
  const eventId = eventIdOf(message);
  return publishEncoded(js, def.subject, def.typeName, eventId, encodeEvent(def, message), options.timeoutMs);
}

/** Sends a protobuf request on core NATS and decodes the reply; rejects on timeout or no responder. */
export async function requestReply<Q, R>(nc: NatsConnection, def: RequestDef<Q, R>, request: Q, timeoutMs: number): Promise<R> {
  const msg = await replyMuxFor(nc).request(def.subject, def.request.encode(request).finish(), { timeoutMs });
  return def.reply.decode(msg.data);
}
