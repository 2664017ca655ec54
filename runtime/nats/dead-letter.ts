// The dead-letter path of a consumer: a message that used its last allowed delivery, failed for
// good, or does not decode goes to the dead-letter stream (with where it came from and why) before
// it is terminated. Nothing is dropped silently. dlq.ts reads and replays what lands there.
import { headers as natsHeaders } from '@nats-io/transport-node';
import type { JsMsg } from '@nats-io/jetstream';
import { DLQ_SUBJECT_PREFIX } from './topology.js';
import type { ConsumerOptions } from './consume.js';
import type { EventMessage } from './events.js';

const ERROR_HEADER_LENGTH_MAX = 256;

/** Publishes the message to the dead-letter stream; false when that failed (logged), the message then stays where it is. */
export async function publishDeadLetter<M extends EventMessage>(options: ConsumerOptions<M>, msg: JsMsg, reason: string): Promise<boolean> {
  const { nats, spec, log } = options;
  const name = spec.durableName;
  const h = natsHeaders();
  h.set('Dialpay-Original-Subject', msg.subject);
  h.set('Dialpay-Original-Stream', spec.stream);
  h.set('Dialpay-Original-Sequence', String(msg.seq));
  h.set('Dialpay-Consumer', name);
  h.set('Dialpay-Deliveries', String(msg.info.deliveryCount));
  h.set('Dialpay-Error', reason.replace(/[\r\n]+/g, ' ').slice(0, ERROR_HEADER_LENGTH_MAX));
  try {
    const data = options.deadLetterData ? options.deadLetterData(msg.data) : msg.data;
    await nats.js.publish(`${DLQ_SUBJECT_PREFIX}.${spec.stream}.${name}`, data,
      { msgID: `dlq-${spec.stream}-${name}-${msg.seq}`, timeout: options.publishTimeoutMs, headers: h });
    return true;
  } catch (err) {
    // Leave it unacked: it stays in its stream and the max-deliveries advisory names it.
    log.error({ err, consumer: name, streamSequence: msg.seq }, 'dead-letter publish failed; message left in its stream');
    return false;
  }
}
