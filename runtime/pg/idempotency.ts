// Exactly-once effects on at-least-once delivery: the effect and the record
// that the event was handled commit in one transaction. A redelivered event
// finds the record and does nothing.
//
// A batch sharing one transaction (batch-runner.ts) may record all its events
// first, in one statement (recordEvents): handleOnce then finds its event's
// answer there instead of writing its own row. An event not recorded so (run
// alone, or a handler the batch did not know of) writes its own, as before.
import type pg from 'pg';
import { quoteIdent, transactionLocal, withTransaction } from './pool.js';
import { namedPerKey, query } from './named.js';

const recordOneSql = namedPerKey('processed_events.insert', (schema) => `INSERT INTO ${quoteIdent(schema)}.processed_events
  (consumer, event_id) VALUES ($1, $2) ON CONFLICT DO NOTHING`);
const recordManySql = namedPerKey('processed_events.insertMany', (schema) => `INSERT INTO ${quoteIdent(schema)}.processed_events
  (consumer, event_id) SELECT $1, unnest($2::text[]) ON CONFLICT DO NOTHING RETURNING event_id`);

export type HandleOutcome = 'applied' | 'duplicate';

/**
 * Per transaction: schema, consumer and event id -> 'new' (recorded by this transaction, not yet handled),
 * or 'done' (handled, or recorded before).
 */
type Recorded = Map<string, 'new' | 'done'>;
const RECORDED = Symbol('processed events recorded in this transaction');
const keyOf = (schema: string, consumer: string, eventId: string) => `${schema}\u0000${consumer}\u0000${eventId}`;

export async function handleOnce(
  pool: pg.Pool,
  schema: string,
  consumer: string,
  eventId: string,
  effect: (client: pg.PoolClient) => Promise<void>,
): Promise<HandleOutcome> {
  return withTransaction(pool, 'READ COMMITTED', async (client) => {
    const recorded = transactionLocal<Recorded>(client, RECORDED, () => new Map());
    const key = keyOf(schema, consumer, eventId);
    const known = recorded.get(key);
    if (known === undefined) {
      // A concurrent delivery of the same event blocks here until the first commits, then sees the row.
      const { rowCount } = await query(client, recordOneSql(schema), [consumer, eventId]);
      if (rowCount === 0) return 'duplicate';
    } else if (known === 'done') {
      return 'duplicate';
    }
    // The same event twice in one transaction is handled once.
    recorded.set(key, 'done');
    await effect(client);
    return 'applied';
  });
}

/**
 * Records that the transaction handles these events, in one statement, before their handlers
 * run: each handleOnce for one of them then costs no statement. A handler that does not come
 * for its event leaves the record all the same: its message was handled when this commits.
 * Call inside withTransaction, before any handleOnce of these events in it.
 */
export async function recordEvents(client: pg.ClientBase, schema: string, consumer: string, eventIds: readonly string[]): Promise<void> {
  // Sorted and unique: two transactions holding the same ids wait on each other in one order.
  const ids = [...new Set(eventIds)].sort();
  if (ids.length === 0) return;
  const { rows } = await query<{ event_id: string }>(client, recordManySql(schema), [consumer, ids]);
  const fresh = new Set(rows.map((r) => r.event_id));
  const recorded = transactionLocal<Recorded>(client, RECORDED, () => new Map());
  for (const id of ids) {
    const key = keyOf(schema, consumer, id);
    if (!recorded.has(key)) recorded.set(key, fresh.has(id) ? 'new' : 'done');
  }
}

/** Forgets handled events older than the longest a stream keeps a message, so the table stays bounded. */
export async function pruneProcessedEvents(pool: pg.Pool, schema: string, olderThanMs: number): Promise<number> {
  const { rowCount } = await pool.query(
    `DELETE FROM ${quoteIdent(schema)}.processed_events WHERE processed_at < now() - ($1::bigint * interval '1 millisecond')`,
    [olderThanMs],
  );
  return rowCount ?? 0;
}
