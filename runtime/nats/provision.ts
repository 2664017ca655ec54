// Creates or updates the streams, consumers and KV buckets of a topology.
// Safe to run on every start of every replica.
import { AckPolicy, DiscardPolicy, RetentionPolicy, StorageType, type StreamConfig, type ConsumerConfig } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import type { NatsHandle } from './connect.js';
import type { Topology, StreamSpec, ConsumerSpec } from './topology.js';
import type { Logger } from '../log.js';

const NS_PER_MS = 1_000_000;

export function streamConfig(spec: StreamSpec, replicas: number): Partial<StreamConfig> & { name: string } {
  return {
    name: spec.name,
    subjects: [...spec.subjects],
    retention: spec.retention === 'workqueue' ? RetentionPolicy.Workqueue : RetentionPolicy.Limits,
    storage: StorageType.File,
    discard: spec.discard === 'old' ? DiscardPolicy.Old : DiscardPolicy.New,
    max_age: spec.maxAgeMs * NS_PER_MS,
    max_bytes: spec.bytesMax,
    max_msgs: spec.messagesMax,
    max_msg_size: spec.messageBytesMax,
    duplicate_window: spec.duplicateWindowMs * NS_PER_MS,
    num_replicas: replicas,
  };
}

export function consumerConfig(spec: ConsumerSpec): Partial<ConsumerConfig> & { durable_name: string } {
  return {
    durable_name: spec.durableName,
    filter_subject: spec.filterSubject,
    ack_policy: AckPolicy.Explicit,
    ack_wait: spec.ackWaitMs * NS_PER_MS,
    // A consumer whose messages may wait (an SMSC outage) is bounded by each message's life, not by
    // deliveries: the waits are deliveries too. The runner bounds its real failures (retry-accounting.ts).
    max_deliver: spec.waitsUnbounded ? -1 : spec.deliveriesMax,
    max_ack_pending: spec.ackPendingMax,
  };
}

export async function provisionTopology(nats: NatsHandle, topology: Topology, replicas: number, log: Logger): Promise<void> {
  for (const spec of topology.streams) {
    const config = streamConfig(spec, replicas);
    const existing = await nats.jsm.streams.info(spec.name).then((info) => info.config, (err: Error) => {
      if (/stream not found/i.test(err.message)) return null;
      throw err;
    });
    const exists = existing !== null;
    if (existing && existing.retention !== config.retention) {
      // JetStream can't change a stream's retention in place; the rest of the config still applies.
      // For the SMS streams the consumers make up for it by erasing what they handle (erase-handled.ts).
      log.warn({ stream: spec.name, retention: existing.retention, wanted: config.retention },
        'stream keeps its old retention: drain it, delete it (nats stream rm) and restart to apply the new one '
        + '(optional for the SMS streams, see deploy/README.md)');
      config.retention = existing.retention;
    }
    if (exists) await nats.jsm.streams.update(spec.name, config);
    else await nats.jsm.streams.add(config);
    log.debug({ stream: spec.name, created: !exists }, 'stream provisioned');
  }
  for (const spec of topology.consumers) {
    const config = consumerConfig(spec);
    const exists = await nats.jsm.consumers.info(spec.stream, spec.durableName).then(() => true, (err: Error) => {
      if (/consumer not found/i.test(err.message)) return false;
      throw err;
    });
    if (exists) await nats.jsm.consumers.update(spec.stream, spec.durableName, config);
    else await nats.jsm.consumers.add(spec.stream, config);
    log.debug({ stream: spec.stream, consumer: spec.durableName, created: !exists }, 'consumer provisioned');
  }
  const kvm = new Kvm(nats.js);
  for (const spec of topology.kvBuckets) {
    await kvm.create(spec.bucket, {
      ttl: spec.ttlMs,
      max_bytes: spec.bytesMax,
      maxValueSize: spec.valueBytesMax,
      history: spec.history,
      replicas,
    });
    // create() leaves an existing bucket as it is: its bounds and TTL follow the spec here.
    const stream = `KV_${spec.bucket}`;
    const live = (await nats.jsm.streams.info(stream)).config;
    const wanted = { max_age: spec.ttlMs * NS_PER_MS, max_bytes: spec.bytesMax, max_msg_size: spec.valueBytesMax };
    if (live.max_age !== wanted.max_age || live.max_bytes !== wanted.max_bytes || live.max_msg_size !== wanted.max_msg_size) {
      await nats.jsm.streams.update(stream, { ...live, ...wanted });
      log.info({ bucket: spec.bucket, ttlMs: spec.ttlMs }, 'kv bucket limits updated');
    }
    log.debug({ bucket: spec.bucket }, 'kv bucket provisioned');
  }
}

export interface ProvisionRetry {
  readonly attemptsMax: number;
  readonly delayMsMin: number;
  readonly delayMsMax: number;
}

/**
 * Seven components starting together on a fresh cluster all provision at once, and the JetStream
 * API answers some of them with timeouts or "temporarily unavailable" while its meta leader settles.
 * Each attempt is idempotent, so one that failed for such a reason (isTransientProvisionError) is
 * tried again after a jittered, growing pause; any other error fails at once.
 */
export const PROVISION_RETRY: ProvisionRetry = { attemptsMax: 8, delayMsMin: 250, delayMsMax: 5_000 };

/**
 * What a fresh or restarting cluster answers for a while: a timeout, "temporarily unavailable",
 * no meta leader or peers yet, a dropped connection. A config conflict or a bad value is not, and
 * fails at once.
 */
export function isTransientProvisionError(err: unknown): boolean {
  const e = err as { name?: string; message?: string; code?: string | number; cause?: unknown };
  const text = `${e?.name ?? ''} ${e?.message ?? ''} ${String(e?.code ?? '')}`;
  if (/timeout|timed out|temporarily unavailable|no suitable peers|not ready|no (meta )?leader|insufficient resources|disconnect|connection (closed|refused|lost)|CONNECTION_|503/i.test(text)) return true;
  return e?.cause !== undefined && e.cause !== err && isTransientProvisionError(e.cause);
}

export async function provisionTopologyWithRetry(
  nats: NatsHandle, topology: Topology, replicas: number, log: Logger, retry: ProvisionRetry = PROVISION_RETRY,
): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await provisionTopology(nats, topology, replicas, log);
      if (attempt > 1) log.info({ attempt }, 'JetStream topology provisioned after retrying');
      return;
    } catch (err) {
      if (attempt >= retry.attemptsMax || !isTransientProvisionError(err)) throw err;
      const ceilingMs = Math.min(retry.delayMsMax, retry.delayMsMin * 2 ** (attempt - 1));
      const delayMs = Math.round(retry.delayMsMin / 2 + Math.random() * (ceilingMs - retry.delayMsMin / 2));
      log.warn({ err, attempt, attemptsMax: retry.attemptsMax, retryInMs: delayMs },
        'provisioning the JetStream topology failed; trying again');
      await new Promise((r) => setTimeout(r, delayMs));
    }
  }
}
