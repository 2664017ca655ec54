// The primary's view of its standbys (pg_stat_replication), for the health
// watcher's gauges. Without pg_monitor (or superuser) PostgreSQL hides every
// column but the pid of other users' WAL senders: `hidden` counts those rows,
// and the caller leaves its gauges unset rather than report a false 0.
import type pg from 'pg';

export interface ReplicationStatus {
  /** WAL senders listed, visible or not. */
  readonly standbys: number;
  /** Rows whose state and LSNs this role may not read. */
  readonly hidden: number;
  /** Standbys in state 'streaming'. */
  readonly streaming: number;
  /** WAL the slowest standby has not replayed yet, in bytes; null when none reports a replay position. */
  readonly lagBytes: bigint | null;
}

/** Asks the server the pool writes to. Throws what the query throws (the watcher logs it). */
export async function replicationStatus(pool: pg.Pool): Promise<ReplicationStatus> {
  const { rows } = await pool.query<{ standbys: number; hidden: number; streaming: number; lagBytes: bigint | null }>(
    `SELECT count(*)::int AS standbys,
            count(*) FILTER (WHERE state IS NULL)::int AS hidden,
            count(*) FILTER (WHERE state = 'streaming')::int AS streaming,
            max(pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn))::bigint AS "lagBytes"
       FROM pg_stat_replication`,
  );
  const row = rows[0];
  if (!row) throw new Error('pg_stat_replication returned no row');
  return row;
}
