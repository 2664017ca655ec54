export { connectNats, redactUrl, type NatsHandle, type NatsOptions } from './connect.js';
export { Events, Requests, eventBySubject, type RequestDef, type EventDef, type EventMessage, type EventName, type ProtoType } from './events.js';
export { effectiveConsumer, TOPOLOGY, STREAMS, CONSUMERS, GATEWAY_SMS_OUTBOUND, BILLING_DEBIT_RESERVE, BILLING_DEBIT_CAPTURE, BILLING_DEBIT_VOID, BILLING_DEBIT_REFUND, PAYMENTS_SMS_INBOUND, PAYMENTS_RESERVE_RESULT, PAYMENTS_CAPTURE_RESULT, PAYMENTS_VOID_RESULT, PAYMENTS_REFUND_RESULT, WEBHOOKS_DELIVERY, KV_BUCKETS, DLQ_STREAM, DLQ_SUBJECT_PREFIX, type Topology, type StreamSpec, type ConsumerSpec, type KvBucketSpec } from './topology.js';
export { provisionTopology, streamConfig, consumerConfig } from './provision.js';
export { publishEvent, publishEncoded, requestReply, encodeEvent, newEnvelope, eventIdOf, HEADER_EVENT_TYPE, type PublishResult, type EnvelopeFields } from './publish.js';
export { serveRequests, type Responder, type ResponderOptions } from './serve.js';
export { startConsumer, ConsumerMetrics, retryDelayMs, type EventHandler, type HandlerContext, type RunningConsumer, type ConsumerOptions } from './consume.js';
export { PublishError, PermanentHandlerError, UndecodableMessageError } from './errors.js';
export { deadLetters, summariseDeadLetters, replayDeadLetters, type DeadLetter, type DeadLetterSummary } from './dlq.js';
