// The shared bus: streams and KV buckets, declared in one table, to which each
// component adds the durable consumers it reads (ComponentDefinition.consumers,
// composeTopology); provisioned idempotently at start (provision.ts).
// Every stream is bounded: when full it refuses new messages (discard "new"), so a publisher sees the
// error and the SMPP edge answers "try again" instead of losing old messages.

export interface StreamSpec {
  readonly name: string;
  readonly subjects: readonly string[];
  readonly maxAgeMs: number;
  readonly bytesMax: number;
  readonly messagesMax: number;
  readonly messageBytesMax: number;
  /** Window in which a repeated Nats-Msg-Id is dropped as a duplicate. */
  readonly duplicateWindowMs: number;
  /**
   * 'workqueue': a message leaves the stream as soon as its one consumer acks (or dead-letters)
   * it, instead of staying for maxAgeMs. For streams that carry secrets (codes, PINs) in either direction.
   */
  readonly retention?: 'workqueue';
  /**
   * 'old': when full, the oldest messages go instead of refusing new ones. For a rolling record
   * whose writer must never be stopped by it (SMS_SENT); every other stream refuses ('new').
   */
  readonly discard?: 'old';
}

export interface ConsumerSpec {
  readonly stream: string;
  readonly durableName: string;
  readonly filterSubject: string;
  readonly ackWaitMs: number;
  readonly deliveriesMax: number;
  /** Unacknowledged messages the server hands out at once, across replicas. */
  readonly ackPendingMax: number;
  /** 'webhooks': retried on consumers.webhookRetryDelaysMs (hours), not the general schedule. */
  readonly retrySchedule?: 'webhooks';
  /**
   * Erase each message from the stream (its bytes overwritten) once it is acked or dead-lettered, so
   * handled messages leave as they would from a work queue. For a stream declared 'workqueue' that
   * an older release made with limits retention (JetStream cannot change retention in place).
   * Unset: decided at consumer start from the live stream (liveDeleteAfterAck in erase-handled.ts).
   */
  readonly deleteAfterAck?: boolean;
  /**
   * The handler may answer RetryLaterError (waiting out something outside it, an SMSC outage) for as
   * long as the message is useful, which it decides. JetStream's max_deliver is then unlimited (-1):
   * its delivery count includes the waits, so the runner counts the real failures toward
   * deliveriesMax itself (retry-accounting.ts). Without it, a wait counts as a failure.
   */
  readonly waitsUnbounded?: boolean;
}

/**
 * Whether a consumer erases what it has handled: as its spec says, else only when its stream is
 * declared a work queue (it carries secrets) but the live one is not. Pure.
 */
export function deleteAfterAckFor(spec: ConsumerSpec, declared: StreamSpec | undefined, liveRetention: string | undefined): boolean {
  if (spec.deleteAfterAck !== undefined) return spec.deleteAfterAck;
  return declared?.retention === 'workqueue' && liveRetention !== undefined && liveRetention !== 'workqueue';
}

/**
 * A consumer as configured: the ack wait and delivery limit come from config (consumers.*), so an
 * operator tunes them in one place; handlers that run long keep their message with working().
 */
export function effectiveConsumer(
  spec: ConsumerSpec, settings: { ackWaitMs: number; deliveriesMax: number; webhookRetryDelaysMs?: readonly number[] },
): ConsumerSpec {
  if (spec.retrySchedule === 'webhooks') {
    // One delivery, then one per retry delay; the merchant's endpoint has its own timeout, well inside ack_wait.
    return { ...spec, deliveriesMax: (settings.webhookRetryDelaysMs?.length ?? spec.deliveriesMax - 1) + 1 };
  }
  return { ...spec, ackWaitMs: settings.ackWaitMs, deliveriesMax: settings.deliveriesMax };
}

export interface KvBucketSpec {
  readonly bucket: string;
  readonly ttlMs: number;
  readonly bytesMax: number;
  readonly valueBytesMax: number;
  readonly history: number;
}

export interface Topology {
  readonly streams: readonly StreamSpec[];
  readonly consumers: readonly ConsumerSpec[];
  readonly kvBuckets: readonly KvBucketSpec[];
}

const MINUTE_MS = 60_000;
const DAY_MS = 24 * 60 * MINUTE_MS;
const MIB = 1024 * 1024;

export const DLQ_STREAM = 'DLQ';
export const DLQ_SUBJECT_PREFIX = 'dialpay.dlq';

/** Core NATS, no stream: each merchant API replica announces itself on `<prefix>.<its id>` (gateway/merchant-api/replicas.ts). */
export const PRESENCE_SUBJECT_PREFIX = 'dialpay.gateway.presence';

export const SMS_SENT_STREAM = 'SMS_SENT';
export const SMS_SENT_SUBJECT = 'dialpay.sms.sent';
/** One batch of sent records, at most: the writer cuts batches below it. */
export const SMS_SENT_BATCH_BYTES_MAX = 64 * 1024;

