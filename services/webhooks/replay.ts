// `dialpay webhooks replay`: sends dead-lettered webhook events again, once
// the merchant's endpoint is back. Each goes back on its original subject
// with a fresh message id (the stream's duplicate window would drop the old
// one); the event id in the body stays the same, so a merchant that got it
// after all drops the repeat. Replayed messages leave the DLQ.
import type { NatsHandle } from '../../runtime/nats/index.js';
import { DLQ_STREAM, DLQ_SUBJECT_PREFIX, Events, WEBHOOKS_DELIVERY } from '../../runtime/nats/index.js';

/** Messages replayed in one run; run again for more. */
const REPLAY_MAX = 100_000;

export async function replayDeadLetters(nats: NatsHandle, options: { merchantId?: string; timeoutMs: number }): Promise<number> {
  const subject = `${DLQ_SUBJECT_PREFIX}.${WEBHOOKS_DELIVERY.stream}.${WEBHOOKS_DELIVERY.durableName}`;
  const info = await nats.jsm.streams.info(DLQ_STREAM);
  let replayed = 0;
  for (let seq = info.state.first_seq; seq <= info.state.last_seq && replayed < REPLAY_MAX; seq++) {
    const msg = await nats.jsm.streams.getMessage(DLQ_STREAM, { seq }).catch(() => null);
    if (!msg || msg.subject !== subject) continue;
    const event = Events.merchantEvent.type.decode(msg.data);
    if (options.merchantId && event.merchantId !== options.merchantId) continue;
    await nats.js.publish(Events.merchantEvent.subject, msg.data, { msgID: `${event.envelope?.eventId ?? 'event'}:replay:${seq}`, timeout: options.timeoutMs });
    await nats.jsm.streams.deleteMessage(DLQ_STREAM, seq);
    replayed++;
  }
  return replayed;
}
