// The whole config: the runtime's sections with each component's own (<component>/config.ts).
// Apart from cli/components.ts so that reading a config loads the schemas only, not the components.
import { composeConfigSchema, configLoader, type ConfigPart } from '../runtime/config/index.js';
import { GATEWAY_CONFIG } from '../gateway/config.js';
import { PAYMENTS_CONFIG } from '../services/payments/config.js';
import { BILLING_CONFIG } from '../services/billing/config.js';
import { SETTLEMENT_CONFIG } from '../services/settlement/config.js';
import { WEBHOOKS_CONFIG } from '../services/webhooks/config.js';
import { USSD_CONFIG } from '../services/ussd/config.js';

/** Every component's config part; a component without one keeps only the runtime's sections. */
export const CONFIG_PARTS: readonly ConfigPart[] = [
  PAYMENTS_CONFIG, USSD_CONFIG, BILLING_CONFIG, SETTLEMENT_CONFIG, WEBHOOKS_CONFIG, GATEWAY_CONFIG,
];

export const CONFIG_SCHEMA = composeConfigSchema(CONFIG_PARTS);

export const { loadConfigFile, loadConfigText, validateConfig } = configLoader(CONFIG_SCHEMA);
