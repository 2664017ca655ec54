// Configs for unit tests: the shipped example with a change, loaded as the
// daemon loads it (YAML text plus DIALPAY__ environment overrides).
import { stringify } from 'yaml';
import { ConfigError, type Config } from '../../runtime/config/index.js';
import { loadConfigText } from '../../cli/config.js';
import { exampleConfigRaw } from './stack.js';

export function loadExampleWith(mutate: (raw: Record<string, any>) => void, env: NodeJS.ProcessEnv = {}): Config {
  const raw = exampleConfigRaw() as Record<string, any>;
  mutate(raw);
  return loadConfigText(stringify(raw), env);
}

/** The ConfigError `fn` throws; anything else (or nothing) fails the test. */
export function configErrorOf(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('expected a ConfigError');
}
