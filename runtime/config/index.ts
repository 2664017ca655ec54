export { configSchema, COMPONENT_NAMES, isLoopbackHost } from './schema.js';
export type { Config, ComponentName, OperatorConfig, MerchantConfig } from './schema.js';
export { ConfigError, loadConfigFile, loadConfigText, validateConfig, formatKeyPath, ENV_OVERRIDE_PREFIX } from './load.js';
