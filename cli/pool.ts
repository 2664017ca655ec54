// The PostgreSQL pool a one-shot command opens: the config's URL and timeouts, one connection unless
// the command says otherwise, and its own application name (pg_stat_activity shows who is connected).
import type pg from 'pg';
import type { Config } from '../runtime/config/index.js';
import type { Logger } from '../runtime/log.js';
import { createPool } from '../runtime/pg/index.js';

export function commandPool(
  config: Config, applicationName: string, log: Logger, options: { poolSizeMax?: number; statementTimeoutMs?: number } = {},
): pg.Pool {
  return createPool({
    url: config.postgres.url, poolSizeMax: options.poolSizeMax ?? 1, connectTimeoutMs: config.postgres.connectTimeoutMs,
    statementTimeoutMs: options.statementTimeoutMs ?? config.postgres.statementTimeoutMs, applicationName,
  }, log);
}
