// Notifications (events.ts, Notifications): published on core NATS, at most
// once, stored nowhere. For what no service consumes, so it costs no durable
// write on the money path; a listener sees what arrives while it is subscribed.
import { headers as natsHeaders, type NatsConnection } from '@nats-io/transport-node';
import type { EventDef, EventMessage } from './events.js';
import { NOTIFY_SUBJECT_PREFIX } from './events.js';
import { encodeEvent, eventIdOf, HEADER_EVENT_TYPE } from './publish.js';

/** The publishing side of a connection, narrowed: a test can pass a real connection only. */
export type Notifier = Pick<NatsConnection, 'publish'>;

/**
 * Publishes a notification. Never throws: a connection that is closed or reconnecting loses it,
 * which is what at-most-once means here (the nats client buffers while reconnecting).
 */
export function notify<M extends EventMessage>(nc: Notifier, def: EventDef<M>, message: M): boolean {
  if (!def.subject.startsWith(`${NOTIFY_SUBJECT_PREFIX}.`)) throw new TypeError(`${def.subject} is a durable event, not a notification`);
  const h = natsHeaders();
  h.set(HEADER_EVENT_TYPE, def.typeName);
  h.set('Nats-Msg-Id', eventIdOf(message));
  try {
    nc.publish(def.subject, encodeEvent(def, message), { headers: h });
    return true;
  } catch {
    return false;
  }
}
