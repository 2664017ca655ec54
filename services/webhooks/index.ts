// webhooks: tells merchants what happened to their payments. Consumes
// MerchantEvent from the MERCHANT_EVENTS stream, signs each body with the
// merchant's secret and POSTs it; a failed POST is retried on
// consumers.webhookRetryDelaysMs (hours), then dead-lettered, and
// `dialpay webhooks replay` sends dead-lettered events again. Keeps no tables.
import type { ComponentContext, ComponentDefinition, StartedComponent } from '../../runtime/component.js';
import { Counter } from '../../runtime/metrics.js';
import { ConfigError, type Config } from '../../runtime/config/index.js';
import { Events, PermanentHandlerError, effectiveConsumer, startConsumer } from '../../runtime/nats/index.js';
import { WEBHOOKS_CONSUMERS, WEBHOOKS_DELIVERY } from './consumers.js';
import { deliver, webhookBody } from './delivery.js';
import { EndpointBreakers } from './breaker.js';

/** Merchants whose breaker state is kept at once. */
const BREAKER_ENDPOINTS_MAX = 100_000;

/** A delivery not tried because the merchant's endpoint keeps failing; retried on the webhook schedule like any failure. */
export class EndpointFailingError extends Error {
  constructor(merchantId: string) {
    super(`merchant ${merchantId}'s endpoint keeps failing: not tried now (circuit open)`);
    this.name = 'EndpointFailingError';
  }
}

export { replayDeadLetters } from './replay.js';
export { verifySignature, signatureHeader, SIGNATURE_HEADER } from './signature.js';

/** Every merchant with a webhookUrl has a secret to sign with: checked here, not by every process, so only this one holds the secrets. */
export function assertWebhookSecrets(config: Config): void {
  config.merchants.forEach((m, i) => {
    if (m.webhookUrl && !m.webhookSecret) {
      throw new ConfigError(`merchants[${i}].webhookSecret`,
        `merchant ${m.id} has a webhookUrl but no webhookSecret to sign with (DIALPAY__merchants__${i}__webhookSecret)`);
    }
  });
}

async function startWebhooks(context: ComponentContext): Promise<StartedComponent> {
  const { config, nats, log } = context;
  const merchants = new Map(config.merchants.map((m) => [m.id, m]));
  const deliveries = new Counter({ name: 'dialpay_webhook_deliveries_total',
    help: 'Webhook deliveries by merchant and outcome (delivered, failed, no_endpoint,'
      + ' circuit_open: not tried while the endpoint keeps failing).',
    labelNames: ['merchant', 'outcome'], registers: [context.registry] });
  const breakers = new EndpointBreakers({
    failuresToOpen: config.webhooks.circuitFailuresToOpen, openMs: config.webhooks.circuitOpenMs, endpointsMax: BREAKER_ENDPOINTS_MAX,
  });
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
      // An event that cannot become a body is our bug, not the merchant's endpoint: straight to the DLQ, breaker untouched.
      let body: string;
      try {
        body = webhookBody(event);
      } catch (err) {
        throw new PermanentHandlerError(
          `event ${event.envelope?.eventId ?? '?'} cannot be made into a webhook body: ${(err as Error).message}`);
      }
      const admission = breakers.admit(merchant.id, performance.now());
      if (admission === 'open') {
        deliveries.inc({ merchant: merchant.id, outcome: 'circuit_open' });
        throw new EndpointFailingError(merchant.id);
      }
      try {
        const endpoint = { ...merchant, webhookUrl: merchant.webhookUrl, webhookSecret: merchant.webhookSecret };
        await deliver(endpoint, event, body, config.webhooks.timeoutMs);
        breakers.succeeded(merchant.id);
        deliveries.inc({ merchant: merchant.id, outcome: 'delivered' });
        if (admission === 'probe') eventLog.info({ merchant: merchant.id }, 'merchant endpoint answers again; deliveries resume');
      } catch (err) {
        breakers.failed(merchant.id, performance.now());
        deliveries.inc({ merchant: merchant.id, outcome: 'failed' });
        if (breakers.isOpen(merchant.id, performance.now()) && admission !== 'probe') {
          eventLog.warn({ err, merchant: merchant.id, openMs: config.webhooks.circuitOpenMs },
            'merchant endpoint keeps failing; its deliveries fail at once until a probe succeeds');
        } else {
          eventLog.warn({ err, merchant: merchant.id, type: event.type }, 'webhook not accepted; will retry');
        }
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
  consumers: WEBHOOKS_CONSUMERS,
  checkConfig: assertWebhookSecrets,
  start: (context) => startWebhooks(context),
};
