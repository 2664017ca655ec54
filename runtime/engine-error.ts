// An engine (NATS, PostgreSQL) that cannot be used at start: named by the
// config key that points at it, explained in one line for the person at the
// terminal. The CLI prints the message without a stack and exits 1.
import type { Config } from './config/index.js';
import { explainPostgresError } from './pg/index.js';
import { redactUrl as redactNatsUrl } from './nats/connect.js';

export class EngineUnavailableError extends Error {
  readonly key: 'nats.url' | 'postgres.url';

  constructor(key: 'nats.url' | 'postgres.url', message: string, cause: unknown) {
    super(message, { cause });
    this.name = 'EngineUnavailableError';
    this.key = key;
  }
}

/** Runs a PostgreSQL step; a known failure (missing database, refused login, nothing listening) becomes one line naming postgres.url. */
export async function withPostgres<T>(config: Config, step: () => Promise<T>): Promise<T> {
  try {
    return await step();
  } catch (err) {
    const line = explainPostgresError(err, config.postgres.url);
    throw line ? new EngineUnavailableError('postgres.url', line, err) : err;
  }
}

/** Runs a NATS connection step; its failure becomes one line naming nats.url (the URL without credentials). */
export async function withNats<T>(config: Config, step: () => Promise<T>): Promise<T> {
  try {
    return await step();
  } catch (err) {
    const reason = (err as Error)?.message ?? String(err);
    throw new EngineUnavailableError('nats.url', `nats.url: cannot connect to NATS at ${redactNatsUrl(config.nats.url)}: ${reason}`, err);
  }
}
