// Who may publish and subscribe to what on NATS: one table, next to the
// topology it names, with the durable consumers each component declares
// (ComponentDefinition.consumers), from which the nats-server authorization
// block in deploy/ is generated (`dialpay nats-config`), so the two cannot drift.
// Each component gets only the subjects its code uses; admin provisions the
// topology and runs the ops commands (dlq, webhooks replay).
import type { ComponentName, NatsIdentity } from '../config/index.js';
import { NATS_IDENTITIES } from '../config/index.js';
import { inboxPrefixOf } from './connect.js';
import { Events, Notifications, Requests } from './events.js';
import { DLQ_SUBJECT_PREFIX, PRESENCE_SUBJECT_PREFIX, SMS_PARTS_BUCKET, SMS_SENT_STREAM, SMS_SENT_SUBJECT, STREAMS,
  type ConsumerOwner } from './topology.js';

/** What one component does on NATS, in the terms of events.ts and topology.ts, besides reading the durable consumers it declares. */
export interface NatsAccess {
  /** Events it publishes: durable ones, directly or through its outbox, and notifications (core NATS, notify.ts). */
  readonly publishes: readonly { readonly subject: string }[];
  /** Request/reply contracts it calls. */
  readonly requests: readonly { readonly subject: string }[];
  /** Request/reply contracts it answers (in a queue group). */
  readonly serves: readonly { readonly subject: string }[];
  /** KV buckets it reads and writes. */
  readonly kvBuckets: readonly string[];
  /** Streams it reads by sequence (info and get), without a consumer. */
  readonly readsStreams: readonly string[];
  /** Core subscriptions outside request/reply. */
  readonly subscribes: readonly string[];
}

const none = { publishes: [], requests: [], serves: [], kvBuckets: [], readsStreams: [], subscribes: [] } as const satisfies NatsAccess;

/** Read from each component's code (gateway/index.ts, services/<name>/index.ts); test/integration/nats-auth.test.ts runs them under it. */
export const NATS_ACCESS: Readonly<Record<ComponentName, NatsAccess>> = {
  gateway: {
    ...none,
    // SMS_SENT: its batches of sent SMS (sent-log.ts), written, heard live from the other replicas
    // and read back by sequence; the SMS notifications (submit results, receipts) on core NATS;
    // sms_parts: the parts of long inbound messages, joined by whichever replica gets the last one;
    // its replicas count each other on core NATS (gateway/presence.ts) to share operators' submit rates and merchants'
    // rate limits.
    publishes: [Events.smsInbound, { subject: SMS_SENT_SUBJECT }, Notifications.smsSubmitResult, Notifications.deliveryReceipt,
      { subject: `${PRESENCE_SUBJECT_PREFIX}.*` }],
    requests: [Requests.ussdHop, Requests.paymentsMerchant, Requests.paymentsOperator, Requests.settlementMerchant,
      Requests.billingMerchantBalance],
    kvBuckets: [SMS_PARTS_BUCKET],
    readsStreams: [SMS_SENT_STREAM],
    subscribes: [SMS_SENT_SUBJECT, `${PRESENCE_SUBJECT_PREFIX}.*`],
  },
  payments: {
    ...none,
    publishes: [
      Notifications.paymentRequested, Notifications.paymentChallenged, Notifications.paymentConfirmed, Notifications.paymentCompleted,
      Notifications.paymentFailed,
      Events.debitReserveRequested, Events.debitCaptureRequested, Events.debitVoidRequested, Events.debitRefundRequested,
      Events.creditRequested,
      Events.merchantEvent, Events.smsOutbound,
    ],
    requests: [Requests.billingBalance, Requests.billingAgentFloat],
    serves: [Requests.paymentsSubscriber, Requests.paymentsMerchant, Requests.paymentsOperator],
  },
  ussd: {
    ...none,
    requests: [Requests.paymentsSubscriber, Requests.billingBalance],
    serves: [Requests.ussdHop],
    kvBuckets: ['ussd_sessions'],
  },
  billing: {
    ...none,
    publishes: [Events.debitReserveResult, Events.debitCaptureResult, Events.debitVoidResult, Events.debitRefundResult,
      Events.creditResult],
    serves: [Requests.billingBalance, Requests.billingMerchantBalance, Requests.billingSettlementMovements, Requests.billingCharges,
      Requests.billingBookSettlement, Requests.billingInteropPositions, Requests.billingAgentFloat],
  },
  settlement: {
    ...none,
    publishes: [Events.merchantEvent],
    requests: [Requests.billingSettlementMovements, Requests.billingBookSettlement, Requests.billingInteropPositions],
    serves: [Requests.settlementMerchant],
  },
  // The component shows the last runs; `dialpay reconcile` (the same user) does a run.
  reconciliation: {
    ...none,
    publishes: [Events.reconciliationCompleted],
    requests: [Requests.billingCharges],
    readsStreams: ['RECONCILIATION'],
    subscribes: [Events.reconciliationCompleted.subject],
  },
  // Reads only its consumer (services/webhooks/consumers.ts).
  webhooks: none,
};

export interface NatsPermissions {
  readonly publish: readonly string[];
  readonly subscribe: readonly string[];
  /** May answer the requests it receives (publish to their reply subjects only). */
  readonly allowResponses: boolean;
}

