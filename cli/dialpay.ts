#!/usr/bin/env node
// dialpay: one command, a subcommand per component.
import { existsSync } from 'node:fs';
import { ConfigError, type Config } from '../runtime/config/index.js';
import { loadConfigFile } from './config.js';
import { EXIT_CONFIG_ERROR, EXIT_USAGE, parseCommandLine } from './command.js';
import { commandOf, USAGE } from './commands/index.js';

function defaultConfigPath(): string {
  if (process.env.DIALPAY_CONFIG) return process.env.DIALPAY_CONFIG;
  return existsSync('dialpay.yaml') ? 'dialpay.yaml' : 'dialpay.example.yaml';
}

function loadConfigOrExit(configPath: string): Config {
  try {
    return loadConfigFile(configPath);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`dialpay: ${configPath}: ${err.message}\n`);
      process.exit(EXIT_CONFIG_ERROR);
    }
    throw err;
  }
}

export async function main(argv: string[]): Promise<void> {
  const { positionals, values } = parseCommandLine(argv);
  const name = positionals[0];
  if (values.help || !name || name === 'help') {
    process.stdout.write(USAGE);
    return;
  }
  const command = commandOf(positionals);
  if (command?.needsConfig === false) return command.run({ positionals, values });
  // An unknown command too: a config that does not load is the first thing said.
  const configPath = values.config ?? defaultConfigPath();
  const config = loadConfigOrExit(configPath);
  if (!command?.needsConfig) {
    process.stderr.write(`dialpay: unknown command "${name}"\n\n${USAGE}`);
    process.exit(EXIT_USAGE);
  }
  return command.run({ positionals, values, config, configPath });
}

main(process.argv.slice(2)).catch((err: unknown) => {
  process.stderr.write(`dialpay: ${(err as Error)?.stack ?? String(err)}\n`);
  process.exit(1);
});
