// A consumer of a stream that should be a work queue but is not erases what it has handled, and at
// start what it handled before (at or below its ack floor).
import type { JsMsg } from '@nats-io/jetstream';
import type { NatsHandle } from './connect.js';
import type { ConsumerSpec } from './topology.js';
import { STREAMS, deleteAfterAckFor } from './topology.js';
import type { Logger } from '../log.js';
import type { ConsumerMetrics, ConsumerOptions } from './consume.js';
import type { EventMessage } from './events.js';

/**
 * Whether this consumer erases what it handles (deleteAfterAckFor). Asks the server for the stream's
 * retention only for streams declared work queues, so other consumers start as before.
 */
export async function liveDeleteAfterAck(nats: NatsHandle, spec: ConsumerSpec, log: Logger): Promise<boolean> {
  const declared = STREAMS.find((s) => s.name === spec.stream);
  if (spec.deleteAfterAck === undefined && declared?.retention !== 'workqueue') return false;
  const liveRetention = spec.deleteAfterAck === undefined
    ? (await nats.jsm.streams.info(spec.stream)).config.retention : undefined;
  const erase = deleteAfterAckFor(spec, declared, liveRetention);
  if (erase) {
    log.warn({ consumer: spec.durableName, stream: spec.stream, retention: liveRetention ?? 'as configured' },
      'stream is not a work queue: this consumer erases each message once handled (see deploy/README.md, Upgrading)');
  }
  return erase;
}

/**
 * Erases what this consumer handled before it erased each message (a release without erasing, or
 * its own erases that failed): everything at or below its ack floor, all acked or terminated, so
 * nothing another delivery needs. Purge takes "up to but not including" seq. A failure is logged
 * and counted; the next start tries again, and max_age removes it meanwhile.
 */
export async function purgeHandled(
  nats: NatsHandle, spec: ConsumerSpec, readAckFloor: () => Promise<number>, log: Logger, metrics: ConsumerMetrics,
): Promise<void> {
  let ackFloorStreamSeq = 0;
  try {
    ackFloorStreamSeq = await readAckFloor();
    if (ackFloorStreamSeq < 1) return;
    const { purged } = await nats.jsm.streams.purge(spec.stream, { filter: spec.filterSubject, seq: ackFloorStreamSeq + 1 });
    metrics.erased.inc({ consumer: spec.durableName, outcome: 'erased' }, purged);
    if (purged > 0) {
      log.info({ consumer: spec.durableName, stream: spec.stream, purged, ackFloorStreamSeq },
        'erased messages handled before this consumer erased what it handles');
    }
  } catch (err) {
    log.warn({ err, consumer: spec.durableName, stream: spec.stream, ackFloorStreamSeq },
      'could not erase messages handled earlier; they stay until max_age');
    metrics.erased.inc({ consumer: spec.durableName, outcome: 'failed' });
  }
}

/**
 * Deletes one handled message from its stream. Bounded by the JetStream API timeout
 * (nats.publishTimeoutMs) and, being awaited inside a handler slot, by inFlightMax. A failure leaves
 * the message until max_age, as without the option.
 */
export async function eraseMessage<M extends EventMessage>(options: ConsumerOptions<M>, msg: JsMsg): Promise<void> {
  const { nats, spec, metrics, log } = options;
  const name = spec.durableName;
  try {
    await nats.jsm.streams.deleteMessage(spec.stream, msg.seq, true);
    metrics.erased.inc({ consumer: name, outcome: 'erased' });
  } catch (err) {
    log.warn({ err, consumer: name, streamSequence: msg.seq }, 'could not erase a handled message from its stream; it stays until max_age');
    metrics.erased.inc({ consumer: name, outcome: 'failed' });
  }
}

/**
 * After a handler succeeded: ack, and where this consumer erases, erase whatever the ack's
 * confirmation says. The handler's effect is durable by then, so a confirmation lost on the way
 * back (the ack reached the server, its reply did not) must not leave the message: the server will
 * not redeliver an acked message, so nothing would erase it later. Erased after the ack attempt, so
 * an ack that did not arrive sees the message gone, not redelivered (the handler already did its work).
 */
export async function settleHandled(
  msg: Pick<JsMsg, 'ack' | 'ackAck' | 'seq'>, eraseHandled: boolean, ackTimeoutMs: number, erase: () => Promise<void>, log: Logger,
): Promise<void> {
  if (!eraseHandled) {
    msg.ack();
    return;
  }
  await msg.ackAck({ timeout: ackTimeoutMs }).catch((err: unknown) => {
    log.warn({ err, streamSequence: msg.seq }, 'ack not confirmed; erasing the handled message anyway');
  });
  await erase();
}
