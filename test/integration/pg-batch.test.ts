// inOneTransaction (runtime/pg/batch.ts): units that call withTransaction share
// one transaction and one commit; a failing unit rolls back the batch and every
// unit runs again on its own, so the failing one fails alone and nothing is doubled.
import { afterAll, beforeAll, beforeEach, expect, it } from 'vitest';
import { startPostgres, type PostgresHandle } from '../../runtime/engines/index.js';
import { createPool, inOneTransaction, onAfterCommit, withTransaction, type Pool } from '../../runtime/pg/index.js';
import { quietLogger } from '../support/stack.js';

let server: PostgresHandle;
let pool: Pool;

beforeAll(async () => {
  server = await startPostgres({ durable: false });
  pool = createPool({ url: server.url, poolSizeMax: 6, connectTimeoutMs: 5_000, statementTimeoutMs: 10_000, applicationName: 'batch-test' }, quietLogger());
  await pool.query('CREATE TABLE items (id TEXT PRIMARY KEY)');
}, 120_000);

afterAll(async () => {
  await pool?.end();
  await server?.stop();
});

beforeEach(async () => {
  await pool.query('TRUNCATE items');
});

const insert = (id: string) => () => withTransaction(pool, 'READ COMMITTED', async (client) => {
  await client.query('INSERT INTO items (id) VALUES ($1)', [id]);
});

/** Rows written by one transaction share its id (xmin). */
async function transactionsThatWrote(): Promise<number> {
  return Number((await pool.query<{ n: string }>('SELECT count(DISTINCT xmin::text)::text AS n FROM items')).rows[0]?.n);
}

async function ids(): Promise<string[]> {
  return (await pool.query<{ id: string }>('SELECT id FROM items ORDER BY id')).rows.map((r) => r.id);
}

it('units share one transaction: all their rows, one commit, after-commit hooks once committed', async () => {
  const committed: string[] = [];
  const units = ['a', 'b', 'c', 'd'].map((id) => () => withTransaction(pool, 'READ COMMITTED', async (client) => {
    await client.query('INSERT INTO items (id) VALUES ($1)', [id]);
    onAfterCommit(client, () => committed.push(id));
  }));
  const outcome = await inOneTransaction(pool, 'READ COMMITTED', units);
  expect(outcome.shared).toBe(true);
  expect(outcome.results.every((r) => r.status === 'fulfilled')).toBe(true);
  expect(await ids()).toEqual(['a', 'b', 'c', 'd']);
  expect(committed).toEqual(['a', 'b', 'c', 'd']);
  expect(await transactionsThatWrote()).toBe(1);
});

it('a unit that throws: the batch rolls back, each unit runs alone, only the failing one fails', async () => {
  const failing = () => withTransaction(pool, 'READ COMMITTED', async (client) => {
    await client.query('INSERT INTO items (id) VALUES ($1)', ['bad']);
    throw new Error('handler refused');
  });
  const outcome = await inOneTransaction(pool, 'READ COMMITTED', [insert('a'), failing, insert('c')]);
  expect(outcome.shared).toBe(false);
  expect(outcome.results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
  expect(await ids()).toEqual(['a', 'c']);
  expect(await transactionsThatWrote()).toBe(2);
});

it('a unit that swallows its failed transaction still fails the batch: its partial statements never commit', async () => {
  let attempts = 0;
  const swallowing = async () => {
    attempts++;
    await withTransaction(pool, 'READ COMMITTED', async (client) => {
      await client.query('INSERT INTO items (id) VALUES ($1)', ['half']);
      throw new Error('second statement failed');
    }).catch(() => undefined);
  };
  const outcome = await inOneTransaction(pool, 'READ COMMITTED', [insert('a'), swallowing, insert('b')]);
  expect(outcome.shared).toBe(false);
  expect(attempts).toBe(2); // once in the batch, once alone
  expect(outcome.results.every((r) => r.status === 'fulfilled')).toBe(true);
  expect(await ids()).toEqual(['a', 'b']);
});

it('a SQL error swallowed by a unit: COMMIT would roll back, so the units run again alone', async () => {
  const duplicate = async () => {
    await withTransaction(pool, 'READ COMMITTED', async (client) => {
      await client.query('INSERT INTO items (id) VALUES ($1)', ['x']);
      await client.query('INSERT INTO items (id) VALUES ($1)', ['x']); // unique violation
    }).catch(() => undefined);
  };
  const outcome = await inOneTransaction(pool, 'READ COMMITTED', [insert('a'), duplicate, insert('b')]);
  expect(outcome.shared).toBe(false);
  expect(await ids()).toEqual(['a', 'b']);
});

it('work started inside a unit that runs after the batch ended gets a transaction of its own', async () => {
  let late: Promise<void> | null = null;
  const unit = () => withTransaction(pool, 'READ COMMITTED', async (client) => {
    await client.query('INSERT INTO items (id) VALUES ($1)', ['a']);
    late = new Promise<void>((resolve, reject) => setTimeout(() => insert('late')().then(resolve, reject), 100));
  });
  const outcome = await inOneTransaction(pool, 'READ COMMITTED', [unit, insert('b')]);
  expect(outcome.shared).toBe(true);
  await late;
  expect(await ids()).toEqual(['a', 'b', 'late']);
});

it('another isolation level or another pool does not join: it commits on its own', async () => {
  const serializable = () => withTransaction(pool, 'SERIALIZABLE', async (client) => {
    await client.query('INSERT INTO items (id) VALUES ($1) ON CONFLICT DO NOTHING', ['s']);
  });
  const failing = () => Promise.reject(new Error('fails the batch'));
  const outcome = await inOneTransaction(pool, 'READ COMMITTED', [serializable, insert('a'), failing]);
  expect(outcome.results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'rejected']);
  // 's' committed on its own connection during the shared attempt, which then rolled back without it.
  expect(await ids()).toEqual(['a', 's']);
});

it('a shared transaction that waits on a row lock past lockTimeoutMs gives up, and its units run alone once the lock is free', async () => {
  await pool.query(`INSERT INTO items (id) VALUES ('held')`);
  const holder = await pool.connect();
  await holder.query('BEGIN');
  await holder.query(`SELECT id FROM items WHERE id = 'held' FOR UPDATE`);
  const touchHeld = () => withTransaction(pool, 'READ COMMITTED', async (client) => {
    await client.query(`UPDATE items SET id = 'moved' WHERE id = 'held'`);
  });
  const started = Date.now();
  const running = inOneTransaction(pool, 'READ COMMITTED', [insert('a'), touchHeld], { lockTimeoutMs: 50 });
  // Released after the shared attempt gave up: the units alone then find the row free.
  setTimeout(() => void holder.query('COMMIT').finally(() => holder.release()), 400);
  const outcome = await running;
  expect(outcome.shared).toBe(false);
  expect(String(outcome.fallbackCause)).toMatch(/lock timeout/);
  expect(Date.now() - started).toBeGreaterThanOrEqual(400);
  expect(outcome.results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled']);
  expect(await ids()).toEqual(['a', 'moved']);
});
