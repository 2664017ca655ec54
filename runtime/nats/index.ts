export { connectNats, redactUrl, natsServers, natsOptionsFor, inboxPrefixOf, describeNatsAuth, natsAuthenticator,
  type NatsHandle, type NatsOptions } from './connect.js';
export { Events, Notifications, NOTIFY_SUBJECT_PREFIX, Requests, eventBySubject,
  type RequestDef, type EventDef, type EventMessage, type EventName, type ProtoType } from './events.js';
export { effectiveConsumer, composeTopology, STREAMS, KV_BUCKETS, SMS_PARTS_BUCKET, withReassemblyTimeouts, reassemblyBucketTtlMs,
  DLQ_STREAM, DLQ_SUBJECT_PREFIX, type Topology, type ConsumerOwner, type StreamSpec, type ConsumerSpec,
  type KvBucketSpec } from './topology.js';
export { provisionTopology, provisionTopologyWithRetry, isTransientProvisionError, PROVISION_RETRY, streamConfig, consumerConfig,
  type ProvisionRetry } from './provision.js';
export { publishEvent, publishEncoded, requestReply, encodeEvent, newEnvelope, eventIdOf, HEADER_EVENT_TYPE,
  type PublishResult, type EnvelopeFields } from './publish.js';
export { serveRequests, type Responder, type ResponderOptions } from './serve.js';
export { startConsumer, ConsumerMetrics, type EventHandler, type HandlerContext, type RunningConsumer, type ConsumerOptions,
  type BatchItem, type BatchRun, type BatchOptions } from './consume.js';
export { retryDelayMs } from './retry-accounting.js';
export { PublishError, PermanentHandlerError, RetryLaterError, UndecodableMessageError } from './errors.js';
export { deadLetters, summariseDeadLetters, replayDeadLetters, type DeadLetter, type DeadLetterSummary } from './dlq.js';
export { PubAckMux, PubAckError, type DurablePublish, type PubAck } from './pubacks.js';
export { ReplyMux, ReplyError, replyMuxFor } from './reply-mux.js';
export { NATS_ACCESS, natsPermissions, natsPasswordEnv, natsServerAuthorization,
  type NatsAccess, type NatsPermissions } from './permissions.js';
export { notify, prepareNotification, publishNotification, type Notifier, type PreparedNotification } from './notify.js';
