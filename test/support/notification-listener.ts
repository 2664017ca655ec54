// Collects a notification subject's messages (core NATS, at most once, stored
// nowhere), decoded, for assertions. Subscribe BEFORE the action: what was
// published earlier is gone. A reconnecting connection misses what comes meanwhile.
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import type { EventDef, EventMessage } from '../../runtime/nats/index.js';

export interface NotificationListener<M> {
  /** Every message received so far, oldest first. */
  readonly received: readonly M[];
  stop(): void;
}

export async function listenTo<M extends EventMessage>(nc: NatsConnection, def: EventDef<M>): Promise<NotificationListener<M>> {
  const received: M[] = [];
  const subscription: Subscription = nc.subscribe(def.subject, {
    callback: (err, msg) => {
      if (!err) received.push(def.type.decode(msg.data));
    },
  });
  // The server has the subscription once the flush returns: nothing published after this is missed.
  await nc.flush();
  return { received, stop: () => subscription.unsubscribe() };
}
