// Notifications (events.ts, Notifications): published on core NATS, at most
// once, stored nowhere. For what no service consumes, so it costs no durable
// write on the money path; a listener sees what arrives while it is subscribed.
import { headers as natsHeaders, type MsgHdrs, type NatsConnection } from '@nats-io/transport-node';
import type { EventDef, EventMessage } from './events.js';
import { NOTIFY_SUBJECT_PREFIX } from './events.js';
import { encodeEvent, eventIdOf, HEADER_EVENT_TYPE } from './publish.js';

/** The publishing side of a connection, narrowed: a test can pass a real connection only. */
export type Notifier = Pick<NatsConnection, 'publish'>;

/** A notification encoded, with its headers: what is left to do cannot fail but for the connection. */
export interface PreparedNotification {
  readonly subject: string;
  readonly payload: Uint8Array;
  readonly headers: MsgHdrs;
}

/**
 * Encodes a notification. Throws only for a programmer's error (a durable event's def, a message
 * without an event id), so a caller that publishes after its commit can prepare before it and
 * see such an error inside its transaction.
 */
export function prepareNotification<M extends EventMessage>(def: EventDef<M>, message: M): PreparedNotification {
  if (!def.subject.startsWith(`${NOTIFY_SUBJECT_PREFIX}.`)) throw new TypeError(`${def.subject} is a durable event, not a notification`);
  const headers = natsHeaders();
  headers.set(HEADER_EVENT_TYPE, def.typeName);
  headers.set('Nats-Msg-Id', eventIdOf(message));
  return { subject: def.subject, payload: encodeEvent(def, message), headers };
}

/**
 * Publishes a prepared notification. Never throws: a connection that is closed or reconnecting
 * loses it (false), which is what at-most-once means here (the nats client buffers while reconnecting).
 */
export function publishNotification(nc: Notifier, notification: PreparedNotification): boolean {
  try {
    nc.publish(notification.subject, notification.payload, { headers: notification.headers });
    return true;
  } catch {
    return false;
  }
}

/** Prepares and publishes at once; throws only as prepareNotification does. */
export function notify<M extends EventMessage>(nc: Notifier, def: EventDef<M>, message: M): boolean {
  return publishNotification(nc, prepareNotification(def, message));
}
