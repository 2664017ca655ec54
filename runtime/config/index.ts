export { baseConfigSchema, composeConfigSchema, uniqueIds, COMPONENT_NAMES, NATS_IDENTITIES } from './schema.js';
export type { Config, BaseConfig, ComponentConfigSections, ConfigPart, ComponentName, OperatorConfig, MerchantConfig, NatsCredentials,
  NatsIdentity } from './schema.js';
export * as configFields from './fields.js';
export { isLoopbackHost } from './fields.js';
export { ConfigError, configLoader, formatKeyPath, ENV_OVERRIDE_PREFIX, type ConfigLoader } from './load.js';
