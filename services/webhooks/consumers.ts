// The durable consumer webhooks reads (on the shared MERCHANT_EVENTS stream of runtime/nats/topology.ts);
// the runtime provisions it and grants webhooks' NATS user access to it.
import type { ConsumerSpec } from '../../runtime/nats/topology.js';

/** Signs and delivers merchant webhooks; retried for hours, then dead-lettered (replay with `dialpay webhooks replay`). */
export const WEBHOOKS_DELIVERY: ConsumerSpec = {
  stream: 'MERCHANT_EVENTS', durableName: 'webhooks-delivery', filterSubject: 'dialpay.merchant.event',
  ackWaitMs: 60_000, deliveriesMax: 9, ackPendingMax: 5_000, retrySchedule: 'webhooks',
};

export const WEBHOOKS_CONSUMERS: readonly ConsumerSpec[] = [WEBHOOKS_DELIVERY];
