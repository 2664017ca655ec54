// recordEvents (runtime/pg/idempotency.ts): a shared transaction records its
// batch's events in one statement; each handleOnce of a recorded event then
// costs no statement, a duplicate is skipped before its effect, and an event
// not recorded (or a unit run alone after the batch failed) records its own.
import { afterAll, beforeAll, beforeEach, expect, it } from 'vitest';
import { startPostgres, type PostgresHandle } from '../../runtime/engines/index.js';
import { createPool, handleOnce, inOneTransaction, migrateSchemas, recordEvents, type Pool, type PoolClient } from '../../runtime/pg/index.js';
import { quietLogger } from '../support/stack.js';

let server: PostgresHandle;
let pool: Pool;

beforeAll(async () => {
  server = await startPostgres({ durable: false });
  await migrateSchemas(server.url, [{ schema: 'fixture', dir: null }], quietLogger());
  pool = createPool({ url: server.url, poolSizeMax: 6, connectTimeoutMs: 5_000, statementTimeoutMs: 10_000, applicationName: 'record-events-test' }, quietLogger());
  await pool.query('CREATE TABLE fixture.effects (event_id TEXT NOT NULL)');
}, 120_000);

afterAll(async () => {
  await pool?.end();
  await server?.stop();
});

beforeEach(async () => {
  await pool.query('TRUNCATE fixture.effects, fixture.processed_events');
});

const CONSUMER = 'c';

/** The unit's handler: one effect row per applied event. */
const handle = (id: string, outcomes: string[], fail = false) => async () => {
  const outcome = await handleOnce(pool, 'fixture', CONSUMER, id, async (client) => {
    await client.query('INSERT INTO fixture.effects (event_id) VALUES ($1)', [id]);
    if (fail) throw new Error(`unit ${id} fails`);
  });
  outcomes.push(`${id}:${outcome}`);
};

async function effects(): Promise<string[]> {
  return (await pool.query<{ event_id: string }>('SELECT event_id FROM fixture.effects ORDER BY event_id')).rows.map((r) => r.event_id);
}

async function processed(): Promise<string[]> {
  return (await pool.query<{ event_id: string }>('SELECT event_id FROM fixture.processed_events WHERE consumer = $1 ORDER BY event_id', [CONSUMER])).rows.map((r) => r.event_id);
}

/** Counts the statements the shared transaction's client sends after `begin` (a spy, not a stand-in: each still runs). */
function counting(ids: readonly string[], seen: { statements: number }) {
  return async (client: PoolClient) => {
    await recordEvents(client, 'fixture', CONSUMER, ids);
    const spied = client as unknown as { query: (...args: unknown[]) => unknown };
    const query = spied.query;
    spied.query = (...args: unknown[]) => {
      // COMMIT ends the transaction: the pooled client goes back as it was.
      if (args[0] === 'COMMIT') spied.query = query;
      else seen.statements++;
      return query.apply(client, args);
    };
  };
}

it('recorded events cost no statement each; one handled before, or twice in the batch, is skipped before its effect', async () => {
  await pool.query('INSERT INTO fixture.processed_events (consumer, event_id) VALUES ($1, $2)', [CONSUMER, 'old']);
  const outcomes: string[] = [];
  const seen = { statements: 0 };
  const result = await inOneTransaction(pool, 'READ COMMITTED', [handle('a', outcomes), handle('old', outcomes), handle('b', outcomes), handle('a', outcomes), handle('unrecorded', outcomes)], {
    begin: counting(['a', 'old', 'b', 'a'], seen),
  });
  expect(result.shared).toBe(true);
  expect(outcomes).toEqual(['a:applied', 'old:duplicate', 'b:applied', 'a:duplicate', 'unrecorded:applied']);
  expect(await effects()).toEqual(['a', 'b', 'unrecorded']);
  expect(await processed()).toEqual(['a', 'b', 'old', 'unrecorded']);
  // Three effects, and one record for the event the batch did not record; none for a, old, b.
  expect(seen.statements).toBe(3 + 1);
});

it('a failed batch records nothing of its own; each unit run alone records its event', async () => {
  const outcomes: string[] = [];
  const result = await inOneTransaction(pool, 'READ COMMITTED', [handle('a', outcomes), handle('bad', outcomes, true), handle('b', outcomes)], {
    begin: (client) => recordEvents(client, 'fixture', CONSUMER, ['a', 'bad', 'b']),
  });
  expect(result.shared).toBe(false);
  expect(result.results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
  expect(await effects()).toEqual(['a', 'b']);
  expect(await processed()).toEqual(['a', 'b']);
});

it('a record already held by an uncommitted transaction makes the batch wait, then skip it once that commits', async () => {
  const holder = await pool.connect();
  try {
    await holder.query('BEGIN');
    await holder.query('INSERT INTO fixture.processed_events (consumer, event_id) VALUES ($1, $2)', [CONSUMER, 'racing']);
    const outcomes: string[] = [];
    const running = inOneTransaction(pool, 'READ COMMITTED', [handle('racing', outcomes), handle('x', outcomes)], {
      lockTimeoutMs: 5_000,
      begin: (client) => recordEvents(client, 'fixture', CONSUMER, ['racing', 'x']),
    });
    await new Promise((r) => setTimeout(r, 200));
    await holder.query('COMMIT');
    const result = await running;
    expect(result.shared).toBe(true);
    expect(outcomes).toEqual(['racing:duplicate', 'x:applied']);
    expect(await effects()).toEqual(['x']);
  } finally {
    holder.release();
  }
});
