// The durable consumers the gateway reads (on the shared streams of runtime/nats/topology.ts);
// the runtime provisions them and grants the gateway's NATS user access to them.
import type { ConsumerSpec } from '../runtime/nats/topology.js';

/**
 * The outbound SMS submitter. An SMS waits out an SMSC outage (no bind, or temporary
 * refusals): nak'd with a growing delay, redelivered until the bind returns or the SMS's own useful
 * life ends (smpp/outbound.ts), so max_deliver is unlimited; real failures still end in
 * the DLQ after deliveriesMax. The ack wait is not what bounds a wait: a waiting SMS is nak'd with
 * its delay, not held (a handler still sending keeps its message with working()). Waiting SMS count
 * toward ackPendingMax: past it, newer ones stay in the stream, in order, until the bind returns.
 */
export const GATEWAY_SMS_OUTBOUND: ConsumerSpec = {
  stream: 'SMS_OUTBOUND',
  durableName: 'gateway-sms-outbound',
  filterSubject: 'dialpay.sms.outbound',
  ackWaitMs: 120_000,
  deliveriesMax: 10,
  ackPendingMax: 5_000,
  waitsUnbounded: true,
};

export const GATEWAY_CONSUMERS: readonly ConsumerSpec[] = [GATEWAY_SMS_OUTBOUND];
