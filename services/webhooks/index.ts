// webhooks: tells merchants what happened to their payments. Consumes
// MerchantEvent from the MERCHANT_EVENTS stream, signs each body with the
// merchant's secret and POSTs it; a failed POST is retried on
// consumers.webhookRetryDelaysMs (hours), then dead-lettered, and
// `dialpay webhooks replay` sends dead-lettered events again. Keeps no tables.
import type { ComponentContext, ComponentDefinition, StartedComponent } from '../../runtime/component.js';
import { Counter } from '../../runtime/metrics.js';
import { ConfigError, type Config } from '../../runtime/config/index.js';
import { Events, WEBHOOKS_DELIVERY, effectiveConsumer, startConsumer } from '../../runtime/nats/index.js';
import { deliver } from './delivery.js';

export { replayDeadLetters } from './replay.js';
export { verifySignature, signatureHeader, SIGNATURE_HEADER } from './signature.js';

/** Every merchant with a webhookUrl has a secret to sign with: checked here, not by every process, so only this one holds the secrets. */
export function assertWebhookSecrets(config: Config): void {
  config.merchants.forEach((m, i) => {
    if (m.webhookUrl && !m.webhookSecret) {
      throw new ConfigError(`merchants[${i}].webhookSecret`, `merchant ${m.id} has a webhookUrl but no webhookSecret to sign with (DIALPAY__merchants__${i}__webhookSecret)`);
    }
  });
}

async function startWebhooks(context: ComponentContext): Promise<StartedComponent> {
  const { config, nats, log } = context;
  assertWebhookSecrets(config);
  const merchants = new Map(config.merchants.map((m) => [m.id, m]));
  const deliveries = new Counter({ name: 'dialpay_webhook_deliveries_total', help: 'Webhook POSTs by merchant and outcome (delivered, failed, no_endpoint).', labelNames: ['merchant', 'outcome'], registers: [context.registry] });
  const consumer = await startConsumer({
    nats,
    spec: effectiveConsumer(WEBHOOKS_DELIVERY, config.consumers),
    event: Events.merchantEvent,
    handler: async (event, { log: eventLog }) => {
      const merchant = merchants.get(event.merchantId ?? '');
      if (!merchant?.webhookUrl || !merchant.webhookSecret) {
        deliveries.inc({ merchant: event.merchantId ?? 'unknown', outcome: 'no_endpoint' });
        return; // nowhere to send it; the merchant reads the API instead
      }
      try {
        await deliver({ ...merchant, webhookUrl: merchant.webhookUrl, webhookSecret: merchant.webhookSecret }, event, config.webhooks.timeoutMs);
        deliveries.inc({ merchant: merchant.id, outcome: 'delivered' });
      } catch (err) {
        deliveries.inc({ merchant: merchant.id, outcome: 'failed' });
        eventLog.warn({ err, merchant: merchant.id, type: event.type }, 'webhook not accepted; will retry');
        throw err;
      }
    },
    log,
    metrics: context.consumerMetrics,
    inFlightMax: config.consumers.inFlightMax,
    retryDelaysMs: config.consumers.webhookRetryDelaysMs,
    publishTimeoutMs: config.nats.publishTimeoutMs,
  });
  return { readiness: [], stop: (timeoutMs) => consumer.stop(timeoutMs) };
}

export const webhooks: ComponentDefinition = {
  name: 'webhooks',
  schema: null,
  migrationsDir: null,
  start: (context) => startWebhooks(context),
};
