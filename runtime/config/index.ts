export { configSchema, COMPONENT_NAMES, NATS_IDENTITIES, isLoopbackHost } from './schema.js';
export type { Config, ComponentName, OperatorConfig, MerchantConfig, NatsCredentials, NatsIdentity } from './schema.js';
export { ConfigError, loadConfigFile, loadConfigText, validateConfig, formatKeyPath, ENV_OVERRIDE_PREFIX } from './load.js';
