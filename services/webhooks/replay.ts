// `dialpay webhooks replay`: sends dead-lettered webhook events again, once
// the merchant's endpoint is back; the general DLQ replay (runtime/nats/dlq.ts)
// with a merchant filter. Merchants drop a repeat by its event id.
import type { NatsHandle } from '../../runtime/nats/index.js';
import { Events, replayDeadLetters as replayConsumer } from '../../runtime/nats/index.js';
import { WEBHOOKS_DELIVERY } from './consumers.js';

export function replayDeadLetters(nats: NatsHandle, options: { merchantId?: string; timeoutMs: number }): Promise<number> {
  const { merchantId } = options;
  return replayConsumer(nats, {
    consumer: WEBHOOKS_DELIVERY.durableName,
    timeoutMs: options.timeoutMs,
    // A letter that does not decode is no merchant's: it stays in the DLQ for a person.
    accept: merchantId
      ? (letter) => {
        try {
          return Events.merchantEvent.type.decode(letter.data).merchantId === merchantId;
        } catch {
          return false;
        }
      }
      : undefined,
  });
}
