// Named statements (runtime/pg/named.ts): prepared once per connection and
// reused, one name never bound to two texts, texts that vary with a row count
// named only up to a bound, and a column added under a prepared `SELECT *`
// costs one failed statement, not a connection that fails for good.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startPostgres, type PostgresHandle } from '../../runtime/engines/index.js';
import { createPool, withTransaction, type Pool } from '../../runtime/pg/index.js';
import { NAMED_STATEMENTS_MAX, named, namedPerCount, query, unnamedForLack } from '../../runtime/pg/named.js';
import { quietLogger } from '../support/stack.js';

let server: PostgresHandle;
let pool: Pool;

beforeAll(async () => {
  server = await startPostgres({ durable: false });
  // One connection: every statement below runs on the same backend.
  pool = createPool({ url: server.url, poolSizeMax: 1, connectTimeoutMs: 5_000, statementTimeoutMs: 10_000, applicationName: 'named-test' }, quietLogger());
  await pool.query('CREATE TABLE items (id int PRIMARY KEY, label text NOT NULL)');
  await pool.query(`INSERT INTO items SELECT g, 'item ' || g FROM generate_series(1, 20) g`);
}, 120_000);

afterAll(async () => {
  await pool?.end();
  await server?.stop();
});

async function prepared(): Promise<string[]> {
  const { rows } = await pool.query<{ name: string }>('SELECT name FROM pg_prepared_statements ORDER BY name');
  return rows.map((r) => r.name);
}

it('prepares a named statement once per connection and reuses it with new values', async () => {
  const byId = named('test.itemById', 'SELECT label FROM items WHERE id = $1');
  for (const id of [1, 2, 3]) expect((await query<{ label: string }>(pool, byId, [id])).rows[0]?.label).toBe(`item ${id}`);
  expect(await prepared()).toEqual(['test.itemById']);
  const { rows } = await pool.query<{ calls: string }>("SELECT generic_plans + custom_plans AS calls FROM pg_prepared_statements WHERE name = 'test.itemById'");
  expect(Number(rows[0]?.calls)).toBe(3);
});

it('refuses one name for two texts, at once', () => {
  named('test.twice', 'SELECT 1');
  expect(named('test.twice', 'SELECT 1').name).toBe('test.twice');
  expect(() => named('test.twice', 'SELECT 2')).toThrow(/different text/);
});

it('names a statement per row count up to its bound, and sends larger ones unnamed', async () => {
  const byIds = namedPerCount('test.itemsByIds', 3, (n) => `SELECT count(*)::int AS n FROM items WHERE id IN (${Array.from({ length: n }, (_, i) => `$${i + 1}`).join(', ')})`);
  for (const n of [1, 2, 3, 3, 5]) {
    const sql = byIds(n);
    expect(sql.name).toBe(n <= 3 ? `test.itemsByIds#${n}` : undefined);
    expect((await query<{ n: number }>(pool, sql, Array.from({ length: n }, (_, i) => i + 1))).rows[0]?.n).toBe(n);
  }
  expect((await prepared()).filter((name) => name.startsWith('test.itemsByIds'))).toEqual(['test.itemsByIds#1', 'test.itemsByIds#2', 'test.itemsByIds#3']);
  expect(() => byIds(0)).toThrow(RangeError);
});

it('a column added under a prepared SELECT * fails that statement once, then the statement is prepared again', async () => {
  const all = named('test.itemAll', 'SELECT * FROM items WHERE id = $1');
  expect(Object.keys((await query(pool, all, [1])).rows[0] ?? {})).toEqual(['id', 'label']);
  await pool.query("ALTER TABLE items ADD COLUMN note text NOT NULL DEFAULT ''");
  // Inside a transaction, as the services run it: the transaction fails and its caller retries.
  await expect(withTransaction(pool, 'READ COMMITTED', (client) => query(client, all, [1]))).rejects.toThrow(/cached plan must not change result type/);
  const again = await withTransaction(pool, 'READ COMMITTED', (client) => query(client, all, [1]));
  expect(Object.keys(again.rows[0] ?? {})).toEqual(['id', 'label', 'note']);
  // The other statements moved to fresh names too, and still answer.
  expect((await query<{ label: string }>(pool, named('test.itemById', 'SELECT label FROM items WHERE id = $1'), [4])).rows[0]?.label).toBe('item 4');
});

it('past NAMED_STATEMENTS_MAX names, statements go unnamed and still run', async () => {
  const before = unnamedForLack();
  let last = named('test.fill.0', 'SELECT 0 AS n');
  for (let i = 1; i <= NAMED_STATEMENTS_MAX; i++) last = named(`test.fill.${i}`, `SELECT ${i} AS n`);
  expect(last.name).toBeUndefined();
  expect(unnamedForLack()).toBeGreaterThan(before);
  expect((await query<{ n: number }>(pool, last, [])).rows[0]?.n).toBe(NAMED_STATEMENTS_MAX);
});
