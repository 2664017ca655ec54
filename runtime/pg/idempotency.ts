// Exactly-once effects on at-least-once delivery: the effect and the record
// that the event was handled commit in one transaction. A redelivered event
// finds the record and does nothing.
import type pg from 'pg';
import { quoteIdent, withTransaction } from './pool.js';

export type HandleOutcome = 'applied' | 'duplicate';

export async function handleOnce(
  pool: pg.Pool,
  schema: string,
  consumer: string,
  eventId: string,
  effect: (client: pg.PoolClient) => Promise<void>,
): Promise<HandleOutcome> {
  return withTransaction(pool, 'READ COMMITTED', async (client) => {
    // A concurrent delivery of the same event blocks here until the first commits, then sees the row.
    const { rowCount } = await client.query(
      `INSERT INTO ${quoteIdent(schema)}.processed_events (consumer, event_id) VALUES ($1, $2) ON CONFLICT DO NOTHING`,
      [consumer, eventId],
    );
    if (rowCount === 0) return 'duplicate';
    await effect(client);
    return 'applied';
  });
}

/** Forgets handled events older than the longest a stream keeps a message, so the table stays bounded. */
export async function pruneProcessedEvents(pool: pg.Pool, schema: string, olderThanMs: number): Promise<number> {
  const { rowCount } = await pool.query(
    `DELETE FROM ${quoteIdent(schema)}.processed_events WHERE processed_at < now() - ($1::bigint * interval '1 millisecond')`,
    [olderThanMs],
  );
  return rowCount ?? 0;
}
