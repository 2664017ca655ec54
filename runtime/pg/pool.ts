// The Postgres pool and transaction helper. BIGINT comes back as bigint, so
// money read from the database is never a number.
import pg from 'pg';
import type { Logger } from '../log.js';

export type Pool = pg.Pool;
export type PoolClient = pg.PoolClient;
export type ClientBase = pg.ClientBase;

pg.types.setTypeParser(pg.types.builtins.INT8, (value: string) => BigInt(value));

export interface PoolOptions {
  readonly url: string;
  readonly poolSizeMax: number;
  readonly connectTimeoutMs: number;
  readonly statementTimeoutMs: number;
  readonly applicationName: string;
}

export function createPool(options: PoolOptions, log: Logger): pg.Pool {
  const pool = new pg.Pool({
    connectionString: options.url,
    max: options.poolSizeMax,
    connectionTimeoutMillis: options.connectTimeoutMs,
    idleTimeoutMillis: 30_000,
    statement_timeout: options.statementTimeoutMs,
    idle_in_transaction_session_timeout: options.statementTimeoutMs * 2,
    application_name: options.applicationName,
    // Day and month windows (limits, statements) are UTC, whatever the server's zone.
    options: '-c TimeZone=UTC',
  });
  // An idle client lost its connection (server restart): the pool drops it and
  // makes a new one on the next checkout. Log it; do not crash the process.
  pool.on('error', (err) => log.warn({ err }, 'idle postgres client failed'));
  return pool;
}

export type IsolationLevel = 'READ COMMITTED' | 'REPEATABLE READ' | 'SERIALIZABLE';

export async function withTransaction<T>(
  pool: pg.Pool,
  isolation: IsolationLevel,
  fn: (client: pg.PoolClient) => Promise<T>,
): Promise<T> {
  const client = await pool.connect();
  let broken = false;
  try {
    await client.query(`BEGIN ISOLATION LEVEL ${isolation}`);
    const result = await fn(client);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    try {
      await client.query('ROLLBACK');
    } catch {
      broken = true; // the connection itself failed: do not return it to the pool
    }
    throw err;
  } finally {
    client.release(broken);
  }
}

const IDENTIFIER = /^[a-z_][a-z0-9_]{0,62}$/;

/** Schema and table names cannot be bind parameters: accept only plain identifiers, quoted. */
export function quoteIdent(name: string): string {
  if (!IDENTIFIER.test(name)) throw new TypeError(`not a plain SQL identifier: ${JSON.stringify(name)}`);
  return `"${name}"`;
}