export const STREAMS: readonly StreamSpec[] = [
  // Subscribers' texts carry PINs and one-time codes ("YES 4821", "3579"): a work queue keeps each
  // only until payments has handled (or dead-lettered) it; max_age bounds what waits through a long
  // payments outage. payments-sms-inbound is its one consumer: a work queue takes no second one.
  { name: 'SMS_INBOUND', subjects: ['dialpay.sms.inbound'], maxAgeMs: 7 * DAY_MS, bytesMax: 1024 * MIB, messagesMax: 5_000_000,
    messageBytesMax: 64 * 1024, duplicateWindowMs: 2 * MINUTE_MS, retention: 'workqueue' },
  // Challenges carry one-time codes: a work queue keeps each SMS only until the gateway has handed it
  // to the SMSC; max_age still bounds what waits through a long SMSC outage.
  { name: 'SMS_OUTBOUND', subjects: ['dialpay.sms.outbound'], maxAgeMs: 7 * DAY_MS, bytesMax: 1024 * MIB, messagesMax: 5_000_000,
    messageBytesMax: 64 * 1024, duplicateWindowMs: 2 * MINUTE_MS, retention: 'workqueue' },
  // The gateways' record of what the SMSCs took (gateway/smpp/sent-log.ts): batches of (message, SMSC ids),
  // one message per batch, read back to correlate receipts and to not send a redelivered SMS twice.
  // SMSCs retry receipts for up to 72 h; a full stream drops its oldest batches rather than stop the
  // gateways' outbound SMS.
  { name: SMS_SENT_STREAM, subjects: [SMS_SENT_SUBJECT], maxAgeMs: 3 * DAY_MS, bytesMax: 1024 * MIB, messagesMax: 5_000_000,
    messageBytesMax: SMS_SENT_BATCH_BYTES_MAX, duplicateWindowMs: 2 * MINUTE_MS, discard: 'old' },
  // No PAYMENTS stream: the payment lifecycle events are notifications (events.ts), stored nowhere;
  // one an older release made may be removed (deploy/README.md, Upgrading).
  { name: 'DEBITS', subjects: ['dialpay.debit.>'], maxAgeMs: 30 * DAY_MS, bytesMax: 2048 * MIB, messagesMax: 20_000_000,
    messageBytesMax: 16 * 1024, duplicateWindowMs: 2 * MINUTE_MS },
  { name: 'MERCHANT_EVENTS', subjects: ['dialpay.merchant.event'], maxAgeMs: 30 * DAY_MS, bytesMax: 1024 * MIB, messagesMax: 10_000_000,
    messageBytesMax: 16 * 1024, duplicateWindowMs: 2 * MINUTE_MS },
  { name: 'RECONCILIATION', subjects: ['dialpay.reconciliation.>'], maxAgeMs: 90 * DAY_MS, bytesMax: 64 * MIB, messagesMax: 100_000,
    messageBytesMax: 16 * 1024, duplicateWindowMs: 2 * MINUTE_MS },
  { name: DLQ_STREAM, subjects: [`${DLQ_SUBJECT_PREFIX}.>`], maxAgeMs: 30 * DAY_MS, bytesMax: 512 * MIB, messagesMax: 1_000_000,
    messageBytesMax: 128 * 1024, duplicateWindowMs: 2 * MINUTE_MS },
];

/** Parts of long inbound SMS, shared by the gateway replicas (gateway/smpp/reassembly-store.ts). */
export const SMS_PARTS_BUCKET = 'sms_parts';
/** The default reassemblyTimeoutMs; provisioning sets the bucket's TTL from the config (reassemblyBucketTtlMs). */
const SMS_PARTS_TIMEOUT_MS_DEFAULT = 10_000;

export const KV_BUCKETS: readonly KvBucketSpec[] = [
  // USSD sessions: any replica answers any hop; operators drop a session after a few minutes.
  { bucket: 'ussd_sessions', ttlMs: 3 * MINUTE_MS, bytesMax: 256 * MIB, valueBytesMax: 8 * 1024, history: 1 },
  // One record per long message being joined: its parts (36 KiB of body at most, base64 in JSON),
  // then, once published, only that it was. Full: a new part is refused and the SMSC retries it.
  { bucket: SMS_PARTS_BUCKET, ttlMs: reassemblyBucketTtlMs([SMS_PARTS_TIMEOUT_MS_DEFAULT]), bytesMax: 256 * MIB,
    valueBytesMax: 64 * 1024, history: 1 },
];

/**
 * The sms_parts TTL for the operators' reassembly timeouts: twice the longest. The gateways time
 * a message out themselves (and log it); the TTL, counted from a record's last write, must not
 * forget it first, and forgets what no live replica is left to time out.
 */
export function reassemblyBucketTtlMs(timeoutsMs: readonly number[]): number {
  return 2 * Math.max(SMS_PARTS_TIMEOUT_MS_DEFAULT, ...timeoutsMs);
}

/** The topology with the sms_parts TTL for these reassembly timeouts. Pure. */
export function withReassemblyTimeouts(topology: Topology, timeoutsMs: readonly number[]): Topology {
  const ttlMs = reassemblyBucketTtlMs(timeoutsMs);
  return { ...topology, kvBuckets: topology.kvBuckets.map((b) => (b.bucket === SMS_PARTS_BUCKET ? { ...b, ttlMs } : b)) };
}

/** What a component adds to the shared streams and buckets: the durable consumers its handlers read (ComponentDefinition.consumers). */
export interface ConsumerOwner {
  readonly name: string;
  readonly consumers: readonly ConsumerSpec[];
}

/**
 * The topology: the shared streams and KV buckets, with the durable consumers the components declare.
 * Throws when a consumer names an undeclared stream, or two share a durable name (each would
 * reconfigure the other's at every start). Pure.
 */
export function composeTopology(components: readonly ConsumerOwner[]): Topology {
  const owners = new Map<string, string>();
  for (const component of components) {
    for (const spec of component.consumers) {
      if (!STREAMS.some((s) => s.name === spec.stream)) {
        throw new Error(`${component.name} declares consumer ${spec.durableName} on ${spec.stream}, which is no stream of the topology`);
      }
      const other = owners.get(spec.durableName);
      if (other !== undefined) throw new Error(`consumer ${spec.durableName} is declared by both ${other} and ${component.name}`);
      owners.set(spec.durableName, component.name);
    }
  }
  return { streams: STREAMS, consumers: components.flatMap((c) => c.consumers), kvBuckets: KV_BUCKETS };
}
