// A transaction that cannot write: for lookups (customer care's `subscriber show`, `payment show`)
// that must never change what they read, whatever a bug in them would try. PostgreSQL itself
// refuses any INSERT, UPDATE, DELETE or DDL in it (SQLSTATE 25006). REPEATABLE READ: every read
// sees one snapshot, so payments' rows and billing's ledger agree with each other.
import type pg from 'pg';
import { ownTransaction } from './pool.js';

export function readOnlyTransaction<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  return ownTransaction(pool, 'REPEATABLE READ', async (client) => {
    await client.query('SET TRANSACTION READ ONLY');
    return fn(client);
  });
}
