// A transaction's connection dying under it (PostgreSQL restarted, the backend
// terminated) must fail that transaction, not the process: a checked-out pg
// client emits 'error' with no pool listener attached, which would otherwise
// be an uncaught exception that takes the whole service down.
import { afterAll, beforeAll, expect, it } from 'vitest';
import pg from 'pg';
import { startPostgres, type PostgresHandle } from '../../runtime/engines/index.js';
import { createPool, withTransaction, type Pool } from '../../runtime/pg/index.js';
import { quietLogger } from '../support/stack.js';

let server: PostgresHandle;
let pool: Pool;

beforeAll(async () => {
  server = await startPostgres({ durable: false });
  pool = createPool({ url: server.url, poolSizeMax: 4, connectTimeoutMs: 5_000, statementTimeoutMs: 10_000, applicationName: 'pool-test' }, quietLogger());
}, 120_000);

afterAll(async () => {
  await pool?.end();
  await server?.stop();
});

async function terminate(pid: number): Promise<void> {
  const admin = new pg.Client({ connectionString: server.url });
  await admin.connect();
  try {
    await admin.query('SELECT pg_terminate_backend($1)', [pid]);
  } finally {
    await admin.end();
  }
}

it('a backend terminated between two statements fails the transaction, and the pool goes on', async () => {
  const attempt = withTransaction(pool, 'READ COMMITTED', async (client) => {
    const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
    // The client is checked out and idle here, as while the outbox relay awaits JetStream.
    await terminate(rows[0]?.pid as number);
    await new Promise((r) => setTimeout(r, 300));
    await client.query('SELECT 1');
  });
  await expect(attempt).rejects.toThrow();
  expect((await pool.query<{ one: number }>('SELECT 1 AS one')).rows[0]?.one).toBe(1);
});

it('a PostgreSQL restart in the middle of a transaction fails it, and the pool reconnects', async () => {
  const attempt = withTransaction(pool, 'READ COMMITTED', async (client) => {
    await client.query('SELECT 1');
    await server.stop(); // fast shutdown: every backend is told to terminate, then closed
    await client.query('SELECT 1');
  });
  await expect(attempt).rejects.toThrow();
  await server.restart();
  expect((await pool.query<{ one: number }>('SELECT 1 AS one')).rows[0]?.one).toBe(1);
}, 60_000);