const JS_API = '$JS.API';

/**
 * The subjects one identity may use, with the durable consumers of the components (one of which is
 * the identity's); admin may use all. Pure; sorted and without duplicates.
 */
export function natsPermissions(identity: NatsIdentity, components: readonly ConsumerOwner[]): NatsPermissions {
  if (identity === 'admin') return { publish: ['>'], subscribe: ['>'], allowResponses: false };
  const a = NATS_ACCESS[identity];
  const component = components.find((c) => c.name === identity);
  if (!component) throw new Error(`no component ${identity} among those whose consumers were given`);
  const publish = [
    // jetstreamManager() asks for the account's JetStream info when it connects.
    `${JS_API}.INFO`,
    ...a.publishes.map((e) => e.subject),
    ...a.requests.map((r) => r.subject),
    ...component.consumers.flatMap((c) => [
      `${JS_API}.CONSUMER.INFO.${c.stream}.${c.durableName}`,
      `${JS_API}.CONSUMER.MSG.NEXT.${c.stream}.${c.durableName}`,
      // ack, nak, term and in-progress all go to the message's reply subject; the second form is
      // the newer one with domain and account hash tokens, which later servers may send.
      `$JS.ACK.${c.stream}.${c.durableName}.>`,
      `$JS.ACK.*.*.${c.stream}.${c.durableName}.>`,
      `${DLQ_SUBJECT_PREFIX}.${c.stream}.${c.durableName}`,
      // The stream's info: its leader and replicas, which the health watcher exports
      // (cluster-health.ts), and a work queue's live retention, which its consumer reads at start.
      `${JS_API}.STREAM.INFO.${c.stream}`,
      // A stream that should be a work queue, made with limits by an older release: its consumer
      // erases each message it has handled, and at start purges what it handled before (at or below
      // its ack floor; erase-handled.ts).
      ...(declaredWorkQueue(c.stream) ? [`${JS_API}.STREAM.MSG.DELETE.${c.stream}`, `${JS_API}.STREAM.PURGE.${c.stream}`] : []),
    ]),
    ...a.kvBuckets.flatMap((b) => [
      `$KV.${b}.>`,
      `${JS_API}.STREAM.INFO.KV_${b}`,
      `${JS_API}.STREAM.MSG.GET.KV_${b}`,
      `${JS_API}.DIRECT.GET.KV_${b}`,
      `${JS_API}.DIRECT.GET.KV_${b}.>`,
    ]),
    ...a.readsStreams.flatMap((s) => [`${JS_API}.STREAM.INFO.${s}`, `${JS_API}.STREAM.MSG.GET.${s}`, `${JS_API}.DIRECT.GET.${s}`]),
  ];
  const subscribe = [
    // Every reply (requests, JetStream API, pull consumers) comes to the identity's own inbox.
    `${inboxPrefixOf(identity)}.>`,
    ...a.serves.map((r) => r.subject),
    ...a.subscribes,
  ];
  return { publish: sortedUnique(publish), subscribe: sortedUnique(subscribe), allowResponses: a.serves.length > 0 };
}

function declaredWorkQueue(stream: string): boolean {
  return STREAMS.some((s) => s.name === stream && s.retention === 'workqueue');
}

function sortedUnique(subjects: readonly string[]): string[] {
  return [...new Set(subjects)].sort();
}

/** `DIALPAY_NATS_GATEWAY_PASSWORD`: the environment variable nats-server reads an identity's password from. */
export function natsPasswordEnv(identity: NatsIdentity): string {
  return `DIALPAY_NATS_${identity.toUpperCase()}_PASSWORD`;
}

/**
 * The nats-server `authorization` block: one user per identity, named after it, with its
 * permissions. Passwords are `$DIALPAY_NATS_<IDENTITY>_PASSWORD` references that nats-server
 * resolves from its environment, so no secret is written here. Pure.
 */
export function natsServerAuthorization(
  components: readonly ConsumerOwner[], identities: readonly NatsIdentity[] = NATS_IDENTITIES,
): string {
  const q = (s: string) => JSON.stringify(s);
  const list = (subjects: readonly string[]) => `[\n${subjects.map((s) => `          ${q(s)}`).join(',\n')}\n        ]`;
  const users = identities.map((identity) => {
    const p = natsPermissions(identity, components);
    return [
      '    {',
      `      user: ${q(identity)}`,
      `      password: $${natsPasswordEnv(identity)}`,
      '      permissions: {',
      `        publish: { allow: ${list(p.publish)} }`,
      `        subscribe: { allow: ${list(p.subscribe)} }`,
      ...(p.allowResponses ? ['        allow_responses: true'] : []),
      '      }',
      '    }',
    ].join('\n');
  });
  return [
    '# Generated by `dialpay nats-config` from runtime/nats/permissions.ts: do not edit by hand.',
    '# One user per dialpay component, allowed only the subjects it uses; admin provisions the',
    '# JetStream topology and runs the ops commands. Passwords come from the environment of',
    '# nats-server ($DIALPAY_NATS_<USER>_PASSWORD). A client without credentials is refused.',
    'authorization {',
    '  users = [',
    users.join(',\n'),
    '  ]',
    '}',
    '',
  ].join('\n');
}
