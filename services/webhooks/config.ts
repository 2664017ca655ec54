// Webhooks' config: one delivery's timeout and the per-endpoint circuit breaker, and each merchant's endpoint.
// Joined to the runtime's by composeConfigSchema (cli/config.ts).
import { z } from 'zod';
import { positiveMs } from '../../runtime/config/fields.js';
import type { ConfigPart } from '../../runtime/config/schema.js';

const sections = z.strictObject({
  webhooks: z
    .strictObject({
      /** One POST to a merchant's endpoint; past this it counts as failed and is retried. */
      timeoutMs: positiveMs.default(10_000),
      /** Consecutive failures of one merchant's endpoint after which its deliveries fail at once, freeing the shared slots. */
      circuitFailuresToOpen: z.number().int().min(1).max(1_000).default(5),
      /** How long such an endpoint is left alone before one delivery probes it. */
      circuitOpenMs: positiveMs.default(30_000),
    })
    .prefault({}),
});

/** Where each merchant's webhooks go, and what signs them. */
const merchantFields = z.strictObject({
  webhookUrl: z.string().url().optional(),
  /**
   * Signs webhook bodies (HMAC-SHA256); pass it with DIALPAY__merchants__<n>__webhookSecret, not in the file.
   * Only the webhooks component needs it, and refuses to start when a merchant with a webhookUrl has none.
   */
  webhookSecret: z.string().min(16).max(256).optional(),
});

export type WebhooksConfigSections = z.output<typeof sections>;

declare module '../../runtime/config/schema.js' {
  interface ComponentConfigSections {
    webhooks: WebhooksConfigSections;
  }
  interface ComponentMerchantFields {
    webhooks: z.output<typeof merchantFields>;
  }
}

export const WEBHOOKS_CONFIG: ConfigPart = { sections: sections.shape, merchantFields: merchantFields.shape };
