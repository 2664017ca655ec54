// A transaction that cannot write: for lookups (customer care's `subscriber show`, `payment show`)
// that must never change what they read, whatever a bug in them would try. PostgreSQL itself
// refuses any INSERT, UPDATE, DELETE or DDL in it (SQLSTATE 25006), and it always ends in a
// ROLLBACK: there is nothing to commit. REPEATABLE READ: every read sees one snapshot, so
// payments' rows and billing's ledger agree with each other.
import type pg from 'pg';

export async function readOnlyTransaction<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let broken = false;
  // As ownTransaction (pool.ts): a connection dying under a checked-out client fails the statement, not the process.
  const onConnectionError = () => {
    broken = true;
  };
  client.on('error', onConnectionError);
  try {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    return await fn(client);
  } finally {
    try {
      await client.query('ROLLBACK');
    } catch {
      broken = true;
    }
    client.removeListener('error', onConnectionError);
    client.release(broken);
  }
}
