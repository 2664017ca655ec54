// Reads the counters the budget is measured with, from the bench's own engines:
// PostgreSQL's commits and rollbacks (pg_stat_database) and statements
// (pg_stat_statements, which must be preloaded: PG_STATEMENTS_SETTINGS), every
// JetStream stream's last sequence, and CPU per process group (ProcessWatch).
import pg from 'pg';
import { writableUrl } from '../../runtime/pg/failover.js';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import type { CounterReading } from './budget.js';
import type { ProcessWatch } from './processes.js';
import { natsServers } from '../../runtime/nats/connect.js';

/**
 * PostgreSQL 15 flushes a backend's statistics at most once a second, and an idle backend's
 * last ones after 10 s (PGSTAT_IDLE_INTERVAL): a reading this long after the load stopped has
 * every commit of the load.
 */
export const PG_STATS_SETTLE_MS = 11_000;

export class SystemCounters {
  private constructor(
    private readonly db: pg.Client,
    private readonly nc: NatsConnection,
    private readonly jsm: JetStreamManager,
    private readonly watch: ProcessWatch,
  ) {}

  static async open(databaseUrl: string, natsUrl: string, watch: ProcessWatch): Promise<SystemCounters> {
    const db = new pg.Client({ connectionString: await writableUrl(databaseUrl, 10_000) });
    await db.connect();
    await db.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
    const nc = await connect({ servers: natsServers(natsUrl) });
    return new SystemCounters(db, nc, await jetstreamManager(nc), watch);
  }

  /** Statement counts start again from zero (cluster-wide). */
  async resetStatements(): Promise<void> {
    await this.db.query('SELECT pg_stat_statements_reset()');
  }

  async read(): Promise<CounterReading> {
    const atMs = performance.now();
    const cpuSeconds = this.watch.mark();
    // datname IS NULL is the row of shared objects; template databases are not the cluster's.
    const xact = await this.db.query<{ commits: string; rollbacks: string }>(
      `SELECT coalesce(sum(xact_commit), 0)::text AS commits, coalesce(sum(xact_rollback), 0)::text AS rollbacks
       FROM pg_stat_database WHERE datname IS NOT NULL AND datname NOT LIKE 'template%'`);
    // BEGIN and COMMIT are counted as commits already; statements are the work inside.
    const statements = await this.db.query<{ calls: string }>(
      `SELECT coalesce(sum(calls), 0)::text AS calls FROM pg_stat_statements
       WHERE query !~* '^\\s*(BEGIN|COMMIT|ROLLBACK|START TRANSACTION)\\M'`);
    const streamLastSeqs = new Map<string, number>();
    for await (const stream of this.jsm.streams.list()) streamLastSeqs.set(stream.config.name, stream.state.last_seq);
    return {
      atMs,
      commits: Number(xact.rows[0]?.commits ?? 0),
      rollbacks: Number(xact.rows[0]?.rollbacks ?? 0),
      statements: Number(statements.rows[0]?.calls ?? 0),
      streamLastSeqs,
      cpuSeconds,
    };
  }

  async close(): Promise<void> {
    await Promise.allSettled([this.db.end(), this.nc.close()]);
  }
}
